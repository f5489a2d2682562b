"""The monitoring queries on the world of tests/dispatch/monitoring_world.py (its tables
say what each incident is); every expected figure is worked by hand there or here, and the
same figures must come out of SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from dispatch.figures import AreaFigures, TeamFigures, area_figures, team_figures
from dispatch.filters import IncidentFilter, team_place
from dispatch.monitoring import OpenPage, Summary, open_incidents, open_summary
from store.db import Database
from store.models import Place
from tests.dispatch.monitoring_world import DAY_START, NOW, World, build_world

DAY = {"since": DAY_START, "until": NOW}


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


# -- teams -------------------------------------------------------------------------------------


def team_rows(world: World, rows: list[TeamFigures]) -> dict[str, tuple[Any, ...]]:
    key = {team.id: k for k, team in world.teams.items()}
    return {
        key[r.team_id]: (
            r.dispatched,
            r.escalated,
            r.taken,
            r.resolved,
            r.cancelled,
            r.open,
            r.ack_median_s,
            r.resolve_median_s,
        )
        for r in rows
    }


async def test_team_figures_over_the_day(db: Database, world: World) -> None:
    async with db.session() as session:
        rows = await team_figures(session, IncidentFilter(**DAY))

    # (dispatched, escalated, taken, resolved, cancelled, open, ack median, resolve median)
    assert team_rows(world, rows) == {
        # Took G5 (ack 120 s, resolved in 2400 s) after Phú Cường let it escalate.
        "718": (0, 0, 1, 1, 0, 0, 120.0, 2400.0),
        # First for G1–G4, A, F = 6, F escalated; took G1–G4 (G8 is the day before):
        # ack 30, 60, 90, 600 → (60 + 90) / 2 = 75; resolved G1–G3: 1200, 1800, 3000 → 1800.
        "25741": (6, 1, 4, 3, 1, 0, 75.0, 1800.0),
        # First for G5 (escalated) and E; took E (ack 40 s), still open.
        "25747": (2, 1, 1, 0, 0, 1, 40.0, None),
        # First for G6, G7, C, D; took G6, G7, C: ack 15, 45, 120 → 45; resolved 600, 900 → 750.
        "25942": (4, 0, 3, 2, 0, 1, 45.0, 750.0),
    }
    # By place: the district center, its communes' teams, then the other district.
    assert [r.team_id for r in rows] == [
        world.teams[k].id for k in ("718", "25741", "25747", "25942")
    ]
    first = rows[0]
    assert (first.team_name, first.kind) == ("Trung tâm điều hành Thủ Dầu Một", "center")
    assert first.place is not None and first.place.code == 718


async def test_team_figures_by_category_place_and_range(db: Database, world: World) -> None:
    async with db.session() as session:
        medical = await team_figures(session, IncidentFilter(category="medical", **DAY))
        di_an = await team_figures(session, IncidentFilter(under=world.places["724"].path, **DAY))
        # 30 April 17:00 UTC and before: only G8.
        before = await team_figures(session, IncidentFilter(until=DAY_START))
        nothing = await team_figures(session, IncidentFilter(since=NOW))

    rows = team_rows(world, medical)
    # Hiệp Thành, medical: first for G1, G3, G4, A, F (5, F escalated); took G1, G3, G4:
    # ack 30, 60, 600 → 60; resolved G1, G3: 1200, 1800 → 1500.
    assert rows["25741"] == (5, 1, 3, 2, 1, 0, 60.0, 1500.0)
    # Dĩ An, medical: G7 and C (G6 is a violation, D too): ack 15, 120 → 67.5; resolved 600.
    assert rows["25942"] == (2, 0, 2, 1, 0, 1, 67.5, 600.0)
    assert team_rows(world, di_an) == {"25942": (4, 0, 3, 2, 0, 1, 45.0, 750.0)}
    assert team_rows(world, before) == {"25741": (1, 0, 1, 1, 0, 0, 9999.0, 9999.0)}
    assert nothing == []


# -- districts ---------------------------------------------------------------------------------


def area_rows(rows: list[AreaFigures]) -> dict[str | None, tuple[Any, ...]]:
    return {
        (r.place.name if r.place else None): (
            r.teams,
            r.incidents,
            r.taken,
            r.resolved,
            r.cancelled,
            r.open,
            r.escalated,
            r.ack_median_s,
            r.resolve_median_s,
        )
        for r in rows
    }


async def test_district_figures_over_the_day(db: Database, world: World) -> None:
    async with db.session() as session:
        report = await area_figures(session, IncidentFilter(**DAY))

    assert report.level == "district"
    # (teams, incidents, taken, resolved, cancelled, open, escalated, ack median, resolve median)
    assert area_rows([*report.rows, report.total]) == {
        # G1–G5, A, B, E, F = 9; taken G1–G5, E = 6; resolved G1, G2, G3, G5; cancelled G4;
        # open A, B, E, F; escalated G5, F. ack 30, 40, 60, 90, 120, 600 → (60 + 90) / 2 = 75;
        # resolve 1200, 1800, 2400, 3000 → (1800 + 2400) / 2 = 2100. Teams: center, 2 communes.
        "Thành phố Thủ Dầu Một": (3, 9, 6, 4, 1, 4, 2, 75.0, 2100.0),
        # G6, G7, C, D; taken G6, G7, C: ack 15, 45, 120 → 45; resolve 600, 900 → 750.
        "Thành phố Dĩ An": (2, 4, 3, 2, 0, 2, 0, 45.0, 750.0),
        # 13 incidents, 9 taken: ack 15, 30, 40, 45, 60, 90, 120, 120, 600 → the 5th, 60;
        # resolve 600, 900, 1200, 1800, 2400, 3000 → (1200 + 1800) / 2 = 1500.
        # Teams: the rows' (the province center sits above them).
        None: (5, 13, 9, 6, 1, 6, 2, 60.0, 1500.0),
    }


async def test_commune_figures_of_a_district_and_filters(db: Database, world: World) -> None:
    d1 = world.places["718"]
    async with db.session() as session:
        report = await area_figures(session, IncidentFilter(under=d1.path, **DAY), within=d1)
        food = await area_figures(session, IncidentFilter(category="food", **DAY))

    assert report.level == "commune"
    assert area_rows([*report.rows, report.total]) == {
        # G1–G4, A, F; taken G1–G4: ack 30, 60, 90, 600 → 75; resolve 1200, 1800, 3000 → 1800.
        "Phường Hiệp Thành": (1, 6, 4, 3, 1, 2, 1, 75.0, 1800.0),
        # G5, B, E; taken G5, E: ack 40, 120 → 80; resolved G5 in 2400.
        "Phường Phú Cường": (1, 3, 2, 1, 0, 2, 1, 80.0, 2400.0),
        None: (2, 9, 6, 4, 1, 4, 2, 75.0, 2100.0),
    }
    # Food: G2 (Hiệp Thành, ack 90, resolved in 3000) and B (Phú Cường, new).
    assert area_rows([*food.rows, food.total]) == {
        "Thành phố Thủ Dầu Một": (3, 2, 1, 1, 0, 1, 0, 90.0, 3000.0),
        "Thành phố Dĩ An": (2, 0, 0, 0, 0, 0, 0, None, None),
        None: (5, 2, 1, 1, 0, 1, 0, 90.0, 3000.0),
    }


# -- places ------------------------------------------------------------------------------------


async def test_the_place_a_team_user_watches_is_its_team_s(db: Database, world: World) -> None:
    async with db.session() as session:
        center = await team_place(session, world.teams["718"].id)
        assert center is not None and center.id == world.places["718"].id
        commune = await team_place(session, world.teams["25942"].id)
        assert commune is not None and commune.code == 25942
        assert await team_place(session, 10_000) is None
