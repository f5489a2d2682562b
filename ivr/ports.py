"""What the IVR needs from the rest of the system, as small interfaces.

- ``IvrChannel``: the caller's channel; the FastAGI session satisfies it structurally. A
  caller who hangs up makes any call raise (``pbx.errors.AgiHangup`` on the real link); the
  IVR lets it propagate, and the call tracker records where the caller left.
- ``IvrRecorder``: takes each step of a call through the menu (the call tracker).
- ``CallerHistory``: what the hotline remembers of a caller (their last district).
- ``CallbackDesk``: callbacks, offered when a queue's wait is long, and a caller's callback
  that is still pending (``queues.callbacks.CallbackService``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Protocol

__all__ = [
    "AnnouncementNotFound",
    "CallbackDesk",
    "CallbackOffer",
    "CallbackRefusal",
    "CallbackRequest",
    "CallerHistory",
    "DraftMismatch",
    "IvrAdmin",
    "IvrChannel",
    "IvrRecorder",
    "IvrStep",
    "NothingToRevert",
    "PendingCallback",
]


class IvrChannel(Protocol):
    @property
    def uniqueid(self) -> str: ...

    @property
    def env(self) -> dict[str, str]: ...

    # ``playing_s``: how long the prompt plays, so the wait for its end covers it.
    async def get_data(
        self, path: str, timeout_ms: int = 5000, max_digits: int = 1, *, playing_s: float = 0.0
    ) -> tuple[str, bool]: ...

    async def stream_file(
        self, path: str, escape_digits: str = "", *, playing_s: float = 0.0
    ) -> str | None: ...

    # One key per menu, as ``get_data``, from ``asks[0]`` on: a key that leads straight to
    # another menu (``asks[i] = (path, timeout_ms, {key: index of that menu's ask})``) has
    # that menu played and its key read in the same command, so no key typed ahead between
    # two menus is lost. ``(digits, timed_out)`` for each menu read, in order.
    async def read_menus(
        self,
        asks: Sequence[tuple[str, int, Mapping[str, int]]],
        *,
        max_reads: int = 16,
        playing_s: float = 0.0,
    ) -> list[tuple[str, bool]]: ...

    async def set_variable(self, name: str, value: str) -> None: ...

    # Several variables in one command, in order (each round trip is one more wait on a
    # busy machine while the caller waits for the queue).
    async def set_variables(self, pairs: Sequence[tuple[str, str]]) -> None: ...


@dataclass(frozen=True)
class IvrStep:
    """One step: ``kind`` is enter, key, invalid, timeout, back, exhausted, district,
    confirm, heard (an announcement played to its end), queue or hangup; around callbacks,
    offer (a callback was offered at a queue node), repeat (the caller has one pending,
    and heard so) and callback (the caller chose to be called back, or to keep the pending
    one, and leaves)."""

    node: str
    kind: str
    key: str | None
    at: datetime


class IvrRecorder(Protocol):
    def ivr_step(self, uniqueid: str, step: IvrStep) -> None: ...


class CallerHistory(Protocol):
    def recall(self, caller_number: str, within_days: int) -> tuple[bool, int | None]:
        """At once, from memory: (True, the last district or None) when it can say,
        (False, None) when only ``last_district`` (the database) can."""
        ...

    async def last_district(self, caller_number: str, within_days: int) -> int | None: ...


class CallbackRefusal(Enum):
    """Why a caller who waits long is told they cannot be called back."""

    NUMBER = "number"  # not a number of the national plan (premium, international, short)
    LIMIT = "limit"  # the callback caps (per number, per hour) are reached


@dataclass(frozen=True)
class CallbackOffer:
    """A callback to offer, and why: the queue's estimated wait (None: nobody to answer).
    With ``refused`` the caller is told why none can be offered instead, and holds."""

    estimated_wait_s: float | None
    refused: CallbackRefusal | None = None


@dataclass(frozen=True)
class CallbackRequest:
    """A caller who chose to be called back. ``since`` is when they would have joined the
    queue (before the offer was made): the place the callback keeps."""

    call_uniqueid: str
    caller_number: str
    category: str
    queue: str
    priority: int
    district: int | None
    since: datetime


@dataclass(frozen=True)
class PendingCallback:
    """A callback of the caller's that is not done yet (waiting, being called, or retrying)."""

    call_uniqueid: str
    category: str | None
    queue: str
    priority: int
    district: int | None


class CallbackDesk(Protocol):
    def offer(self, queue: str, caller_number: str) -> CallbackOffer | None:
        """A callback to offer a caller about to join ``queue``, or None (the wait is short
        or the caller has a callback pending); an offer ``refused`` when the wait is long
        but the number may not be called back (outside the numbering plan, or the caps are
        reached). Instant: the IVR asks it between two AGI commands."""
        ...

    def pending(self, caller_number: str) -> PendingCallback | None:
        """The caller's callback that is still pending, if any (instant, as ``offer``)."""
        ...

    async def request(self, request: CallbackRequest) -> bool:
        """Record the callback; False when it could not be (the caller then waits on the
        line as usual)."""
        ...


class AnnouncementNotFound(LookupError):
    """No announcement node plays a prompt of that name."""


class DraftMismatch(LookupError):
    """The announcement has no draft, or not the one named (another supervisor replaced or
    discarded it): nothing is published that the supervisor did not hear."""


class NothingToRevert(LookupError):
    """The announcement keeps no previous version (never rewritten since 0009)."""


class IvrAdmin(Protocol):
    """What supervisors do with the IVR over REST (``ivr.service.IvrService``).

    A draft is a text spoken into a sound file beside the live one, not heard by callers:
    ``draft_audio`` is its file to listen to; ``publish_draft`` puts it live (the version it
    replaces is kept, ``revert`` brings it back); ``discard_draft`` throws it away.
    """

    async def reload(self) -> dict[str, object]: ...

    async def announcements(self) -> list[dict[str, object]]: ...

    async def set_announcement(self, name: str, text: str, by: str) -> dict[str, object]: ...

    async def make_draft(self, name: str, text: str, by: str) -> dict[str, object]: ...

    def audio(self, name: str, *, draft: bool) -> Path | None: ...

    async def publish_draft(self, name: str, draft_id: str, by: str) -> dict[str, object]: ...

    async def discard_draft(self, name: str) -> bool: ...

    async def revert(self, name: str, by: str) -> dict[str, object]: ...
