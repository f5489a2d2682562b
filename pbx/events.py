"""Typed AMI events: the Asterisk 22 events the service consumes, parsed from raw headers.

Header names are matched case-insensitively, as Asterisk's own manager does. A number that does
not parse becomes 0 rather than raising, so one odd event never stops the event stream. An event
name without a class here becomes a plain ``AmiEvent``; every header stays readable through
``event.get(...)``.

Each typed field is read from the header of the same name without underscores
(``caller_id_num`` → ``CallerIDNum``, ``dest_uniqueid`` → ``DestUniqueid``), unless the class
lists an alias in ``_aliases``.

    >>> event = parse_event({"Event": "Hangup", "Cause": "16", "Uniqueid": "1.1"}, 0.0)
    >>> isinstance(event, Hangup), event.cause, event.get("uniqueid")
    (True, 16, '1.1')
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

__all__ = [
    "TYPED_EVENTS",
    "AgentCalled",
    "AgentComplete",
    "AgentConnect",
    "AgentEvent",
    "AgentRingNoAnswer",
    "AmiEvent",
    "ChannelEvent",
    "ConfbridgeEnd",
    "ConfbridgeEvent",
    "ConfbridgeJoin",
    "ConfbridgeLeave",
    "ConfbridgeMute",
    "ConfbridgeRecord",
    "ConfbridgeStopRecord",
    "ConfbridgeTalking",
    "ConfbridgeUnmute",
    "DialEnd",
    "DialFailure",
    "FullyBooted",
    "Hangup",
    "Headers",
    "MixMonitorMute",
    "MixMonitorStop",
    "Newchannel",
    "Newstate",
    "OriginateResponse",
    "QueueCallerAbandon",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueMemberAdded",
    "QueueMemberEvent",
    "QueueMemberPause",
    "QueueMemberRemoved",
    "QueueMemberStatus",
    "UserEvent",
    "dial_failure",
    "event_names",
    "parse_event",
]


class Headers(Mapping[str, str]):
    """Read-only header map: lookups ignore case, iteration keeps Asterisk's spelling."""

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._items = {key.lower(): (key, value) for key, value in headers.items()}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True)
class AmiEvent:
    """Any AMI event: its name, all of its headers, and when the link received it (epoch s)."""

    name: str
    headers: Mapping[str, str] = field(hash=False, repr=False)
    received_at: float

    _aliases: ClassVar[Mapping[str, str]] = {}

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            object.__setattr__(self, "headers", Headers(self.headers))

    def get(self, key: str, default: str = "") -> str:
        """The value of header ``key`` (any case), or ``default``."""
        return self.headers.get(key, default)


@dataclass(frozen=True, kw_only=True)
class ChannelEvent(AmiEvent):
    """An event about one channel (Asterisk's standard channel snapshot headers)."""

    channel: str
    uniqueid: str
    linkedid: str
    caller_id_num: str
    caller_id_name: str
    context: str
    exten: str
    channel_state_desc: str


@dataclass(frozen=True, kw_only=True)
class FullyBooted(AmiEvent):
    """Asterisk finished booting (also sent right after every login)."""

    status: str
    uptime: int
    last_reload: int


@dataclass(frozen=True, kw_only=True)
class Newchannel(ChannelEvent):
    """A channel was created (a citizen's call arrives, an agent is dialled...)."""


@dataclass(frozen=True, kw_only=True)
class Newstate(ChannelEvent):
    """A channel changed state (Ringing, Up...)."""


@dataclass(frozen=True, kw_only=True)
class Hangup(ChannelEvent):
    """A channel hung up; ``cause`` is the Q.850 cause code. ``account_code`` is the one an
    Originate gave the channel (how its caller knows it)."""

    cause: int
    cause_txt: str
    account_code: str

    _aliases: ClassVar[Mapping[str, str]] = {"cause_txt": "Cause-txt"}


class DialFailure(StrEnum):
    """How a dialled phone that was not answered ended."""

    NO_ANSWER = "no_answer"  # rang until the timeout
    BUSY = "busy"
    FAILED = "failed"  # not rung: unknown endpoint, no route, congestion, hung up at once


# OriginateResponse's Reason: how the phone's side ended (Asterisk's AST_CONTROL_*): 3 rang
# until the timeout, 5 busy, 4 answered; 0, 1 (hung up), 8 (congestion)... not rung.
_ORIGINATE_REASONS = {3: DialFailure.NO_ANSWER, 5: DialFailure.BUSY}
# Asterisk 22 says Reason 0 for a phone that answers 486 Busy Here (the dial's cause is not
# carried over): the DialEnd of the call's channel says BUSY.
_DIAL_STATUSES = {"BUSY": DialFailure.BUSY, "NOANSWER": DialFailure.NO_ANSWER}


def dial_failure(reason: int, dial_status: str = "") -> DialFailure:
    """What a failed ``OriginateResponse``'s ``reason`` says, or else the ``DialStatus`` of
    the call's ``DialEnd`` (if known): no answer, busy, or failed."""
    if reason in _ORIGINATE_REASONS:
        return _ORIGINATE_REASONS[reason]
    return _DIAL_STATUSES.get(dial_status.strip().upper(), DialFailure.FAILED)


@dataclass(frozen=True, kw_only=True)
class OriginateResponse(AmiEvent):
    """The outcome of an asynchronous Originate, carrying the Originate's ``action_id``.

    ``response`` is ``Success`` when the phone answered; otherwise ``reason`` (and the call's
    ``DialEnd``) say why not: ``dial_failure(event.reason, dial_status)``.
    """

    action_id: str
    response: str
    reason: int
    uniqueid: str
    channel: str

    @property
    def answered(self) -> bool:
        return self.response.strip().lower() == "success"


@dataclass(frozen=True, kw_only=True)
class DialEnd(AmiEvent):
    """A dial ended. For an Originate's call only the dialled side (``dest_*``) is there;
    ``dest_account_code`` is the account the Originate gave it (DialEnd has no ActionID)."""

    dest_channel: str
    dest_uniqueid: str
    dest_account_code: str
    dial_status: str


@dataclass(frozen=True, kw_only=True)
class UserEvent(ChannelEvent):
    """A ``UserEvent()`` raised by the dialplan; its own headers are read with ``get``."""

    user_event: str


@dataclass(frozen=True, kw_only=True)
class MixMonitorStop(ChannelEvent):
    """A MixMonitor was stopped by StopMixMonitor (not raised when the channel hangs up:
    ``pbx.recording``)."""


@dataclass(frozen=True, kw_only=True)
class MixMonitorMute(ChannelEvent):
    """A MixMonitor was muted (``state`` 1) or unmuted (0) in ``direction``."""

    direction: str
    state: int


@dataclass(frozen=True, kw_only=True)
class ConfbridgeEvent(ChannelEvent):
    """A member's event in a ConfBridge ``conference`` (the bridge's name); ``account_code``
    is the member's channel's (how its point is known: ``pbx.conference_signals``)."""

    conference: str
    admin: bool
    account_code: str


@dataclass(frozen=True, kw_only=True)
class ConfbridgeJoin(ConfbridgeEvent):
    """A channel joined the bridge (``muted`` as it joins)."""

    muted: bool


@dataclass(frozen=True, kw_only=True)
class ConfbridgeLeave(ConfbridgeEvent):
    """A channel left the bridge."""


@dataclass(frozen=True, kw_only=True)
class ConfbridgeMute(ConfbridgeEvent):
    """A member was muted."""


@dataclass(frozen=True, kw_only=True)
class ConfbridgeUnmute(ConfbridgeEvent):
    """A member was unmuted."""


@dataclass(frozen=True, kw_only=True)
class ConfbridgeTalking(ConfbridgeEvent):
    """A member started (``talking_status`` ``on``) or stopped (``off``) talking."""

    talking_status: str


@dataclass(frozen=True, kw_only=True)
class ConfbridgeRecord(AmiEvent):
    """ConfBridge's own recording of ``conference`` started."""

    conference: str


@dataclass(frozen=True, kw_only=True)
class ConfbridgeStopRecord(AmiEvent):
    """... and stopped."""

    conference: str


@dataclass(frozen=True, kw_only=True)
class ConfbridgeEnd(AmiEvent):
    """The bridge ``conference`` ended on this Asterisk (its last member left)."""

    conference: str


@dataclass(frozen=True, kw_only=True)
class QueueCallerJoin(ChannelEvent):
    """A caller entered a queue at ``position``; ``count`` callers now wait."""

    queue: str
    position: int
    count: int


@dataclass(frozen=True, kw_only=True)
class QueueCallerLeave(ChannelEvent):
    """A caller left a queue (answered, timed out or exited)."""

    queue: str
    position: int
    count: int


@dataclass(frozen=True, kw_only=True)
class QueueCallerAbandon(ChannelEvent):
    """A caller hung up while waiting in a queue."""

    queue: str
    position: int
    original_position: int
    hold_time: int


@dataclass(frozen=True, kw_only=True)
class AgentEvent(ChannelEvent):
    """A queue ↔ agent event. In Asterisk 22 the channel headers (``channel``, ``uniqueid``)
    are the CALLER's; ``dest_channel``/``dest_uniqueid`` are the agent's."""

    queue: str
    member_name: str
    interface: str
    dest_channel: str
    dest_uniqueid: str


@dataclass(frozen=True, kw_only=True)
class AgentCalled(AgentEvent):
    """The queue started ringing an agent for a caller."""


@dataclass(frozen=True, kw_only=True)
class AgentConnect(AgentEvent):
    """An agent answered a queued caller."""

    hold_time: int
    ring_time: int


@dataclass(frozen=True, kw_only=True)
class AgentComplete(AgentEvent):
    """A queued call ended; ``reason`` is ``caller``, ``agent`` or ``transfer``."""

    hold_time: int
    talk_time: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class AgentRingNoAnswer(AgentEvent):
    """An agent was rung and did not answer."""

    ring_time: int


@dataclass(frozen=True, kw_only=True)
class QueueMemberEvent(AmiEvent):
    """A queue member's state; ``status`` is Asterisk's device state number (1 = not in use)."""

    queue: str
    member_name: str
    interface: str
    state_interface: str
    status: int
    paused: bool
    paused_reason: str
    in_call: bool
    penalty: int
    calls_taken: int


@dataclass(frozen=True, kw_only=True)
class QueueMemberAdded(QueueMemberEvent):
    """A member joined a queue."""


@dataclass(frozen=True, kw_only=True)
class QueueMemberRemoved(QueueMemberEvent):
    """A member left a queue."""


@dataclass(frozen=True, kw_only=True)
class QueueMemberStatus(QueueMemberEvent):
    """A member's device state or counters changed."""


@dataclass(frozen=True, kw_only=True)
class QueueMemberPause(QueueMemberEvent):
    """A member was paused or unpaused."""


_EVENT_TYPES: dict[str, type[AmiEvent]] = {
    cls.__name__.lower(): cls
    for cls in (
        FullyBooted,
        Newchannel,
        Newstate,
        Hangup,
        UserEvent,
        OriginateResponse,
        DialEnd,
        MixMonitorStop,
        MixMonitorMute,
        ConfbridgeJoin,
        ConfbridgeLeave,
        ConfbridgeMute,
        ConfbridgeUnmute,
        ConfbridgeTalking,
        ConfbridgeRecord,
        ConfbridgeStopRecord,
        ConfbridgeEnd,
        QueueCallerJoin,
        QueueCallerLeave,
        QueueCallerAbandon,
        AgentCalled,
        AgentConnect,
        AgentComplete,
        AgentRingNoAnswer,
        QueueMemberAdded,
        QueueMemberRemoved,
        QueueMemberStatus,
        QueueMemberPause,
    )
}
TYPED_EVENTS: tuple[str, ...] = tuple(sorted(cls.__name__ for cls in _EVENT_TYPES.values()))
"""The names of the events that have a class here, as Asterisk spells them: the only events a
listener that dispatches on classes can act on (and so all the service asks Asterisk for)."""


def event_names(*classes: type[AmiEvent]) -> frozenset[str]:
    """The lowercased names of the typed events that are instances of ``classes``
    (``event_names(ChannelEvent)``: every channel event): what a listener that tests
    ``isinstance(ev, classes)`` needs, for ``AmiLink.add_listener(..., events=...)``."""
    return frozenset(name for name, cls in _EVENT_TYPES.items() if issubclass(cls, classes))


_BASE_FIELDS = frozenset(f.name for f in dataclasses.fields(AmiEvent))


def _to_int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        return 0


def _to_bool(raw: str) -> bool:
    return raw.strip().lower() in {"1", "yes", "true", "on"}


_Plan = tuple[tuple[str, str, object], ...]
_PLANS: dict[type[AmiEvent], _Plan] = {}


def _plan(cls: type[AmiEvent]) -> _Plan:
    """(field, header, type) for each typed field of ``cls``: computed once per class."""
    plan = _PLANS.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls)
        plan = _PLANS[cls] = tuple(
            (f.name, cls._aliases.get(f.name, f.name.replace("_", "")), hints[f.name])
            for f in dataclasses.fields(cls)
            if f.name not in _BASE_FIELDS
        )
    return plan


def parse_event(headers: Mapping[str, str], received_at: float) -> AmiEvent:
    """Build the typed event for one AMI event's headers (never raises on odd values)."""
    view = Headers(headers)
    name = view.get("Event", "")
    cls = _EVENT_TYPES.get(name.lower(), AmiEvent)
    values: dict[str, Any] = {}
    for attr, header, kind in _plan(cls):
        raw = view.get(header, "")
        values[attr] = _to_int(raw) if kind is int else _to_bool(raw) if kind is bool else raw
    return cls(name=name, headers=view, received_at=received_at, **values)
