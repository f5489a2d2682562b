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
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.ports import IvrStep
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


# A call still open, for telling a redial: in the menu or waiting in a queue.
_OPEN = (CallStatus.IN_IVR.value, CallStatus.QUEUED.value)

_COLUMNS = tuple(f.name for f in fields(CallState))


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


def _seconds(start: datetime | None, end: datetime) -> float | None:
    return None if start is None else max(0.0, (end - start).total_seconds())


class CallTracker:
    """Consumes AMI events; ``flush()`` persists; ``run_flusher()`` flushes periodically."""

    def __init__(
        self,
        db: Database,
        *,
        citizen_contexts: tuple[str, ...] = ("citizens",),
        entry_exten: str = "1022",
        flush_interval_s: float = 0.2,
        pending_callback: Callable[[str], str | None] | None = None,
    ) -> None:
        """``pending_callback(number)``: the uniqueid of the call that asked for that
        number's pending callback, if any (``queues.callbacks.CallbackService``)."""
        self.db = db
        self._pending_callback = pending_callback or (lambda _number: None)
        self.citizen_contexts = citizen_contexts
        self.entry_exten = entry_exten
        self.flush_interval_s = flush_interval_s
        self.calls: dict[str, CallState] = {}
        self._dirty: set[str] = set()
        # Each call's steps through the menu, and how many of them are in the database.
        self._steps: dict[str, list[IvrStep]] = {}
        self._steps_written: dict[str, int] = {}
        self._agent_ids: dict[str, int] = {}
        self._wake = asyncio.Event()
        self.flush_errors = 0

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
        self._dirty.add(call.uniqueid)
        self._wake.set()

    # -- persistence -------------------------------------------------------------------

    async def flush(self) -> int:
        """Write every changed call in one transaction; return how many were written.

        On a database error nothing is forgotten: the calls stay dirty for the next try.
        """
        if not self._dirty:
            return 0
        batch = {uid: self.calls[uid] for uid in self._dirty if uid in self.calls}
        self._dirty.clear()
        written: dict[str, int] = {}
        try:
            async with self.db.session() as session:
                await self._resolve_agents(session, batch.values())
                existing = {
                    c.uniqueid: c
                    for c in (
                        await session.scalars(select(Call).where(Call.uniqueid.in_(batch)))
                    ).all()
                }
                for uid, state in batch.items():
                    row = existing.get(uid)
                    if row is None:
                        row = Call(uniqueid=uid)
                        session.add(row)
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
        except Exception:
            self.flush_errors += 1
            self._dirty.update(batch)
            log.exception("could not write %d call record(s); will retry", len(batch))
            raise
        self._steps_written.update(written)
        for uid, state in batch.items():
            if state.complete and uid not in self._dirty:
                del self.calls[uid]
                self._steps.pop(uid, None)
                self._steps_written.pop(uid, None)
        return len(batch)

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

    async def run_flusher(self) -> None:
        """Flush whenever something changed, at most every ``flush_interval_s``; back off
        while the database is down."""
        backoff = self.flush_interval_s
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
                backoff = self.flush_interval_s
            except Exception:
                backoff = min(backoff * 2, 5.0)
                self._wake.set()
            await asyncio.sleep(backoff)

    @property
    def pending(self) -> int:
        """Calls changed in memory and not yet written."""
        return len(self._dirty)
