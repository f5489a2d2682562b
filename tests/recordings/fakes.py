"""A ``RecordingPbx`` for tests: it writes real files the way MixMonitor would and plays the
signals ``pbx.recording.AmiRecordingPbx`` reports.

    pbx = FakeRecordingPbx(tmp_path / "recordings")
    service = RecordingService(db, pbx, RecordingParams(root=pbx.root))
    await service.start()
    leg = pbx.start_call("1733461200.12", at=t0)    # STARTED, an empty file
    pbx.write(leg, b"RIFF…")                         # the audio
    pbx.close(leg, at=t0 + timedelta(seconds=90))    # CLOSED
    await service.drain()

``paused`` holds the channels paused now, ``calls`` every pause/resume asked; ``down`` makes
every method raise ``PbxUnavailable``; ``gone`` the channels that raise ``LookupError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pbx.errors import PbxUnavailable
from pbx.recording_signals import RecordingKind, RecordingSignal, SignalKind
from store.types import utcnow

__all__ = ["FakeRecordingPbx", "Leg"]


@dataclass
class Leg:
    """One recorded leg the fake is playing."""

    recording: RecordingKind
    ref: str
    uniqueid: str
    channel: str
    name: str
    path: Path
    started_at: datetime
    closed: bool = False
    incident_id: int | None = None


@dataclass
class FakeRecordingPbx:
    root: Path
    instance: str = "main"
    down: bool = False
    gone: set[str] = field(default_factory=set)
    paused: set[str] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)
    legs: list[Leg] = field(default_factory=list)
    _listeners: list[Callable[[RecordingSignal], None]] = field(default_factory=list)
    _count: int = 0

    # -- RecordingPbx ----------------------------------------------------------------------

    def listen(self, callback: Callable[[RecordingSignal], None]) -> None:
        self._listeners.append(callback)

    async def pause(self, channel: str) -> None:
        self._check(channel)
        self.calls.append(("pause", channel))
        self.paused.add(channel)

    async def resume(self, channel: str) -> None:
        self._check(channel)
        self.calls.append(("resume", channel))
        self.paused.discard(channel)

    async def open_recordings(self) -> list[RecordingSignal]:
        if self.down:
            raise PbxUnavailable("fake Asterisk is down")
        return [
            self._signal(leg, SignalKind.STARTED, leg.started_at)
            for leg in self.legs
            if not leg.closed
        ]

    # -- the script ------------------------------------------------------------------------

    def start(
        self,
        recording: RecordingKind,
        ref: str,
        *,
        at: datetime | None = None,
        uniqueid: str | None = None,
        announce: bool = True,
        incident_id: int | None = None,
    ) -> Leg:
        """A leg starts recording: its (empty) file exists, STARTED is sent."""
        self._count += 1
        at = at or utcnow()
        uniqueid = uniqueid or (
            ref if recording is RecordingKind.CALL else f"1733461{self._count:03d}.{self._count}"
        )
        folder = {
            "call": "calls",
            "callback": "callbacks",
            "dispatch": "dispatch",
            "conference": "conferences",
        }[recording.value]
        name = f"{folder}/{at:%Y/%m/%d}/{uniqueid}.wav"
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        channel = f"PJSIP/{self.instance}-{self._count:08x}"
        leg = Leg(recording, ref, uniqueid, channel, name, path, at, incident_id=incident_id)
        self.legs.append(leg)
        if announce:
            self._emit(self._signal(leg, SignalKind.STARTED, at))
        return leg

    def start_call(self, uniqueid: str, *, at: datetime | None = None) -> Leg:
        return self.start(RecordingKind.CALL, uniqueid, at=at, uniqueid=uniqueid)

    def write(self, leg: Leg, data: bytes) -> None:
        with leg.path.open("ab") as f:
            f.write(data)

    def close(self, leg: Leg, *, at: datetime | None = None, announce: bool = True) -> None:
        """Asterisk closed the file: CLOSED is sent (unless ``announce`` is False: a service
        that was down missed it)."""
        leg.closed = True
        if announce:
            self._emit(self._signal(leg, SignalKind.CLOSED, at or utcnow()))

    # -- inside ----------------------------------------------------------------------------

    def _check(self, channel: str) -> None:
        if self.down:
            raise PbxUnavailable("fake Asterisk is down")
        if channel in self.gone or not any(
            leg.channel == channel and not leg.closed for leg in self.legs
        ):
            raise LookupError(channel)

    def _signal(self, leg: Leg, kind: SignalKind, at: datetime) -> RecordingSignal:
        return RecordingSignal(
            kind=kind,
            recording=leg.recording,
            ref=leg.ref,
            uniqueid=leg.uniqueid,
            channel=leg.channel,
            path=str(leg.path),
            name=leg.name,
            at=at,
            instance=self.instance,
            incident_id=leg.incident_id,
        )

    def _emit(self, signal: RecordingSignal) -> None:
        for callback in self._listeners:
            callback(signal)
