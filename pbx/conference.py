"""The command conference over AMI, across Asterisk nodes: ``AmiConferencePbx``.

It satisfies ``conference.ports.ConferencePbx``. One ``AmiLink`` per node (the root first);
each link's events become ``PointSignal``s, tied to their point by the channel's account
code (``conf-<conference>-<point>-<attempt>``, ``pbx.conference_signals``). The dialplan
and the bridge profiles it relies on are ``asterisk-conf/extensions.conf.j2``
(``hotline-conf-*``) and ``asterisk-conf/confbridge.conf.j2``.

==================================================  =========================================
AMI event (on any node)                             signal
==================================================  =========================================
Newstate Ringing of a point's channel               RINGING
UserEvent HotlineConfPoint State answered/present/  ANSWERED / PRESENT / ABSENT
absent; UserEvent HotlineConfHand                   HAND
ConfbridgeJoin / Leave of a point                   JOINED / LEFT
ConfbridgeMute / Unmute, ConfbridgeTalking on/off   MUTED / UNMUTED, TALKING / SILENT
ConfbridgeJoin / Leave of the link leg on a node    LINK_UP / LINK_DOWN (point_id None)
ConfbridgeJoin / Leave of the recorder on the root  RECORDING / RECORDING_STOPPED
(or ConfbridgeRecord / ConfbridgeStopRecord)
ConfbridgeEnd                                       ENDED
a failed OriginateResponse (+ the call's DialEnd)   BUSY / NO_ANSWER / FAILED (as
                                                    ``pbx.events.dial_failure`` says)
Hangup of a point's channel                         HUNG_UP (reason: the cause text)
==================================================  =========================================

Two nodes form a tree: ``link_node`` makes the node call the root
(``PJSIP/hotline-link/sip:conf-<id>@<root>``, the ``hotline-link`` endpoint whose password
every node shares), the root puts that leg in its bridge as ``hotline_link_root`` and the
node puts its own end in its bridge as ``hotline_link_child`` (marked: the node's points
stop waiting). Audio flows both ways through that one leg, so there is no loop.

Recording: ``ConfbridgeStartRecord`` needs the AMI class ``system``, which the service's
user does not have (least privilege: it would also allow Originate of shell-reaching
applications). ``start_record`` instead originates a recorder: ``Local/rec-<id>`` joins the
root's bridge as a muted listener and its other half ``Record()``s what it hears.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from pbx.ami import AmiLink
from pbx.client import AmiPbx
from pbx.conference_signals import (
    ConferenceMember,
    PointSignal,
    SignalKind,
    account_code,
    bridge_name,
    parse_account_code,
)
from pbx.errors import AmiActionError, AmiActionTimeout, AmiNotConnected, PbxUnavailable
from pbx.events import (
    AmiEvent,
    ConfbridgeEnd,
    ConfbridgeEvent,
    ConfbridgeJoin,
    ConfbridgeLeave,
    ConfbridgeMute,
    ConfbridgeRecord,
    ConfbridgeStopRecord,
    ConfbridgeTalking,
    ConfbridgeUnmute,
    DialEnd,
    DialFailure,
    Hangup,
    Newstate,
    OriginateResponse,
    UserEvent,
    dial_failure,
    event_names,
)
from pbx.paths import AsteriskPaths

__all__ = [
    "DIAL_END_GRACE_S",
    "LINK_ACCOUNT_PREFIX",
    "AmiConferencePbx",
    "ConferenceNode",
    "conference_nodes_from",
    "recordings_dir",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

POINT_CONTEXT = "hotline-conf-point"
LEADER_CONTEXT = "hotline-conf-leader"
LINK_CONTEXT = "hotline-conf-link"
RECORD_CONTEXT = "hotline-conf-record"
RECORDER_CONTEXT = "hotline-conf-recorder"
LINK_ENDPOINT = "hotline-link"
CALLER_ID = '"1022" <1022>'
# The account codes of a node's link leg and of the root's recorder (not points).
LINK_ACCOUNT_PREFIX = "conflink-"
RECORD_ACCOUNT_PREFIX = "confrec-"
# A failed OriginateResponse and the call's DialEnd race (as in dispatch/phone.py): an
# unclear failure waits this long for the DialEnd to say busy or no answer.
DIAL_END_GRACE_S = 1.0
LINK_RING_S = 10
_EARLY_MAX = 256
# Asterisk's answers for a bridge (or a member) that is not there: controls are no-ops then.
_NOT_THERE = (
    "no active conferences",
    "no conference by that name",
    "no channel by that name",
    "no such channel",
)
_PROMPT_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,150}")
_BRIDGE = re.compile(r"hotline-conf-(\d+)")
_RECORDER = re.compile(r"Local/rec-(\d+)@" + RECORDER_CONTEXT + r"-")
_POINT_STATES = {
    "answered": SignalKind.ANSWERED,
    "present": SignalKind.PRESENT,
    "absent": SignalKind.ABSENT,
}
_FAILURES = {
    DialFailure.BUSY: SignalKind.BUSY,
    DialFailure.NO_ANSWER: SignalKind.NO_ANSWER,
    DialFailure.FAILED: SignalKind.FAILED,
}


# What ``AmiConferencePbx._on_event`` acts on.
_EVENTS = event_names(
    ConfbridgeEvent,
    ConfbridgeRecord,
    ConfbridgeStopRecord,
    ConfbridgeEnd,
    UserEvent,
    OriginateResponse,
    DialEnd,
    Newstate,
    Hangup,
)


@dataclass(frozen=True)
class ConferenceNode:
    """One Asterisk a conference spans besides the root (settings ``conference_nodes``)."""

    name: str  # "b", "node2", ...
    ami_host: str
    ami_port: int
    ami_username: str
    ami_secret: str = field(repr=False)
    sip_host: str
    sip_port: int
    instance: str  # its provisioning instance (where its prompts and recordings lie)


def conference_nodes_from(items: Iterable[Mapping[str, Any]]) -> list[ConferenceNode]:
    """The nodes of settings ``conference_nodes`` (a list of dicts of ``ConferenceNode``'s
    fields); ``ValueError`` saying which node and field is wrong."""
    nodes: list[ConferenceNode] = []
    names: set[str] = set()
    for i, item in enumerate(items):
        where = f"conference_nodes[{i}]"
        if not isinstance(item, Mapping):
            raise ValueError(f"{where}: not an object")
        values: dict[str, Any] = {}
        for f in fields(ConferenceNode):
            if f.name not in item:
                raise ValueError(f"{where}: no {f.name!r}")
            raw = item[f.name]
            if f.name.endswith("_port"):
                if isinstance(raw, bool) or not isinstance(raw, int | str):
                    raise ValueError(f"{where}: {f.name} must be a port number")
                try:
                    port = int(raw)
                except ValueError:
                    raise ValueError(f"{where}: {f.name} must be a port number") from None
                if not 0 < port < 65536:
                    raise ValueError(f"{where}: {f.name} {port} is not a port")
                values[f.name] = port
            elif not isinstance(raw, str) or (not raw and f.name != "ami_secret"):
                raise ValueError(f"{where}: {f.name} must be a non-empty string")
            else:
                values[f.name] = raw
        unknown = set(item) - set(values)
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        node = ConferenceNode(**values)
        if not re.fullmatch(r"[A-Za-z0-9_-]+", node.name):
            raise ValueError(f"{where}: bad node name {node.name!r}")
        if node.name in names:
            raise ValueError(f"{where}: node {node.name!r} twice")
        names.add(node.name)
        nodes.append(node)
    return nodes


def recordings_dir(paths: AsteriskPaths) -> str:
    """Where a node keeps conference recordings, as its Asterisk sees it: ``conferences/``
    in the recordings directory (issue 15), so they are kept, sealed and purged with the
    calls' (the dialplan announces each: ``pbx.recording``)."""
    return f"{paths.recordings_dir}/conferences"


@dataclass
class _Node:
    name: str
    link: AmiLink
    paths: AsteriskPaths
    # Originates whose OriginateResponse we wait for (ActionID -> account code), and those
    # responses that overtook the Originate's reply.
    actions: dict[str, str] = field(default_factory=dict)
    early: OrderedDict[str, OriginateResponse] = field(default_factory=OrderedDict)


@dataclass
class _Dial:
    """A point's (or a link leg's) call from its Originate to its end."""

    conference_id: int
    point_id: int | None  # None: a node's link leg
    attempt: int
    dial_status: str = ""  # the DialEnd's, once seen
    reason: int = -1  # the failed OriginateResponse's, once seen
    answered: bool = False  # the roll call started, or the OriginateResponse said Success
    done: bool = False


class AmiConferencePbx:
    """``conference.ports.ConferencePbx`` over one ``AmiLink`` per node (module docstring).

    The links are started and closed by whoever made them; this class only adds a listener
    to each.
    """

    def __init__(
        self,
        root_link: AmiLink,
        root_name: str,
        root_paths: AsteriskPaths,
        root_sip: tuple[str, int],
        nodes: Sequence[tuple[ConferenceNode, AmiLink, AsteriskPaths]],
        *,
        gateway_endpoint: str = "pstn-out",
        dial_end_grace_s: float = DIAL_END_GRACE_S,
    ) -> None:
        self._root = root_name
        self._root_sip = root_sip
        self._gateway = gateway_endpoint
        self._grace = dial_end_grace_s
        self._nodes: dict[str, _Node] = {root_name: _Node(root_name, root_link, root_paths)}
        for node, link, paths in nodes:
            if node.name in self._nodes:
                raise ValueError(f"conference node {node.name!r} twice")
            self._nodes[node.name] = _Node(node.name, link, paths)
        self._callbacks: list[Callable[[PointSignal], None]] = []
        self._dials: dict[tuple[str, str], _Dial] = {}  # (node, account code) -> call
        # Calls that ended unanswered: their channel's Hangup may still come, and says
        # nothing more than BUSY / NO_ANSWER / FAILED did.
        self._unanswered: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        for name, n in self._nodes.items():
            n.link.add_listener(functools.partial(self._on_event, name), events=_EVENTS)

    # -- the port --------------------------------------------------------------------------

    @property
    def nodes(self) -> list[str]:
        return list(self._nodes)

    @property
    def root(self) -> str:
        return self._root

    def listen(self, callback: Callable[[PointSignal], None]) -> None:
        self._callbacks.append(callback)

    def dial_string(self, *, endpoint: str | None, number: str | None) -> str:
        if (endpoint is None) == (number is None):
            raise ValueError("dial an endpoint or a number, exactly one")
        if endpoint is not None:
            return f"PJSIP/{endpoint}"
        return f"PJSIP/{number}@{self._gateway}"

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
        n = self._node(node)
        if title_prompt and not _PROMPT_NAME.fullmatch(title_prompt):
            raise ValueError(f"bad prompt name {title_prompt!r}")
        account = account_code(conference_id, point_id, attempt)
        variables = {
            "CONF_ID": str(conference_id),
            "CONF_POINT": str(point_id),
            "CONF_ATTEMPT": str(attempt),
            "CONF_TITLE": title_prompt,
        }
        await self._originate(
            n,
            _Dial(conference_id, point_id, attempt),
            account,
            channel=dial,
            context=LEADER_CONTEXT if leader else POINT_CONTEXT,
            variables=variables,
            ring_s=ring_s,
        )

    async def link_node(self, node: str, conference_id: int) -> None:
        n = self._node(node)
        if node == self._root:
            return
        host, port = self._root_sip
        await self._originate(
            n,
            _Dial(conference_id, None, 0),
            f"{LINK_ACCOUNT_PREFIX}{conference_id}",
            channel=f"PJSIP/{LINK_ENDPOINT}/sip:conf-{conference_id}@{host}:{port}",
            context=LINK_CONTEXT,
            variables={"CONF_ID": str(conference_id)},
            ring_s=LINK_RING_S,
        )

    async def put_prompt(self, name: str, wav: bytes) -> None:
        if not _PROMPT_NAME.fullmatch(name):
            raise ValueError(f"bad prompt name {name!r}")
        if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
            raise ValueError(f"prompt {name!r} is not a WAV file")
        for n in self._nodes.values():
            dest = n.paths.host_path(n.paths.prompts_dir) / f"{name}.wav"
            await asyncio.to_thread(_write_atomically, dest, wav)

    async def mute(self, node: str, conference_id: int, target: str) -> None:
        await self._control(node, "ConfbridgeMute", conference_id, target)

    async def unmute(self, node: str, conference_id: int, target: str) -> None:
        await self._control(node, "ConfbridgeUnmute", conference_id, target)

    async def kick(self, node: str, conference_id: int, target: str) -> None:
        await self._control(node, "ConfbridgeKick", conference_id, target)

    async def lock(self, node: str, conference_id: int) -> None:
        await self._control(node, "ConfbridgeLock", conference_id)

    async def unlock(self, node: str, conference_id: int) -> None:
        await self._control(node, "ConfbridgeUnlock", conference_id)

    async def start_record(self, conference_id: int, file_name: str) -> str:
        if not file_name.endswith(".wav"):
            file_name += ".wav"
        if not _FILE_NAME.fullmatch(file_name):
            raise ValueError(f"bad recording name {file_name!r}")
        root = self._nodes[self._root]
        inner = f"{recordings_dir(root.paths)}/{file_name}"
        host = root.paths.host_path(inner)
        await asyncio.to_thread(_ensure_dir, host.parent)
        await self._originate(
            root,
            None,
            f"{RECORD_ACCOUNT_PREFIX}{conference_id}",
            channel=f"Local/rec-{conference_id}@{RECORDER_CONTEXT}/n",
            context=RECORD_CONTEXT,
            variables={"CONF_ID": str(conference_id), "CONF_RECFILE": inner},
            ring_s=LINK_RING_S,
        )
        return str(host)

    async def stop_record(self, conference_id: int) -> None:
        root = self._nodes[self._root]
        prefix = f"Local/rec-{conference_id}@{RECORDER_CONTEXT}-"
        pbx = AmiPbx(root.link)
        for channel in await pbx.channels():
            name = channel.get("Channel", "")
            if name.startswith(prefix):
                await self.hangup(self._root, name)

    async def members(self, node: str, conference_id: int) -> list[ConferenceMember]:
        n = self._node(node)
        try:
            replies = await _unavailable(
                n.link.action(
                    "ConfbridgeList", {"Conference": bridge_name(conference_id)}, as_list=True
                )
            )
        except AmiActionError as exc:
            if _not_there(exc):
                return []
            raise
        members: list[ConferenceMember] = []
        for reply in replies[1:]:
            row = {k.lower(): v for k, v in reply.items()}
            if row.get("event", "").lower() != "confbridgelist":
                continue
            parsed = parse_account_code(row.get("accountcode", ""))
            members.append(
                ConferenceMember(
                    node=node,
                    channel=row.get("channel", ""),
                    point_id=parsed[1] if parsed else None,
                    admin=_yes(row.get("admin", "")),
                    marked=_yes(row.get("markeduser", "")),
                    muted=_yes(row.get("muted", "")),
                    waiting=_yes(row.get("waiting", "")),
                    talking=_yes(row.get("talking", "")),
                )
            )
        return members

    async def hangup(self, node: str, channel: str) -> None:
        n = self._node(node)
        try:
            await _unavailable(n.link.action("Hangup", {"Channel": channel}))
        except AmiActionError as exc:
            if not _not_there(exc):
                raise

    async def close(self) -> None:
        """Stop the timers (the DialEnd waits)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- actions ---------------------------------------------------------------------------

    def _node(self, name: str) -> _Node:
        try:
            return self._nodes[name]
        except KeyError:
            raise ValueError(
                f"unknown conference node {name!r}: {', '.join(self._nodes)}"
            ) from None

    async def _originate(
        self,
        n: _Node,
        dial: _Dial | None,
        account: str,
        *,
        channel: str,
        context: str,
        variables: Mapping[str, str],
        ring_s: int,
    ) -> None:
        """Queue an Async Originate; how it went comes as events (``dial`` None: not
        followed, the recorder)."""
        if dial is not None:
            self._dials[(n.name, account)] = dial
        try:
            reply = await _unavailable(
                AmiPbx(n.link).originate(
                    channel,
                    context=context,
                    exten="s",
                    caller_id=CALLER_ID,
                    variables=variables,
                    ring_timeout_ms=ring_s * 1000,
                    account=account,
                )
            )
        except BaseException:
            if dial is not None:
                self._dials.pop((n.name, account), None)
            raise
        if dial is None or not reply.action_id:
            return
        n.actions[reply.action_id] = account
        early = n.early.pop(reply.action_id, None)
        if early is not None:
            self._originate_response(n.name, early)

    async def _control(
        self, node: str, action: str, conference_id: int, target: str | None = None
    ) -> None:
        n = self._node(node)
        fields_ = {"Conference": bridge_name(conference_id)}
        if target is not None:
            fields_["Channel"] = target
        try:
            await _unavailable(n.link.action(action, fields_))
        except AmiActionError as exc:
            if not _not_there(exc):
                raise
            log.debug("%s on %s: %s (nothing to do)", action, node, exc.message)

    # -- events ----------------------------------------------------------------------------

    def _on_event(self, node: str, ev: AmiEvent) -> None:
        if isinstance(ev, ConfbridgeEvent):
            self._confbridge(node, ev)
        elif isinstance(ev, UserEvent):
            self._user_event(node, ev)
        elif isinstance(ev, OriginateResponse):
            self._originate_response(node, ev)
        elif isinstance(ev, DialEnd):
            dial = self._dials.get((node, ev.dest_account_code))
            if dial is not None and not dial.done:
                dial.dial_status = ev.dial_status
                if dial.reason >= 0:
                    self._not_answered(node, ev.dest_account_code, dial, ev.received_at)
        elif isinstance(ev, Newstate):
            self._newstate(node, ev)
        elif isinstance(ev, Hangup):
            self._hangup(node, ev)
        elif isinstance(ev, ConfbridgeRecord | ConfbridgeStopRecord | ConfbridgeEnd):
            cid = _conference_of(ev.conference)
            if cid is not None:
                kind = (
                    SignalKind.RECORDING
                    if isinstance(ev, ConfbridgeRecord)
                    else SignalKind.RECORDING_STOPPED
                    if isinstance(ev, ConfbridgeStopRecord)
                    else SignalKind.ENDED
                )
                self._emit(PointSignal(node, cid, kind, at=ev.received_at))

    def _confbridge(self, node: str, ev: ConfbridgeEvent) -> None:
        cid = _conference_of(ev.conference)
        if cid is None:
            return
        joined = isinstance(ev, ConfbridgeJoin)
        left = isinstance(ev, ConfbridgeLeave)
        parsed = parse_account_code(ev.account_code)
        if parsed is not None:
            kind = (
                SignalKind.JOINED
                if joined
                else SignalKind.LEFT
                if left
                else SignalKind.MUTED
                if isinstance(ev, ConfbridgeMute)
                else SignalKind.UNMUTED
                if isinstance(ev, ConfbridgeUnmute)
                else SignalKind.TALKING
                if isinstance(ev, ConfbridgeTalking) and ev.talking_status.lower() == "on"
                else SignalKind.SILENT
                if isinstance(ev, ConfbridgeTalking)
                else None
            )
            if kind is not None:
                _, pid, attempt = parsed
                self._emit(
                    PointSignal(node, cid, kind, pid, attempt, ev.channel, at=ev.received_at)
                )
            return
        if not (joined or left):
            return
        if ev.account_code == f"{LINK_ACCOUNT_PREFIX}{cid}" and node != self._root:
            kind = SignalKind.LINK_UP if joined else SignalKind.LINK_DOWN
            self._emit(PointSignal(node, cid, kind, channel=ev.channel, at=ev.received_at))
        elif _RECORDER.match(ev.channel) and node == self._root:
            kind = SignalKind.RECORDING if joined else SignalKind.RECORDING_STOPPED
            self._emit(PointSignal(node, cid, kind, channel=ev.channel, at=ev.received_at))

    def _user_event(self, node: str, ev: UserEvent) -> None:
        name = ev.user_event.lower()
        if name not in ("hotlineconfpoint", "hotlineconfhand"):
            return
        try:
            cid = int(ev.get("Conference"))
            pid = int(ev.get("Point"))
            attempt = int(ev.get("Attempt") or 0)
        except ValueError:
            log.warning("conference: %s without its conference and point", ev.user_event)
            return
        if name == "hotlineconfhand":
            kind: SignalKind | None = SignalKind.HAND
        else:
            kind = _POINT_STATES.get(ev.get("State").strip().lower())
        dial = self._dials.get((node, account_code(cid, pid, attempt)))
        if dial is not None:
            dial.answered = True
        if kind is not None:
            self._emit(PointSignal(node, cid, kind, pid, attempt, ev.channel, at=ev.received_at))

    def _newstate(self, node: str, ev: Newstate) -> None:
        if ev.channel_state_desc.lower() != "ringing":
            return
        parsed = parse_account_code(ev.get("AccountCode"))
        if parsed is not None:
            cid, pid, attempt = parsed
            self._emit(
                PointSignal(
                    node, cid, SignalKind.RINGING, pid, attempt, ev.channel, at=ev.received_at
                )
            )

    def _hangup(self, node: str, ev: Hangup) -> None:
        key = (node, ev.account_code)
        dial = self._dials.get(key)
        if (dial is not None and not dial.answered) or key in self._unanswered:
            return  # never answered: its OriginateResponse says BUSY / NO_ANSWER / FAILED
        self._dials.pop(key, None)
        parsed = parse_account_code(ev.account_code)
        if parsed is None:
            return
        cid, pid, attempt = parsed
        self._emit(
            PointSignal(
                node,
                cid,
                SignalKind.HUNG_UP,
                pid,
                attempt,
                ev.channel,
                reason=ev.cause_txt or str(ev.cause),
                at=ev.received_at,
            )
        )

    def _originate_response(self, node: str, ev: OriginateResponse) -> None:
        n = self._nodes[node]
        account = n.actions.pop(ev.action_id, None)
        if account is None:
            if ev.action_id and ev.action_id not in n.early:
                n.early[ev.action_id] = ev
                while len(n.early) > _EARLY_MAX:
                    n.early.popitem(last=False)
            return
        dial = self._dials.get((node, account))
        if dial is None or dial.done:
            return
        if ev.answered:
            dial.answered = True
            return
        dial.reason = ev.reason
        failure = dial_failure(ev.reason, dial.dial_status)
        if failure is DialFailure.FAILED and not dial.dial_status:
            self._spawn(self._wait_dial_end(node, account, dial, ev.received_at))
        else:
            self._not_answered(node, account, dial, ev.received_at)

    async def _wait_dial_end(self, node: str, account: str, dial: _Dial, at: float) -> None:
        await asyncio.sleep(self._grace)
        self._not_answered(node, account, dial, at)

    def _not_answered(self, node: str, account: str, dial: _Dial, at: float) -> None:
        if dial.done:
            return
        dial.done = True
        self._dials.pop((node, account), None)
        self._unanswered[(node, account)] = None
        while len(self._unanswered) > _EARLY_MAX:
            self._unanswered.popitem(last=False)
        failure = dial_failure(dial.reason, dial.dial_status)
        reason = dial.dial_status or f"originate reason {dial.reason}"
        if dial.point_id is None:
            log.warning("conference %d: link from %s failed: %s", dial.conference_id, node, reason)
            self._emit(
                PointSignal(node, dial.conference_id, SignalKind.LINK_DOWN, reason=reason, at=at)
            )
            return
        self._emit(
            PointSignal(
                node,
                dial.conference_id,
                _FAILURES[failure],
                dial.point_id,
                dial.attempt,
                reason=reason,
                at=at,
            )
        )

    def _emit(self, signal: PointSignal) -> None:
        if not signal.at:
            signal = dataclasses.replace(signal, at=time.time())
        for callback in list(self._callbacks):
            try:
                callback(signal)
            except Exception:
                log.exception("conference signal listener %r failed on %s", callback, signal)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _conference_of(bridge: str) -> int | None:
    m = _BRIDGE.fullmatch(bridge)
    return int(m.group(1)) if m else None


def _yes(value: str) -> bool:
    return value.strip().lower() in {"yes", "true", "1", "on"}


def _not_there(exc: AmiActionError) -> bool:
    message = exc.message.lower()
    return any(text in message for text in _NOT_THERE)


async def _unavailable(call: Awaitable[_T]) -> _T:
    """Await ``call``, reporting a down or silent Asterisk as ``PbxUnavailable``."""
    try:
        return await call
    except (AmiNotConnected, AmiActionTimeout) as exc:
        raise PbxUnavailable(str(exc)) from exc


def _write_atomically(dest: Path, data: bytes) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    tmp.replace(dest)


def _ensure_dir(path: Path) -> None:
    """Create ``path`` owned like its parent (Asterisk writes into it)."""
    if path.is_dir():
        return
    path.mkdir(parents=True, exist_ok=True)
    parent = path.parent.stat()
    if os.geteuid() == 0:
        os.chown(path, parent.st_uid, parent.st_gid)
