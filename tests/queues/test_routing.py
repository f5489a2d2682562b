from __future__ import annotations

import pytest

from queues.routing import RoutingPolicy, normalise_skill

POLICY = RoutingPolicy(districts=(718, 719), district_wait_s=30, skill_wait_s=90)


def test_layout_one_queue_per_category_and_district_plus_emergency() -> None:
    assert POLICY.queue_names() == (
        "emergency",
        "medical",
        "medical-718",
        "medical-719",
        "food",
        "food-718",
        "food-719",
        "violation",
        "violation-718",
        "violation-719",
        "operator",
    )
    weights = {q.name: q.weight for q in POLICY.queues()}
    assert weights["emergency"] > weights["medical-718"] > weights["food"] > weights["operator"]


@pytest.mark.parametrize(
    ("queue", "district", "priority", "expected"),
    [
        ("medical", 718, 20, "emergency"),  # life-threatening: one queue, first
        ("medical", 718, 10, "medical-718"),
        ("medical", None, 10, "medical"),
        ("food", 719, 0, "food-719"),
        ("food", 999, 0, "food"),  # a district the layout does not know
        ("operator", 718, 0, "operator"),
        ("elsewhere", 718, 0, "elsewhere"),
    ],
)
def test_queue_for(queue: str, district: int | None, priority: int, expected: str) -> None:
    assert POLICY.queue_for(queue, district, priority) == expected


def test_rules_widen_from_district_experts_to_skill_to_anyone() -> None:
    rules = POLICY.rules()
    assert rules["widen"] == [(0, 9), (30, 19), (90, 29)]
    assert rules["urgent"] == [(0, 9), (10, 29)]
    # Every penalty a member can have falls in exactly one tier of the window.
    members = POLICY.memberships({"food": 1, "medical": 5}, 718)
    assert members["medical-718"] == 0 <= 9
    assert 9 < members["food-719"] == 14 <= 19
    assert 19 < members["violation-718"] == 20 <= 29
    # An agent of no district (the province pool) comes after the district's own, before
    # other districts'.
    pool = POLICY.memberships({"food": 3}, None)
    assert members["food-718"] < pool["food-718"] == 7 <= 9 < members["food-719"]


def test_unknown_wait_order_is_refused() -> None:
    with pytest.raises(ValueError, match="district_wait_s"):
        RoutingPolicy(district_wait_s=100, skill_wait_s=90)


def test_skill_names_and_aliases() -> None:
    assert normalise_skill("Aid") == "food"
    assert normalise_skill("information") == "general"
    with pytest.raises(ValueError, match="unknown skill 'cooking'"):
        normalise_skill("cooking")


def test_policy_table_is_readable() -> None:
    table = POLICY.policy_table({718: "Thủ Dầu Một"})
    queues = table["queues"]
    assert isinstance(queues, list)
    row = next(q for q in queues if q["queue"] == "medical-718")
    assert row["description"] == "Cấp cứu y tế — Thủ Dầu Một"
