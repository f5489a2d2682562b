"""What coaching needs from the PBX (``SpyPbx``).

``pbx.recording.AmiSpyPbx`` satisfies it over the AMI link; tests use a fake.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from pbx.recording_signals import SpyMode, SpySession

__all__ = ["ChannelList", "SpyPbx"]


class SpyPbx(Protocol):
    """Every method raises ``pbx.errors.PbxUnavailable`` when Asterisk cannot be reached."""

    async def spy(self, *, phone: str, target_channel: str, mode: SpyMode, ring_s: int) -> str:
        """Ring the supervisor's ``phone`` (a PJSIP endpoint, e.g. ``sup01``); once answered
        it spies on ``target_channel`` in ``mode`` (keys 4 listen, 5 whisper, 6 barge change
        it). Returns the spy call's channel name as soon as Asterisk accepted the call (its
        answer is not awaited). Raises ``LookupError`` when ``target_channel`` is gone."""

    async def change_mode(self, spy_channel: str, mode: SpyMode) -> None:
        """Put a spying channel in ``mode`` (it stays on the call). ``LookupError``: gone."""

    async def stop(self, spy_channel: str) -> None:
        """Hang up the spying channel (a no-op when it is gone)."""

    async def sessions(self) -> list[SpySession]:
        """The spying channels Asterisk has now, with their mode."""


class ChannelList(Protocol):
    """The channels Asterisk has now (``CoreShowChannels`` rows: Channel, Linkedid,
    ChannelStateDesc, …), to find an agent's own channel to spy on: ``pbx.client.AmiPbx``
    satisfies it (as ``queues.ports.CallbackPbx`` does). Raises ``PbxUnavailable``."""

    async def channels(self) -> Sequence[Mapping[str, str]]: ...
