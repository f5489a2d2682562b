"""What the recordings' service hands out: plain frozen dataclasses, each with a
``model_dump()`` like pydantic's (``mode="json"`` gives ISO-8601 strings for times), so the
API can return them as they are or build its own response models from them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from recordings.chain import Problem, VerifyReport

__all__ = [
    "AudioFile",
    "Dumpable",
    "HoldOut",
    "PauseInfo",
    "PauseOut",
    "Problem",
    "PurgeReport",
    "RecordingOut",
    "RecordingPage",
    "RecordingStatus",
    "Usage",
    "VerifyReport",
]

RecordingStatus = Literal["recording", "sealed", "purged"]


def _plain(value: Any, json: bool) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), json) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v, json) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, json) for k, v in value.items()}
    if json and isinstance(value, datetime):
        return value.isoformat()
    if json and isinstance(value, Path):
        return str(value)
    return value


class Dumpable:
    """``model_dump()`` for a dataclass: a dict of its fields, nested ones too."""

    def model_dump(self, *, mode: Literal["python", "json"] = "python") -> dict[str, Any]:
        out: dict[str, Any] = _plain(self, mode == "json")
        return out


@dataclass(frozen=True)
class PauseInfo(Dumpable):
    """A span during which a recording was paused (silence in the file), and who asked."""

    paused_at: datetime
    resumed_at: datetime | None
    by_name: str


@dataclass(frozen=True)
class RecordingOut(Dumpable):
    """One recorded leg as people see it. ``call_id``, ``caller_number``, ``category`` and
    ``agent_endpoint`` come from the call (``call_uniqueid``) when there is one."""

    id: int
    kind: str
    ref: str
    call_id: int | None
    call_uniqueid: str | None
    incident_id: int | None
    conference_id: int | None
    started_at: datetime
    ended_at: datetime | None
    duration_s: float | None
    size_bytes: int | None
    sha256: str | None
    chain: str | None
    seq: int | None
    retention_class: str | None
    expires_at: datetime | None
    purged_at: datetime | None
    on_hold: bool
    paused_s: float
    pauses: list[PauseInfo] = field(default_factory=list)
    parties: dict[str, Any] = field(default_factory=dict)
    caller_number: str | None = None
    category: str | None = None
    agent_endpoint: str | None = None
    status: RecordingStatus = "recording"


@dataclass(frozen=True)
class RecordingPage(Dumpable):
    """One page of a search, newest first, and how many match in all."""

    items: list[RecordingOut]
    total: int


@dataclass(frozen=True)
class AudioFile(Dumpable):
    """A sealed recording's file to stream (the route handles ``Range`` itself)."""

    path: Path
    size: int
    media_type: str = "audio/wav"


@dataclass(frozen=True)
class PauseOut(Dumpable):
    """The answer to a pause or a resume: the recording and its state since ``at``."""

    recording_id: int
    paused: bool
    at: datetime


@dataclass(frozen=True)
class HoldOut(Dumpable):
    """A legal hold on a call or an incident; a released one stays as a row."""

    id: int
    call_id: int | None
    incident_id: int | None
    reason: str
    created_by: str
    created_at: datetime
    released_at: datetime | None
    released_by: str | None
    active: bool


@dataclass(frozen=True)
class PurgeReport(Dumpable):
    """What one purge removed (recording ids), what it kept because of a hold, bytes freed."""

    removed: list[int]
    kept_on_hold: list[int]
    freed_bytes: int


@dataclass(frozen=True)
class Usage(Dumpable):
    """The recordings' files on disk (not purged), the oldest kept, and the disk's room."""

    files: int
    bytes: int
    oldest_started_at: datetime | None
    disk_free_bytes: int
    disk_total_bytes: int


@dataclass(frozen=True)
class ListenOut(Dumpable):
    """One listening of a recording, from the audit log: when, and by whom."""

    at: datetime
    user_id: int | None
    user_name: str
