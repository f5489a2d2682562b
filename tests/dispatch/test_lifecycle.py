"""The incident's state machine, without a database: the order of its statuses, what
people, deadlines and phone calls do to it, and its state read from and written to a row."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm.attributes import set_committed_value

from dispatch import lifecycle
from dispatch.lifecycle import IncidentState, PhoneStep, check_transition
from dispatch.ports import LifecycleError, PhoneOrder, PhoneResult
from store.models import Incident


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("new", "dispatched"),
        ("dispatched", "acknowledged"),
        ("acknowledged", "en_route"),
        ("en_route", "on_scene"),
        ("on_scene", "resolved"),
    ],
)
def test_each_next_step_needs_no_reason(current: str, target: str) -> None:
    check_transition(current, target)


def test_skipping_a_step_needs_a_reason() -> None:
    with pytest.raises(LifecycleError, match="from new to resolved skips dispatched"):
        check_transition("new", "resolved")
    with pytest.raises(LifecycleError, match="give a reason"):
        check_transition("acknowledged", "on_scene", "   ")

    check_transition("new", "resolved", "Người dân tự đến bệnh viện")
    check_transition("acknowledged", "resolved", "Đã hướng dẫn qua điện thoại")


def test_cancelling_needs_a_reason_from_any_open_status() -> None:
    for status in ("new", "dispatched", "acknowledged", "en_route", "on_scene"):
        with pytest.raises(LifecycleError, match="needs a reason"):
            check_transition(status, "cancelled")
        check_transition(status, "cancelled", "Báo nhầm")


@pytest.mark.parametrize(
    ("current", "target"),
    [("en_route", "acknowledged"), ("on_scene", "dispatched"), ("resolved", "new")],
)
def test_nothing_goes_back(current: str, target: str) -> None:
    with pytest.raises(LifecycleError):
        check_transition(current, target, "any reason")


@pytest.mark.parametrize("final", ["resolved", "cancelled"])
def test_closed_incidents_do_not_change(final: str) -> None:
    with pytest.raises(LifecycleError, match="cannot change any more"):
        check_transition(final, "cancelled", "again")


def test_unknown_and_same_statuses_are_refused() -> None:
    with pytest.raises(LifecycleError, match="unknown status"):
        check_transition("new", "teleported")
    with pytest.raises(LifecycleError, match="already en_route"):
        check_transition("en_route", "en_route")


# -- the state machine's steps, on values -----------------------------------------------------

T0 = datetime(2021, 8, 2, 3, 0, tzinfo=UTC)
DEADLINES = {
    "medical": {"critical": 180, "urgent": 300, "normal": 900},
    "*": {"critical": 600, "urgent": 1800, "normal": 3600},
}
TEAM, CENTER = 11, 21


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def created() -> IncidentState:
    """Opened at T0, no team yet."""
    return IncidentState(id=7, status="new", created_at=T0, updated_at=T0)


def dispatched(**changes: Any) -> IncidentState:
    """Dispatched to TEAM at T0 with three minutes to acknowledge."""
    return replace(lifecycle.dispatch_to(created(), TEAM, T0, 180), **changes)


def test_the_deadline_is_the_categorys_else_the_others() -> None:
    assert lifecycle.ack_deadline_s(DEADLINES, "medical", "critical") == 180
    assert lifecycle.ack_deadline_s(DEADLINES, "food", "normal") == 3600


def test_dispatching_starts_the_deadline_and_the_call_at_once() -> None:
    state = lifecycle.dispatch_to(created(), TEAM, at(5), 180)

    assert (state.status, state.team_id, state.dispatched_at) == ("dispatched", TEAM, at(5))
    assert state.ack_due_at == state.escalate_at == at(185)
    assert (state.call_due_at, state.call_attempts, state.updated_at) == (at(5), 0, at(5))


def test_a_new_holder_forgets_the_last_ones_acknowledgment_and_calls() -> None:
    taken = lifecycle.acknowledge(replace(dispatched(), call_attempts=2), "", at(30))

    state = lifecycle.dispatch_to(taken, CENTER, at(60), 180)

    assert (state.status, state.team_id) == ("dispatched", CENTER)
    assert (state.acknowledged_at, state.acknowledged_by_team_id, state.ack_s) == (
        None,
        None,
        None,
    )
    assert (state.call_attempts, state.call_due_at) == (0, at(60))


def test_without_any_team_it_stays_new_with_a_deadline_and_no_timer() -> None:
    state = lifecycle.leave_unassigned(created(), T0, 600)

    assert (state.status, state.team_id, state.ack_due_at) == ("new", None, at(600))
    assert (state.escalate_at, state.call_due_at) == (None, None)


def test_acknowledging_stops_the_timers_and_measures_the_wait() -> None:
    state = lifecycle.acknowledge(dispatched(), "", at(42))

    assert (state.status, state.acknowledged_at, state.updated_at) == (
        "acknowledged",
        at(42),
        at(42),
    )
    assert (state.acknowledged_by_team_id, state.ack_s) == (TEAM, 42)
    assert (state.escalate_at, state.call_due_at) == (None, None)
    assert state.ack_due_at == at(180)  # the deadline people saw stays


def test_only_a_dispatched_incident_is_acknowledged() -> None:
    with pytest.raises(LifecycleError, match="incident 7 has no team yet: assign one first"):
        lifecycle.acknowledge(created(), "", T0)
    with pytest.raises(LifecycleError, match="cannot go back"):
        lifecycle.acknowledge(dispatched(status="en_route"), "any reason", T0)
    with pytest.raises(LifecycleError, match="already acknowledged"):
        lifecycle.acknowledge(dispatched(status="acknowledged"), "", T0)


def test_transitions_to_new_or_dispatched_are_assignments() -> None:
    for target in ("new", "dispatched"):
        with pytest.raises(LifecycleError, match="POST /incidents/7/assign"):
            lifecycle.check_transition_target(7, target)
    lifecycle.check_transition_target(7, "en_route")


def test_skipping_the_acknowledgment_counts_as_the_team_taking_it() -> None:
    state = lifecycle.move(dispatched(), "on_scene", "Đội đã tới", at(100))

    assert (state.status, state.updated_at) == ("on_scene", at(100))
    assert (state.acknowledged_at, state.acknowledged_by_team_id, state.ack_s) == (
        at(100),
        TEAM,
        100,
    )
    assert (state.escalate_at, state.call_due_at, state.closed_at) == (None, None, None)


def test_moving_on_after_the_acknowledgment_keeps_it() -> None:
    taken = lifecycle.acknowledge(dispatched(), "", at(30))

    state = lifecycle.move(taken, "en_route", "", at(90))

    assert (state.status, state.acknowledged_at, state.ack_s) == ("en_route", at(30), 30)


def test_resolving_closes_and_measures_from_the_creation() -> None:
    en_route = lifecycle.move(dispatched(), "en_route", "Nhận qua bộ đàm", at(60))

    state = lifecycle.move(en_route, "resolved", "Xử lý tại chỗ", at(900))

    assert (state.status, state.resolved_at, state.closed_at) == ("resolved", at(900), at(900))
    assert state.resolve_s == 900
    assert (state.escalate_at, state.call_due_at) == (None, None)


def test_cancelling_a_waiting_incident_stops_its_timers_without_an_acknowledgment() -> None:
    state = lifecycle.move(dispatched(), "cancelled", "Báo nhầm", at(20))

    assert (state.status, state.closed_at, state.resolved_at) == ("cancelled", at(20), None)
    assert (state.escalate_at, state.call_due_at) == (None, None)
    assert (state.acknowledged_at, state.ack_s) == (None, None)


def test_an_incident_without_a_team_is_only_resolved_or_cancelled() -> None:
    unassigned = lifecycle.leave_unassigned(created(), T0, 600)

    with pytest.raises(LifecycleError, match="incident 7 has no team yet"):
        lifecycle.move(unassigned, "en_route", "Tự đi", at(10))
    state = lifecycle.move(unassigned, "resolved", "Người dân tự đến bệnh viện", at(10))

    assert (state.status, state.acknowledged_at, state.escalate_at) == ("resolved", None, None)
    with pytest.raises(LifecycleError, match="needs a reason"):
        lifecycle.move(unassigned, "cancelled", "", at(10))


def test_a_move_obeys_the_order_of_statuses() -> None:
    with pytest.raises(LifecycleError, match="give a reason"):
        lifecycle.move(dispatched(), "resolved", "", at(10))
    with pytest.raises(LifecycleError, match="cannot change any more"):
        lifecycle.move(dispatched(status="resolved"), "cancelled", "again", at(10))


def test_a_team_is_reassigned_until_one_sets_off_and_never_to_the_holder() -> None:
    for status in ("new", "dispatched", "acknowledged"):
        lifecycle.check_reassignable(dispatched(status=status))
    for status in ("en_route", "on_scene", "resolved", "cancelled"):
        with pytest.raises(LifecycleError, match=f"incident 7 is {status}: a team is already"):
            lifecycle.check_reassignable(dispatched(status=status))

    lifecycle.check_new_holder(dispatched(), CENTER)
    with pytest.raises(LifecycleError, match=f"incident 7 is already with team {TEAM}"):
        lifecycle.check_new_holder(dispatched(), TEAM)


def test_a_call_is_linked_to_an_open_incident_only() -> None:
    assert lifecycle.link_call(dispatched(), at(5)).updated_at == at(5)
    with pytest.raises(LifecycleError, match="incident 7 is resolved: open a new one"):
        lifecycle.link_call(dispatched(status="resolved"), at(5))


def test_escalation_is_due_past_the_deadline_while_no_one_took_it() -> None:
    state = dispatched()

    assert not lifecycle.escalation_due(state, at(179))
    assert lifecycle.escalation_due(state, at(180))
    assert not lifecycle.escalation_due(lifecycle.acknowledge(state, "", at(10)), at(999))
    assert not lifecycle.escalation_due(replace(state, escalate_at=None), at(999))
    assert lifecycle.escalation_due(replace(state, status="new"), at(180))


def test_escalating_gives_it_to_the_center_one_level_up_with_a_fresh_deadline() -> None:
    state = lifecycle.escalate(replace(dispatched(), call_attempts=3), CENTER, at(181), 180)

    assert (state.status, state.team_id, state.escalation) == ("dispatched", CENTER, 1)
    assert state.ack_due_at == state.escalate_at == at(361)
    assert (state.call_attempts, state.call_due_at, state.dispatched_at) == (0, at(181), at(181))


def test_with_no_center_above_it_stays_overdue_and_nothing_more_fires() -> None:
    top = dispatched(escalation=2)

    state = lifecycle.escalate(top, None, at(181), 180)

    assert (state.status, state.team_id, state.escalation) == ("dispatched", TEAM, 2)
    assert (state.escalate_at, state.ack_due_at) == (None, at(180))


def test_the_escalations_reasons() -> None:
    assert lifecycle.overdue_reason(180) == "Quá hạn: không nhận lệnh trong 3 phút"
    assert lifecycle.overdue_reason(90) == "Quá hạn: không nhận lệnh trong 1.5 phút"
    assert lifecycle.gave_up_reason(PhoneResult.BUSY, 3) == "Đội không nhận lệnh sau 3 cuộc gọi"
    assert lifecycle.gave_up_reason(PhoneResult.REFUSED, 2) == "Đội từ chối sau 2 cuộc gọi"


def test_the_holders_phone_is_due_while_it_has_not_acknowledged() -> None:
    state = dispatched(call_due_at=at(60))

    assert lifecycle.team_to_call(state, at(59)) is None
    assert lifecycle.team_to_call(state, at(60)) == TEAM
    assert lifecycle.team_to_call(replace(state, call_due_at=None), at(60)) is None
    assert lifecycle.team_to_call(replace(state, status="acknowledged"), at(60)) is None
    assert lifecycle.team_to_call(lifecycle.leave_unassigned(created(), T0, 600), at(999)) is None


def test_a_claimed_call_is_counted_and_guarded() -> None:
    state = lifecycle.claim_call(dispatched(call_attempts=1), at(60), 180)

    assert (state.call_attempts, state.call_due_at) == (2, at(240))
    assert lifecycle.stop_calling(state).call_due_at is None


def order(attempt: int = 1, team_id: int = TEAM) -> PhoneOrder:
    return PhoneOrder(7, team_id, attempt, "PJSIP/team-c25741", "team-c25741")


def test_pressing_1_on_the_latest_call_acknowledges() -> None:
    state = dispatched(call_attempts=1)

    step = lifecycle.after_call(state, order(1), PhoneResult.ACCEPTED, 3)

    assert step is PhoneStep.ACKNOWLEDGE


@pytest.mark.parametrize(
    "result",
    [PhoneResult.REFUSED, PhoneResult.NO_KEY, PhoneResult.NO_ANSWER, PhoneResult.BUSY],
)
def test_a_failed_call_is_retried_until_the_last_attempt_then_escalates(
    result: PhoneResult,
) -> None:
    assert lifecycle.after_call(dispatched(call_attempts=2), order(2), result, 3) is (
        PhoneStep.RETRY
    )
    assert lifecycle.after_call(dispatched(call_attempts=3), order(3), result, 3) is (
        PhoneStep.ESCALATE
    )
    assert lifecycle.retry_call(dispatched(), at(30), 60).call_due_at == at(90)


def test_a_result_for_an_old_call_changes_nothing() -> None:
    state = dispatched(call_attempts=2)
    taken = lifecycle.acknowledge(state, "", at(10))

    for current, old in [
        (state, order(1)),  # a later call is out
        (state, order(2, team_id=CENTER)),  # another team holds it now
        (taken, order(2)),  # taken meanwhile
    ]:
        assert lifecycle.after_call(current, old, PhoneResult.ACCEPTED, 3) is PhoneStep.STALE
        assert lifecycle.after_call(current, old, PhoneResult.FAILED, 3) is PhoneStep.STALE


# -- the state read from, and written back to, the row --------------------------------------


def loaded(**values: Any) -> Incident:
    """An incident as if read from the database: every value already committed."""
    incident = Incident()
    for name, value in values.items():
        set_committed_value(incident, name, value)
    return incident


def row_of(state: IncidentState) -> Incident:
    return loaded(**{f.name: getattr(state, f.name) for f in fields(IncidentState)})


def test_the_state_is_read_from_the_row() -> None:
    state = dispatched(escalation=1, call_attempts=2)

    assert IncidentState.of(row_of(state)) == state


def test_only_the_changed_columns_are_written_back() -> None:
    state = dispatched()
    incident = row_of(state)

    lifecycle.claim_call(state, at(60), 180).write_to(incident)

    changed = {a.key for a in inspect(incident).attrs if a.history.has_changes()}
    assert changed == {"call_attempts", "call_due_at"}  # updated_at left to its onupdate
    assert (incident.call_attempts, incident.call_due_at) == (1, at(240))
