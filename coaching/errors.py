"""Coaching's refusals; the API turns each into its status, ``message`` (Vietnamese) as the
``detail`` people read."""

from __future__ import annotations

__all__ = [
    "CoachingConflict",
    "CoachingError",
    "InvalidCoaching",
    "NotOnCall",
    "PbxDown",
    "SessionNotFound",
]


class CoachingError(Exception):
    """Base of the refusals; ``message`` (also ``str()``) is the Vietnamese sentence."""

    default_message = "Lỗi giám sát cuộc gọi."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class SessionNotFound(CoachingError, LookupError):
    """No such monitoring session (never was, or it ended), or no such agent (404)."""

    default_message = "Không tìm thấy phiên giám sát (có thể đã kết thúc)."


class NotOnCall(CoachingError):
    """The agent is on no call to join (409)."""

    default_message = "Tổng đài viên hiện không có cuộc gọi nào để giám sát."


class CoachingConflict(CoachingError):
    """Not from where things are: the supervisor's phone is already in a session (409)."""

    default_message = "Máy của giám sát viên đang trong một phiên giám sát khác."


class InvalidCoaching(CoachingError, ValueError):
    """A phone that is no supervisor phone, an unknown mode (422)."""

    default_message = "Yêu cầu giám sát không hợp lệ."


class PbxDown(CoachingError):
    """Asterisk could not be reached (503)."""

    default_message = "Không kết nối được tổng đài Asterisk; vui lòng thử lại."
