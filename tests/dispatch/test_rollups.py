"""The figures from the rollups (``dispatch.rollups``) against the direct queries on the same
random incidents, SQLite and PostgreSQL: counts equal, medians within the stated error; and
the pure parts (blocks of days, bins, medians of a histogram) on their own."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dispatch import rollups
from dispatch.figures import (
    AreaFigures,
    TeamFigures,
    area_figures,
    area_figures_direct,
    team_figures,
    team_figures_direct,
)
from dispatch.filters import CLOSED_STATUSES, IncidentFilter
from dispatch.rollups import (
    MAX_LEVEL,
    MEDIAN_ABS_ERROR_S,
    MEDIAN_REL_ERROR,
    NBINS,
    DispatchRollupRefresher,
    bin_of,
    bin_value,
    blocks,
    day_of,
    day_start,
    median_of,
    refresh_days,
)
from store.db import Database
from store.models import Incident, IncidentStatus
from tests.dispatch.monitoring_world import World, build_world

S = IncidentStatus
NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def close_enough(got: float | None, exact: float | None) -> bool:
    if got is None or exact is None:
        return got is None and exact is None
    return abs(got - exact) <= max(MEDIAN_REL_ERROR * abs(exact), MEDIAN_ABS_ERROR_S) + 1e-9


# -- pure --------------------------------------------------------------------------------------


def test_blocks_cover_the_days_with_few_aligned_blocks() -> None:
    rng = random.Random(16)
    for _ in range(2000):
        a = rng.randrange(730_000, 740_000)
        b = a + rng.randrange(0, 800)
        got = blocks(a, b)
        days = [d for level, start in got for d in range(start, start + (1 << level))]
        assert days == list(range(a, b))
        assert all(start % (1 << level) == 0 and level <= MAX_LEVEL for level, start in got)
        assert len(got) <= 2 * (MAX_LEVEL + 1) + (b - a) // (1 << MAX_LEVEL)


def test_a_bin_stands_for_its_values_within_the_error() -> None:
    rng = random.Random(1022)
    values = [0.0, 0.05, 0.1, 1.0, 59.999, 60.0, 86400.0, 99 * 86400.0]
    values += [rng.expovariate(1 / 600) for _ in range(5000)]
    for v in values:
        assert close_enough(bin_value(bin_of(v)), v), v
    assert bin_of(10**9) == NBINS - 1


@pytest.mark.parametrize("n", [1, 2, 3, 10, 101, 1000])
def test_median_of_a_histogram(n: int) -> None:
    rng = random.Random(n)
    values = [20 + rng.expovariate(1 / 90) for _ in range(n)]
    counts = [0] * NBINS
    for v in values:
        counts[bin_of(v)] += 1
    assert close_enough(median_of(counts), statistics.median(values))
    assert median_of([0] * NBINS) is None


def test_days_are_vietnam_days() -> None:
    d = day_of(datetime(2024, 4, 30, 17, 0, tzinfo=UTC))  # 1 May 00:00 in Vietnam
    assert day_of(datetime(2024, 4, 30, 16, 59, 59, tzinfo=UTC)) == d - 1
    assert day_start(d) == datetime(2024, 4, 30, 17, 0, tzinfo=UTC)


# -- against the direct queries ----------------------------------------------------------------


async def random_incidents(db: Database, world: World, rng: random.Random, n: int) -> None:
    """``n`` incidents over the 40 days before NOW: most closed, some still open, some
    closed with no ``closed_at``; teams and places of the world, escalations."""
    communes = [world.places[k] for k in ("25741", "25747", "25942")]
    places = [*communes, world.places["718"]]
    team_of = {p.id: world.teams[k] for k, p in world.places.items() if k in world.teams}
    centers = [world.teams["718"], world.teams["724"], world.teams["province"]]
    async with db.session() as session:
        for i in range(n):
            place = rng.choice(places)
            created = NOW - timedelta(seconds=rng.uniform(0, 40 * 86400))
            first = team_of.get(place.id) if rng.random() < 0.95 else None
            escalated = rng.random() < 0.1
            taker = rng.choice(centers) if escalated else first
            status = rng.choices(
                [S.RESOLVED, S.CANCELLED, S.ACKNOWLEDGED, S.DISPATCHED, S.NEW],
                [80, 6, 6, 5, 3],
            )[0]
            acked = status in (S.RESOLVED, S.ACKNOWLEDGED) or (
                status == S.CANCELLED and rng.random() < 0.5
            )
            if not acked:
                taker = None
            ack_s = round(
                rng.uniform(0, 3) if rng.random() < 0.05 else 20 + rng.expovariate(1 / 90), 3
            )
            resolve_s = round(600 + rng.expovariate(1 / 2400), 3)
            closed = status in CLOSED_STATUSES
            closed_at = created + timedelta(seconds=resolve_s) if closed else None
            if closed and rng.random() < 0.03:
                closed_at = None  # an old row without it
            session.add(
                Incident(
                    caller_number=f"09{i:08d}",
                    category=rng.choice(["medical", "food", "violation"]),
                    urgency=rng.choice(["critical", "urgent", "normal"]),
                    place_id=place.id,
                    place_path=place.path,
                    status=status,
                    team_id=(taker or first).id if (taker or first) else None,
                    escalation=1 if escalated else 0,
                    created_at=created,
                    updated_at=created,
                    acknowledged_at=created + timedelta(seconds=ack_s) if acked else None,
                    resolved_at=closed_at if status == S.RESOLVED else None,
                    closed_at=closed_at,
                    first_team_id=first.id if first else None,
                    acknowledged_by_team_id=taker.id if taker else None,
                    ack_s=ack_s if acked else None,
                    resolve_s=resolve_s if status == S.RESOLVED else None,
                )
            )
        await session.commit()


def team_key(r: TeamFigures) -> tuple[Any, ...]:
    return (r.team_id, r.dispatched, r.escalated, r.taken, r.resolved, r.cancelled, r.open)


def area_key(r: AreaFigures) -> tuple[Any, ...]:
    place = r.place.id if r.place else None
    return (place, r.teams, r.incidents, r.taken, r.resolved, r.cancelled, r.open, r.escalated)


async def compare(db: Database, world: World, f: IncidentFilter) -> bool:
    """The figures both ways are the same; True when the rollups served the teams'."""
    async with db.session() as session:
        served = await rollups.rolled(session, f, ("taker", "first")) is not None
        teams, teams_direct = await team_figures(session, f), await team_figures_direct(session, f)
        assert [team_key(r) for r in teams] == [team_key(r) for r in teams_direct]
        for got, exact in zip(teams, teams_direct, strict=True):
            assert close_enough(got.ack_median_s, exact.ack_median_s)
            assert close_enough(got.resolve_median_s, exact.resolve_median_s)
        for within in (None, world.places["718"]):
            g = IncidentFilter(
                under=within.path if within else f.under, since=f.since, until=f.until
            )
            report = await area_figures(session, g, within=within)
            direct = await area_figures_direct(session, g, within=within)
            rows, direct_rows = [*report.rows, report.total], [*direct.rows, direct.total]
            assert [area_key(r) for r in rows] == [area_key(r) for r in direct_rows]
            for got_a, exact_a in zip(rows, direct_rows, strict=True):
                assert close_enough(got_a.ack_median_s, exact_a.ack_median_s)
                assert close_enough(got_a.resolve_median_s, exact_a.resolve_median_s)
    return served


async def test_rollups_give_the_direct_figures(db: Database) -> None:
    world = await build_world(db, now=NOW)
    rng = random.Random(16)
    await random_incidents(db, world, rng, 400)
    today = day_of(NOW)
    async with db.session() as session:
        # Rolled as of NOW; one day left out (a gap: those ranges are read directly).
        done = await refresh_days(session, [d for d in range(today - 45, today + 1)], now=NOW)
        await session.commit()
    assert done == list(range(today - 45, today))

    # Incidents closed after the rollups were made, and one opened: read live.
    async with db.session() as session:
        open_ones = list(
            await session.scalars(
                Incident.__table__.select()
                .with_only_columns(Incident.id)
                .where(Incident.status.in_([S.ACKNOWLEDGED, S.DISPATCHED]))
            )
        )
        later = NOW + timedelta(minutes=5)
        for incident_id in open_ones[: len(open_ones) // 2]:
            incident = await session.get(Incident, incident_id)
            assert incident is not None
            incident.status, incident.closed_at = S.CANCELLED, later
        await session.commit()

    ranges = [
        (NOW - timedelta(days=30), NOW),  # partial first day, today live
        (NOW - timedelta(days=39, hours=5), NOW - timedelta(days=2, hours=7)),
        (day_start(today - 1) + timedelta(hours=3), NOW),  # no whole rolled day: direct
    ]
    served = [await compare(db, world, IncidentFilter(since=a, until=b)) for a, b in ranges]
    assert served == [True, True, False]
    # A place filter: the areas from the rollups, the teams directly.
    under = IncidentFilter(under=world.places["724"].path, since=ranges[0][0], until=NOW)
    assert not await compare(db, world, under)

    # After a refresh the closed ones are in the rollups, and the figures are the same.
    refresher = DispatchRollupRefresher(db, clock=lambda: NOW + timedelta(minutes=10))
    refreshed = await refresher.refresh_due()
    assert refreshed  # the days of the incidents closed later
    assert await compare(db, world, IncidentFilter(since=ranges[0][0], until=NOW))
