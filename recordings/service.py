"""The recordings' service: the PBX's signals become rows (made at STARTED, sealed with their
digest and chain link at CLOSED), search and read them, play one (audited), verify the chain,
pause and resume a call's recording, legal holds, the purge of what has expired, the disk's
usage.

    service = RecordingService(db, pbx, RecordingParams(root=Path("/var/…/recordings")),
                               publish=bus.publish)
    await service.start()      # listen to the PBX, reconcile what is open, the purge loop
    page = await service.search(day_from=date(2026, 12, 5), category="medical")
    audio = await service.open_audio(page.items[0].id, user_id=3, user_name="giamsat1")
    ...
    await service.close()

Every method raises a ``recordings.errors.RecordingError`` for a refusal (the API maps each
to its status); ``message`` is the Vietnamese sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from live.hub import Audience
from recordings.chain import Problem, VerifyReport
from recordings.errors import (
    HoldNotFound,
    InvalidRequest,
    PbxDown,
    RecordingConflict,
    RecordingError,
    RecordingNotFound,
    RecordingNotReady,
    RecordingPurged,
)
from recordings.ports import RecordingPbx
from recordings.shapes import (
    AudioFile,
    HoldOut,
    PauseInfo,
    PauseOut,
    PurgeReport,
    RecordingOut,
    RecordingPage,
    Usage,
)
from store.db import Database

__all__ = [
    "AudioFile",
    "HoldNotFound",
    "HoldOut",
    "InvalidRequest",
    "PauseInfo",
    "PauseOut",
    "PbxDown",
    "Problem",
    "Publish",
    "PurgeReport",
    "RecordingConflict",
    "RecordingError",
    "RecordingNotFound",
    "RecordingNotReady",
    "RecordingOut",
    "RecordingPage",
    "RecordingParams",
    "RecordingPurged",
    "RecordingService",
    "Usage",
    "VerifyReport",
]

Publish = Callable[[str, Mapping[str, Any], Audience], None]


@dataclass(frozen=True)
class RecordingParams:
    """The settings the service runs with (``HOTLINE_RECORDING*``).

    ``root``: the recordings directory (a signal's ``name`` is relative to it).
    ``retention_days``: days per retention class (``recordings.retention``), others keep
    ``retention_default_days``. ``instance``: this service's Asterisk instance.
    """

    root: Path
    retention_days: Mapping[str, int] = field(default_factory=dict)
    retention_default_days: int = 365
    purge_interval_s: float = 3600.0
    instance: str = "main"


class RecordingService:
    """See the module's doc."""

    def __init__(
        self,
        db: Database,
        pbx: RecordingPbx,
        params: RecordingParams,
        *,
        publish: Publish | None = None,
    ) -> None:
        self.db = db
        self.pbx = pbx
        self.params = params
        self._publish = publish

    # -- start and stop ----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen to the PBX's signals, reconcile ``open_recordings()`` (a restart: rows still
        open are matched, missing ones made), and run the purge every ``purge_interval_s``."""
        raise NotImplementedError

    async def close(self) -> None:
        """Stop the purge loop and wait for the signals being written."""
        raise NotImplementedError

    # -- reading -----------------------------------------------------------------------------

    async def search(
        self,
        *,
        day_from: date | None = None,
        day_to: date | None = None,
        category: str | None = None,
        number: str | None = None,
        agent_endpoint: str | None = None,
        call_id: int | None = None,
        kind: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> RecordingPage:
        """Recordings newest first. Days are Vietnam's (UTC+7), both inclusive, on
        ``started_at``; ``category``/``number``/``agent_endpoint`` are the call's (number:
        the caller's, exact or a part of it). Raises ``InvalidRequest`` for a bad range."""
        raise NotImplementedError

    async def get(self, recording_id: int) -> RecordingOut:
        """One recording; raises ``RecordingNotFound``."""
        raise NotImplementedError

    async def for_call(self, call_id: int) -> list[RecordingOut]:
        """The recordings of a call (its own legs and its callbacks'), oldest first; empty
        when it has none (or the call does not exist)."""
        raise NotImplementedError

    async def open_audio(
        self, recording_id: int, *, user_id: int | None, user_name: str
    ) -> AudioFile:
        """The sealed file to play; audits ``listen`` (target ``recording:<id>``). Raises
        ``RecordingNotFound``, ``RecordingPurged``, ``RecordingNotReady`` (still recording),
        ``RecordingNotFound`` also when the file has vanished (verify names it)."""
        raise NotImplementedError

    # -- the chain ---------------------------------------------------------------------------

    async def verify(self, recording_id: int | None = None) -> VerifyReport:
        """The whole chain (every sealed recording, in seq order), or one recording: its
        file's digest and its link to the previous one. Raises ``RecordingNotFound``."""
        raise NotImplementedError

    # -- pausing a call's recording ----------------------------------------------------------

    async def pause(self, call_uniqueid: str, *, user_id: int | None, user_name: str) -> PauseOut:
        """Pause the open recording of the call (silence until resume), stored in
        ``recording_pauses`` and audited. Raises ``RecordingNotFound`` (no open recording),
        ``RecordingConflict`` (already paused), ``PbxDown``."""
        raise NotImplementedError

    async def resume(self, call_uniqueid: str, *, user_id: int | None, user_name: str) -> PauseOut:
        """Resume it. Raises ``RecordingNotFound``, ``RecordingConflict`` (not paused),
        ``PbxDown``."""
        raise NotImplementedError

    # -- legal holds -------------------------------------------------------------------------

    async def hold(
        self,
        *,
        call_id: int | None,
        incident_id: int | None,
        reason: str,
        user_id: int | None,
        user_name: str,
    ) -> HoldOut:
        """Keep the recordings of a call, or of an incident (its calls), whatever their
        retention, until released. Exactly one of ``call_id``/``incident_id``; audited.
        Raises ``InvalidRequest`` (neither or both, empty reason, no such call/incident)."""
        raise NotImplementedError

    async def release(self, hold_id: int, *, user_id: int | None, user_name: str) -> HoldOut:
        """End a hold (the row stays, with who and when); audited. Raises ``HoldNotFound``,
        ``RecordingConflict`` (already released)."""
        raise NotImplementedError

    async def holds(self, *, active_only: bool = True) -> list[HoldOut]:
        """The holds, newest first."""
        raise NotImplementedError

    # -- retention ---------------------------------------------------------------------------

    async def purge(self, now: datetime | None = None) -> PurgeReport:
        """Delete the files expired at ``now`` that no hold keeps (a hold on the call, or on
        an incident that came of the call or recording), mark their rows purged ("expired
        <class>"), audit one ``purge`` entry. The chain still verifies after."""
        raise NotImplementedError

    async def usage(self) -> Usage:
        """The files kept (not purged), their bytes, the oldest, and the disk's room."""
        raise NotImplementedError
