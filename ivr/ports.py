"""What the IVR needs from the rest of the system, as small interfaces.

- ``IvrChannel``: the caller's channel; the FastAGI session satisfies it structurally. A
  caller who hangs up makes any call raise (``pbx.errors.AgiHangup`` on the real link); the
  IVR lets it propagate, and the call tracker records where the caller left.
- ``IvrRecorder``: takes each step of a call through the menu (the call tracker).
- ``CallerHistory``: what the hotline remembers of a caller (their last district).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = [
    "AnnouncementNotFound",
    "CallerHistory",
    "IvrAdmin",
    "IvrChannel",
    "IvrRecorder",
    "IvrStep",
]


class IvrChannel(Protocol):
    @property
    def uniqueid(self) -> str: ...

    @property
    def env(self) -> dict[str, str]: ...

    async def get_data(
        self, path: str, timeout_ms: int = 5000, max_digits: int = 1
    ) -> tuple[str, bool]: ...

    async def stream_file(self, path: str, escape_digits: str = "") -> str | None: ...

    async def set_variable(self, name: str, value: str) -> None: ...


@dataclass(frozen=True)
class IvrStep:
    """One step: ``kind`` is enter, key, invalid, timeout, back, exhausted, district,
    confirm, heard (an announcement played to its end), queue or hangup."""

    node: str
    kind: str
    key: str | None
    at: datetime


class IvrRecorder(Protocol):
    def ivr_step(self, uniqueid: str, step: IvrStep) -> None: ...


class CallerHistory(Protocol):
    async def last_district(self, caller_number: str, within_days: int) -> int | None: ...


class AnnouncementNotFound(LookupError):
    """No announcement node plays a prompt of that name."""


class IvrAdmin(Protocol):
    """What supervisors do with the IVR over REST (``ivr.service.IvrService``)."""

    async def reload(self) -> dict[str, object]: ...

    async def announcements(self) -> list[dict[str, object]]: ...

    async def set_announcement(self, name: str, text: str, by: str) -> dict[str, object]: ...
