"""A callback's rules one by one, as plain values: no database, no Asterisk, no clock
(tests/queues/test_callbacks.py drives the same paths through the service)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ivr.ports import CallbackOffer, CallbackRefusal
from queues import callback_states as rules
from queues.callback_limits import CapReached
from queues.callback_states import CallbackState, Move, Note, Place
from queues.ports import CallbackStateError

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
NUMBER = "0903000002"
RETRY_AFTER = timedelta(seconds=60)

WAITING = CallbackState(7, NUMBER, "waiting")  # its placeholder holds the place
DUE = replace(WAITING, next_attempt_at=T0)  # its placeholder is to be made
CALLING = replace(WAITING, status="calling", agent_endpoint="agent07")


def dialled(state: CallbackState, status: str, attempts: int = 2) -> Move:
    return rules.dialled(state, status, T0, attempts=attempts, retry=RETRY_AFTER)


# -- the offer ------------------------------------------------------------------------------


def offer(
    queue: str = "food",
    number: str = NUMBER,
    *,
    wait_s: float | None = 300.0,
    pending: bool = False,
    threshold_s: float = 120,
) -> CallbackOffer | None:
    return rules.offer(
        queue,
        number,
        pending=pending,
        wait_s=wait_s,
        threshold_s=threshold_s,
        never_in={"emergency"},
    )


def test_offered_when_the_wait_is_over_the_threshold_or_nobody_can_answer() -> None:
    assert offer(wait_s=300.0) == CallbackOffer(300.0)
    assert offer(wait_s=120.0) is None  # not over
    assert offer(wait_s=60.0) is None
    assert offer(wait_s=None) == CallbackOffer(None)


def test_not_offered_to_a_withheld_number_or_one_with_a_callback_pending() -> None:
    assert offer(number="") is None
    assert offer(number="+84903000002") == CallbackOffer(300.0)
    assert offer(pending=True) is None


def test_a_number_outside_the_national_plan_is_told_it_cannot_be_called_back() -> None:
    # Premium (1900), freephone (1800), short codes, international, garbage: toll fraud
    # through a forged caller id would otherwise dial them on the hotline's bill.
    refused = CallbackOffer(300.0, refused=CallbackRefusal.NUMBER)
    for number in (
        "19001234",
        "1900123456",
        "18001234",
        "123",
        "1022",
        "+12025550123",
        "0012025550123",
        "+447700900123",
        "anonymous",
        "09-03",
        "09030000021",  # one digit too many
        "0103000002",  # no mobile range starts 01 any more
    ):
        assert offer(number=number) == refused, number
    for number in ("0903000002", "0363000002", "+84903000002", "84903000002", "02743822111"):
        assert offer(number=number) == CallbackOffer(300.0), number


def test_a_reached_cap_is_told_too_but_a_short_wait_still_offers_nothing() -> None:
    limited = rules.offer(
        "violation",
        NUMBER,
        pending=False,
        wait_s=300.0,
        threshold_s=120,
        never_in=(),
        cap=CapReached.HOUR,
    )
    assert limited == CallbackOffer(300.0, refused=CallbackRefusal.LIMIT)
    assert offer(number="19001234", wait_s=60.0) is None


def test_never_offered_in_the_emergency_queue_nor_when_switched_off() -> None:
    assert offer("emergency", wait_s=900.0) is None
    assert offer(threshold_s=-1, wait_s=None) is None


def test_a_request_waits_with_its_placeholder_due_at_once_one_per_number() -> None:
    assert rules.requested(T0, NUMBER, pending=False) == rules.NewCallback("waiting", 0, T0)
    assert rules.requested(T0, NUMBER, pending=True) is None


def test_a_request_is_refused_outside_the_plan_or_past_a_cap() -> None:
    assert rules.requested(T0, "19001234", pending=False) is None
    assert rules.requested(T0, "+12025550123", pending=False) is None
    assert rules.requested(T0, NUMBER, pending=False, cap=CapReached.NUMBER) is None


# -- keeping the place ----------------------------------------------------------------------


def test_a_placeholder_is_made_when_due_and_not_before() -> None:
    assert rules.placed(DUE, T0) == replace(DUE, next_attempt_at=None)
    retry = replace(DUE, status="retry", attempts=1, result="busy")
    assert rules.placed(retry, T0) == replace(retry, status="waiting", next_attempt_at=None)
    assert rules.placed(DUE, T0 - timedelta(seconds=1)) is None  # not yet
    assert rules.placed(WAITING, T0) is None  # one holds the place already
    assert rules.placed(replace(DUE, status="calling"), T0) is None
    assert rules.placed(replace(DUE, status="completed"), T0) is None


def test_a_placeholder_asterisk_did_not_take_is_tried_again_shortly() -> None:
    later = T0 + timedelta(seconds=5)
    assert rules.originate_failed(WAITING, T0) == replace(WAITING, next_attempt_at=later)
    assert rules.originate_failed(DUE, T0) is None  # due already
    assert rules.originate_failed(CALLING, T0) is None  # moved on meanwhile


def test_the_placeholder_joining_its_queue_holds_the_place() -> None:
    assert rules.joined(DUE, "uid-9") == Move(
        replace(DUE, placeholder_uniqueid="uid-9", next_attempt_at=None)
    )
    assert rules.joined(CALLING, "uid-9") == Move(CALLING)


def test_a_lost_place_is_made_again_now() -> None:
    move = rules.lost(WAITING, T0)
    assert move.state == replace(WAITING, next_attempt_at=T0) and move.place is None
    assert move.note == Note(logging.WARNING, "callback %d lost its place; making it again", (7,))
    assert rules.lost(DUE, T0) == Move(DUE)  # being made already
    assert rules.lost(CALLING, T0) == Move(CALLING)


# -- calling the citizen --------------------------------------------------------------------


def test_an_agent_taking_the_place_calls_the_citizen() -> None:
    move = rules.taken(WAITING, "agent07")
    assert move.state == replace(WAITING, status="calling", agent_endpoint="agent07")
    assert move.place is None
    assert move.note == Note(
        logging.INFO, "callback %d: %s ready, calling %s", (7, "agent07", NUMBER)
    )


def test_a_place_taken_when_the_callback_is_not_waiting_is_said_and_freed_once_over() -> None:
    move = rules.taken(CALLING, "agent02")
    assert move.state == CALLING and move.place is None
    assert move.note is not None and move.note.level == logging.WARNING
    done = replace(WAITING, status="cancelled")
    assert rules.taken(done, "agent02").place is Place.FREE
    assert rules.taken(done, "agent02").state == done


def test_the_citizen_answers() -> None:
    move = dialled(CALLING, "answered")
    assert move.state == replace(
        CALLING, status="completed", result="answered", completed_at=T0, next_attempt_at=None
    )
    assert move.note == Note(logging.INFO, "callback %d completed: %s answered", (7, NUMBER))
    # Dial's own ANSWER after "answered", or any late status: nothing changes.
    assert dialled(move.state, "ANSWER") == Move(move.state)
    assert dialled(WAITING, "NOANSWER") == Move(WAITING)


@pytest.mark.parametrize(
    ("status", "result"),
    [
        ("NOANSWER", "noanswer"),
        ("BUSY", "busy"),
        ("CONGESTION", "congestion"),
        ("CHANUNAVAIL", "unavailable"),
    ],
)
def test_not_reached_is_tried_again_later_then_fails(status: str, result: str) -> None:
    move = dialled(CALLING, status)
    again = T0 + RETRY_AFTER
    assert move.state == replace(
        CALLING, status="retry", attempts=1, result=result, next_attempt_at=again
    )
    assert move.note == Note(logging.INFO, "callback %d: %s, again at %s", (7, result, again))
    last = dialled(replace(CALLING, attempts=1), status)
    assert last.state == replace(
        CALLING, status="failed", attempts=2, result=result, completed_at=T0
    )
    assert last.note == Note(logging.INFO, "callback %d failed after %d attempt(s)", (7, 2))
    assert dialled(CALLING, status, attempts=1).state.status == "failed"


@pytest.mark.parametrize(
    ("status", "result"),
    [
        ("CANCEL", "agent_left"),
        ("", "nodial"),
        ("NODIAL", "nodial"),
        ("INVALIDARGS", "invalidargs"),
    ],
)
def test_an_agent_who_left_first_uses_no_attempt(status: str, result: str) -> None:
    move = dialled(replace(CALLING, attempts=1), status)
    assert move.state == replace(
        CALLING, status="retry", attempts=1, result=result, next_attempt_at=T0
    )
    assert move.place is None and move.note is None


# -- cancelled ------------------------------------------------------------------------------


def test_a_citizen_who_got_through_needs_no_place() -> None:
    for state in (WAITING, replace(DUE, status="retry", attempts=1)):
        move = rules.served(state, T0)
        assert move.state == replace(
            state, status="cancelled", result="served", next_attempt_at=None, completed_at=T0
        )
        assert move.place is Place.FREE
        assert move.note == Note(
            logging.INFO, "callback %d cancelled: %s got through on a call", (7, NUMBER)
        )
    assert rules.served(CALLING, T0) == Move(CALLING)  # being called back right now


def test_a_supervisor_cancels_a_waiting_or_retrying_callback() -> None:
    move = rules.cancelled(DUE, "boss", T0)
    assert move == Move(
        replace(
            DUE,
            status="cancelled",
            result="cancelled by boss",
            next_attempt_at=None,
            completed_at=T0,
        ),
        Place.FREE,
        Note(logging.INFO, "callback %d cancelled by %s", (7, "boss")),
    )
    assert rules.cancelled(move.state, "boss", T0) is None  # again: nothing more


def test_over_or_ringing_callbacks_cannot_be_cancelled() -> None:
    with pytest.raises(CallbackStateError, match="being called back right now"):
        rules.cancelled(CALLING, "boss", T0)
    for over in ("completed", "failed"):
        with pytest.raises(CallbackStateError, match=f"Callback 7 is {over} already"):
            rules.cancelled(replace(CALLING, status=over), "boss", T0)


# -- after a (re)connect --------------------------------------------------------------------


def reconciled(
    state: CallbackState,
    *,
    in_queue: bool = False,
    answered: bool = False,
    gone: bool = False,
    originating: bool = False,
) -> Move:
    return rules.reconciled(
        state, in_queue=in_queue, answered=answered, gone=gone, originating=originating, now=T0
    )


def test_a_placeholder_that_survived_keeps_the_place() -> None:
    assert reconciled(DUE, in_queue=True) == Move(replace(DUE, next_attempt_at=None), Place.ADOPT)
    # An agent took it while the service was away.
    assert reconciled(WAITING, in_queue=True, answered=True) == Move(
        replace(WAITING, status="calling"), Place.ADOPT
    )


def test_a_lost_placeholder_is_made_again_unless_one_is_on_its_way() -> None:
    move = reconciled(WAITING, gone=True)
    assert move.state == replace(WAITING, next_attempt_at=T0) and move.place is Place.FORGET
    assert move.note == Note(
        logging.WARNING, "callback %d: placeholder gone; making it again", (7,)
    )
    assert reconciled(WAITING, gone=True, originating=True) == Move(WAITING)
    assert reconciled(DUE, gone=True) == Move(DUE)  # due already


def test_a_call_whose_outcome_was_lost_goes_back_to_the_queue_without_an_attempt() -> None:
    move = reconciled(replace(CALLING, attempts=1), gone=True)
    assert move.state == replace(
        CALLING, status="retry", attempts=1, result="lost", next_attempt_at=T0
    )
    assert move.place is Place.FORGET
    assert move.note == Note(
        logging.WARNING, "callback %d: outcome lost while away; calling again", (7,)
    )
    assert reconciled(CALLING) == Move(CALLING)  # its ;1 side still talks to the citizen
    retry = replace(DUE, status="retry")
    assert reconciled(retry, gone=True) == Move(retry)
