"""Builds each citizen call's record from AMI events.

A call is keyed by the Asterisk uniqueid of the citizen's channel. Events update an
in-memory state; a flusher writes changed calls to the database in batches. If the database
is down the states stay in memory, marked dirty, and are written when it is back: a database
outage delays the record, it does not lose it. A call leaves memory once its final state
(``complete``) is written.

Which event sets what:

================== ==========================================================
Newchannel          a channel in a citizen context dialling 1022: arrival, caller
UserEvent           ``HotlineRoute`` from the dialplan (``Hotline-*`` headers, apart
                    from the channel's own): category, queue, priority,
                    IVR choice and route (ivr, default, fallback)
QueueCallerJoin     queue entry
AgentConnect        answer, agent, wait
QueueCallerAbandon  caller left the queue unanswered
AgentComplete       talk time
Hangup              end; the final status follows from how far the call got
================== ==========================================================

A call that chose to be called back (an IVR step ``callback``) ends with status
``callback``. A call is a repeat (``repeat_of`` = the earlier call's uniqueid) when it
arrives from a number that has a call still open here (in the menu or waiting in a queue)
or a callback still pending: a redial, not new demand.

One concern, a call's record from its AMI events to its row; it stays whole because every
event of a call, and the reconciliation after a restart, fold into the same record by the
same rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.ports import IvrStep
from pbx.cdr import CdrCall
from pbx.events import (
    AgentComplete,
    AgentConnect,
    AmiEvent,
    ChannelEvent,
    Hangup,
    Newchannel,
    QueueCallerAbandon,
    QueueCallerJoin,
    UserEvent,
)
from queues.flusher import Flusher
from store.db import Database
from store.models import Agent, Call, CallStatus, IvrEvent, IvrOutcome

__all__ = ["CallState", "CallTracker"]

log = logging.getLogger(__name__)

ROUTE_EVENT = "HotlineRoute"


@dataclass
class CallState:
    """The fields of a call record, as the tracker knows them so far."""

    uniqueid: str
    linkedid: str
    caller_number: str
    caller_name: str
    arrived_at: datetime
    status: str = CallStatus.IN_IVR.value
    queue_entered_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    ivr_choice: str | None = None
    category: str | None = None
    priority: int | None = None
    route: str | None = None
    queue: str | None = None
    agent_endpoint: str | None = None
    wait_s: float | None = None
    talk_s: float | None = None
    hangup_cause: str | None = None
    complete: bool = False
    district_code: int | None = None
    ivr_outcome: str | None = None
    ivr_exit_node: str | None = None
    repeat_of: str | None = None
    # Started from an event after the call's start (the service was down or the link was):
    # what the database already knows of the call fills what this state lacks.
    partial: bool = False


_COLUMNS = tuple(f.name for f in fields(CallState) if f.name != "partial")

# What a call that ended unseen (the service or the link was down) ends as, by how far it got.
_ENDED_UNSEEN = {
    CallStatus.IN_IVR.value: CallStatus.ABANDONED_IVR.value,
    CallStatus.QUEUED.value: CallStatus.ABANDONED_QUEUE.value,
    CallStatus.CONNECTED.value: CallStatus.ANSWERED.value,
}
UNSEEN_CAUSE = "ended while the service was not listening"
RECOVERED_CAUSE = "recovered from Asterisk's CDR (the service missed the call)"

# A call still open, for telling a redial: in the menu or waiting in a queue.
_OPEN = (CallStatus.IN_IVR.value, CallStatus.QUEUED.value)


def event_time(ev: AmiEvent) -> datetime:
    """When Asterisk says the event happened (``timestampevents``), else when it arrived."""
    raw = ev.get("Timestamp")
    try:
        ts = float(raw) if raw else ev.received_at
    except ValueError:
        ts = ev.received_at
    return datetime.fromtimestamp(ts, UTC)


def _endpoint(interface: str, member_name: str) -> str:
    # "PJSIP/agent01" -> "agent01"; MemberName is what we set at QueueAdd.
    if member_name:
        return member_name
    return interface.split("/", 1)[-1]


def _fill_from_row(state: CallState, row: Call) -> None:
    """A call picked up mid-way: keep what the database knew that this state lacks."""
    for name in _COLUMNS:
        if getattr(state, name) is None and getattr(row, name) is not None:
            setattr(state, name, getattr(row, name))
    if row.arrived_at is not None and row.arrived_at < state.arrived_at:
        state.arrived_at = row.arrived_at
    if row.caller_name and not state.caller_name:
        state.caller_name = row.caller_name
    state.partial = False


def _seconds(start: datetime | None, end: datetime) -> float | None:
    return None if start is None else max(0.0, (end - start).total_seconds())


class CallTracker:
    """Consumes AMI events; ``flush()`` persists; ``flusher.run()`` flushes periodically.

    ``on_complete(call)`` is told of each call whose final record is written (the
    statistics refresh the buckets it touched).
    """

    def __init__(
        self,
        db: Database,
        *,
        citizen_contexts: tuple[str, ...] = ("citizens",),
        entry_exten: str = "1022",
        flush_interval_s: float = 0.2,
        on_complete: Callable[[CallState], None] | None = None,
        pending_callback: Callable[[str], str | None] | None = None,
    ) -> None:
        """``pending_callback(number)``: the uniqueid of the call that asked for that
        number's pending callback, if any (``queues.callbacks.CallbackService``)."""
        self.db = db
        self.on_complete = on_complete
        self._pending_callback = pending_callback or (lambda _number: None)
        self.citizen_contexts = citizen_contexts
        self.entry_exten = entry_exten
        self.calls: dict[str, CallState] = {}
        # The uniqueids of the calls changed since they were last written.
        self.flusher = Flusher(
            self._write,
            what="call record(s)",
            log=log,
            interval_s=flush_interval_s,
            unique=True,
            written=self._forget_complete,
        )
        # Each call's steps through the menu, and how many of them are in the database.
        self._steps: dict[str, list[IvrStep]] = {}
        self._steps_written: dict[str, int] = {}
        self._agent_ids: dict[str, int] = {}

    # -- events ------------------------------------------------------------------------

    def on_event(self, ev: AmiEvent) -> None:
        if isinstance(ev, Newchannel):
            self._on_newchannel(ev)
            return
        if not isinstance(ev, ChannelEvent):
            return
        call = self.calls.get(ev.uniqueid)
        if call is None:
            if isinstance(ev, QueueCallerJoin | UserEvent) and self._is_citizen(ev):
                # We missed the Newchannel (service started mid-call): start from here.
                call = self._new(ev)
                call.partial = True
            else:
                return
        at = event_time(ev)
        if isinstance(ev, UserEvent):
            if ev.user_event != ROUTE_EVENT:
                return
            call.category = ev.get("Hotline-Category") or None
            call.queue = ev.get("Hotline-Queue") or None
            prio = ev.get("Hotline-Priority")
            call.priority = int(prio) if prio.lstrip("-").isdigit() else None
            district = ev.get("Hotline-District")
            if district.isdigit():
                call.district_code = int(district)
            call.ivr_choice = ev.get("Hotline-Choice") or None
            call.route = ev.get("Hotline-Route") or None
        elif isinstance(ev, QueueCallerJoin):
            call.queue = ev.queue
            call.queue_entered_at = at
            call.status = CallStatus.QUEUED.value
            call.ivr_outcome = IvrOutcome.TRANSFERRED.value
        elif isinstance(ev, AgentConnect):
            call.answered_at = at
            call.agent_endpoint = _endpoint(ev.interface, ev.member_name)
            call.wait_s = _seconds(call.queue_entered_at, at)
            if call.wait_s is None:
                call.wait_s = float(ev.hold_time)
            call.status = CallStatus.CONNECTED.value
        elif isinstance(ev, QueueCallerAbandon):
            call.wait_s = _seconds(call.queue_entered_at, at)
            if call.wait_s is None:
                call.wait_s = float(ev.hold_time)
            call.status = CallStatus.ABANDONED_QUEUE.value
        elif isinstance(ev, AgentComplete):
            call.talk_s = _seconds(call.answered_at, at)
            if call.talk_s is None:
                call.talk_s = float(ev.talk_time)
        elif isinstance(ev, Hangup):
            self._on_hangup(call, ev, at)
        else:
            return
        self._touch(call)

    def _is_citizen(self, ev: ChannelEvent) -> bool:
        return ev.context in self.citizen_contexts

    def _on_newchannel(self, ev: Newchannel) -> None:
        if ev.context not in self.citizen_contexts or ev.exten != self.entry_exten:
            return
        if ev.uniqueid in self.calls:
            return
        self._touch(self._new(ev))

    def _new(self, ev: ChannelEvent) -> CallState:
        call = CallState(
            uniqueid=ev.uniqueid,
            linkedid=ev.linkedid or ev.uniqueid,
            caller_number=ev.caller_id_num if ev.caller_id_num != "<unknown>" else "",
            caller_name=ev.caller_id_name if ev.caller_id_name != "<unknown>" else "",
            arrived_at=event_time(ev),
        )
        call.repeat_of = self._earlier_open_call(call)
        self.calls[ev.uniqueid] = call
        for step in self._steps.get(ev.uniqueid, ()):
            self._apply_step(call, step)
        return call

    def _earlier_open_call(self, call: CallState) -> str | None:
        """The number's earliest call still open here, else the call behind its pending
        callback."""
        if not call.caller_number:
            return None  # withheld numbers cannot be told apart
        open_calls = [
            c
            for c in self.calls.values()
            if c.caller_number == call.caller_number
            and c.uniqueid != call.uniqueid
            and c.status in _OPEN
            and not c.complete
        ]
        if open_calls:
            return min(open_calls, key=lambda c: c.arrived_at).uniqueid
        return self._pending_callback(call.caller_number)

    def _on_hangup(self, call: CallState, ev: Hangup, at: datetime) -> None:
        call.ended_at = at
        call.hangup_cause = ev.cause_txt or str(ev.cause)
        if call.status == CallStatus.CONNECTED.value:
            call.status = CallStatus.ANSWERED.value
            if call.talk_s is None:
                call.talk_s = _seconds(call.answered_at, at)
        elif call.status == CallStatus.QUEUED.value:
            call.status = CallStatus.ABANDONED_QUEUE.value
            if call.wait_s is None:
                call.wait_s = _seconds(call.queue_entered_at, at)
        elif call.status == CallStatus.IN_IVR.value:
            kinds = {step.kind for step in self._steps.get(call.uniqueid, ())}
            if "callback" in kinds:
                call.status = CallStatus.CALLBACK.value
                call.ivr_outcome = IvrOutcome.CALLBACK.value
            elif "heard" in kinds or "hangup" in kinds:
                call.status = CallStatus.SELF_SERVED.value
                call.ivr_outcome = IvrOutcome.SELF_SERVED.value
            else:
                call.status = CallStatus.ABANDONED_IVR.value
                call.ivr_outcome = IvrOutcome.ABANDONED.value
        call.complete = True

    def ivr_step(self, uniqueid: str, step: IvrStep) -> None:
        """A step of the call through the menu (``ivr.ports.IvrRecorder``)."""
        self._steps.setdefault(uniqueid, []).append(step)
        call = self.calls.get(uniqueid)
        if call is None:
            return  # Newchannel not seen yet: the steps wait for the call
        self._apply_step(call, step)
        self._touch(call)

    @staticmethod
    def _apply_step(call: CallState, step: IvrStep) -> None:
        if step.kind in ("enter", "callback"):
            call.ivr_exit_node = step.node
        elif step.kind in ("district", "confirm") and step.key and step.key.isdigit():
            call.district_code = int(step.key)

    def _touch(self, call: CallState) -> None:
        self.flusher.add(call.uniqueid)

    # -- persistence -------------------------------------------------------------------

    async def flush(self) -> int:
        """Write every changed call in one transaction; return how many were written.

        On a database error nothing is forgotten: the calls stay pending for the next try.
        """
        return await self.flusher.flush()

    async def _write(self, uids: list[str]) -> None:
        batch = {uid: self.calls[uid] for uid in uids if uid in self.calls}
        written: dict[str, int] = {}
        async with self.db.session() as session:
            await self._resolve_agents(session, batch.values())
            existing = {
                c.uniqueid: c
                for c in (await session.scalars(select(Call).where(Call.uniqueid.in_(batch)))).all()
            }
            for uid, state in batch.items():
                row = existing.get(uid)
                if row is None:
                    row = Call(uniqueid=uid)
                    session.add(row)
                elif state.partial:
                    _fill_from_row(state, row)
                for name in _COLUMNS:
                    setattr(row, name, getattr(state, name))
                row.agent_id = (
                    self._agent_ids.get(state.agent_endpoint) if state.agent_endpoint else None
                )
                steps = self._steps.get(uid, [])
                done = self._steps_written.get(uid, 0)
                session.add_all(
                    IvrEvent(
                        call_uniqueid=uid,
                        seq=done + i,
                        node=st.node,
                        kind=st.kind,
                        key=st.key,
                        at=st.at,
                    )
                    for i, st in enumerate(steps[done:])
                )
                written[uid] = len(steps)
            await session.commit()
        self._steps_written.update(written)

    def _forget_complete(self, uids: list[str]) -> None:
        """A call whose final state is written leaves memory, unless it changed meanwhile."""
        for uid in uids:
            state = self.calls.get(uid)
            if state is not None and state.complete and uid not in self.flusher:
                del self.calls[uid]
                self._steps.pop(uid, None)
                self._steps_written.pop(uid, None)
                if self.on_complete is not None:
                    self.on_complete(state)

    @property
    def flush_errors(self) -> int:
        """Writes of call records that failed, since the start."""
        return self.flusher.failures

    # -- after a (re)connect or a restart of the service --------------------------------

    async def reconcile(
        self,
        entries: Iterable[Mapping[str, str]],
        channels: Iterable[Mapping[str, str]],
        category_of: Mapping[str, str] | None = None,
    ) -> dict[str, int]:
        """Make the records agree with what Asterisk has now.

        ``entries`` are ``QueueStatus``'s ``QueueEntry`` rows (callers waiting), ``channels``
        ``CoreShowChannels``' rows (every live channel). A call the records hold open:
        still alive -> followed again from here; gone -> ended (when is unknown: now, with
        ``UNSEEN_CAUSE``). A caller waiting whom the records lack -> recorded from the queue
        entry. Returns counts of each.
        """
        now = datetime.now(UTC)
        alive = {c.get("Uniqueid", "") for c in channels}
        waiting = {e.get("Uniqueid", ""): e for e in entries}
        counts = {"adopted": 0, "ended": 0, "found_waiting": 0}
        async with self.db.session() as session:
            open_rows = (await session.scalars(select(Call).where(Call.complete.is_(False)))).all()
        for row in open_rows:
            if row.uniqueid in self.calls:
                continue
            state = CallState(**{name: getattr(row, name) for name in _COLUMNS})
            self.calls[row.uniqueid] = state
            if row.uniqueid in alive:
                counts["adopted"] += 1
            else:
                self._end_unseen(state, now)
                counts["ended"] += 1
            self._touch(state)
        for uid, state in list(self.calls.items()):
            if uid not in alive and not state.complete:
                self._end_unseen(state, now)
                counts["ended"] += 1
                self._touch(state)
        for uid, entry in waiting.items():
            known = self.calls.get(uid)
            if known is not None:
                state = known
            else:
                state = CallState(
                    uniqueid=uid,
                    linkedid=uid,
                    caller_number=entry.get("CallerIDNum", "").replace("<unknown>", ""),
                    caller_name=entry.get("CallerIDName", "").replace("<unknown>", ""),
                    arrived_at=now,
                    partial=True,
                )
                self.calls[uid] = state
                counts["found_waiting"] += 1
            if state.status in (CallStatus.IN_IVR.value, CallStatus.QUEUED.value):
                queue = entry.get("Queue", "")
                wait = float(entry.get("Wait", "0") or 0)
                state.queue = queue
                state.status = CallStatus.QUEUED.value
                state.ivr_outcome = IvrOutcome.TRANSFERRED.value
                if state.queue_entered_at is None:
                    state.queue_entered_at = now - timedelta(seconds=wait)
                    state.arrived_at = min(state.arrived_at, state.queue_entered_at)
                if state.category is None and category_of:
                    state.category = category_of.get(queue)
                self._touch(state)
        if any(counts.values()):
            log.info("calls reconciled with Asterisk: %s", counts)
        return counts

    async def recover(self, cdr_calls: Iterable[CdrCall], alive: Iterable[str] = ()) -> int:
        """Record the calls Asterisk's CDR shows that the records lack: calls that came and
        went while the service (or its link) was away. What the CDR cannot say (the menu
        path, category, queue wait) stays empty; ``hangup_cause`` says where the record came
        from. Returns how many were added."""
        live = set(alive) | set(self.calls)
        candidates = {c.uniqueid: c for c in cdr_calls if c.uniqueid not in live}
        if not candidates:
            return 0
        async with self.db.session() as session:
            known = set(
                (
                    await session.scalars(
                        select(Call.uniqueid).where(Call.uniqueid.in_(candidates))
                    )
                ).all()
            )
        added = 0
        for uid, c in candidates.items():
            if uid in known:
                continue
            if c.agent_endpoint:
                status = CallStatus.ANSWERED.value
            elif c.last_app == "Queue":
                status = CallStatus.ABANDONED_QUEUE.value
            else:
                status = CallStatus.ABANDONED_IVR.value
            state = CallState(
                uniqueid=uid,
                linkedid=uid,
                caller_number=c.caller_number,
                caller_name=c.caller_name,
                arrived_at=c.start,
                ended_at=c.end,
                status=status,
                agent_endpoint=c.agent_endpoint,
                hangup_cause=RECOVERED_CAUSE,
                complete=True,
            )
            self.calls[uid] = state
            self._touch(state)
            added += 1
        if added:
            log.warning("recorded %d call(s) from Asterisk's CDR that the service missed", added)
        return added

    async def newest_arrival(self) -> datetime | None:
        async with self.db.session() as session:
            return await session.scalar(select(func.max(Call.arrived_at)))

    def _end_unseen(self, state: CallState, now: datetime) -> None:
        state.status = _ENDED_UNSEEN.get(state.status, state.status)
        if state.ended_at is None:
            state.ended_at = now
        state.hangup_cause = state.hangup_cause or UNSEEN_CAUSE
        state.complete = True

    async def _resolve_agents(self, session: AsyncSession, states: Iterable[CallState]) -> None:
        wanted = {
            s.agent_endpoint
            for s in states
            if s.agent_endpoint and s.agent_endpoint not in self._agent_ids
        }
        if not wanted:
            return
        rows = await session.execute(
            select(Agent.endpoint, Agent.id).where(Agent.endpoint.in_(wanted))
        )
        self._agent_ids.update({ep: aid for ep, aid in rows.all()})

    @property
    def pending(self) -> int:
        """Calls changed in memory and not yet written."""
        return self.flusher.pending
