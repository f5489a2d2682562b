"""The incident's lifecycle as one explicit state machine, without a database.

    new → dispatched → acknowledged → en_route → on_scene → resolved
    any open status → cancelled

A step forward to the next status needs no words; jumping over steps (say, from
acknowledged straight to resolved: the team solved it by phone) needs a reason, and so does
a cancellation. Nothing goes backwards and nothing leaves ``resolved`` or ``cancelled``.
``dispatched`` is reached only by (re-)assigning a team, ``acknowledged`` only by the team
that holds it: who is asking is checked by ``dispatch.chain``.

Every rule lives here as a plain function over ``IncidentState`` (the columns the lifecycle
moves, as a value): the function returns the next state, or raises ``LifecycleError`` saying
why not. The services read the state from the locked row, ask, write back what changed and
keep the history; so the rules are tested alone (``tests/dispatch/test_lifecycle.py``).

Timers are part of the state: ``escalate_at`` (go up a level if no one took it by then),
``call_due_at`` (call the holder's phone, first or again). Dispatching starts them, an
acknowledgment or a close stops them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from enum import Enum

from dispatch.ports import LifecycleError, PhoneOrder, PhoneResult
from store.models import Incident, IncidentStatus

__all__ = [
    "CLOSED",
    "DEFAULT_ACK_DEADLINES_S",
    "OPEN",
    "ORDER",
    "REASSIGNABLE",
    "STATUS_LABELS",
    "WAITING_FOR_TEAM",
    "Deadlines",
    "IncidentState",
    "PhoneStep",
    "ack_deadline_s",
    "acknowledge",
    "after_call",
    "check_new_holder",
    "check_reassignable",
    "check_transition",
    "check_transition_target",
    "claim_call",
    "dispatch_to",
    "escalate",
    "escalation_due",
    "gave_up_reason",
    "leave_unassigned",
    "link_call",
    "move",
    "offered_moves",
    "overdue_reason",
    "retry_call",
    "stop_calling",
    "team_to_call",
]

S = IncidentStatus

ORDER: tuple[IncidentStatus, ...] = (
    S.NEW,
    S.DISPATCHED,
    S.ACKNOWLEDGED,
    S.EN_ROUTE,
    S.ON_SCENE,
    S.RESOLVED,
)
CLOSED = frozenset({S.RESOLVED, S.CANCELLED})
OPEN = frozenset(set(IncidentStatus) - CLOSED)
# Not yet taken by anyone: the acknowledgment deadline runs, the team's phone is called.
WAITING_FOR_TEAM = frozenset({S.NEW, S.DISPATCHED})
# Another team may still be given the incident: no team has set off yet.
REASSIGNABLE = frozenset({S.NEW, S.DISPATCHED, S.ACKNOWLEDGED})

# What a supervisor reads.
STATUS_LABELS: dict[str, str] = {
    S.NEW: "Mới tiếp nhận",
    S.DISPATCHED: "Đã điều động",
    S.ACKNOWLEDGED: "Đội đã nhận lệnh",
    S.EN_ROUTE: "Đang di chuyển",
    S.ON_SCENE: "Đã có mặt tại hiện trường",
    S.RESOLVED: "Đã xử lý xong",
    S.CANCELLED: "Đã hủy",
}

Deadlines = Mapping[str, Mapping[str, int]]
# Seconds a team has to acknowledge, per category ("*": the others) and urgency: minutes for
# a medical emergency. The settings' default (HOTLINE_ACK_DEADLINES_S).
DEFAULT_ACK_DEADLINES_S: dict[str, dict[str, int]] = {
    "medical": {"critical": 180, "urgent": 300, "normal": 900},
    "*": {"critical": 600, "urgent": 1800, "normal": 3600},
}


def ack_deadline_s(deadlines: Deadlines, category: str, urgency: str) -> int:
    """Seconds the holder of an incident of this category and urgency has to acknowledge."""
    per_urgency = deadlines.get(category) or deadlines["*"]
    return int(per_urgency[urgency])


@dataclass(frozen=True)
class IncidentState:
    """The columns of an incident that its lifecycle moves, as a value.

    The field names are the ``Incident`` columns': ``of`` reads them, ``write_to`` sets
    those that changed and only those, so a change that leaves ``updated_at`` alone (a
    call claimed, a retry set) still gets the column's ``onupdate``.
    """

    id: int
    status: str
    created_at: datetime
    updated_at: datetime
    team_id: int | None = None
    escalation: int = 0  # levels gone up from the first team
    dispatched_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by_team_id: int | None = None
    ack_s: float | None = None
    ack_due_at: datetime | None = None
    escalate_at: datetime | None = None
    call_attempts: int = 0
    call_due_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    resolve_s: float | None = None

    @classmethod
    def of(cls, incident: Incident) -> IncidentState:
        return cls(**{f.name: getattr(incident, f.name) for f in fields(cls)})

    def write_to(self, incident: Incident) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if getattr(incident, f.name) != value:
                setattr(incident, f.name, value)


# -- what people do ----------------------------------------------------------------------------


def check_transition(current: str, target: str, reason: str = "") -> None:
    """Raise ``LifecycleError`` (saying why) unless ``current → target`` is allowed.

    Only the order of statuses is checked here; who may make the change is not.
    """
    try:
        now, to = IncidentStatus(current), IncidentStatus(target)
    except ValueError as exc:
        raise LifecycleError(f"unknown status: {exc}") from None
    if now in CLOSED:
        raise LifecycleError(f"the incident is {now.value}: it cannot change any more")
    if to == now:
        raise LifecycleError(f"the incident is already {now.value}")
    has_reason = bool(reason.strip())
    if to == S.CANCELLED:
        if not has_reason:
            raise LifecycleError("cancelling an incident needs a reason")
        return
    if ORDER.index(to) < ORDER.index(now):
        raise LifecycleError(f"an incident cannot go back from {now.value} to {to.value}")
    skipped = ORDER[ORDER.index(now) + 1 : ORDER.index(to)]
    if skipped and not has_reason:
        raise LifecycleError(
            f"from {now.value} to {to.value} skips {', '.join(s.value for s in skipped)}: "
            "give a reason"
        )


def check_transition_target(incident_id: int, target: str) -> None:
    """``new`` and ``dispatched`` are reached by assigning a team, never by a transition."""
    if target in (S.NEW, S.DISPATCHED):
        raise LifecycleError(
            f"an incident becomes {target} only by assigning a team: "
            f"POST /incidents/{incident_id}/assign"
        )


def move(state: IncidentState, target: str, reason: str, now: datetime) -> IncidentState:
    """Moved on by a person (en route, on scene, resolved) or cancelled.

    Jumping over the acknowledgment counts as the holder taking the incident; one that no
    team holds yet may only be resolved or cancelled. Closing it stops every timer.
    """
    check_transition(state.status, target, reason)
    if target != S.CANCELLED and state.status in WAITING_FOR_TEAM:
        if state.team_id is None and target != S.RESOLVED:
            raise LifecycleError(f"incident {state.id} has no team yet: assign one first")
        if state.team_id is not None:
            # Jumping over the acknowledgment (with a reason): the team took it.
            state = _taken(state, now)
        else:
            state = replace(state, escalate_at=None)  # resolved without a team: nothing to chase
    state = replace(state, status=target, updated_at=now)
    if target in CLOSED:
        state = replace(state, closed_at=now, escalate_at=None, call_due_at=None)
    if target == S.RESOLVED:
        state = replace(state, resolved_at=now, resolve_s=(now - state.created_at).total_seconds())
    return state


def offered_moves(status: str, has_team: bool) -> list[tuple[str, bool]]:
    """Where ``POST /incidents/{id}/transitions`` may take an incident from ``status``, each
    with whether it needs a reason: what ``move`` accepts, in order, cancelling last.

    The acknowledgment is left out (it is the holder's own step, ``acknowledge``), and so
    are ``new`` and ``dispatched`` (reached by assigning a team)."""
    try:
        now = IncidentStatus(status)
    except ValueError:
        return []
    if now in CLOSED:
        return []
    offered: list[tuple[str, bool]] = []
    for target in ORDER[ORDER.index(now) + 1 :]:
        if target in (S.NEW, S.DISPATCHED, S.ACKNOWLEDGED):
            continue
        if now in WAITING_FOR_TEAM and not has_team and target != S.RESOLVED:
            continue
        skipped = ORDER[ORDER.index(now) + 1 : ORDER.index(target)]
        offered.append((target.value, bool(skipped)))
    offered.append((S.CANCELLED.value, True))
    return offered


def acknowledge(state: IncidentState, reason: str, now: datetime) -> IncidentState:
    """Taken by its holder (over REST or by pressing 1): its deadline and calls stop."""
    if state.status == S.NEW:
        raise LifecycleError(f"incident {state.id} has no team yet: assign one first")
    check_transition(state.status, S.ACKNOWLEDGED, reason)
    return replace(_taken(state, now), status=S.ACKNOWLEDGED, updated_at=now)


def _taken(state: IncidentState, now: datetime) -> IncidentState:
    """Marked as taken by the team holding it, with the time that took; no more timers."""
    ack_s = state.ack_s
    if state.dispatched_at is not None:
        ack_s = (now - state.dispatched_at).total_seconds()
    return replace(
        state,
        acknowledged_at=now,
        acknowledged_by_team_id=state.team_id,
        ack_s=ack_s,
        escalate_at=None,
        call_due_at=None,
    )


def check_reassignable(state: IncidentState) -> None:
    """Another team may be given the incident until one has set off."""
    if state.status not in REASSIGNABLE:
        raise LifecycleError(
            f"incident {state.id} is {state.status}: a team is already on it "
            "(cancel it, or let that team finish)"
        )


def check_new_holder(state: IncidentState, team_id: int) -> None:
    """Re-assigning goes to another team than the one holding it."""
    if team_id == state.team_id:
        raise LifecycleError(f"incident {state.id} is already with team {team_id}")


def link_call(state: IncidentState, now: datetime) -> IncidentState:
    """Another call about the incident is kept on it while it is open; once closed, a new
    incident is opened instead."""
    if state.status not in OPEN:
        raise LifecycleError(f"incident {state.id} is {state.status}: open a new one")
    return replace(state, updated_at=now)


# -- dispatching and escalating ----------------------------------------------------------------


def dispatch_to(
    state: IncidentState, team_id: int, now: datetime, deadline_s: float
) -> IncidentState:
    """Given to a team (first dispatch, re-assignment, escalation): it waits for that team's
    acknowledgment with a fresh deadline, and the team's phone is due at once."""
    due = now + timedelta(seconds=deadline_s)
    return replace(
        state,
        team_id=team_id,
        status=S.DISPATCHED,
        dispatched_at=now,
        acknowledged_at=None,
        acknowledged_by_team_id=None,
        ack_s=None,
        ack_due_at=due,
        escalate_at=due,
        call_attempts=0,
        call_due_at=now,
        updated_at=now,
    )


def leave_unassigned(state: IncidentState, now: datetime, deadline_s: float) -> IncidentState:
    """No team anywhere above its place: it stays new with the deadline people see, and no
    timer fires, since there is no one to call or escalate to; a center assigns it by hand."""
    return replace(state, ack_due_at=now + timedelta(seconds=deadline_s))


def escalation_due(state: IncidentState, now: datetime) -> bool:
    """Its deadline passed while it still waits for a team."""
    return (
        state.escalate_at is not None
        and state.escalate_at <= now
        and state.status in WAITING_FOR_TEAM
    )


def escalate(
    state: IncidentState, center_id: int | None, now: datetime, deadline_s: float
) -> IncidentState:
    """Up one level: dispatched to the center above (``center_id``) with a fresh deadline.
    With no center above, it stays with its holder, overdue, and its deadline fires no more."""
    if center_id is None:
        return replace(state, escalate_at=None)
    return dispatch_to(replace(state, escalation=state.escalation + 1), center_id, now, deadline_s)


def overdue_reason(deadline_s: float) -> str:
    """Why an incident went up when its deadline passed."""
    return f"Quá hạn: không nhận lệnh trong {deadline_s / 60:g} phút"


# -- the holder's phone ------------------------------------------------------------------------


def team_to_call(state: IncidentState, now: datetime) -> int | None:
    """The team whose phone is due now: it holds the incident, has not acknowledged it, and
    the call timer has passed. None when no call is due."""
    if state.status != S.DISPATCHED or state.call_due_at is None or state.call_due_at > now:
        return None
    return state.team_id


def claim_call(state: IncidentState, now: datetime, guard_s: float) -> IncidentState:
    """One more attempt counted; should its result never come (the service stopped
    mid-call), the call is due again after ``guard_s``."""
    return replace(
        state,
        call_attempts=state.call_attempts + 1,
        call_due_at=now + timedelta(seconds=guard_s),
    )


def stop_calling(state: IncidentState) -> IncidentState:
    """The holder has no phone: nothing to call (the incident goes up instead)."""
    return replace(state, call_due_at=None)


class PhoneStep(Enum):
    """What a call's result does to the incident."""

    STALE = "stale"  # acknowledged or re-assigned meanwhile: only the history keeps the call
    ACKNOWLEDGE = "acknowledge"  # the member pressed 1
    RETRY = "retry"  # called again after the retry delay, on the team's next phone
    ESCALATE = "escalate"  # the last attempt failed: up a level before the deadline


def after_call(
    state: IncidentState, order: PhoneOrder, result: PhoneResult, max_attempts: int
) -> PhoneStep:
    """The step a call's result leads to; only the latest call to the holder counts."""
    current = (
        state.team_id == order.team_id
        and state.status == S.DISPATCHED
        and state.call_attempts == order.attempt
    )
    if not current:
        return PhoneStep.STALE
    if result == PhoneResult.ACCEPTED:
        return PhoneStep.ACKNOWLEDGE
    if state.call_attempts >= max_attempts:
        return PhoneStep.ESCALATE
    return PhoneStep.RETRY


def retry_call(state: IncidentState, now: datetime, retry_s: float) -> IncidentState:
    """The holder's phone is called again after ``retry_s``."""
    return replace(state, call_due_at=now + timedelta(seconds=retry_s))


def gave_up_reason(result: PhoneResult, attempts: int) -> str:
    """Why an incident went up after its holder's last call: refused, or simply not taken."""
    what = "từ chối" if result == PhoneResult.REFUSED else "không nhận lệnh"
    return f"Đội {what} sau {attempts} cuộc gọi"
