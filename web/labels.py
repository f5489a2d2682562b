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

# Issue 15: recordings and coaching (the API's values: recordings.service, coaching).
RECORDING_KINDS = {
    "call": "Cuộc gọi đến",
    "callback": "Gọi lại",
    "dispatch": "Điều động tổ",
    "conference": "Hội nghị",
}

RECORDING_STATUSES = {
    "recording": "Đang ghi âm",
    "sealed": "Đã lưu",
    "purged": "Đã xoá theo thời hạn lưu",
}

RETENTION_CLASSES = {
    "incident": "Sự vụ",
    "emergency": "Khẩn cấp",
    "violation": "Vi phạm",
    "callback": "Gọi lại",
    "conference": "Hội nghị",
    "dispatch": "Điều động",
    "information": "Thông tin",
    "wrong_number": "Nhầm số",
}

# What the supervisor's phone does on an agent's call (ChanSpy's modes).
SPY_MODES = {
    "listen": "Nghe",
    "whisper": "Nhắc",
    "barge": "Chen",
}

# The agent's banner in each mode (shown only where spy_notify_agent says).
SPY_MODES_AGENT = {
    "listen": "Giám sát viên đang nghe cuộc gọi này",
    "whisper": "Giám sát viên đang hướng dẫn (nhắc riêng)",
    "barge": "Giám sát viên đang hướng dẫn (nói chung với người gọi)",
}

LABELS: dict[str, dict[str, str]] = {
    "agent_states": AGENT_STATES,
    "dispositions": {k.value: v for k, v in DISPOSITIONS.items()},
    "urgencies": {k.value: v for k, v in URGENCIES.items()},
    "categories": {c.value: c.label_vi for c in Category},
    "call_statuses": {k.value: v for k, v in CALL_STATUSES.items()},
    "incident_statuses": dict(STATUS_LABELS),
    "routes": {k.value: v for k, v in ROUTES.items()},
    "recording_kinds": RECORDING_KINDS,
    "recording_statuses": RECORDING_STATUSES,
    "retention_classes": RETENTION_CLASSES,
    "spy_modes": SPY_MODES,
    "spy_modes_agent": SPY_MODES_AGENT,
}
