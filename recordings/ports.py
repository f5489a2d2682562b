"""What the recordings need from the PBX (``RecordingPbx``).

``pbx.recording.AmiRecordingPbx`` satisfies it over the AMI link; tests use a fake.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pbx.recording_signals import RecordingSignal

__all__ = ["RecordingPbx"]


class RecordingPbx(Protocol):
    """Every method raises ``pbx.errors.PbxUnavailable`` when Asterisk cannot be reached."""

    def listen(self, callback: Callable[[RecordingSignal], None]) -> None:
        """Call ``callback`` for every ``RecordingSignal``, in arrival order."""

    async def pause(self, channel: str) -> None:
        """Silence the recording of ``channel`` (both directions) until ``resume``; the file
        keeps its length (the pause is silence in it). Raises ``LookupError`` when the
        channel is gone or records nothing."""

    async def resume(self, channel: str) -> None: ...

    async def open_recordings(self) -> list[RecordingSignal]:
        """The ``STARTED`` signals of the legs recording now (after a restart: what is still
        open, so their ``CLOSED`` can be matched)."""
