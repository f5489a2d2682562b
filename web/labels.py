"""The Vietnamese words the pages show for the API's values (states, dispositions...).

One table, rendered into each page as a JSON data block that the scripts read: the scripts
carry no words of their own for these values."""

from __future__ import annotations

from dispatch.lifecycle import STATUS_LABELS
from store.categories import Category
from store.models import CallStatus, Disposition, Route, Urgency

__all__ = ["LABELS"]

AGENT_STATES = {
    "logged_out": "Chưa vào hàng đợi",
    "idle": "Sẵn sàng",
    "ringing": "Đang đổ chuông",
    "on_call": "Đang đàm thoại",
    "paused": "Tạm nghỉ",
    "wrapup": "Xử lý sau cuộc gọi",
}

DISPOSITIONS = {
    Disposition.ADVICE: "Tư vấn",
    Disposition.INFORMATION: "Cung cấp thông tin",
    Disposition.INCIDENT: "Sự vụ — điều động tổ phản ứng nhanh",
    Disposition.DUPLICATE: "Trùng sự vụ đang mở",
    Disposition.WRONG_NUMBER: "Nhầm số",
    Disposition.PRANK: "Quấy rối",
}

URGENCIES = {
    Urgency.CRITICAL: "Khẩn cấp",
    Urgency.URGENT: "Gấp",
    Urgency.NORMAL: "Bình thường",
}

CALL_STATUSES = {
    CallStatus.IN_IVR: "Đang ở tổng đài tự động",
    CallStatus.QUEUED: "Đang chờ",
    CallStatus.CONNECTED: "Đang đàm thoại",
    CallStatus.ANSWERED: "Đã trả lời",
    CallStatus.ABANDONED_QUEUE: "Bỏ máy khi chờ",
    CallStatus.ABANDONED_IVR: "Bỏ máy ở menu",
    CallStatus.SELF_SERVED: "Tự phục vụ",
    CallStatus.CALLBACK: "Hẹn gọi lại",
}

ROUTES = {
    Route.IVR: "Người gọi chọn ở menu",
    Route.DEFAULT: "Mặc định (không chọn)",
    Route.FALLBACK: "Dự phòng (menu lỗi)",
}

LABELS: dict[str, dict[str, str]] = {
    "agent_states": AGENT_STATES,
    "dispositions": {k.value: v for k, v in DISPOSITIONS.items()},
    "urgencies": {k.value: v for k, v in URGENCIES.items()},
    "categories": {c.value: c.label_vi for c in Category},
    "call_statuses": {k.value: v for k, v in CALL_STATUSES.items()},
    "incident_statuses": dict(STATUS_LABELS),
    "routes": {k.value: v for k, v in ROUTES.items()},
}
