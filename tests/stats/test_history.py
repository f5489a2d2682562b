"""Historical statistics on the recorded day (tests/store/recorded_day.py), every figure
worked out by hand from its tables; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from hotline1022.settings import Settings
from stats.history import (
    AgentRow,
    QueueRow,
    StatsQueryError,
    agent_rows,
    align,
    parse_thresholds,
    queue_rows,
)
from stats.rollups import bucket_start, rebuild, refresh_buckets, vietnam_day_start
from store.db import Database
from store.models import (
    AgentStateChange,
    Call,
    CallStatus,
    agent_pause_stats,
    agent_stats,
    queue_stats,
)
from store.seed import ensure_agents
from tests.stats.recorded_day import DAY, NOW, load_recorded_day, vn

NEXT_DAY = DAY + timedelta(days=1)


@pytest.fixture
async def day(db: Database) -> dict[str, int]:
    ids = await load_recorded_day(db)
    # 30 April to 2 May: the day before holds P1, the day after nothing.
    await rebuild(db, DAY - timedelta(days=1), NEXT_DAY + timedelta(days=1), now=NOW)
    return ids


async def queues(db: Database, **kwargs: object) -> list[QueueRow]:
    async with db.session() as session:
        return await queue_rows(session, **kwargs)  # type: ignore[arg-type]


async def agents(db: Database, **kwargs: object) -> list[AgentRow]:
    async with db.session() as session:
        return await agent_rows(session, **kwargs)  # type: ignore[arg-type]


def by_category(rows: list[QueueRow]) -> dict[str | None, QueueRow]:
    return {row.category: row for row in rows}


def levels(row: QueueRow) -> dict[int, tuple[int, float | None]]:
    return {sl.seconds: (sl.answered_within, sl.value) for sl in row.service_levels}


# -- queues ---------------------------------------------------------------------------------


async def test_the_day_per_category(db: Database, day: dict[str, int]) -> None:
    rows = await queues(db, since=DAY, until=NEXT_DAY, interval="day")

    assert [r.category for r in rows] == ["medical", "food", "violation", "general"]
    assert all((r.start, r.end) == (DAY, NEXT_DAY) for r in rows)
    medical, food, violation, general = rows

    # Medical: M1–M7, M9, M10 offered (M8 is a repeat); answered M1 M2 M3 M5 M7 M10;
    # abandoned M4 (30 s) and M9 (exactly 5 s); short M6 (3 s).
    assert (medical.offered, medical.answered, medical.abandoned) == (9, 6, 2)
    assert (medical.short_abandoned, medical.callbacks, medical.repeats) == (1, 0, 1)
    # SL(15): M1 10, M2 14.5, M10 15.0 → 3 / (9 − 1); SL(20): + M3 18, M7 20.0 → 5 / 8.
    assert levels(medical) == {15: (3, 0.375), 20: (5, 0.625)}
    # ASA (10 + 14.5 + 18 + 25 + 20 + 15) / 6 = 102.5 / 6
    assert medical.asa_s == pytest.approx(102.5 / 6)
    # talk 120+200+90+60+150+100 = 720; wrap-up 30+30+20+20+10+15 = 125; AHT 845 / 6
    assert medical.aht_s == pytest.approx(845 / 6)
    assert medical.talk_s == pytest.approx(120)
    assert medical.wrapup_s == pytest.approx(125 / 6)
    assert medical.longest_wait_s == pytest.approx(30)  # M4; the repeat M8 does not count
    assert medical.abandon_rate == pytest.approx(2 / 9)

    # Food: F1–F8; answered F1 40, F2 8, F5 35, F7 2; abandoned F3 60, F8 12; short F4 4.9;
    # callback F6. SL(20): F2, F7 → 2 / (8 − 1). No wrap-up (agent03 has no states).
    assert (food.offered, food.answered, food.abandoned) == (8, 4, 2)
    assert (food.short_abandoned, food.callbacks, food.repeats) == (1, 1, 0)
    assert levels(food) == {20: (2, pytest.approx(2 / 7))}
    assert food.asa_s == pytest.approx(85 / 4)
    assert food.aht_s == pytest.approx(600 / 4)
    assert food.wrapup_s == 0
    assert food.longest_wait_s == pytest.approx(60)
    assert food.abandon_rate == pytest.approx(0.25)

    # Violation: V1 20.5, V2 0.5 answered; V3 short; V4 a repeat (its 30 s wait not counted).
    assert (violation.offered, violation.answered, violation.abandoned) == (3, 2, 0)
    assert (violation.short_abandoned, violation.repeats) == (1, 1)
    assert levels(violation) == {20: (1, 0.5)}
    assert violation.asa_s == pytest.approx(10.5)
    assert violation.aht_s == pytest.approx(172.5)
    assert violation.longest_wait_s == pytest.approx(20.5)
    assert violation.abandon_rate == 0

    # General: N1, with no category, from the operator queue, at 00:00:00.0 of the day.
    assert (general.offered, general.answered, general.asa_s, general.aht_s) == (1, 1, 3, 30)
    assert levels(general) == {20: (1, 1.0)}


async def test_the_day_before_holds_the_call_that_entered_at_23_59_59(
    db: Database, day: dict[str, int]
) -> None:
    rows = by_category(await queues(db, since=DAY - timedelta(days=1), until=DAY, interval="day"))

    assert (rows["medical"].offered, rows["medical"].answered) == (1, 1)
    assert rows["general"].offered == 0


async def test_quarter_hours_split_at_08_15_exactly(db: Database, day: dict[str, int]) -> None:
    rows = await queues(
        db, since=vn("08:00"), until=vn("08:30"), interval="15m", category="medical"
    )

    assert [(r.start, r.category) for r in rows] == [
        (vn("08:00"), "medical"),
        (vn("08:15"), "medical"),
    ]
    first, second = rows
    # 08:00: M1, M2, M3 answered and M4 at 08:14:59.9 abandoned; 08:15: M5 at 08:15:00.0, M6.
    assert (first.offered, first.answered, first.abandoned, first.short_abandoned) == (4, 3, 1, 0)
    assert (second.offered, second.answered, second.abandoned, second.short_abandoned) == (
        2,
        1,
        0,
        1,
    )
    # 08:00 SL(15): M1, M2 → 2 / 4; SL(20): + M3 → 3 / 4. 08:15: M5 waited 25 s → 0 / 1.
    assert levels(first) == {15: (2, 0.5), 20: (3, 0.75)}
    assert levels(second) == {15: (0, 0.0), 20: (0, 0.0)}


async def test_hours(db: Database, day: dict[str, int]) -> None:
    rows = await queues(db, since=vn("08:00"), until=vn("10:00"), interval="hour")

    medical = [r for r in rows if r.category == "medical"]
    assert [r.start for r in medical] == [vn("08:00"), vn("09:00")]
    eight, nine = medical
    # 08: M1–M7 offered, M8 a repeat; answered M1 M2 M3 M5 M7; SL over 7 − 1 (M6).
    assert (eight.offered, eight.answered, eight.abandoned, eight.short_abandoned) == (7, 5, 1, 1)
    assert eight.repeats == 1
    assert levels(eight) == {15: (2, pytest.approx(2 / 6)), 20: (4, pytest.approx(4 / 6))}
    # talk 120+200+90+60+150 = 620, wrap-up 30+30+20+20+10 = 110 → AHT 730 / 5
    assert eight.aht_s == pytest.approx(146)
    # 09: M9 abandoned after exactly 5 s, M10 answered at exactly 15 s.
    assert (nine.offered, nine.answered, nine.abandoned, nine.short_abandoned) == (2, 1, 1, 0)
    assert levels(nine) == {15: (1, 0.5), 20: (1, 0.5)}
    assert nine.longest_wait_s == pytest.approx(15)

    food = [r for r in rows if r.category == "food"]
    # 08: F1–F6 (F6 at 08:59:59.999, a callback); 09: F7, F8.
    assert [(r.offered, r.callbacks) for r in food] == [(6, 1), (2, 0)]


async def test_hours_add_up_to_the_day(db: Database, day: dict[str, int]) -> None:
    hours = await queues(db, since=DAY, until=NEXT_DAY, interval="hour", by="all")
    (whole,) = await queues(db, since=DAY, until=NEXT_DAY, interval="day", by="all")

    assert len(hours) == 24
    assert sum(r.offered for r in hours) == whole.offered == 21
    assert sum(r.answered for r in hours) == whole.answered == 13
    assert max(r.longest_wait_s or 0 for r in hours) == whole.longest_wait_s == 60


async def test_all_categories_with_chosen_thresholds(db: Database, day: dict[str, int]) -> None:
    (row,) = await queues(
        db, since=DAY, until=NEXT_DAY, interval="day", by="all", thresholds=[20, 10]
    )

    assert (row.category, row.queue) == (None, None)
    assert (row.offered, row.answered, row.abandoned, row.short_abandoned) == (21, 13, 4, 3)
    assert (row.callbacks, row.repeats) == (1, 2)
    # within 10 s: M1 (10.0), F2 8, F7 2, V2 0.5, N1 3 → 5 / (21 − 3);
    # within 20 s: M1 M2 M3 M7 M10, F2 F7, V2, N1 → 9 / 18
    assert levels(row) == {10: (5, pytest.approx(5 / 18)), 20: (9, 0.5)}
    # waits answered: medical 102.5 + food 85 + violation 21 + general 3 = 211.5 over 13
    assert row.asa_s == pytest.approx(211.5 / 13)
    assert row.abandon_rate == pytest.approx(4 / 21)


async def test_by_asterisk_queue(db: Database, day: dict[str, int]) -> None:
    rows = await queues(
        db, since=DAY, until=NEXT_DAY, interval="day", by="queue", category="medical"
    )

    assert [(r.category, r.queue) for r in rows] == [
        ("medical", "emergency"),
        ("medical", "medical"),
        ("medical", "medical-718"),
    ]
    emergency, medical, district = rows
    # emergency: M2 14.5, M7 20.0
    assert (emergency.offered, emergency.answered) == (2, 2)
    assert levels(emergency) == {15: (1, 0.5), 20: (2, 1.0)}
    # medical: M1, M4, M5, M6, M9, M10 (+ M8 a repeat)
    assert (medical.offered, medical.answered, medical.abandoned, medical.repeats) == (6, 3, 2, 1)
    # medical-718: M3 18 s
    assert levels(district) == {15: (0, 0.0), 20: (1, 1.0)}

    (only,) = await queues(db, since=DAY, until=NEXT_DAY, interval="day", queue="food-724")
    assert (only.category, only.offered, only.answered) == ("food", 2, 2)


async def test_empty_intervals_are_rows_of_zeros(db: Database, day: dict[str, int]) -> None:
    rows = await queues(
        db, since=vn("08:00"), until=vn("09:00"), interval="15m", category="violation"
    )

    assert [r.offered for r in rows] == [1, 1, 0, 0]  # V1 08:05, V2 08:25
    empty = rows[-1]
    assert empty.service_levels[0].value is None
    assert (empty.asa_s, empty.aht_s, empty.longest_wait_s, empty.abandon_rate) == (
        None,
        None,
        None,
        None,
    )

    june = await queues(db, since=vn("00:00", 1, 6), until=vn("00:00", 2, 6), interval="day")
    assert [(r.category, r.offered) for r in june] == [
        ("medical", 0),
        ("food", 0),
        ("violation", 0),
        ("general", 0),
    ]
    (nowhere,) = await queues(
        db, since=DAY, until=NEXT_DAY, interval="day", by="queue", queue="nowhere"
    )
    assert (nowhere.category, nowhere.queue, nowhere.offered) == ("general", "nowhere", 0)


# -- agents ---------------------------------------------------------------------------------


async def test_agents_over_the_day(db: Database, day: dict[str, int]) -> None:
    rows = {r.endpoint: r for r in await agents(db, since=DAY, until=NEXT_DAY, interval="day")}

    assert set(rows) == {"agent01", "agent02", "agent03"}
    a1, a2, a3 = rows["agent01"], rows["agent02"], rows["agent03"]
    # agent01: 07:50–09:50 logged in = 7200 s; idle 665+395+52+737+1020+300 = 3169;
    # ringing 5+3+3; talk 120+90+150; wrap-up 30+20+10; break 900 + meal 2700.
    assert a1.answered == 3
    assert (a1.logged_in_s, a1.idle_s, a1.ringing_s) == pytest.approx((7200, 3169, 11))
    assert (a1.talk_s, a1.wrapup_s, a1.paused_s) == pytest.approx((360, 60, 3600))
    assert a1.paused_by_reason == pytest.approx({"break": 900, "meal": 2700})
    assert a1.occupancy == pytest.approx(431 / 3600)
    # agent02: 07:55 to NOW (12:00), still logged in: 14,700 s; idle 610+375.5+795+302+2367
    # +8270 = 12,719.5; ringing 4.5+5+3+3; talk 200+60+30+100; wrap-up 30+20+10+15;
    # training 900, break 600. Answered M2, M5, M8 (a repeat, still their work), M10.
    assert a2.answered == 4
    assert (a2.logged_in_s, a2.idle_s, a2.ringing_s) == pytest.approx((14700, 12719.5, 15.5))
    assert (a2.talk_s, a2.wrapup_s, a2.paused_s) == pytest.approx((390, 75, 1500))
    assert a2.paused_by_reason == pytest.approx({"break": 600, "training": 900})
    assert a2.occupancy == pytest.approx(480.5 / 13200)
    # agent03 has no state rows: N1, P1 (answered 00:00:09 today), F1 F2 F5 F7, V1 V2.
    assert (a3.answered, a3.logged_in_s, a3.occupancy) == (8, 0, None)


async def test_a_pause_across_a_quarter_hour_edge(db: Database, day: dict[str, int]) -> None:
    rows = await agents(
        db,
        since=vn("07:45"),
        until=vn("08:30"),
        interval="15m",
        agent_id=day["agent01"],
    )

    assert [r.start for r in rows] == [vn("07:45"), vn("08:00"), vn("08:15")]
    before, first, second = rows
    assert (before.logged_in_s, before.idle_s, before.answered) == pytest.approx((600, 600, 0))
    # 08:00–08:15: idle 65+395+52, ringing 5+3, talk 120+90, wrap-up 30+20, break 08:13–08:15
    assert first.answered == 2
    assert (first.logged_in_s, first.idle_s, first.ringing_s) == pytest.approx((900, 512, 8))
    assert (first.talk_s, first.wrapup_s, first.paused_s) == pytest.approx((210, 50, 120))
    assert first.paused_by_reason == pytest.approx({"break": 120})
    assert first.occupancy == pytest.approx(268 / 780)
    # 08:15–08:30: break until 08:28 (780 s), then idle 120 s: available, not busy.
    assert second.paused_by_reason == pytest.approx({"break": 780})
    assert (second.idle_s, second.occupancy) == pytest.approx((120, 0))


async def test_agent_hours_and_the_agent_still_logged_in(db: Database, day: dict[str, int]) -> None:
    rows = await agents(db, since=vn("09:00"), until=vn("14:00"), interval="hour")

    a1 = [r for r in rows if r.endpoint == "agent01"]
    a2 = [r for r in rows if r.endpoint == "agent02"]
    # agent01: meal 09:00–09:45, idle, logged out at 09:50; nothing after.
    assert [r.start for r in a1] == [vn("09:00")]
    assert (a1[0].logged_in_s, a1[0].paused_s, a1[0].occupancy) == pytest.approx((3000, 2700, 0))
    # agent02 at 09: idle 1812 + 1070, ringing 3, talk 100, wrap-up 15, break 600.
    assert [r.start for r in a2] == [vn("09:00"), vn("10:00"), vn("11:00")]
    nine = a2[0]
    assert (nine.idle_s, nine.ringing_s, nine.talk_s, nine.wrapup_s) == pytest.approx(
        (2882, 3, 100, 15)
    )
    assert nine.occupancy == pytest.approx(118 / 3000)
    assert nine.answered == 1
    # Still logged in at the end: idle until NOW (12:00), no row for 12:00 onwards.
    assert [r.idle_s for r in a2[1:]] == pytest.approx([3600, 3600])


# -- building -------------------------------------------------------------------------------


async def table_rows(db: Database) -> dict[str, int]:
    async with db.session() as session:
        return {
            t.name: int(await session.scalar(select(func.count()).select_from(t)) or 0)
            for t in (queue_stats, agent_stats, agent_pause_stats)
        }


async def test_rebuild_twice_gives_the_same_figures(db: Database, day: dict[str, int]) -> None:
    before = await table_rows(db)
    figures = await queues(db, since=DAY, until=NEXT_DAY, interval="hour", by="queue")

    days = await rebuild(db, DAY, NEXT_DAY, now=NOW)

    assert days == 1
    assert await table_rows(db) == before
    assert await queues(db, since=DAY, until=NEXT_DAY, interval="hour", by="queue") == figures


async def test_refresh_buckets_takes_a_new_call_into_the_bucket_and_the_day(
    db: Database, day: dict[str, int]
) -> None:
    entered = vn("08:07")
    async with db.session() as session:
        session.add(
            Call(
                uniqueid="M11",
                linkedid="M11",
                caller_number="0912M11",
                arrived_at=entered - timedelta(seconds=30),
                queue_entered_at=entered,
                answered_at=entered + timedelta(seconds=9),
                ended_at=entered + timedelta(seconds=99),
                category="medical",
                queue="medical",
                status=CallStatus.ANSWERED.value,
                wait_s=9,
                talk_s=90,
                agent_id=day["agent03"],
                complete=True,
            )
        )
        await session.commit()
        refreshed = await refresh_buckets(session, [entered, entered], now=NOW)
        await session.commit()

    assert refreshed == [vn("08:00")]
    quarter = by_category(await queues(db, since=vn("08:00"), until=vn("08:15"), interval="15m"))[
        "medical"
    ]
    whole = by_category(await queues(db, since=DAY, until=NEXT_DAY, interval="day"))["medical"]
    assert (quarter.offered, quarter.answered) == (5, 4)
    # The day: 10 offered, SL(15) (3 + 1) / (10 − 1)
    assert (whole.offered, whole.answered) == (10, 7)
    assert levels(whole)[15] == (4, pytest.approx(4 / 9))


async def test_concurrent_writers_of_the_same_buckets_take_turns(
    db: Database, day: dict[str, int], database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time anyway")

    async def refresh() -> None:
        async with db.session() as session:
            await refresh_buckets(session, [vn("08:00"), vn("08:15"), vn("08:30")], now=NOW)
            await session.commit()

    await asyncio.gather(*(refresh() for _ in range(4)), rebuild(db, DAY, NEXT_DAY, now=NOW))

    medical = by_category(await queues(db, since=DAY, until=NEXT_DAY, interval="day"))["medical"]
    assert (medical.offered, medical.answered) == (9, 6)


async def test_wrapup_still_open_counts_until_now(db: Database) -> None:
    await ensure_agents(db, 1)
    t0 = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    async with db.session() as session:
        session.add(
            Call(
                uniqueid="W1",
                linkedid="W1",
                caller_number="0900",
                arrived_at=t0,
                queue_entered_at=t0,
                answered_at=t0 + timedelta(seconds=4),
                ended_at=t0 + timedelta(seconds=64),
                category="food",
                queue="food",
                status=CallStatus.ANSWERED.value,
                wait_s=4,
                talk_s=60,
                agent_id=1,
                complete=True,
            )
        )
        for offset, state in ((4, "on_call"), (64, "wrapup")):
            session.add(
                AgentStateChange(
                    agent_id=1, at=t0 + timedelta(seconds=offset), state=state, call_uniqueid="W1"
                )
            )
        await session.commit()
        await refresh_buckets(session, [t0], now=t0 + timedelta(seconds=71))
        await session.commit()

    rows = by_category(await queues(db, since=t0, until=t0 + timedelta(minutes=15), interval="15m"))
    assert rows["food"].aht_s == pytest.approx(60 + 7)


# -- parameters -----------------------------------------------------------------------------


def test_align_widens_to_whole_intervals() -> None:
    assert align(vn("08:07"), vn("09:01"), "15m") == (vn("08:00"), vn("09:15"))
    assert align(vn("08:07"), vn("09:00"), "hour") == (vn("08:00"), vn("09:00"))
    # Days are Vietnam days: 01:00 on 1 May in Vietnam is still 30 April in UTC.
    assert align(vn("01:00"), vn("02:00"), "day") == (DAY, NEXT_DAY)
    assert vietnam_day_start(vn("23:59:59.999")) == DAY
    assert bucket_start(vn("08:14:59.9")) == vn("08:00")
    assert bucket_start(vn("08:15:00")) == vn("08:15")


@pytest.mark.parametrize(
    ("since", "until", "interval", "message"),
    [
        (vn("09:00"), vn("08:00"), "hour", "until: must be after since"),
        (vn("08:00"), vn("08:00"), "hour", "until: must be after since"),
        (vn("08:00"), vn("09:00"), "week", "interval: must be one of 15m, hour, day"),
        (DAY, DAY + timedelta(days=8), "15m", "at most 7 (use interval=hour or day)"),
        (DAY, DAY + timedelta(days=63), "hour", "at most 62 (use interval=day)"),
        (DAY, DAY + timedelta(days=800), "day", "range too big for interval=day: 800 days"),
    ],
)
def test_align_refuses(since: datetime, until: datetime, interval: str, message: str) -> None:
    with pytest.raises(StatsQueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        align(since, until, interval)


def test_thresholds() -> None:
    assert parse_thresholds("20, 15") == (15, 20)
    with pytest.raises(StatsQueryError, match="31 s not supported"):
        parse_thresholds("15,31")
    with pytest.raises(StatsQueryError, match="whole seconds"):
        parse_thresholds("15s")
    with pytest.raises(StatsQueryError, match="at least one"):
        parse_thresholds(",")


def test_settings_refuse_thresholds_the_rollups_do_not_keep() -> None:
    assert Settings(sl_thresholds={"medical": [10], "*": [30]}).sl_thresholds["*"] == [30]
    with pytest.raises(ValidationError, match="thresholds: 31 s, 33 s not supported"):
        Settings(sl_thresholds={"medical": [33, 31], "*": [20]})
    with pytest.raises(ValidationError, match='needs "\\*"'):
        Settings(sl_thresholds={"medical": [15]})
