"""Callbacks that keep the caller's place: in a surge a caller may hang up instead of
holding, and when their turn comes the hotline rings an agent, then them.

Offer. Just before a caller joins a queue, the IVR asks ``offer()``: when the queue's
estimated wait (``queues/live.py`` says how it is estimated) is over
``callback_threshold_s``, or no agent can take the queue at all, the caller hears "more than
N minutes; press 1 to be called back keeping your place". Not offered to a number that
has a callback pending already, and never in the emergency queue: a life-threatening call
stays on the line whatever the wait. Only numbers of the national numbering plan are
called back, at most so many times per number and per hour (``queues/callback_limits.py``:
toll fraud through a forged caller id); a caller refused so is told why, and holds.
``request()`` checks both again, whoever asks.

Keeping the place. Asterisk holds it: a placeholder call waits in the same queue, with the
same priority and penalties, as the caller would have (``queues/placeholders.py``: how it is
made, where it enters, one place per callback). When app_queue gives it to an agent, the
dialplan rings the citizen and reports with ``UserEvent(HotlineCallback)``: ``answered``
when the citizen picks up, and Dial's ``DIALSTATUS`` when the attempt ends.

States: waiting, calling, retry, then completed, failed or cancelled; each move and what
decides it is in ``queues/callback_states.py``, without I/O. This module, the service, reads
and writes the rows, feeds the rules what the IVR, the AMI events and supervisors say, and
carries out what they decide with the placeholders.

Timers live in the database: ``next_attempt_at`` is when a placeholder must be (re)made, and
is NULL while one holds the place, so a restart of the service loses none; ``run()`` makes
the placeholders that are due. Every change goes through one task, in the order the events
came; a database outage delays the changes, it does not lose them.

After a (re)connect to Asterisk, ``reconcile()`` compares the callbacks with the
placeholders Asterisk has: a waiting callback whose placeholder is there keeps it (marked
calling if an agent took it meanwhile), one whose placeholder is gone gets a new one; a
callback being called with no channel left lost its outcome while the service was away and
goes back to the queue at once (not counted as an attempt: the citizen may therefore be
called twice).

Repeat callers. ``pending()`` tells the IVR (and ``pending_call()`` the call tracker, which
sets ``repeat_of``) that a number has a callback pending. When an agent answers a call of
that number while its callback waits or retries, the callback is cancelled (``served``).

Limits, known and accepted (and those of the placeholders, in their module):

- the offer is made before the caller joins the queue, in the IVR that owns the prompts:
  a caller who declines joins the ~13 s the offer took later (offering from inside the
  queue would need app_queue's exit context and periodic announcements instead);
- a citizen who calls in while being called back finds the line busy: the attempt counts.

The service stays one module, long as it is: each move the rules decide is carried out here
against the rows and the placeholders, in the one task that orders them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ivr.ports import CallbackOffer, CallbackRequest, PendingCallback
from pbx.events import (
    AgentConnect,
    AmiEvent,
    ChannelEvent,
    Hangup,
    QueueCallerJoin,
    UserEvent,
    event_names,
)
from queues import callback_states as rules
from queues.callback_limits import CallbackCaps, NumberPlan
from queues.callback_states import ACTIVE, PLACEABLE, CallbackState, Move, Note, Place
from queues.placeholders import Found, Placeholders, placeholder_id
from queues.ports import CallbackNotFound, CallbackPbx, QueueLoad
from store.db import Database
from store.models import Callback

__all__ = ["CALLBACK_EVENT", "CallbackService"]

log = logging.getLogger(__name__)

# The dialplan's report of a dial to the citizen (extensions.conf, [hotline-callback-dial]).
CALLBACK_EVENT = "HotlineCallback"


@dataclass
class _Active:
    """What the service keeps in memory of a callback not done yet."""

    id: int
    call_uniqueid: str
    caller_number: str
    category: str | None
    queue: str
    priority: int
    district: int | None
    queued_since: datetime
    status: str

    @classmethod
    def of(cls, row: Callback) -> _Active:
        return cls(
            row.id,
            row.call_uniqueid,
            row.caller_number,
            row.category,
            row.queue,
            row.priority,
            row.district_code,
            row.queued_since,
            row.status,
        )


# What the AMI events say, applied in order by the service's task.
@dataclass(frozen=True)
class _Joined:
    id: int
    uniqueid: str


@dataclass(frozen=True)
class _Taken:
    id: int
    agent: str
    channel: str


@dataclass(frozen=True)
class _Dialled:
    id: int
    status: str


@dataclass(frozen=True)
class _Lost:
    id: int


@dataclass(frozen=True)
class _Served:
    number: str


@dataclass(frozen=True)
class _HangUp:
    channel: str


_Change = _Joined | _Taken | _Dialled | _Lost | _Served | _HangUp


def _agent(ev: AgentConnect) -> str:
    return ev.member_name or ev.interface.split("/", 1)[-1]


class CallbackService:
    """Offers, records, places and rings callbacks (see the module docstring).

    Satisfies ``ivr.ports.CallbackDesk`` and ``queues.ports.CallbackAdmin``; ``on_event``
    is an AMI listener, ``run()`` the task, ``reconcile()`` an AMI connect callback.
    """

    EVENTS: ClassVar[frozenset[str]] = event_names(UserEvent, QueueCallerJoin, AgentConnect, Hangup)
    """What ``on_event`` acts on (``AmiLink.add_listener(..., events=...)``)."""

    def __init__(
        self,
        db: Database,
        pbx: CallbackPbx,
        load: QueueLoad,
        *,
        threshold_s: float = 120,
        attempts: int = 3,
        retry_s: float = 120,
        placeholder_max_wait_s: int = 12 * 3600,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        tick_s: float = 1.0,
        never_in: Iterable[str] = ("emergency",),
        number_plan: NumberPlan | None = None,
        caps: CallbackCaps | None = None,
    ) -> None:
        """``never_in``: queues whose callers are never offered a callback;
        ``number_plan``: the numbers that may be called back (the national plan by
        default); ``caps``: how many callbacks per number and per hour (by default 3 per
        number a day, 300 an hour)."""
        if attempts < 1:
            raise ValueError("callback attempts must be at least 1")
        self.db = db
        self.load = load
        self.threshold_s = threshold_s
        self.attempts = attempts
        self.retry = timedelta(seconds=retry_s)
        self._clock = clock
        self.tick_s = tick_s
        self.never_in = frozenset(never_in)
        self.number_plan = number_plan or NumberPlan()
        self.caps = caps or CallbackCaps(
            per_number=3, number_window=timedelta(days=1), per_hour=300
        )
        self._active: dict[int, _Active] = {}
        self._by_number: dict[str, int] = {}
        self.placeholders = Placeholders(
            pbx, queued_since=self._queued_since, max_wait_s=placeholder_max_wait_s
        )
        self._changes: deque[_Change] = deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    # -- start -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the callbacks not done yet (before the AMI listener gets events), and
        count the recent requests against the caps."""
        since = self._clock() - max(self.caps.number_window, timedelta(hours=1))
        async with self.db.session() as s:
            rows = (await s.scalars(select(Callback).where(Callback.status.in_(ACTIVE)))).all()
            recent = (
                await s.execute(
                    select(Callback.caller_number, Callback.requested_at).where(
                        Callback.requested_at > since
                    )
                )
            ).all()
        self.caps.load((number, at) for number, at in recent)
        for row in rows:
            self._remember(_Active.of(row))
        if rows:
            log.info("%d callback(s) pending", len(rows))

    def _remember(self, cb: _Active) -> None:
        self._active[cb.id] = cb
        self._by_number[cb.caller_number] = cb.id

    def _forget(self, callback_id: int) -> str | None:
        """Forget a callback that is over; return the channel that held its place, if any."""
        cb = self._active.pop(callback_id, None)
        if cb is not None and self._by_number.get(cb.caller_number) == callback_id:
            del self._by_number[cb.caller_number]
        return self.placeholders.forget(callback_id)

    def _queued_since(self, callback_id: int) -> datetime | None:
        cb = self._active.get(callback_id)
        return cb.queued_since if cb is not None else None

    # -- the IVR's port (ivr.ports.CallbackDesk) ---------------------------------------

    def offer(self, queue: str, caller_number: str) -> CallbackOffer | None:
        return rules.offer(
            queue,
            caller_number,
            pending=caller_number in self._by_number,
            wait_s=self.load.estimated_wait_s(queue),
            threshold_s=self.threshold_s,
            never_in=self.never_in,
            allowed=self.number_plan.allows,
            cap=self.caps.reached(caller_number, self._clock()),
        )

    def pending(self, caller_number: str) -> PendingCallback | None:
        callback_id = self._by_number.get(caller_number)
        cb = self._active.get(callback_id) if callback_id is not None else None
        if cb is None:
            return None
        return PendingCallback(cb.call_uniqueid, cb.category, cb.queue, cb.priority, cb.district)

    def pending_call(self, caller_number: str) -> str | None:
        """The uniqueid of the call behind the number's pending callback (for
        ``CallTracker``'s ``repeat_of``)."""
        pending = self.pending(caller_number)
        return pending.call_uniqueid if pending else None

    def placeholder_of(self, callback_id: int) -> str | None:
        """The channel holding the callback's place in its queue now, if any."""
        return self.placeholders.of(callback_id)

    async def request(self, request: CallbackRequest) -> bool:
        now = self._clock()
        number = request.caller_number
        new = rules.requested(
            now,
            number,
            pending=number in self._by_number,
            allowed=self.number_plan.allows,
            cap=self.caps.reached(number, now),
        )
        if new is None:
            log.info("call %s: no callback for %s", request.call_uniqueid, number)
            return False
        row = Callback(
            call_uniqueid=request.call_uniqueid,
            caller_number=request.caller_number,
            category=request.category,
            queue=request.queue,
            priority=request.priority,
            district_code=request.district,
            status=new.status,
            attempts=new.attempts,
            requested_at=now,
            queued_since=request.since,
            next_attempt_at=new.next_attempt_at,
        )
        try:
            async with self.db.session() as s:
                s.add(row)
                await s.commit()
        except IntegrityError:
            return False  # this call asked already
        self.caps.add(number, now)
        self._remember(_Active.of(row))
        log.info(
            "callback %d: %s in %s since %s",
            row.id,
            request.caller_number,
            request.queue,
            request.since,
        )
        self._wake.set()
        return True

    # -- the REST port (queues.ports.CallbackAdmin) ------------------------------------

    async def cancel(self, callback_id: int, by: str) -> None:
        async with self._lock:
            async with self.db.session() as s:
                row = await s.get(Callback, callback_id)
                if row is None:
                    raise CallbackNotFound(f"Callback {callback_id} not found")
                move = rules.cancelled(_state_of(row), by, self._clock())
                if move is None:
                    return
                _write(row, move.state)
                await s.commit()
            channel = self._forget(callback_id)
        _say(move.note)
        if move.place is Place.FREE and channel is not None:
            await self.placeholders.hang_up(channel)

    # -- AMI events --------------------------------------------------------------------

    def on_event(self, ev: AmiEvent) -> None:
        """AMI listener: notes what happened; ``run()`` applies it."""
        if not isinstance(ev, ChannelEvent):
            return
        if isinstance(ev, UserEvent):
            if ev.user_event == CALLBACK_EVENT:
                raw = ev.get("Hotline-Callback")
                if raw.isdigit():
                    self._note(_Dialled(int(raw), ev.get("Hotline-Status")))
            return
        found = placeholder_id(ev.channel)
        if found is None:
            if isinstance(ev, AgentConnect) and ev.caller_id_num in self._by_number:
                self._note(_Served(ev.caller_id_num))
            return
        callback_id, side = found
        if side != "2":
            return
        if isinstance(ev, QueueCallerJoin):
            if self.placeholders.joined(
                callback_id, ev.channel, pending=callback_id in self._active
            ):
                self._note(_Joined(callback_id, ev.uniqueid))
            else:
                self._note(_HangUp(ev.channel))  # done already, or a second place: free it
        elif isinstance(ev, AgentConnect):
            self._note(_Taken(callback_id, _agent(ev), ev.channel))
        elif isinstance(ev, Hangup) and self.placeholders.left(callback_id, ev.channel):
            self._note(_Lost(callback_id))

    def _note(self, change: _Change) -> None:
        self._changes.append(change)
        self._wake.set()

    # -- the task ----------------------------------------------------------------------

    async def run(self) -> None:
        """Apply the events' changes and make the placeholders that are due, until
        cancelled; a failing database or Asterisk slows it down, never stops it."""
        pause = self.tick_s
        while True:
            self._wake.clear()
            try:
                await self.step()
                pause = self.tick_s
            except Exception:
                log.exception("callbacks: will try again")
                pause = min(pause * 2, 30.0)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._wake.wait()

    async def step(self) -> None:
        """One round: the events' changes in order, then the placeholders due."""
        async with self._lock:
            await self._drain()
            self._check_originates()
            await self._place_due()

    async def flush(self) -> int:
        """Apply the events' changes not applied yet (at shutdown); return how many are left
        (the database was away)."""
        async with self._lock:
            with contextlib.suppress(SQLAlchemyError, OSError):
                await self._drain()
        return len(self._changes)

    async def _drain(self) -> None:
        while self._changes:
            try:
                await self._apply(self._changes[0])
            except (SQLAlchemyError, OSError):
                raise  # the database is away: keep the change for the next round
            except Exception:
                log.exception("callbacks: dropped %r", self._changes[0])
            self._changes.popleft()

    async def _apply(self, change: _Change) -> None:
        if isinstance(change, _HangUp):
            await self.placeholders.hang_up(change.channel)
        elif isinstance(change, _Served):
            callback_id = self._by_number.get(change.number)
            if callback_id is not None:
                await self._update(
                    callback_id,
                    rules.served,
                    lambda: self.placeholders.of(callback_id),
                )
        elif isinstance(change, _Joined):
            await self._update(change.id, lambda state, _now: rules.joined(state, change.uniqueid))
        elif isinstance(change, _Taken):
            await self._update(
                change.id,
                lambda state, _now: rules.taken(state, change.agent),
                lambda: change.channel,
            )
        elif isinstance(change, _Dialled):
            await self._update(
                change.id,
                lambda state, now: rules.dialled(
                    state, change.status, now, attempts=self.attempts, retry=self.retry
                ),
            )
        else:
            await self._update(change.id, rules.lost)

    async def _update(
        self,
        callback_id: int,
        decide: Callable[[CallbackState, datetime], Move],
        place: Callable[[], str | None] = lambda: None,
    ) -> None:
        """Apply ``decide``'s move to the row and commit; ``place`` is the channel to hang up
        when the move frees the callback's place."""
        async with self.db.session() as s:
            row = await s.get(Callback, callback_id)
            if row is None:
                return
            move = decide(_state_of(row), self._clock())
            _say(move.note)
            hang_up = place() if move.place is Place.FREE else None
            _write(row, move.state)
            await s.commit()
            status = row.status
        if status in ACTIVE:
            cb = self._active.get(callback_id)
            if cb is not None:
                cb.status = status
        else:
            # Not hung up here: a completed callback's placeholder carries the conversation.
            self._forget(callback_id)
        if hang_up is not None:
            await self.placeholders.hang_up(hang_up)
        self._wake.set()

    # -- placing -----------------------------------------------------------------------

    def _check_originates(self) -> None:
        """A placeholder that never reached its queue is due again."""
        for callback_id in self.placeholders.overdue(self._clock()):
            log.warning("callback %d: placeholder never reached its queue", callback_id)
            self._changes.append(_Lost(callback_id))
            self._wake.set()

    async def _place_due(self) -> None:
        if not self._active:
            return
        now = self._clock()
        async with self.db.session() as s:
            due = (
                await s.scalars(
                    select(Callback.id)
                    .where(Callback.status.in_(PLACEABLE), Callback.next_attempt_at <= now)
                    .order_by(Callback.priority.desc(), Callback.queued_since, Callback.id)
                )
            ).all()
        for callback_id in due:
            if not await self._place(callback_id):
                return  # Asterisk is not answering: the others wait for the next round

    async def _place(self, callback_id: int) -> bool:
        """Make the callback's placeholder if it is due; False if Asterisk did not answer."""
        now = self._clock()
        async with self.db.session() as s:
            row = await s.get(Callback, callback_id)
            placing = None if row is None else rules.placed(_state_of(row), now)
            if row is None or placing is None:
                return True
            try:
                position = await self.placeholders.position_in(
                    row.queue, row.priority, row.queued_since, now
                )
            except Exception as exc:
                log.warning("callback %d: queue %s unreadable (%s)", callback_id, row.queue, exc)
                return False  # still due: the next round tries again
            _write(row, placing)
            await s.commit()
            number, queue, priority = row.caller_number, row.queue, row.priority
        cb = self._active.get(callback_id)
        if cb is not None:
            cb.status = placing.status
        try:
            await self.placeholders.make(
                callback_id,
                number=number,
                queue=queue,
                priority=priority,
                position=position,
                now=now,
            )
        except Exception as exc:
            log.warning("callback %d: no placeholder (%s); trying again", callback_id, exc)
            async with self.db.session() as s:
                row = await s.get(Callback, callback_id)
                later = None if row is None else rules.originate_failed(_state_of(row), now)
                if row is not None and later is not None:
                    _write(row, later)
                    await s.commit()
            return False
        log.info("callback %d: placeholder into %s at position %d", callback_id, queue, position)
        return True

    # -- after a (re)connect -----------------------------------------------------------

    async def reconcile(self) -> None:
        """Match the callbacks with the placeholders Asterisk has (see the module
        docstring)."""
        found = await self.placeholders.find()
        async with self._lock:
            now = self._clock()
            async with self.db.session() as s:
                rows = (await s.scalars(select(Callback).where(Callback.status.in_(ACTIVE)))).all()
                for row in rows:
                    self._reconcile(row, found.get(row.id, Found()), now)
                await s.commit()
            for row in rows:
                if row.status in ACTIVE:
                    self._remember(_Active.of(row))
                else:
                    self._forget(row.id)
        self._wake.set()

    def _reconcile(self, row: Callback, found: Found, now: datetime) -> None:
        move = rules.reconciled(
            _state_of(row),
            in_queue=found.queue_channel is not None,
            answered=found.answered,
            gone=found.gone,
            originating=self.placeholders.originating(row.id),
            now=now,
        )
        if move.place is Place.ADOPT:
            self.placeholders.adopt(row.id, found)
        elif move.place is Place.FORGET:
            self.placeholders.forget(row.id)
        _say(move.note)
        _write(row, move.state)


# The columns of a callback's row that its rules change.
_CHANGED = (
    "status",
    "attempts",
    "result",
    "next_attempt_at",
    "completed_at",
    "agent_endpoint",
    "placeholder_uniqueid",
)


def _state_of(row: Callback) -> CallbackState:
    return CallbackState(
        id=row.id,
        caller_number=row.caller_number,
        status=row.status,
        attempts=row.attempts,
        result=row.result,
        next_attempt_at=row.next_attempt_at,
        completed_at=row.completed_at,
        agent_endpoint=row.agent_endpoint,
        placeholder_uniqueid=row.placeholder_uniqueid,
    )


def _write(row: Callback, state: CallbackState) -> None:
    """Set on the row what the rules changed, and nothing else."""
    for name in _CHANGED:
        value = getattr(state, name)
        if getattr(row, name) != value:
            setattr(row, name, value)


def _say(note: Note | None) -> None:
    if note is not None:
        log.log(note.level, note.message, *note.args)
