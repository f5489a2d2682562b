"""Spreading points over Asterisk nodes (``conference.plan``)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from conference.plan import CapacityExceeded, PlanPoint, assign_nodes, plan_summary


def _district(first_id: int, count: int, district: int, province: int = 74) -> list[PlanPoint]:
    return [PlanPoint(first_id + i, province, district, district * 100 + i) for i in range(count)]


def _nodes_of(plan: dict[int, str], points: list[PlanPoint]) -> set[str]:
    return {plan[p.point_id] for p in points}


def test_everything_on_the_root_when_it_fits() -> None:
    points = _district(1, 5, 718) + _district(10, 5, 719)
    assert set(assign_nodes(points, ["root", "b"], per_node=10).values()) == {"root"}


def test_districts_stay_whole_and_the_root_fills_first() -> None:
    d1, d2, d3 = _district(1, 6, 718), _district(100, 6, 719), _district(200, 3, 720)
    plan = assign_nodes(d3 + d1 + d2, ["root", "b"], per_node=10)  # input order does not matter
    assert _nodes_of(plan, d1) == {"root"}  # 718 first, by code
    assert _nodes_of(plan, d2) == {"b"}  # 6 do not fit in the root's remaining 4
    assert _nodes_of(plan, d3) == {"root"}  # 3 do: the first node with room
    assert Counter(plan.values()) == {"root": 9, "b": 6}


def test_a_district_too_big_for_any_room_is_split_in_commune_order() -> None:
    d1, d2, d3 = _district(1, 6, 718), _district(100, 6, 719), _district(200, 6, 720)
    plan = assign_nodes(d1 + d2 + d3, ["root", "b"], per_node=10)
    assert _nodes_of(plan, d1) == {"root"}
    assert _nodes_of(plan, d2) == {"b"}
    # 720 fits nowhere whole (4 and 4 left): its first communes on the root, the rest on b.
    assert [plan[p.point_id] for p in d3] == ["root"] * 4 + ["b"] * 2
    assert Counter(plan.values()) == {"root": 10, "b": 8}


def test_centers_and_numbers_are_placed_too() -> None:
    points = [
        *_district(1, 3, 718),
        PlanPoint(50, 74, 718),  # the district's center: with its district
        PlanPoint(51, 74),  # the province's center
        PlanPoint(52, None),  # a number
    ]
    plan = assign_nodes(points, ["root", "b"], per_node=4)
    assert _nodes_of(plan, points[:4]) == {"root"}
    assert plan[51] == "b" and plan[52] == "b"


def test_more_points_than_room() -> None:
    points = _district(1, 2594, 718)
    with pytest.raises(CapacityExceeded) as raised:
        assign_nodes(points, ["root", "b", "c"], per_node=800)
    error = raised.value
    assert isinstance(error, ValueError)
    assert (error.points, error.nodes, error.per_node, error.nodes_needed) == (2594, 3, 800, 4)
    assert "2594 points" in str(error) and "2400" in str(error) and "4 node(s)" in str(error)
    # Exactly full is fine.
    assert len(assign_nodes(points[:2400], ["root", "b", "c"], per_node=800)) == 2400


@pytest.mark.parametrize(
    ("nodes", "per_node", "points"),
    [
        ([], 10, []),
        (["root", "root"], 10, []),
        (["root"], 0, []),
        (["root"], 10, [PlanPoint(1, 74), PlanPoint(1, 79)]),
    ],
)
def test_nonsense_is_refused(nodes: list[str], per_node: int, points: list[PlanPoint]) -> None:
    with pytest.raises(ValueError):
        assign_nodes(points, nodes, per_node)


def test_many_districts_every_point_placed_deterministically() -> None:
    rng = random.Random(2021)
    points: list[PlanPoint] = []
    for d in range(60):
        points += _district(len(points) + 1, rng.randint(1, 40), 700 + d, province=70 + d % 19)
    nodes = ["root", "b", "c", "d"]
    per_node = -(-len(points) // len(nodes))  # just enough room
    plan = assign_nodes(points, nodes, per_node)
    shuffled = list(points)
    rng.shuffle(shuffled)
    assert assign_nodes(shuffled, nodes, per_node) == plan
    assert set(plan) == {p.point_id for p in points}
    assert max(Counter(plan.values()).values()) <= per_node


def test_plan_summary() -> None:
    d1, d2, d3 = _district(1, 6, 718), _district(100, 6, 719), _district(200, 6, 760, 79)
    summary = plan_summary(d1 + d2 + d3, ["root", "b"], per_node=10, rate_per_s=4)
    assert [(n.node, n.points, n.districts, n.provinces) for n in summary.nodes] == [
        ("root", 10, 2, 2),
        ("b", 8, 2, 2),
    ]
    assert summary.split_districts == 1
    assert summary.dial_s_shared == pytest.approx(18 / 4)
    assert summary.dial_s_per_node == pytest.approx(10 / 4)
    as_dict = summary.as_dict()
    assert as_dict["total"] == 18
    assert as_dict["nodes"] == [
        {"node": "root", "points": 10, "districts": 2, "provinces": 2},
        {"node": "b", "points": 8, "districts": 2, "provinces": 2},
    ]


def test_plan_summary_of_too_many_says_how_many_nodes() -> None:
    with pytest.raises(CapacityExceeded) as raised:
        plan_summary(_district(1, 30, 718), ["root"], per_node=10, rate_per_s=1)
    assert raised.value.nodes_needed == 3
