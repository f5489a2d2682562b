"""Fakes of the recordings' service for the pages' tests (issue 15): recordings kept in
memory in the shapes of ``recordings.shapes``, a real WAV file to stream, and what the pages
asked for (the searches, who listened, pauses, holds). The API's routes are the real ones."""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pbx.recording_signals import RecordingSignal
from recordings.chain import Problem, VerifyReport
from recordings.errors import (
    HoldNotFound,
    RecordingConflict,
    RecordingNotFound,
    RecordingNotReady,
    RecordingPurged,
)
from recordings.service import RecordingParams, RecordingService
from recordings.shapes import (
    AudioFile,
    HoldOut,
    PauseOut,
    RecordingOut,
    RecordingPage,
    Usage,
)
from store.db import Database
from store.types import utcnow

__all__ = ["FakeRecordings", "recording", "tone_wav"]


def tone_wav(seconds: float = 3.0, rate: int = 8000) -> bytes:
    """A 440 Hz tone, 16-bit mono PCM: what MixMonitor writes, and something to hear."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
        for n in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def recording(rid: int, call_id: int | None, started_at: datetime, **changes: Any) -> RecordingOut:
    """A sealed call recording of 95 s, as the service gives it."""
    out = RecordingOut(
        id=rid,
        kind="call",
        ref=f"1700000000.{rid}",
        call_id=call_id,
        call_uniqueid=f"1700000000.{rid}",
        incident_id=None,
        conference_id=None,
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=95),
        duration_s=95.0,
        size_bytes=1_520_044,
        sha256=f"{rid:02d}" * 32,
        chain="c" * 64,
        seq=rid,
        retention_class="emergency",
        expires_at=started_at + timedelta(days=1825),
        purged_at=None,
        on_hold=False,
        paused_s=0.0,
        pauses=[],
        parties={"caller_number": "0909123456", "agent_endpoint": "agent01"},
        caller_number="0909123456",
        category="medical",
        agent_endpoint="agent01",
        status="sealed",
    )
    return replace(out, **changes)


def _vn_day(at: datetime) -> date:
    """The day in Vietnam (UTC+7, no summer time), as the service's search counts days."""
    return (at.astimezone(UTC) + timedelta(hours=7)).date()


class _NoPbx:
    """The recordings' PBX port, never reached: the fake answers everything itself."""

    def listen(self, callback: Callable[[RecordingSignal], None]) -> None:
        pass

    async def pause(self, channel: str) -> None:
        raise LookupError(channel)

    async def resume(self, channel: str) -> None:
        raise LookupError(channel)

    async def open_recordings(self) -> list[RecordingSignal]:
        return []


class FakeRecordings(RecordingService):
    """``RecordingService`` in memory: ``items`` by id, ``bad`` the ids whose digest does not
    verify (and why), ``audio`` the file every sealed recording plays."""

    def __init__(self, db: Database, root: Path) -> None:
        super().__init__(db, _NoPbx(), RecordingParams(root=root))
        self.items: dict[int, RecordingOut] = {}
        self.bad: dict[int, str] = {}
        self.audio = root / "tone.wav"
        self.audio.write_bytes(tone_wav())
        self.searches: list[dict[str, Any]] = []
        self.listened: list[tuple[int, str]] = []
        self.paused: dict[str, datetime] = {}
        self.pause_log: list[tuple[str, bool, str]] = []
        self.hold_rows: dict[int, HoldOut] = {}
        self.usage_now = Usage(
            files=1234,
            bytes=1_234_000_000,
            oldest_started_at=datetime(2026, 11, 6, 3, 0, tzinfo=UTC),
            disk_free_bytes=40_000_000_000,
            disk_total_bytes=100_000_000_000,
        )

    def add(self, *items: RecordingOut) -> None:
        for item in items:
            self.items[item.id] = item

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
        self.searches.append(
            {
                "day_from": day_from,
                "day_to": day_to,
                "category": category,
                "number": number,
                "agent_endpoint": agent_endpoint,
                "kind": kind,
                "limit": limit,
                "offset": offset,
            }
        )
        found = [
            r
            for r in sorted(self.items.values(), key=lambda r: r.started_at, reverse=True)
            if (day_from is None or _vn_day(r.started_at) >= day_from)
            and (day_to is None or _vn_day(r.started_at) <= day_to)
            and (category is None or r.category == category)
            and (number is None or number in (r.caller_number or ""))
            and (agent_endpoint is None or r.agent_endpoint == agent_endpoint)
            and (kind is None or r.kind == kind)
        ]
        return RecordingPage(items=found[offset : offset + limit], total=len(found))

    async def get(self, recording_id: int) -> RecordingOut:
        item = self.items.get(recording_id)
        if item is None:
            raise RecordingNotFound()
        return self._held(item)

    def _held(self, item: RecordingOut) -> RecordingOut:
        held = any(
            h.active and h.call_id is not None and h.call_id == item.call_id
            for h in self.hold_rows.values()
        )
        return replace(item, on_hold=held)

    async def for_call(self, call_id: int) -> list[RecordingOut]:
        mine = [self._held(r) for r in self.items.values() if r.call_id == call_id]
        return sorted(mine, key=lambda r: r.started_at)

    async def open_audio(
        self, recording_id: int, *, user_id: int | None, user_name: str
    ) -> AudioFile:
        item = await self.get(recording_id)
        if item.status == "purged":
            raise RecordingPurged()
        if item.status == "recording":
            raise RecordingNotReady()
        self.listened.append((recording_id, user_name))
        return AudioFile(path=self.audio, size=self.audio.stat().st_size)

    async def verify(self, recording_id: int | None = None) -> VerifyReport:
        ids = [recording_id] if recording_id is not None else sorted(self.items)
        for rid in ids:
            if rid not in self.items:
                raise RecordingNotFound()
        problems = [Problem(self.items[r].seq, r, self.bad[r]) for r in ids if r in self.bad]
        purged = sum(1 for r in ids if self.items[r].status == "purged")
        return VerifyReport(ok=not problems, checked=len(ids), purged=purged, problems=problems)

    async def pause(self, call_uniqueid: str, *, user_id: int | None, user_name: str) -> PauseOut:
        if call_uniqueid in self.paused:
            raise RecordingConflict("Ghi âm của cuộc gọi này đang tạm dừng.")
        at = utcnow()
        self.paused[call_uniqueid] = at
        self.pause_log.append((call_uniqueid, True, user_name))
        return PauseOut(recording_id=1, paused=True, at=at)

    async def paused_since(self, call_uniqueids: Iterable[str]) -> dict[str, datetime]:
        return {u: self.paused[u] for u in call_uniqueids if u in self.paused}

    async def resume(self, call_uniqueid: str, *, user_id: int | None, user_name: str) -> PauseOut:
        if call_uniqueid not in self.paused:
            raise RecordingConflict("Ghi âm của cuộc gọi này không tạm dừng.")
        del self.paused[call_uniqueid]
        self.pause_log.append((call_uniqueid, False, user_name))
        return PauseOut(recording_id=1, paused=False, at=utcnow())

    async def hold(
        self,
        *,
        call_id: int | None,
        incident_id: int | None,
        reason: str,
        user_id: int | None,
        user_name: str,
    ) -> HoldOut:
        out = HoldOut(
            id=len(self.hold_rows) + 1,
            call_id=call_id,
            incident_id=incident_id,
            reason=reason,
            created_by=user_name,
            created_at=utcnow(),
            released_at=None,
            released_by=None,
            active=True,
        )
        self.hold_rows[out.id] = out
        return out

    async def release(self, hold_id: int, *, user_id: int | None, user_name: str) -> HoldOut:
        held = self.hold_rows.get(hold_id)
        if held is None:
            raise HoldNotFound()
        if not held.active:
            raise RecordingConflict("Lệnh giữ này đã được bỏ.")
        out = replace(held, active=False, released_at=utcnow(), released_by=user_name)
        self.hold_rows[hold_id] = out
        return out

    async def holds(self, *, active_only: bool = True) -> list[HoldOut]:
        rows = sorted(self.hold_rows.values(), key=lambda h: h.id, reverse=True)
        return [h for h in rows if h.active or not active_only]

    async def usage(self) -> Usage:
        return self.usage_now
