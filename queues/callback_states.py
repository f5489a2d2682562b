"""A callback's states and the moves between them, decided without I/O.

States (``store.models.CallbackStatus``)::

    waiting ──agent takes the placeholder──► calling ──citizen answers──► completed
       ▲                                       │ no answer / busy / unreachable
       │ next_attempt_at is due                ▼
       └────────────────────────────────── retry   (attempts + 1; after
                                                    callback_attempts: failed)
    waiting, retry ──supervisor, or the citizen called in and an agent answered──► cancelled

An agent who hangs up before the citizen answers (Dial's CANCEL) does not use up an
attempt: the callback goes back to the queue at once. ``next_attempt_at`` is when a
placeholder must be (re)made, and is None while one holds the place.

Every function here takes a callback as it is (``CallbackState``), what happened and the
time, passed in: nothing here reads a clock, the database or Asterisk. It returns what the
callback becomes and what else follows (``Move``: a placeholder to hang up, adopt or forget,
a line for the log). ``queues/callbacks.py`` reads the row, asks here, writes the answer
back and carries out the rest, so the rules can be tested one by one without either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from ivr.ports import CallbackOffer, CallbackRefusal
from queues.callback_limits import CapReached, NumberPlan
from queues.ports import CallbackStateError
from store.models import CallbackStatus

__all__ = [
    "ACTIVE",
    "ANSWERED",
    "CALLING",
    "CANCELLED",
    "COMPLETED",
    "FAILED",
    "NOT_REACHED",
    "ORIGINATE_BACKOFF",
    "PLACEABLE",
    "RETRY",
    "WAITING",
    "CallbackState",
    "Move",
    "NewCallback",
    "Note",
    "Place",
    "cancelled",
    "dialled",
    "joined",
    "lost",
    "offer",
    "originate_failed",
    "placed",
    "reconciled",
    "requested",
    "served",
    "taken",
]

WAITING = CallbackStatus.WAITING.value
CALLING = CallbackStatus.CALLING.value
RETRY = CallbackStatus.RETRY.value
COMPLETED = CallbackStatus.COMPLETED.value
FAILED = CallbackStatus.FAILED.value
CANCELLED = CallbackStatus.CANCELLED.value
ACTIVE = (WAITING, CALLING, RETRY)
# The states whose placeholder is made when next_attempt_at is due.
PLACEABLE = (WAITING, RETRY)

# Dial's DIALSTATUS when the citizen was not reached: each uses up an attempt.
NOT_REACHED = {
    "NOANSWER": "noanswer",
    "BUSY": "busy",
    "CONGESTION": "congestion",
    "CHANUNAVAIL": "unavailable",
}
ANSWERED = {"answered", "ANSWER"}

# After a failed Originate (Asterisk unreachable or silent), try again this much later.
ORIGINATE_BACKOFF = timedelta(seconds=5)

# The numbers the hotline dials back by default: the national plan's (callback_limits).
_NATIONAL = NumberPlan().allows


@dataclass(frozen=True)
class CallbackState:
    """What the rules read and change of a callback (the columns of its row)."""

    id: int
    caller_number: str
    status: str
    attempts: int = 0
    result: str | None = None
    next_attempt_at: datetime | None = None
    completed_at: datetime | None = None
    agent_endpoint: str | None = None
    placeholder_uniqueid: str | None = None


class Place(Enum):
    """What becomes of the placeholder channel holding the callback's place."""

    FREE = "free"  # hang it up: the place is not needed any more
    ADOPT = "adopt"  # the one Asterisk has holds the place (after a reconnect)
    FORGET = "forget"  # it is gone: forget it


@dataclass(frozen=True)
class Note:
    """A line for the service's log: ``logging`` level, message and its arguments."""

    level: int
    message: str
    args: tuple[object, ...] = ()


@dataclass(frozen=True)
class Move:
    """What a callback becomes, and what the service does about its placeholder."""

    state: CallbackState
    place: Place | None = None
    note: Note | None = None


@dataclass(frozen=True)
class NewCallback:
    """A callback just asked for: waiting, its placeholder due at ``next_attempt_at``."""

    status: str
    attempts: int
    next_attempt_at: datetime


# -- before a callback exists ----------------------------------------------------------


def offer(
    queue: str,
    caller_number: str,
    *,
    pending: bool,
    wait_s: float | None,
    threshold_s: float,
    never_in: Collection[str],
    allowed: Callable[[str], bool] = _NATIONAL,
    cap: CapReached | None = None,
) -> CallbackOffer | None:
    """The offer for a caller about to join ``queue`` whose estimated wait is ``wait_s``
    (None: nobody can answer), or None: offers are off (a negative threshold), the queue is
    one whose callers always hold (``never_in``), the number has a callback ``pending``, or
    the wait is not over ``threshold_s``. When the wait is long but the number is not one
    the hotline may call (``allowed``: the numbering plan) or a ``cap`` is reached, the
    offer is ``refused``: the caller is told so, and holds."""
    if threshold_s < 0 or queue in never_in or not caller_number:
        return None
    if pending:
        return None
    if wait_s is not None and wait_s <= threshold_s:
        return None
    if not allowed(caller_number):
        return CallbackOffer(wait_s, refused=CallbackRefusal.NUMBER)
    if cap is not None:
        return CallbackOffer(wait_s, refused=CallbackRefusal.LIMIT)
    return CallbackOffer(wait_s)


def requested(
    now: datetime,
    caller_number: str,
    *,
    pending: bool,
    allowed: Callable[[str], bool] = _NATIONAL,
    cap: CapReached | None = None,
) -> NewCallback | None:
    """A new callback, its placeholder due at once; None when the number has one pending,
    is not one the hotline may call, or a cap is reached (checked again here: the request
    may come without an offer, from whatever speaks to the FastAGI port)."""
    if pending or not allowed(caller_number) or cap is not None:
        return None
    return NewCallback(WAITING, 0, now)


# -- the placeholder is made, joins, is taken ------------------------------------------


def placed(state: CallbackState, now: datetime) -> CallbackState | None:
    """The callback as its placeholder is sent; None when no placeholder is due now."""
    if (
        state.status not in PLACEABLE
        or state.next_attempt_at is None
        or state.next_attempt_at > now
    ):
        return None
    return replace(state, status=WAITING, next_attempt_at=None)


def originate_failed(state: CallbackState, now: datetime) -> CallbackState | None:
    """Asterisk did not take the placeholder: due again after ``ORIGINATE_BACKOFF``; None
    when the callback moved on meanwhile."""
    if state.status != WAITING or state.next_attempt_at is not None:
        return None
    return replace(state, next_attempt_at=now + ORIGINATE_BACKOFF)


def joined(state: CallbackState, uniqueid: str) -> Move:
    """Its placeholder (``uniqueid``) entered the queue: the place is held."""
    if state.status != WAITING:
        return Move(state)
    return Move(replace(state, placeholder_uniqueid=uniqueid, next_attempt_at=None))


def taken(state: CallbackState, agent: str) -> Move:
    """An agent took the placeholder: the citizen is called. A placeholder taken when the
    callback is not waiting is said; hung up when the callback is over."""
    if state.status != WAITING:
        note = Note(
            logging.WARNING, "callback %d (%s) taken by %s", (state.id, state.status, agent)
        )
        return Move(state, Place.FREE if state.status not in ACTIVE else None, note)
    note = Note(
        logging.INFO, "callback %d: %s ready, calling %s", (state.id, agent, state.caller_number)
    )
    return Move(replace(state, status=CALLING, agent_endpoint=agent), note=note)


# -- the citizen's phone ---------------------------------------------------------------


def dialled(
    state: CallbackState, dial_status: str, now: datetime, *, attempts: int, retry: timedelta
) -> Move:
    """The dial ended with ``dial_status`` ("answered", or Dial's DIALSTATUS): completed,
    tried again ``retry`` later, failed after ``attempts``, or back in the queue at once when
    the agent left first. Only a callback being called changes: the final DIALSTATUS after
    "answered", or a late duplicate, changes nothing."""
    if state.status != CALLING:
        return Move(state)
    if dial_status in ANSWERED:
        note = Note(
            logging.INFO, "callback %d completed: %s answered", (state.id, state.caller_number)
        )
        return Move(_finish(state, COMPLETED, "answered", now), note=note)
    if dial_status in NOT_REACHED:
        result = NOT_REACHED[dial_status]
        tried = state.attempts + 1
        if tried >= attempts:
            note = Note(logging.INFO, "callback %d failed after %d attempt(s)", (state.id, tried))
            return Move(_finish(replace(state, attempts=tried), FAILED, result, now), note=note)
        again = now + retry
        note = Note(logging.INFO, "callback %d: %s, again at %s", (state.id, result, again))
        return Move(
            replace(state, status=RETRY, attempts=tried, result=result, next_attempt_at=again),
            note=note,
        )
    # CANCEL: the agent hung up first; or the dial never started.
    result = "agent_left" if dial_status == "CANCEL" else dial_status.lower() or "nodial"
    return Move(replace(state, status=RETRY, result=result, next_attempt_at=now))


# -- places lost, citizens served, supervisors ------------------------------------------


def lost(state: CallbackState, now: datetime) -> Move:
    """Its placeholder left the queue untaken, or never reached it: made again now."""
    if state.status != WAITING or state.next_attempt_at is not None:
        return Move(state)
    note = Note(logging.WARNING, "callback %d lost its place; making it again", (state.id,))
    return Move(replace(state, next_attempt_at=now), note=note)


def served(state: CallbackState, now: datetime) -> Move:
    """The citizen got through on a call of their own: their place is not needed."""
    if state.status not in PLACEABLE:
        return Move(state)
    note = Note(
        logging.INFO,
        "callback %d cancelled: %s got through on a call",
        (state.id, state.caller_number),
    )
    return Move(_finish(state, CANCELLED, "served", now), Place.FREE, note)


def cancelled(state: CallbackState, by: str, now: datetime) -> Move | None:
    """A supervisor (``by``) cancels the callback; None when it is cancelled already.
    Raises ``CallbackStateError`` when it is over, or the citizen is being called."""
    if state.status == CANCELLED:
        return None
    if state.status in (COMPLETED, FAILED):
        raise CallbackStateError(f"Callback {state.id} is {state.status} already")
    if state.status == CALLING:
        raise CallbackStateError(f"Callback {state.id}: the citizen is being called back right now")
    note = Note(logging.INFO, "callback %d cancelled by %s", (state.id, by))
    return Move(_finish(state, CANCELLED, f"cancelled by {by}", now), Place.FREE, note)


# -- after a (re)connect to Asterisk ----------------------------------------------------


def reconciled(
    state: CallbackState,
    *,
    in_queue: bool,
    answered: bool,
    gone: bool,
    originating: bool,
    now: datetime,
) -> Move:
    """The callback against what Asterisk has of its placeholder after a (re)connect: its
    queue side ``in_queue`` (``answered`` once an agent took it), or every side ``gone``;
    ``originating``: a placeholder is on its way. A waiting callback keeps a placeholder
    that survived (calling, if an agent took it meanwhile) and gets a new one for one that
    did not; a callback being called with no channel left lost its outcome while the
    service was away and goes back to the queue at once, using up no attempt."""
    if state.status == WAITING:
        if in_queue:
            status = CALLING if answered else state.status
            return Move(replace(state, status=status, next_attempt_at=None), Place.ADOPT)
        if state.next_attempt_at is None and not originating:
            note = Note(
                logging.WARNING, "callback %d: placeholder gone; making it again", (state.id,)
            )
            return Move(replace(state, next_attempt_at=now), Place.FORGET, note)
        return Move(state)
    if state.status == CALLING and gone:
        note = Note(
            logging.WARNING, "callback %d: outcome lost while away; calling again", (state.id,)
        )
        return Move(
            replace(state, status=RETRY, result="lost", next_attempt_at=now), Place.FORGET, note
        )
    return Move(state)


def _finish(state: CallbackState, status: str, result: str, now: datetime) -> CallbackState:
    return replace(state, status=status, result=result, next_attempt_at=None, completed_at=now)
