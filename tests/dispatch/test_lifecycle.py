"""The order of an incident's statuses, without a database."""

from __future__ import annotations

import pytest

from dispatch.lifecycle import check_transition
from dispatch.ports import LifecycleError


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
