"""The figures over a range (per team, per district) on the world of
tests/dispatch/monitoring_world.py (its tables say what each incident is); every expected
figure is worked by hand there or here, and the same figures, medians included, must come
out of SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from dispatch.figures import AreaFigures, TeamFigures, area_figures, team_figures
from dispatch.filters import IncidentFilter
from store.db import Database
from tests.dispatch.monitoring_world import DAY_START, NOW, World, build_world

DAY = {"since": DAY_START, "until": NOW}


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)


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
