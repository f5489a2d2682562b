"""Callbacks that keep the caller's place: in a surge a caller may hang up instead of
holding, and when their turn comes the hotline rings an agent, then them.

Offer. Just before a caller joins a queue, the IVR asks ``offer()``: when the queue's
estimated wait (``queues/live.py`` says how it is estimated) is over
``callback_threshold_s``, or no agent can take the queue at all, the caller hears "more than
N minutes; press 1 to be called back keeping your place". Not offered to a number that
cannot be called (withheld, not digits) or that has a callback pending already, and never
in the emergency queue: a life-threatening call stays on the line whatever the wait.

Keeping the place. The place is held by Asterisk, not by a timer here: a *placeholder* call
``Local/cb<id>@hotline-callback`` whose ;2 side enters the same queue as the caller would
have, with the same ``QUEUE_PRIO`` and the same penalty window (extensions.conf,
``[hotline-callback]``). app_queue orders it exactly as it orders callers on the line:
priority first, then place; it offers it to agents by the same penalties and rules. So a
callback never jumps ahead of a caller who waited longer, nor falls behind one who came
later, and it survives a restart of this service. The placeholder is never answered (it
rings, with no music) until app_queue bridges it to an agent; that answers its ;1 side,
which the Originate sends to ``[hotline-callback-dial]``: ``Dial(PJSIP/<number>@pstn-out)``
rings the citizen from 1022 while the agent hears the ringing. The dialplan reports with
``UserEvent(HotlineCallback)``: ``answered`` when the citizen picks up, and Dial's
``DIALSTATUS`` when the attempt ends.

Where a placeholder enters. ``Queue()``'s ``position`` argument (Asterisk 22:
``Queue(queue,options,URL,announceoverride,timeout,AGI,gosub,rule,position)``) is computed
each time from the callback's ``queued_since`` (when the caller would have joined, i.e.
when the offer began): 1 + the callers in the queue now who are ahead of it — those of
higher priority, and those of the same priority who arrived earlier (``QueueStatus``'s
``Wait`` is whole seconds, so one who may have arrived earlier counts as earlier; another
callback's placeholder counts by its own ``queued_since``). For a new callback that is the
back of its priority, where the caller would have been. For a retry, or a placeholder lost
to an Asterisk restart, it is usually the front of its priority, and that is fair: the
callback's turn already came (or it was already waiting) before anyone now in the queue
arrived, so every caller it passes has waited less than it. A caller who has waited longer
than the callback still stays ahead of it.

States: waiting, calling, retry, then completed, failed or cancelled; each move and what
decides it is in ``queues/callback_states.py``, without I/O. This module reads and writes
the rows, feeds the rules what happened and carries out what they decide.

Timers live in the database: ``next_attempt_at`` is when a placeholder must be (re)made, and
is NULL while one holds the place, so a restart of the service loses none; ``run()`` makes
the placeholders that are due. Every change goes through one task, in the order the events
came; a database outage delays the changes, it does not lose them.

After a (re)connect to Asterisk, ``reconcile()`` compares the callbacks with the channels
Asterisk has (``CoreShowChannels``): a waiting callback whose placeholder is there keeps it
(marked calling if an agent took it meanwhile), one whose placeholder is gone gets a new
one; a callback being called with no channel left lost its outcome while the service was
away and goes back to the queue at once (not counted as an attempt: the citizen may
therefore be called twice).

Repeat callers. ``pending()`` tells the IVR (and ``pending_call()`` the call tracker, which
sets ``repeat_of``) that a number has a callback pending. When an agent answers a call of
that number while its callback waits or retries, the callback is cancelled (``served``).

Limits, known and accepted:

- one Asterisk per service: a second node's reconcile would take the first node's
  placeholders for lost;
- the offer is made before the caller joins the queue, in the IVR that owns the prompts:
  a caller who declines joins the ~13 s the offer took later (offering from inside the
  queue would need app_queue's exit context and periodic announcements instead);
- a re-made placeholder starts its queuerules.conf timer afresh, so its penalty window
  narrows to the district's agents again before it widens;
- a citizen who calls in while being called back finds the line busy: the attempt counts;
- a placeholder whose Originate outlives ``placeholder_max_wait_s`` (12 h) is renewed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ivr.ports import CallbackOffer, CallbackRequest, PendingCallback
from pbx.events import AgentConnect, AmiEvent, ChannelEvent, Hangup, QueueCallerJoin, UserEvent
from queues import callback_states as rules
from queues.callback_states import ACTIVE, PLACEABLE, CallbackState, Move, Note, Place
from queues.ports import CallbackNotFound, CallbackPbx, QueueLoad
from store.db import Database
from store.models import Callback

__all__ = [
    "CALLBACK_EVENT",
    "DIAL_CONTEXT",
    "PLACEHOLDER_CONTEXT",
    "CallbackService",
    "placeholder_id",
]

log = logging.getLogger(__name__)

PLACEHOLDER_CONTEXT = "hotline-callback"
DIAL_CONTEXT = "hotline-callback-dial"
CALLBACK_EVENT = "HotlineCallback"
# "Local/cb12@hotline-callback-0000000a;2": callback 12's placeholder, its queue side.
_CHANNEL = re.compile(r"^Local/cb(?P<id>\d+)@hotline-callback-[0-9a-f]+;(?P<side>[12])$")
# A placeholder not in its queue this long after its Originate was sent is made again (an
# extra one that turns up later is hung up: never two places for one callback).
ORIGINATE_GRACE = timedelta(seconds=30)


def placeholder_id(channel: str) -> tuple[int, str] | None:
    """(callback id, side "1" or "2") of a placeholder's channel name, else None."""
    m = _CHANNEL.match(channel)
    return (int(m["id"]), m["side"]) if m else None


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
    ) -> None:
        """``never_in``: queues whose callers are never offered a callback."""
        if attempts < 1:
            raise ValueError("callback attempts must be at least 1")
        self.db = db
        self.pbx = pbx
        self.load = load
        self.threshold_s = threshold_s
        self.attempts = attempts
        self.retry = timedelta(seconds=retry_s)
        self.placeholder_max_wait_s = placeholder_max_wait_s
        self._clock = clock
        self.tick_s = tick_s
        self.never_in = frozenset(never_in)
        self._active: dict[int, _Active] = {}
        self._by_number: dict[str, int] = {}
        self._placeholders: dict[int, str] = {}  # id -> its ;2 channel, while it exists
        self._originated: dict[int, datetime] = {}  # id -> when, until its ;2 joins a queue
        self._changes: deque[_Change] = deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    # -- start -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the callbacks not done yet (before the AMI listener gets events)."""
        async with self.db.session() as s:
            rows = (await s.scalars(select(Callback).where(Callback.status.in_(ACTIVE)))).all()
        for row in rows:
            self._remember(_Active.of(row))
        if rows:
            log.info("%d callback(s) pending", len(rows))

    def _remember(self, cb: _Active) -> None:
        self._active[cb.id] = cb
        self._by_number[cb.caller_number] = cb.id

    def _forget(self, callback_id: int) -> None:
        cb = self._active.pop(callback_id, None)
        if cb is not None and self._by_number.get(cb.caller_number) == callback_id:
            del self._by_number[cb.caller_number]
        self._originated.pop(callback_id, None)

    # -- the IVR's port (ivr.ports.CallbackDesk) ---------------------------------------

    def offer(self, queue: str, caller_number: str) -> CallbackOffer | None:
        return rules.offer(
            queue,
            caller_number,
            pending=caller_number in self._by_number,
            wait_s=self.load.estimated_wait_s(queue),
            threshold_s=self.threshold_s,
            never_in=self.never_in,
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
        return self._placeholders.get(callback_id)

    async def request(self, request: CallbackRequest) -> bool:
        now = self._clock()
        new = rules.requested(now, pending=request.caller_number in self._by_number)
        if new is None:
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
            self._forget(callback_id)
            channel = self._placeholders.pop(callback_id, None)
        _say(move.note)
        if move.place is Place.FREE and channel is not None:
            await self._hang_up(channel)

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
            self._originated.pop(callback_id, None)
            known = self._placeholders.get(callback_id)
            if callback_id not in self._active or (known is not None and known != ev.channel):
                self._note(_HangUp(ev.channel))  # done already, or a second place: free it
            else:
                self._placeholders[callback_id] = ev.channel
                self._note(_Joined(callback_id, ev.uniqueid))
        elif isinstance(ev, AgentConnect):
            self._note(_Taken(callback_id, _agent(ev), ev.channel))
        elif isinstance(ev, Hangup) and self._placeholders.get(callback_id) == ev.channel:
            del self._placeholders[callback_id]
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
            await self._hang_up(change.channel)
        elif isinstance(change, _Served):
            callback_id = self._by_number.get(change.number)
            if callback_id is not None:
                await self._update(
                    callback_id,
                    rules.served,
                    lambda: self._placeholders.get(callback_id),
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
            self._placeholders.pop(callback_id, None)
        if hang_up is not None:
            await self._hang_up(hang_up)
        self._wake.set()

    async def _hang_up(self, channel: str) -> None:
        try:
            await self.pbx.hangup(channel)
        except Exception as exc:
            log.warning("could not hang up %s: %s", channel, exc)

    # -- placing -----------------------------------------------------------------------

    def _check_originates(self) -> None:
        """A placeholder that never reached its queue is due again."""
        now = self._clock()
        for callback_id, sent in list(self._originated.items()):
            if now - sent > ORIGINATE_GRACE and callback_id not in self._placeholders:
                del self._originated[callback_id]
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
                entries = await self.pbx.queue_entries(row.queue)
            except Exception as exc:
                log.warning("callback %d: queue %s unreadable (%s)", callback_id, row.queue, exc)
                return False  # still due: the next round tries again
            position = self.position(row.priority, row.queued_since, entries, now)
            _write(row, placing)
            await s.commit()
            number, queue, priority = row.caller_number, row.queue, row.priority
        cb = self._active.get(callback_id)
        if cb is not None:
            cb.status = placing.status
        self._originated[callback_id] = now
        try:
            await self.pbx.originate(
                f"Local/cb{callback_id}@{PLACEHOLDER_CONTEXT}/n",
                context=DIAL_CONTEXT,
                exten="s",
                # What the agent's phone shows: whom the hotline is about to call back.
                caller_id=f'"Gọi lại {number}" <{number}>',
                variables={
                    "CB_ID": str(callback_id),
                    "CB_NUMBER": number,
                    "CB_QUEUE": queue,
                    "CB_PRIO": str(priority),
                    "CB_POSITION": str(position),
                },
                ring_timeout_ms=self.placeholder_max_wait_s * 1000,
            )
        except Exception as exc:
            log.warning("callback %d: no placeholder (%s); trying again", callback_id, exc)
            self._originated.pop(callback_id, None)
            async with self.db.session() as s:
                row = await s.get(Callback, callback_id)
                later = None if row is None else rules.originate_failed(_state_of(row), now)
                if row is not None and later is not None:
                    _write(row, later)
                    await s.commit()
            return False
        log.info("callback %d: placeholder into %s at position %d", callback_id, queue, position)
        return True

    def position(
        self,
        priority: int,
        since: datetime,
        entries: Iterable[Mapping[str, str]],
        now: datetime,
    ) -> int:
        """Queue()'s position for a callback of ``priority`` whose caller would have joined
        at ``since``, among the callers ``entries`` (QueueStatus) waiting now: 1 + those
        ahead of it (see the module docstring)."""
        ahead = 0
        for entry in entries:
            prio = int(_number(entry.get("Priority", "0")))
            if prio != priority:
                ahead += prio > priority
                continue
            found = placeholder_id(entry.get("Channel", ""))
            other = self._active.get(found[0]) if found else None
            if other is not None:
                arrived = other.queued_since
            else:
                # Wait is whole seconds: this caller arrived within the second before.
                wait = _number(entry.get("Wait", "0"))
                arrived = now - timedelta(seconds=wait + 1)
            ahead += arrived < since
        return ahead + 1

    # -- after a (re)connect -----------------------------------------------------------

    async def reconcile(self) -> None:
        """Match the callbacks with the channels Asterisk has (see the module docstring)."""
        sides: dict[int, dict[str, Mapping[str, str]]] = {}
        for channel in await self.pbx.channels():
            found = placeholder_id(channel.get("Channel", ""))
            if found is not None:
                sides.setdefault(found[0], {})[found[1]] = channel
        async with self._lock:
            now = self._clock()
            async with self.db.session() as s:
                rows = (await s.scalars(select(Callback).where(Callback.status.in_(ACTIVE)))).all()
                for row in rows:
                    self._reconcile(row, sides.get(row.id, {}), now)
                await s.commit()
            for row in rows:
                if row.status in ACTIVE:
                    self._remember(_Active.of(row))
                else:
                    self._forget(row.id)
        self._wake.set()

    def _reconcile(
        self, row: Callback, sides: Mapping[str, Mapping[str, str]], now: datetime
    ) -> None:
        queue_side = sides.get("2")
        move = rules.reconciled(
            _state_of(row),
            in_queue=queue_side is not None,
            answered=queue_side is not None
            and queue_side.get("ChannelStateDesc", "").lower() == "up",
            gone=not sides,
            originating=row.id in self._originated,
            now=now,
        )
        if move.place is Place.ADOPT and queue_side is not None:
            self._placeholders[row.id] = queue_side.get("Channel", "")
            self._originated.pop(row.id, None)
        elif move.place is Place.FORGET:
            self._placeholders.pop(row.id, None)
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


def _number(raw: str) -> float:
    try:
        return float(raw or 0)
    except ValueError:
        return 0.0
