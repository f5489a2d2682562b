"""The recordings' refusals; the API turns each into its status, ``message`` (Vietnamese) as
the ``detail`` people read."""

from __future__ import annotations

__all__ = [
    "HoldNotFound",
    "InvalidRequest",
    "PbxDown",
    "RecordingConflict",
    "RecordingError",
    "RecordingNotFound",
    "RecordingNotReady",
    "RecordingPurged",
]


class RecordingError(Exception):
    """Base of the refusals; ``message`` (also ``str()``) is the Vietnamese sentence."""

    default_message = "Lỗi ghi âm."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class RecordingNotFound(RecordingError, LookupError):
    """No such recording, or no open recording for that call (404)."""

    default_message = "Không tìm thấy bản ghi âm."


class RecordingPurged(RecordingError):
    """The recording's file was removed at the end of its retention (410)."""

    default_message = "Bản ghi âm đã bị xoá theo thời hạn lưu trữ."


class RecordingNotReady(RecordingError):
    """Still recording: the file is not closed, it has no digest yet (409)."""

    default_message = "Cuộc gọi đang được ghi âm; bản ghi chưa sẵn sàng để nghe."


class RecordingConflict(RecordingError):
    """Not from where the recording is now: pause when paused, resume when not (409)."""

    default_message = "Thao tác không phù hợp với trạng thái ghi âm hiện tại."


class HoldNotFound(RecordingError, LookupError):
    """No such legal hold (404)."""

    default_message = "Không tìm thấy lệnh giữ lưu trữ."


class PbxDown(RecordingError):
    """Asterisk could not be reached to pause or resume (503)."""

    default_message = "Không kết nối được tổng đài Asterisk; vui lòng thử lại."


class InvalidRequest(RecordingError, ValueError):
    """The request is malformed: a hold on neither or both a call and an incident, an empty
    reason, an unknown call or incident (422)."""

    default_message = "Yêu cầu không hợp lệ."
