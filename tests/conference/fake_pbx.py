"""A scripted ``ConferencePbx`` for tests: phones that answer and press 1, press nothing, are
busy or never answer, and leaders; every call to it recorded.

Each dial string gets a ``Behaviour`` (or a list, one per call, the last repeated). A dialled
point then plays what ``pbx.conference.AmiConferencePbx`` would report, as ``PointSignal``s to
the ``listen`` callbacks, after the behaviour's delays (``asyncio.sleep``; 0 by default):

    pbx = FakeConferencePbx(
        ["root", "b"],
        {"PJSIP/team-c25741": present(after_s=0.2), "PJSIP/team-c25744": busy()},
        default=absent(),
    )
    pbx.listen(signals.append)
    await pbx.dial_point("root", conference_id=1, point_id=7, attempt=1,
                         dial="PJSIP/team-c25741", title_prompt="conf-1", ring_s=30)
    await pbx.settle()                    # every scripted call has played out
    pbx.members("root", 1)                # the point, joined and muted
    pbx.calls                             # [Call("dial_point", {...}), ...]

As in Asterisk: a point joins muted and waits (music) until a marked member (a leader, or a
child node's link leg) is in its bridge; a leader joins as admin and marked, unmuted;
``PARTICIPANTS`` means the members that are not admins; a locked bridge lets no point in (it
hangs up after pressing 1); an unanswered call reports no HUNG_UP, only why it failed.
``down`` holds the nodes that raise ``PbxUnavailable``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pbx.conference_signals import ALL_MEMBERS, PARTICIPANTS, ConferenceMember, PointSignal
from pbx.conference_signals import SignalKind as K
from pbx.errors import PbxUnavailable

__all__ = [
    "Behaviour",
    "Call",
    "FakeConferencePbx",
    "absent",
    "busy",
    "failed",
    "hangs_up",
    "leader",
    "no_answer",
    "present",
]

Outcome = Literal["present", "absent", "hangs_up", "busy", "no_answer", "failed", "leader"]


@dataclass(frozen=True)
class Behaviour:
    """How a phone takes a call: ``after_s`` of ringing before it answers (or fails),
    ``key_s`` more before the roll call's outcome (1 pressed, or the question asked twice),
    and, once in the bridge, ``stay_s`` before it hangs up (None: stays)."""

    outcome: Outcome
    after_s: float = 0.0
    key_s: float = 0.0
    stay_s: float | None = None
    reason: str = ""


def present(after_s: float = 0.0, key_s: float = 0.0, stay_s: float | None = None) -> Behaviour:
    """Answers, presses 1, joins the bridge."""
    return Behaviour("present", after_s, key_s, stay_s)


def absent(after_s: float = 0.0, key_s: float = 0.0) -> Behaviour:
    """Answers, presses nothing: asked twice, then hung up by the dialplan."""
    return Behaviour("absent", after_s, key_s)


def hangs_up(after_s: float = 0.0, key_s: float = 0.0) -> Behaviour:
    """Answers, then hangs up before pressing anything."""
    return Behaviour("hangs_up", after_s, key_s)


def busy(after_s: float = 0.0) -> Behaviour:
    return Behaviour("busy", after_s, reason="BUSY")


def no_answer(after_s: float = 0.0) -> Behaviour:
    """Rings out (after ``after_s``; the ``ring_s`` of the dial is not waited for)."""
    return Behaviour("no_answer", after_s, reason="NOANSWER")


def failed(reason: str = "CHANUNAVAIL", after_s: float = 0.0) -> Behaviour:
    """Cannot be placed (no such endpoint, no route)."""
    return Behaviour("failed", after_s, reason=reason)


def leader(after_s: float = 0.0, stay_s: float | None = None) -> Behaviour:
    """A leader's phone: answers and joins at once as admin and marked."""
    return Behaviour("leader", after_s, stay_s=stay_s)


@dataclass(frozen=True)
class Call:
    """One call to the fake: the method's name, its arguments by name, and whether it
    succeeded (False: it raised, e.g. ``PbxUnavailable`` for a node that is down)."""

    method: str
    args: Mapping[str, object]
    ok: bool = True


@dataclass
class _Member:
    member: ConferenceMember
    conference_id: int
    attempt: int


@dataclass
class FakeConferencePbx:
    """Satisfies ``conference.ports.ConferencePbx`` (checked by tests/conference/
    test_fake_pbx.py); see the module's docstring."""

    node_names: Sequence[str] = ("root",)
    scripts: Mapping[str, Behaviour | Sequence[Behaviour]] = field(default_factory=dict)
    default: Behaviour | None = None  # for a dial string with no script (None: FAILED)
    recordings: Path = Path("/tmp/fake-conference-recordings")
    gateway_endpoint: str = "pstn-out"
    down: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    signals: list[PointSignal] = field(default_factory=list)  # every one emitted, in order
    prompts: dict[str, bytes] = field(default_factory=dict)
    locked: set[tuple[str, int]] = field(default_factory=set)
    recording: dict[int, str] = field(default_factory=dict)  # conference -> file path
    linked: set[tuple[str, int]] = field(default_factory=set)
    _listeners: list[Callable[[PointSignal], None]] = field(init=False, default_factory=list)
    _bridges: dict[tuple[str, int], dict[str, _Member]] = field(init=False, default_factory=dict)
    _dialled: dict[str, int] = field(
        init=False, default_factory=dict
    )  # dial string -> calls so far
    _channels: int = field(init=False, default=0)
    _tasks: set[asyncio.Task[None]] = field(init=False, default_factory=set)
    _live: dict[str, tuple[str, int, int, int]] = field(init=False, default_factory=dict)

    # -- the Protocol ---------------------------------------------------------------------

    @property
    def nodes(self) -> list[str]:
        return list(self.node_names)

    @property
    def root(self) -> str:
        return self.node_names[0]

    def listen(self, callback: Callable[[PointSignal], None]) -> None:
        self._listeners.append(callback)

    async def dial_point(
        self,
        node: str,
        *,
        conference_id: int,
        point_id: int,
        attempt: int,
        dial: str,
        title_prompt: str,
        ring_s: int,
        leader: bool = False,
    ) -> None:
        self._record("dial_point", locals(), node)
        behaviour = self._behaviour(dial)
        if leader and behaviour.outcome == "present":
            behaviour = replace(behaviour, outcome="leader")
        self._channels += 1
        channel = f"PJSIP/{self._endpoint_of(dial)}-{self._channels:08x}"
        self._live[channel] = (node, conference_id, point_id, attempt)
        task = asyncio.get_running_loop().create_task(
            self._play(node, conference_id, point_id, attempt, channel, behaviour)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def dial_string(self, *, endpoint: str | None, number: str | None) -> str:
        if (endpoint is None) == (number is None):
            raise ValueError("an endpoint or a number, one of them")
        return f"PJSIP/{endpoint}" if endpoint else f"PJSIP/{number}@{self.gateway_endpoint}"

    async def put_prompt(self, name: str, wav: bytes) -> None:
        self._record("put_prompt", {"name": name, "wav": wav}, *self.node_names)
        self.prompts[name] = wav

    async def link_node(self, node: str, conference_id: int) -> None:
        self._record("link_node", locals(), node, self.root)
        if node == self.root or (node, conference_id) in self.linked:
            return
        self.linked.add((node, conference_id))
        self._channels += 1
        leg = f"PJSIP/hotline-link-{self._channels:08x}"
        # On the child, the leg is marked: its points stop waiting. On the root, an admin.
        self._join(node, conference_id, leg, None, 0, admin=True, marked=True, muted=False)
        self._join(self.root, conference_id, leg + ";root", None, 0, admin=True, marked=False)
        self._emit(PointSignal(node, conference_id, K.LINK_UP, channel=leg))

    async def mute(self, node: str, conference_id: int, target: str) -> None:
        self._record("mute", locals(), node)
        self._set_muted(node, conference_id, target, True)

    async def unmute(self, node: str, conference_id: int, target: str) -> None:
        self._record("unmute", locals(), node)
        self._set_muted(node, conference_id, target, False)

    async def kick(self, node: str, conference_id: int, target: str) -> None:
        self._record("kick", locals(), node)
        for m in self._targets(node, conference_id, target):
            self._leave(node, conference_id, m.member.channel, reason="kicked")

    async def lock(self, node: str, conference_id: int) -> None:
        self._record("lock", locals(), node)
        self.locked.add((node, conference_id))

    async def unlock(self, node: str, conference_id: int) -> None:
        self._record("unlock", locals(), node)
        self.locked.discard((node, conference_id))

    async def start_record(self, conference_id: int, file_name: str) -> str:
        self._record("start_record", locals(), self.root)
        name = file_name if file_name.endswith(".wav") else file_name + ".wav"
        self.recording[conference_id] = str(self.recordings / name)
        self._emit(PointSignal(self.root, conference_id, K.RECORDING))
        return self.recording[conference_id]

    async def stop_record(self, conference_id: int) -> None:
        self._record("stop_record", locals(), self.root)
        if self.recording.pop(conference_id, None) is not None:
            self._emit(PointSignal(self.root, conference_id, K.RECORDING_STOPPED))

    async def members(self, node: str, conference_id: int) -> list[ConferenceMember]:
        self._record("members", locals(), node)
        marked = self._has_marked(node, conference_id)
        return [
            replace(m.member, waiting=not marked and not m.member.marked)
            for m in self._bridges.get((node, conference_id), {}).values()
        ]

    async def hangup(self, node: str, channel: str) -> None:
        self._record("hangup", locals(), node)
        self._hang_up(node, channel, reason="Normal Clearing")

    # -- for tests --------------------------------------------------------------------------

    def called(self, method: str) -> list[Mapping[str, object]]:
        """The arguments of every successful call of ``method``, in order."""
        return [c.args for c in self.calls if c.method == method and c.ok]

    async def settle(self) -> None:
        """Wait until every scripted call has played out (a member that stays, stays)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def channel_of(self, point_id: int) -> str | None:
        """The channel of a point's latest call (None when it has none live)."""
        found = [ch for ch, (_, _, pid, _) in self._live.items() if pid == point_id]
        return found[-1] if found else None

    def raise_hand(self, channel: str) -> None:
        """The member on ``channel`` presses the raise-hand key."""
        node, cid, pid, attempt = self._live[channel]
        self._emit(PointSignal(node, cid, K.HAND, pid, attempt, channel))

    def talk(self, channel: str, talking: bool = True) -> None:
        node, cid, pid, attempt = self._live[channel]
        member = self._bridges.get((node, cid), {}).get(channel)
        if member is not None:
            member.member = replace(member.member, talking=talking)
        self._emit(
            PointSignal(node, cid, K.TALKING if talking else K.SILENT, pid, attempt, channel)
        )

    def phone_hangs_up(self, channel: str) -> None:
        """The phone on ``channel`` hangs up (leaves the bridge first if it is in one)."""
        node, *_ = self._live[channel]
        self._hang_up(node, channel, reason="Normal Clearing")

    # -- the script ---------------------------------------------------------------------------

    def _behaviour(self, dial: str) -> Behaviour:
        n = self._dialled.get(dial, 0)
        self._dialled[dial] = n + 1
        script = self.scripts.get(dial)
        if script is None:
            return self.default or failed(f"fake: no behaviour for {dial}")
        if isinstance(script, Behaviour):
            return script
        return script[min(n, len(script) - 1)]

    def _endpoint_of(self, dial: str) -> str:
        body = dial.removeprefix("PJSIP/")
        return body.split("@", 1)[1] if "@" in body else body

    async def _play(
        self, node: str, cid: int, pid: int, attempt: int, channel: str, b: Behaviour
    ) -> None:
        def say(kind: K, reason: str = "", ch: str = channel) -> None:
            self._emit(PointSignal(node, cid, kind, pid, attempt, ch, reason))

        if b.outcome == "failed":
            await asyncio.sleep(b.after_s)
            self._live.pop(channel, None)
            say(K.FAILED, b.reason, ch="")
            return
        say(K.RINGING)
        await asyncio.sleep(b.after_s)
        if b.outcome in ("busy", "no_answer"):
            self._live.pop(channel, None)
            say(K.BUSY if b.outcome == "busy" else K.NO_ANSWER, b.reason)
            return
        if b.outcome != "leader":
            say(K.ANSWERED)
            await asyncio.sleep(b.key_s)
        if channel not in self._live:
            return  # hung up meanwhile (hangup())
        if b.outcome in ("absent", "hangs_up"):
            if b.outcome == "absent":
                say(K.ABSENT)
            self._hang_up(node, channel, reason="Normal Clearing")
            return
        is_leader = b.outcome == "leader"
        say(K.PRESENT)
        if (node, cid) in self.locked and not is_leader:
            self._hang_up(node, channel, reason="locked")
            return
        self._join(node, cid, channel, pid, attempt, admin=is_leader, marked=is_leader)
        if b.stay_s is not None:
            await asyncio.sleep(b.stay_s)
            self._hang_up(node, channel, reason="Normal Clearing")

    # -- bridges ---------------------------------------------------------------------------

    def _join(
        self,
        node: str,
        cid: int,
        channel: str,
        pid: int | None,
        attempt: int,
        *,
        admin: bool,
        marked: bool,
        muted: bool | None = None,
    ) -> None:
        member = ConferenceMember(
            node=node,
            channel=channel,
            point_id=pid,
            admin=admin,
            marked=marked,
            muted=not admin if muted is None else muted,  # points join muted (startmuted)
            waiting=False,  # computed in members()
            talking=False,
        )
        self._bridges.setdefault((node, cid), {})[channel] = _Member(member, cid, attempt)
        if pid is not None:
            self._emit(PointSignal(node, cid, K.JOINED, pid, attempt, channel))

    def _leave(self, node: str, cid: int, channel: str, reason: str) -> None:
        bridge = self._bridges.get((node, cid), {})
        m = bridge.pop(channel, None)
        if m is None:
            return
        if m.member.point_id is not None:
            self._emit(PointSignal(node, cid, K.LEFT, m.member.point_id, m.attempt, channel))
        elif node != self.root and (node, cid) in self.linked:  # the child's link leg
            self.linked.discard((node, cid))
            self._bridges.get((self.root, cid), {}).pop(channel + ";root", None)
            self._emit(PointSignal(node, cid, K.LINK_DOWN, channel=channel, reason=reason))
        self._hang_up(node, channel, reason)

    def _hang_up(self, node: str, channel: str, reason: str) -> None:
        for (n, cid), bridge in self._bridges.items():
            if n == node and channel in bridge:
                self._leave(node, cid, channel, reason)
                return
        live = self._live.pop(channel, None)
        if live is not None and live[0] == node:
            _, cid, pid, attempt = live
            self._emit(PointSignal(node, cid, K.HUNG_UP, pid, attempt, channel, reason))

    def _has_marked(self, node: str, cid: int) -> bool:
        return any(m.member.marked for m in self._bridges.get((node, cid), {}).values())

    def _targets(self, node: str, cid: int, target: str) -> list[_Member]:
        bridge = self._bridges.get((node, cid), {})
        if target == ALL_MEMBERS:
            return list(bridge.values())
        if target == PARTICIPANTS:  # leaders and link legs are admins
            return [m for m in bridge.values() if not m.member.admin]
        return [bridge[target]] if target in bridge else []

    def _set_muted(self, node: str, cid: int, target: str, muted: bool) -> None:
        for m in self._targets(node, cid, target):
            if m.member.muted != muted:
                m.member = replace(m.member, muted=muted)
                self._emit(
                    PointSignal(
                        node,
                        cid,
                        K.MUTED if muted else K.UNMUTED,
                        m.member.point_id,
                        m.attempt,
                        m.member.channel,
                    )
                )

    # -- bookkeeping ---------------------------------------------------------------------------

    def _record(self, method: str, args: Mapping[str, object], *nodes: str) -> None:
        args = {k: v for k, v in args.items() if k != "self"}
        for node in nodes:
            if node not in self.node_names:
                self.calls.append(Call(method, args, ok=False))
                raise ValueError(f"unknown node {node!r}")
            if node in self.down:
                self.calls.append(Call(method, args, ok=False))
                raise PbxUnavailable(f"fake Asterisk {node} is down")
        self.calls.append(Call(method, args))

    def _emit(self, signal: PointSignal) -> None:
        signal = replace(signal, at=time.time())
        self.signals.append(signal)
        for callback in list(self._listeners):
            callback(signal)
