"""Which Asterisk node calls which point, when one node cannot hold them all.

A conference of thousands spans nodes: each runs a bridge for its points, joined to the root's
bridge by one call. ``assign_nodes`` spreads the points over the nodes, keeping a district's
points on one node where they fit, so one node's trouble reads as "these districts" on the
roll rather than scattered points. ``plan_summary`` gives the figures the README's arithmetic
and the conference page show.

Pure and deterministic: the same points and nodes give the same plan.

>>> pts = [PlanPoint(1, 74, 719), PlanPoint(2, 74, 718), PlanPoint(3, 74, 718)]
>>> assign_nodes(pts, ["root", "b"], per_node=2)
{2: 'root', 3: 'root', 1: 'b'}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CapacityExceeded",
    "NodeLoad",
    "PlanPoint",
    "PlanSummary",
    "assign_nodes",
    "plan_summary",
]


@dataclass(frozen=True)
class PlanPoint:
    """A point to place: its id and its place's codes (None where it has no such level: a
    district center has no commune, a number no place at all)."""

    point_id: int
    province_code: int | None
    district_code: int | None = None
    commune_code: int | None = None


class CapacityExceeded(ValueError):
    """More points than the nodes hold."""

    def __init__(self, points: int, nodes: int, per_node: int) -> None:
        self.points = points
        self.nodes = nodes
        self.per_node = per_node
        self.nodes_needed = math.ceil(points / per_node)
        super().__init__(
            f"{points} points do not fit on {nodes} node(s) of {per_node} points each "
            f"(room for {nodes * per_node}); {self.nodes_needed} node(s) are needed"
        )


def _key(code: int | None) -> tuple[int, int]:
    # Codes in order, the points without that level after them.
    return (1, 0) if code is None else (0, code)


def _groups(points: Sequence[PlanPoint]) -> list[list[PlanPoint]]:
    """The points by (province, district), in code order; inside, by commune then id, so a
    district that has to be split is split between communes where it can be."""
    by_district: dict[tuple[int | None, int | None], list[PlanPoint]] = {}
    for p in points:
        by_district.setdefault((p.province_code, p.district_code), []).append(p)
    ordered = sorted(by_district, key=lambda k: (_key(k[0]), _key(k[1])))
    return [
        sorted(by_district[k], key=lambda p: (_key(p.commune_code), p.point_id)) for k in ordered
    ]


def assign_nodes(
    points: Sequence[PlanPoint], nodes: Sequence[str], per_node: int
) -> dict[int, str]:
    """``{point_id: node}``, at most ``per_node`` points a node, the root (``nodes[0]``)
    filled first.

    The districts, in code order, each go whole to the first node with room for all of it;
    a district that fits on no node's remaining room is split over the nodes in order. So
    nothing fails while the points fit at all. The district-level and province-level points
    of a province (centers) form one more group, and points by number another.

    Leaders are not points here: they join on the root. The root also carries one link leg
    per other node; leave room for those in ``per_node`` when it is a measured maximum.

    Raises ``CapacityExceeded`` (a ``ValueError``) when there are more points than
    ``per_node * len(nodes)``, and ``ValueError`` for no nodes, a repeated node or point.
    """
    if not nodes:
        raise ValueError("a plan needs at least one node (the root)")
    if len(set(nodes)) != len(nodes):
        raise ValueError(f"a node is named twice in {list(nodes)}")
    if per_node < 1:
        raise ValueError(f"per_node must be at least 1, not {per_node}")
    ids = [p.point_id for p in points]
    if len(set(ids)) != len(ids):
        raise ValueError("a point is listed twice")
    if len(points) > per_node * len(nodes):
        raise CapacityExceeded(len(points), len(nodes), per_node)

    room = dict.fromkeys(nodes, per_node)
    plan: dict[int, str] = {}
    for group in _groups(points):
        whole = next((n for n in nodes if room[n] >= len(group)), None)
        if whole is not None:
            plan.update((p.point_id, whole) for p in group)
            room[whole] -= len(group)
            continue
        rest = iter(group)
        for node in nodes:
            for _ in range(room[node]):
                p = next(rest, None)
                if p is None:
                    break
                plan[p.point_id] = node
                room[node] -= 1
    return plan


@dataclass(frozen=True)
class NodeLoad:
    node: str
    points: int
    districts: int  # (province, district) groups with at least one point on this node
    provinces: int

    def as_dict(self) -> dict[str, object]:
        return {
            "node": self.node,
            "points": self.points,
            "districts": self.districts,
            "provinces": self.provinces,
        }


@dataclass(frozen=True)
class PlanSummary:
    """The plan in figures. Two dial times, since the pacing can be either:

    - ``dial_s_shared``: one pacer for the whole conference (a gateway's limit): points / rate;
    - ``dial_s_per_node``: each node paces its own calls at the rate, in parallel: the
      busiest node's points / rate.

    Both are the time to start every first call, not to a final roll (add the ringing and the
    question's time, and the retries).
    """

    total: int
    per_node: int
    rate_per_s: float
    nodes: tuple[NodeLoad, ...]
    split_districts: int  # districts whose points are on more than one node
    dial_s_shared: float
    dial_s_per_node: float

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "per_node": self.per_node,
            "rate_per_s": self.rate_per_s,
            "nodes": [n.as_dict() for n in self.nodes],
            "split_districts": self.split_districts,
            "dial_s_shared": self.dial_s_shared,
            "dial_s_per_node": self.dial_s_per_node,
        }


def plan_summary(
    points: Sequence[PlanPoint], nodes: Sequence[str], per_node: int, *, rate_per_s: float
) -> PlanSummary:
    """How ``assign_nodes`` spreads ``points``, and how long dialling them takes at a rate.

    Raises like ``assign_nodes``; ``CapacityExceeded.nodes_needed`` says how many nodes would
    do.
    """
    if not rate_per_s > 0:
        raise ValueError(f"rate_per_s must be positive, not {rate_per_s}")
    plan = assign_nodes(points, nodes, per_node)
    by_id = {p.point_id: p for p in points}
    loads = []
    nodes_of_district: dict[tuple[int | None, int | None], set[str]] = {}
    for node in nodes:
        mine = [by_id[pid] for pid, n in plan.items() if n == node]
        districts = {(p.province_code, p.district_code) for p in mine}
        for d in districts:
            nodes_of_district.setdefault(d, set()).add(node)
        provinces = {p.province_code for p in mine}
        loads.append(NodeLoad(node, len(mine), len(districts), len(provinces)))
    busiest = max(load.points for load in loads)
    return PlanSummary(
        total=len(points),
        per_node=per_node,
        rate_per_s=float(rate_per_s),
        nodes=tuple(loads),
        split_districts=sum(1 for ns in nodes_of_district.values() if len(ns) > 1),
        dial_s_shared=len(points) / rate_per_s,
        dial_s_per_node=busiest / rate_per_s,
    )
