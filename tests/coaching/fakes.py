"""A ``SpyPbx`` without Asterisk, and an agents' live view to go with it."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pbx.errors import PbxUnavailable
from pbx.recording_signals import SpyMode, SpySession
from queues.agent_state import AgentLiveState

__all__ = ["FakeAgents", "FakeSpyPbx", "channel_of"]


def channel_of(endpoint: str) -> str:
    """The agent's channel in the tests: ``PJSIP/agent01-0000000a``."""
    return f"PJSIP/{endpoint}-0000000a"


class FakeSpyPbx:
    """Like ``AmiSpyPbx``: a spy channel per call, shown by ``sessions()`` once ``answer``ed
    (Asterisk shows ChanSpy only after the supervisor's phone answered). Also the
    ``ChannelList``: ``agent_channels`` (channel name -> the call's linkedid) are up."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.ringing: dict[str, SpySession] = {}
        self.spying: dict[str, SpySession] = {}
        self.between: set[str] = set()  # up, but not in ChanSpy now (a Redirect under way)
        self.agent_channels: dict[str, str] = {}  # channel -> linkedid
        self.down = False
        self._n = itertools.count(0x20)

    def _check(self) -> None:
        if self.down:
            raise PbxUnavailable("AMI link down")

    async def spy(self, *, phone: str, target_channel: str, mode: SpyMode, ring_s: int) -> str:
        self._check()
        self.calls.append(("spy", phone, target_channel, mode.value, str(ring_s)))
        if target_channel not in self.agent_channels:
            raise LookupError(target_channel)
        channel = f"PJSIP/{phone}-{next(self._n):08x}"
        self.ringing[channel] = SpySession(channel, target_channel, mode)
        return channel

    def answer(self, channel: str) -> None:
        self.spying[channel] = self.ringing.pop(channel)

    def hang_up(self, channel: str) -> None:
        """The phone hung up, the call ended, or (ringing) the phone never answered."""
        self.spying.pop(channel, None)
        self.ringing.pop(channel, None)
        self.between.discard(channel)

    def press(self, channel: str, mode: SpyMode) -> None:
        """The supervisor pressed 4/5/6 on the phone."""
        s = self.spying[channel]
        self.spying[channel] = SpySession(s.spy_channel, s.target_channel, mode)

    async def change_mode(self, spy_channel: str, mode: SpyMode) -> None:
        self._check()
        self.calls.append(("change_mode", spy_channel, mode.value))
        table = self.spying if spy_channel in self.spying else self.ringing
        if spy_channel not in table:
            raise LookupError(spy_channel)
        s = table[spy_channel]
        table[spy_channel] = SpySession(s.spy_channel, s.target_channel, mode)

    async def stop(self, spy_channel: str) -> None:
        self._check()
        self.calls.append(("stop", spy_channel))
        self.hang_up(spy_channel)

    async def channels(self) -> Sequence[Mapping[str, str]]:
        self._check()
        rows = [
            {"Channel": c, "Linkedid": linked, "ChannelStateDesc": "Up"}
            for c, linked in self.agent_channels.items()
        ]
        rows += [{"Channel": c, "ChannelStateDesc": "Ring"} for c in self.ringing]
        rows += [{"Channel": c, "ChannelStateDesc": "Up"} for c in self.spying]
        rows += [{"Channel": c, "ChannelStateDesc": "Up"} for c in self.between]
        return rows

    async def sessions(self) -> list[SpySession]:
        self._check()
        return list(self.spying.values())


@dataclass
class FakeAgents:
    """``AgentStateView``: the agents on a call are the ones in ``on_call``."""

    on_call: dict[str, str] = field(default_factory=dict)  # endpoint -> caller uniqueid

    def snapshot(self) -> Mapping[str, AgentLiveState]:
        return {
            endpoint: AgentLiveState(endpoint, queues={"q"}, on_call=uid)
            for endpoint, uid in self.on_call.items()
        }
