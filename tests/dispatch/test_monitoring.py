"""The live board's queries (open incidents, the summary) on the world of
tests/dispatch/monitoring_world.py (its tables say what each incident is); every expected
figure is worked by hand there or here, and the same figures must come out of SQLite and
PostgreSQL. The figures over a range are in test_figures.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from dispatch.filters import IncidentFilter
from dispatch.monitoring import OpenPage, Summary, open_incidents, open_summary
from store.db import Database
from store.models import Place
from tests.dispatch.monitoring_world import NOW, World, build_world


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)


async def page(db: Database, world: World, limit: int = 50, offset: int = 0, **f: Any) -> OpenPage:
    async with db.session() as session:
        return await open_incidents(
            session, IncidentFilter(**f), now=NOW, limit=limit, offset=offset
        )


def names(world: World, result: OpenPage) -> list[str]:
    return [world.name(item.incident.id) for item in result.items]


def under(world: World, code: str) -> str:
    return world.places[code].path


# -- open incidents ----------------------------------------------------------------------------


async def test_overdue_first_most_overdue_first_then_urgency_then_age(
    db: Database, world: World
) -> None:
    result = await page(db, world)

    # Overdue: B (due 09:30, 1800 s late) before A (due 09:55, 300 s). Then the others by
    # urgency: E critical; F (08:00) and C (09:40) urgent, oldest first; D normal.
    assert names(world, result) == ["B", "A", "E", "F", "C", "D"]
    assert (result.total, result.overdue) == (6, 2)
    first, second = result.items[:2]
    assert (first.overdue, first.overdue_s, first.age_s) == (True, 1800.0, 3600.0)
    assert (second.overdue, second.overdue_s, second.age_s) == (True, 300.0, 600.0)
    # C's deadline passed too, but it was acknowledged: not overdue.
    c = next(i for i in result.items if i.incident.id == world.incidents["C"])
    assert (c.overdue, c.overdue_s) == (False, None)


async def test_each_open_incident_carries_its_places_and_team(db: Database, world: World) -> None:
    result = await page(db, world)
    by_name = {world.name(i.incident.id): i for i in result.items}

    a, b, f = by_name["A"], by_name["B"], by_name["F"]
    assert a.commune is not None and a.district is not None
    assert (a.commune.code, a.commune.name) == (25741, "Phường Hiệp Thành")
    assert (a.district.code, a.district.name) == (718, "Thành phố Thủ Dầu Một")
    assert a.place == a.commune
    assert a.team_name == "Tổ phản ứng nhanh Hiệp Thành"
    assert b.team_name is None  # not dispatched yet
    assert f.team_name == "Trung tâm điều hành Thủ Dầu Một"  # escalated to the district
    assert f.incident.escalation == 1


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        # Dĩ An district: C urgent before D normal, neither overdue.
        ({"under": "724"}, ["C", "D"]),
        # A commune: Hiệp Thành holds A (overdue) and F.
        ({"under": "25741"}, ["A", "F"]),
        # The province is everything.
        ({"under": "74"}, ["B", "A", "E", "F", "C", "D"]),
        ({"statuses": ("dispatched",)}, ["A", "F", "D"]),
        ({"statuses": ("new", "en_route")}, ["B", "E"]),
        ({"category": "medical"}, ["A", "E", "F", "C"]),
        ({"urgency": "critical"}, ["A", "E"]),
        ({"team": "718"}, ["F"]),
        ({"team": "25942"}, ["C", "D"]),
        ({"overdue_only": True}, ["B", "A"]),
        # Created in [09:40, 09:58): C (09:40), A (09:50), D (09:55); not E (09:58).
        ({"since": 9 * 60 + 40, "until": 9 * 60 + 58}, ["A", "C", "D"]),
        ({"under": "724", "category": "violation"}, ["D"]),
    ],
)
async def test_filters(
    db: Database, world: World, filters: dict[str, Any], expected: list[str]
) -> None:
    f = dict(filters)
    if "under" in f:
        f["under"] = under(world, f["under"])
    if "team" in f:
        f["team_id"] = world.teams[f.pop("team")].id
    for edge in ("since", "until"):
        if edge in f:
            f[edge] = NOW.replace(hour=0) + timedelta(minutes=f[edge])

    result = await page(db, world, **f)

    assert names(world, result) == expected
    assert result.total == len(expected)


async def test_a_team_sees_under_its_place_and_what_it_holds_elsewhere(
    db: Database, world: World
) -> None:
    # Dĩ An's commune holds C and D; the Hiệp Thành team holds A (F is with the center).
    result = await page(db, world, under=under(world, "25942"), or_held_by=world.teams["25741"].id)

    assert names(world, result) == ["A", "C", "D"]
    assert (result.total, result.overdue) == (3, 1)


async def test_pages_keep_the_order_and_the_totals(db: Database, world: World) -> None:
    result = await page(db, world, limit=2, offset=1)

    assert names(world, result) == ["A", "E"]
    assert (result.total, result.overdue) == (6, 2)
    assert names(world, await page(db, world, limit=50, offset=6)) == []


async def test_a_place_with_no_incidents_and_closed_statuses_list_nothing(
    db: Database, world: World
) -> None:
    async with db.session() as session:
        session.add(
            Place(parent_id=None, level="province", depth=0, code=1, name="Hà Nội", path="/999/")
        )
        await session.commit()

    assert (await page(db, world, under="/999/")).total == 0
    assert (await page(db, world, statuses=("resolved",))).total == 0


# -- summary -----------------------------------------------------------------------------------


def counts(summary: Summary) -> dict[str | None, tuple[dict[str, int], int, int]]:
    return {
        (row.place.name if row.place else None): (
            {k: v for k, v in row.counts.items() if v},
            row.open,
            row.overdue,
        )
        for row in [*summary.rows, summary.total]
    }


async def test_summary_per_district(db: Database, world: World) -> None:
    async with db.session() as session:
        summary = await open_summary(session, IncidentFilter(), now=NOW)

    assert summary.level == "district"
    assert [row.place.code for row in summary.rows if row.place] == [718, 724]
    # Thủ Dầu Một: A, F dispatched (A overdue), B new (overdue), E en route.
    # Dĩ An: C acknowledged, D dispatched.
    assert counts(summary) == {
        "Thành phố Thủ Dầu Một": ({"new": 1, "dispatched": 2, "en_route": 1}, 4, 2),
        "Thành phố Dĩ An": ({"dispatched": 1, "acknowledged": 1}, 2, 0),
        None: ({"new": 1, "dispatched": 3, "acknowledged": 1, "en_route": 1}, 6, 2),
    }
    assert list(summary.total.counts) == [
        "new",
        "dispatched",
        "acknowledged",
        "en_route",
        "on_scene",
    ]


async def test_summary_per_commune_of_a_district_and_with_filters(
    db: Database, world: World
) -> None:
    d1 = world.places["718"]
    async with db.session() as session:
        summary = await open_summary(session, IncidentFilter(under=d1.path), now=NOW, within=d1)
        medical = await open_summary(
            session, IncidentFilter(under=d1.path, category="medical"), now=NOW, within=d1
        )
        commune = world.places["25747"]
        leaf = await open_summary(
            session, IncidentFilter(under=commune.path), now=NOW, within=commune
        )

    assert summary.level == "commune"
    # Hiệp Thành: A (overdue), F dispatched. Phú Cường: B new (overdue), E en route.
    assert counts(summary) == {
        "Phường Hiệp Thành": ({"dispatched": 2}, 2, 1),
        "Phường Phú Cường": ({"new": 1, "en_route": 1}, 2, 1),
        None: ({"new": 1, "dispatched": 2, "en_route": 1}, 4, 2),
    }
    # Medical only: A, F at Hiệp Thành, E at Phú Cường (B is food).
    assert counts(medical) == {
        "Phường Hiệp Thành": ({"dispatched": 2}, 2, 1),
        "Phường Phú Cường": ({"en_route": 1}, 1, 0),
        None: ({"dispatched": 2, "en_route": 1}, 3, 1),
    }
    # A commune has no children: its own row.
    assert counts(leaf) == {
        "Phường Phú Cường": ({"new": 1, "en_route": 1}, 2, 1),
        None: ({"new": 1, "en_route": 1}, 2, 1),
    }
