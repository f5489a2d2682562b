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

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

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
    event_names,
)
from queues.flusher import Flusher
from store.db import Database
from store.journal import Journal
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
# Events of calls not yet known kept during one reconciliation (a bound, not a limit met).
_FENCE_MISSED_MAX = 20_000
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


def channel_age_s(channel: Mapping[str, str]) -> float:
    """How long Asterisk has had a channel, from a ``CoreShowChannel`` row: ``Duration``
    ("HH:MM:SS", or seconds) else ``Seconds``; 0 when neither says."""
    for key in ("Duration", "Seconds"):
        raw = (channel.get(key) or "").strip()
        if not raw:
            continue
        try:
            seconds = 0.0
            for part in raw.split(":"):
                seconds = seconds * 60 + float(part)
        except ValueError:
            continue
        return max(0.0, seconds)
    return 0.0


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

    EVENTS: ClassVar[frozenset[str]] = event_names(ChannelEvent)
    """What ``on_event`` acts on (``AmiLink.add_listener(..., events=...)``)."""

    def __init__(
        self,
        db: Database,
        *,
        citizen_contexts: tuple[str, ...] = ("citizens",),
        entry_exten: str = "1022",
        flush_interval_s: float = 0.2,
        on_complete: Callable[[CallState], None] | None = None,
        pending_callback: Callable[[str], str | None] | None = None,
        instance: str = "main",
        journal: Journal | None = None,
        max_calls: int = 10_000,
        on_change: Callable[[CallState], None] | None = None,
        on_district: Callable[[str, int, datetime], None] | None = None,
    ) -> None:
        """``pending_callback(number)``: the uniqueid of the call that asked for that
        number's pending callback, if any (``queues.callbacks.CallbackService``).

        ``instance``: the Asterisk instance whose calls these are (written on each record;
        reconciliation touches no other instance's calls). ``journal``: where records that
        the database refused go (fsync'd) so that a crash loses none; replayed at start
        (``replay_journal``) and when the database is back. ``max_calls``: the most calls
        kept in memory; see ``_bound_memory`` for what happens when it is reached.
        ``on_change(call)``: told of every change of a call's state (the live stream).
        ``on_district(number, district, arrived_at)``: told of each district recorded for a
        call (``queues.history.CallHistory.remember``: the menu asks memory, not the
        database, for a returning caller's district)."""
        self.db = db
        self.on_change = on_change
        self.on_district = on_district
        self.instance = instance
        self.journal = journal
        self.max_calls = max_calls
        # Calls whose records sit only in the journal (memory was full): written from it.
        self.journal_only = 0
        # Complete records dropped because memory and the journal were both full.
        self.dropped = 0
        # The JSON of each call's state as last journaled (nothing journaled twice).
        self._journaled: dict[str, dict[str, Any]] = {}
        # The reconciliation's fence: the calls any event named since the snapshot began.
        self._fence: set[str] | None = None
        # Hangups, while the fence is up, of calls the tracker does not know: a call the
        # snapshot still shows live that ended before the reconciliation adopted it.
        self._fence_hangups: dict[str, Hangup] = {}
        # Every other event, while the fence is up, of a call the tracker did not know yet
        # (its row is loaded, or its channel adopted, only by the reconciliation): replayed
        # once the reconciliation knows the call, so an agent's answer between the snapshot
        # and the reconciliation is not lost (CI saw an answered call recorded abandoned).
        self._fence_missed: list[ChannelEvent] = []
        self.on_complete = on_complete
        self._pending_callback = pending_callback or (lambda _number: None)
        self.citizen_contexts = citizen_contexts
        self.entry_exten = entry_exten
        self.calls: dict[str, CallState] = {}
        # The uniqueids of the calls changed since they were last written.
        self.flusher = Flusher(
            self._write_or_journal,
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
        if self._fence is not None and isinstance(ev, ChannelEvent):
            self._fence.add(ev.uniqueid)
        if isinstance(ev, Newchannel):
            self._on_newchannel(ev)
            return
        if not isinstance(ev, ChannelEvent):
            return
        call = self.calls.get(ev.uniqueid)
        if call is None:
            if self._fence is not None:
                if isinstance(ev, Hangup):
                    self._fence_hangups[ev.uniqueid] = ev
                if len(self._fence_missed) < _FENCE_MISSED_MAX:
                    self._fence_missed.append(ev)
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
                self._set_district(call, int(district))
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

    def _apply_step(self, call: CallState, step: IvrStep) -> None:
        if step.kind in ("enter", "callback"):
            call.ivr_exit_node = step.node
        elif step.kind in ("district", "confirm") and step.key and step.key.isdigit():
            self._set_district(call, int(step.key))

    def _set_district(self, call: CallState, district: int) -> None:
        call.district_code = district
        if self.on_district is not None and call.caller_number:
            self.on_district(call.caller_number, district, call.arrived_at)

    def _touch(self, call: CallState) -> None:
        self.flusher.add(call.uniqueid)
        if self.on_change is not None:
            self.on_change(call)

    # -- persistence -------------------------------------------------------------------

    async def flush(self) -> int:
        """Write every changed call in one transaction; return how many were written.

        On a database error nothing is forgotten: the calls stay pending for the next try.
        """
        return await self.flusher.flush()

    async def _write_or_journal(self, uids: list[str]) -> None:
        """Write the calls; if the database refuses, journal them first (then re-raise, so
        the flusher keeps them pending and backs off), and keep memory bounded. After a
        write that worked, records left in the journal are written from it."""
        try:
            await self._write(uids)
        except Exception:
            self._journal_states([uid for uid in uids if uid in self.calls])
            self._bound_memory()
            raise
        if self.journal is not None and (self._journaled or self.journal_only):
            try:
                await self._drain_journal()
            except Exception:
                log.exception("could not write the journaled call records; will retry")

    async def _write(self, uids: list[str]) -> None:
        batch = {uid: self.calls[uid] for uid in uids if uid in self.calls}
        written = await self._write_states(
            batch,
            {uid: self._steps.get(uid, []) for uid in batch},
            {uid: self._steps_written.get(uid, 0) for uid in batch},
        )
        self._steps_written.update(written)

    async def _write_states(
        self,
        batch: Mapping[str, CallState],
        steps_of: Mapping[str, list[IvrStep]],
        done_of: Mapping[str, int] | None,
    ) -> dict[str, int]:
        """Upsert the calls by uniqueid with their menu steps not written yet (``done_of``:
        how many are; None: count them in the database, for a replay). Idempotent: the same
        states written twice give the same rows; a journaled state never reopens a call the
        database already has complete."""
        written: dict[str, int] = {}
        async with self.db.session() as session:
            await self._resolve_agents(session, batch.values())
            existing = {
                c.uniqueid: c
                for c in (await session.scalars(select(Call).where(Call.uniqueid.in_(batch)))).all()
            }
            if done_of is None:
                counted = await session.execute(
                    select(IvrEvent.call_uniqueid, func.count())
                    .where(IvrEvent.call_uniqueid.in_(batch))
                    .group_by(IvrEvent.call_uniqueid)
                )
                done_of = {uid: int(n) for uid, n in counted.all()}
                replay = True
            else:
                replay = False
            for uid, state in batch.items():
                row = existing.get(uid)
                if row is None:
                    row = Call(uniqueid=uid)
                    session.add(row)
                elif replay and row.complete and not state.complete:
                    continue
                elif state.partial:
                    _fill_from_row(state, row)
                for name in _COLUMNS:
                    setattr(row, name, getattr(state, name))
                row.asterisk_instance = self.instance
                row.agent_id = (
                    self._agent_ids.get(state.agent_endpoint) if state.agent_endpoint else None
                )
                steps = steps_of.get(uid, [])
                done = done_of.get(uid, 0)
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
                written[uid] = max(len(steps), done)
            await session.commit()
        return written

    # -- the journal: records the database refused -------------------------------------

    def _record(self, uid: str) -> dict[str, Any]:
        state = self.calls[uid]
        return {
            "call": {
                k: (v.isoformat() if isinstance(v, datetime) else v)
                for k, v in dataclasses.asdict(state).items()
            },
            "steps": [
                {"node": st.node, "kind": st.kind, "key": st.key, "at": st.at.isoformat()}
                for st in self._steps.get(uid, [])
            ],
        }

    def _journal_states(self, uids: list[str]) -> None:
        if self.journal is None:
            return
        fresh = []
        for uid in uids:
            record = self._record(uid)
            if self._journaled.get(uid) != record:
                fresh.append((uid, record))
        if not fresh:
            return
        try:
            ok = self.journal.append(r for _, r in fresh)
        except OSError:
            log.exception("could not journal %d call record(s)", len(fresh))
            return
        if ok:
            self._journaled.update(fresh)
        else:
            log.error(
                "call journal %s is full (HOTLINE_JOURNAL_MAX_MB): %d record(s) stay in "
                "memory only",
                self.journal.path,
                len(fresh),
            )

    def _bound_memory(self) -> None:
        """Over ``max_calls`` while the database is down: complete calls whose final state
        is journaled leave memory (the journal writes them when the database is back); if
        the journal could not take them either, the oldest complete calls are dropped and
        counted (``dropped``, logged as errors). Calls still going are never dropped."""
        excess = len(self.calls) - self.max_calls
        if excess <= 0:
            return
        complete = sorted(
            (c for c in self.calls.values() if c.complete), key=lambda c: c.arrived_at
        )
        safe = [c for c in complete if self._journaled.get(c.uniqueid) == self._record(c.uniqueid)]
        for state in safe[:excess]:
            self._evict(state.uniqueid)
            self.journal_only += 1
            excess -= 1
        if excess <= 0:
            return
        for state in [c for c in complete if c.uniqueid in self.calls][:excess]:
            self._evict(state.uniqueid)
            self._journaled.pop(state.uniqueid, None)
            self.dropped += 1
            log.error("memory full and journal full: call %s's record dropped", state.uniqueid)

    def _evict(self, uid: str) -> None:
        self.calls.pop(uid, None)
        self._steps.pop(uid, None)
        self._steps_written.pop(uid, None)
        self.flusher.discard(uid)

    async def _drain_journal(self) -> None:
        """Write the journaled records not in memory (memory's are newer and are written by
        the flusher); keep in the journal only those whose calls are still pending."""
        assert self.journal is not None
        records = self.journal.read()
        latest: dict[str, dict[str, Any]] = {}
        for r in records:
            latest[r["call"]["uniqueid"]] = r
        to_write = {uid: r for uid, r in latest.items() if uid not in self.calls}
        if to_write:
            await self._write_records(to_write.values())
        keep = [r for uid, r in latest.items() if uid in self.calls and uid in self.flusher]
        self.journal.rewrite(keep)
        self._journaled = {r["call"]["uniqueid"]: r for r in keep}
        self.journal_only = 0
        if to_write:
            log.warning("wrote %d call record(s) from the journal", len(to_write))

    async def _write_records(self, records: Iterable[Mapping[str, Any]]) -> None:
        batch: dict[str, CallState] = {}
        steps: dict[str, list[IvrStep]] = {}
        for r in records:
            state = _state_from_json(r["call"])
            batch[state.uniqueid] = state
            steps[state.uniqueid] = [
                IvrStep(s["node"], s["kind"], s["key"], datetime.fromisoformat(s["at"]))
                for s in r.get("steps", [])
            ]
        await self._write_states(batch, steps, None)

    async def replay_journal(self) -> int:
        """At start: write every record the journal holds (idempotent: a record already in
        the database is written the same again), then empty it. Returns how many."""
        if self.journal is None:
            return 0
        latest = {r["call"]["uniqueid"]: r for r in self.journal.read()}
        if latest:
            await self._write_records(latest.values())
            log.warning("replayed %d call record(s) from the journal", len(latest))
        self.journal.rewrite([])
        self._journaled.clear()
        return len(latest)

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

    def begin_snapshot(self) -> None:
        """Call before asking Asterisk for the snapshot (QueueStatus, CoreShowChannels) that
        ``reconcile`` is given: from here on every call an event names is fenced off."""
        self._fence = set()
        self._fence_hangups = {}
        self._fence_missed = []

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
        ``UNSEEN_CAUSE``). A live 1022 call the records lack (it began while the service or
        its link was away: in the menu, or waiting) -> recorded from its channel, arrived
        ``Duration`` ago. A caller waiting whom the records lack -> recorded from the queue
        entry. Returns counts of each.
        """
        waiting = {e.get("Uniqueid", ""): e for e in entries}
        channels = list(channels)
        # Live citizen calls (dialled 1022: in the menu or waiting) the memory lacks.
        entering = {
            uid: c
            for c in channels
            if (uid := c.get("Uniqueid", ""))
            and c.get("Context", "") in self.citizen_contexts
            and c.get("Exten", "") == self.entry_exten
        }
        counts = {"adopted": 0, "ended": 0, "found_waiting": 0, "found_in_menu": 0}
        if self._fence is None:
            self._fence = set()  # no snapshot begun: fence from here at least
        try:
            async with self.db.session() as session:
                open_rows = (
                    await session.scalars(
                        select(Call).where(
                            Call.complete.is_(False), Call.asterisk_instance == self.instance
                        )
                    )
                ).all()
                recorded = (
                    set(
                        (
                            await session.scalars(
                                select(Call.uniqueid).where(
                                    Call.uniqueid.in_(set(entering) - set(self.calls))
                                )
                            )
                        ).all()
                    )
                    if entering
                    else set()
                )
        finally:
            # Fenced: a call any event named since the snapshot began (up to here: nothing
            # below awaits) is alive whatever the snapshot says (it started, or moved, after
            # it was taken).
            seen, self._fence = self._fence, None
            hangups, self._fence_hangups = self._fence_hangups, {}
            missed, self._fence_missed = self._fence_missed, []
        now = datetime.now(UTC)
        alive = {c.get("Uniqueid", "") for c in channels} | seen
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
        for uid, channel in entering.items():
            # A call that began while the link was down, still on the line: recorded from
            # its channel, dated by how long Asterisk has had it (not now, nor its queue
            # join). Not one the records have (the rows above hold the open ones; a complete
            # one is not reopened). One that hung up since the snapshot was taken (the fence
            # kept its Hangup) is recorded as ended then.
            known = self.calls.get(uid)
            if known is not None:
                # Started since from a later event (route, queue join): dated by the channel.
                if known.partial:
                    known.arrived_at = min(
                        known.arrived_at, now - timedelta(seconds=channel_age_s(channel))
                    )
                    self._touch(known)
                continue
            if uid in recorded:
                continue
            call = self._adopt_channel(channel, now)
            if (hangup := hangups.get(uid)) is not None:
                self._on_hangup(call, hangup, event_time(hangup))
            self._touch(call)
            counts["found_in_menu" if uid not in waiting else "found_waiting"] += 1
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
        # What happened to these calls while the fence was up, now that they are known (a
        # call already ended above, by its fenced Hangup or as unseen, is not reopened).
        for ev in missed:
            known = self.calls.get(ev.uniqueid)
            if known is not None and known.ended_at is None and not known.complete:
                self.on_event(ev)
        if any(counts.values()):
            log.info("calls reconciled with Asterisk: %s", counts)
        return counts

    def _adopt_channel(self, channel: Mapping[str, str], now: datetime) -> CallState:
        """A live 1022 channel the tracker did not see start (``CoreShowChannel`` row)."""
        uid = channel.get("Uniqueid", "")
        call = CallState(
            uniqueid=uid,
            linkedid=channel.get("Linkedid", "") or uid,
            caller_number=channel.get("CallerIDNum", "").replace("<unknown>", ""),
            caller_name=channel.get("CallerIDName", "").replace("<unknown>", ""),
            arrived_at=now - timedelta(seconds=channel_age_s(channel)),
            partial=True,
        )
        call.repeat_of = self._earlier_open_call(call)
        self.calls[uid] = call
        for step in self._steps.get(uid, ()):
            self._apply_step(call, step)
        return call

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
            return await session.scalar(
                select(func.max(Call.arrived_at)).where(Call.asterisk_instance == self.instance)
            )

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


_DATETIMES = {f.name for f in fields(CallState) if "datetime" in str(f.type)}


def _state_from_json(data: Mapping[str, Any]) -> CallState:
    known = {f.name for f in fields(CallState)}
    values = {k: v for k, v in data.items() if k in known}
    for name in _DATETIMES:
        if isinstance(values.get(name), str):
            values[name] = datetime.fromisoformat(values[name])
    return CallState(**values)
