"""The incident's lifecycle as one explicit state machine.

    new → dispatched → acknowledged → en_route → on_scene → resolved
    any open status → cancelled

A step forward to the next status needs no words; jumping over steps (say, from
acknowledged straight to resolved: the team solved it by phone) needs a reason, and so does
a cancellation. Nothing goes backwards and nothing leaves ``resolved`` or ``cancelled``.
``dispatched`` is reached only by (re-)assigning a team, ``acknowledged`` only by the team
that holds the incident: those two checks live in ``dispatch.incidents``, which knows who is
asking.
"""

from __future__ import annotations

from dispatch.ports import LifecycleError
from store.models import IncidentStatus

__all__ = [
    "CLOSED",
    "OPEN",
    "ORDER",
    "STATUS_LABELS",
    "WAITING_FOR_TEAM",
    "check_transition",
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
