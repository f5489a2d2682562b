from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from ivr.ports import IvrStep
from pbx.events import parse_event
from queues.calls import CallTracker
from queues.history import CallHistory
from store.db import Database
from store.models import Call


async def test_last_district_within_the_window(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.session() as s:
        s.add_all(
            [
                Call(
                    uniqueid="1",
                    linkedid="1",
                    caller_number="0901",
                    status="answered",
                    arrived_at=now - timedelta(days=40),
                    district_code=718,
                ),
                Call(
                    uniqueid="2",
                    linkedid="2",
                    caller_number="0901",
                    status="answered",
                    arrived_at=now - timedelta(days=3),
                    district_code=724,
                ),
                Call(
                    uniqueid="3",
                    linkedid="3",
                    caller_number="0901",
                    status="answered",
                    arrived_at=now - timedelta(days=1),
                    district_code=None,
                ),
                Call(
                    uniqueid="4",
                    linkedid="4",
                    caller_number="0902",
                    status="answered",
                    arrived_at=now - timedelta(days=40),
                    district_code=718,
                ),
            ]
        )
        await s.commit()
    history = CallHistory(db, wait_s=30)
    assert await history.last_district("0901", 30) == 724
    assert await history.last_district("0902", 30) is None
    assert await history.last_district("0902", 60) == 718
    assert await history.last_district("0999", 30) is None


async def test_database_down_means_ask_again_not_fail() -> None:
    down = Database("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    try:
        assert await CallHistory(down).last_district("0901", 30) is None
    finally:
        await down.dispose()


async def test_a_database_that_hangs_does_not_hold_the_menu() -> None:
    """A server that accepts connections and never answers (a hung database): the menu
    goes on without the history after ``wait_s``, not after the driver's minute."""
    accepted: list[asyncio.StreamWriter] = []

    async def swallow(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.append(w)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/hung")
    try:
        history = CallHistory(db, wait_s=0.3)
        started = time.monotonic()
        assert await history.last_district("0901", 30) is None
        assert time.monotonic() - started < 0.6
        assert accepted  # it did reach the "database"
    finally:
        for w in accepted:
            w.close()
        server.close()
        await db.dispose()


# -- the recent callers' districts kept in memory ------------------------------------------

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def call(uid: str, number: str, days_ago: float, district: int | None, **kw: str) -> Call:
    return Call(
        uniqueid=uid,
        linkedid=uid,
        caller_number=number,
        status="answered",
        arrived_at=NOW - timedelta(days=days_ago),
        district_code=district,
        **kw,
    )


async def test_memory_answers_as_the_database_does_without_asking_it(db: Database) -> None:
    async with db.session() as s:
        s.add_all(
            [
                call("1", "0901", 40, 718),
                call("2", "0901", 3, 724),
                call("3", "0901", 1, None),
                call("4", "0902", 40, 718),
                call("5", "0903", 2, 726),
            ]
        )
        await s.commit()
    history = CallHistory(db, wait_s=30, clock=lambda: NOW)
    assert await history.load(30) == 2  # 0901, 0903: the window's callers with a district
    for number, days in [("0901", 30), ("0902", 30), ("0903", 30), ("0999", 30), ("0903", 1)]:
        database = await history._last_district(number, days)
        assert history.recall(number, days) == (True, database), (number, days)
    # A window older than what was loaded: only the database can say.
    assert history.recall("0902", 60) == (False, None)
    assert await history.last_district("0902", 60) == 718


async def test_a_new_district_is_the_answer_at_once_and_a_late_older_one_is_not(
    db: Database,
) -> None:
    async with db.session() as s:
        s.add(call("1", "0901", 3, 718))
        await s.commit()
    history = CallHistory(db, wait_s=30, clock=lambda: NOW)
    await history.load(30)
    assert history.recall("0901", 30) == (True, 718)
    tracker = CallTracker(db, on_district=history.remember)
    at = NOW.timestamp() - 60
    tracker.on_event(
        parse_event(
            {
                "Event": "Newchannel",
                "Timestamp": f"{at:.6f}",
                "Channel": "PJSIP/pstn-00000001",
                "Uniqueid": "9.1",
                "Linkedid": "9.1",
                "CallerIDNum": "0901",
                "CallerIDName": "",
                "Context": "citizens",
                "Exten": "1022",
            },
            at,
        )
    )
    tracker.ivr_step("9.1", IvrStep("aid_district", "district", "724", NOW))
    # Before the record is even written.
    assert history.recall("0901", 30) == (True, 724)
    await tracker.flush()
    assert await history._last_district("0901", 30) == 724  # the database agrees
    # A call older than the one remembered, recorded late, does not replace it.
    history.remember("0901", 718, NOW - timedelta(days=2))
    assert history.recall("0901", 30) == (True, 724)


async def test_a_number_evicted_from_memory_is_asked_of_the_database(db: Database) -> None:
    async with db.session() as s:
        s.add_all([call("1", "0901", 3, 718), call("2", "0902", 2, 719)])
        await s.commit()
    history = CallHistory(db, wait_s=30, max_numbers=2, clock=lambda: NOW)
    await history.load(30)
    assert history.recall("0999", 30) == (True, None)
    history.remember("0903", 720, NOW - timedelta(days=1))  # evicts 0901, the oldest
    assert len(history) == 2
    assert history.recall("0901", 30) == (False, None)
    assert await history.last_district("0901", 30) == 718
    # Still sure of numbers with no call since the evicted one's.
    assert history.recall("0999", 2) == (True, None)
    assert history.recall("0999", 30) == (False, None)


async def test_a_load_cut_at_the_bound_is_complete_only_after_its_oldest_call(
    db: Database,
) -> None:
    async with db.session() as s:
        s.add_all([call(str(i), f"09{i:02d}", i, 700 + i) for i in range(1, 6)])
        await s.commit()
    history = CallHistory(db, wait_s=30, max_numbers=3, clock=lambda: NOW)
    assert await history.load(30) == 3  # 0901-0903, the newest
    assert history.recall("0902", 30) == (True, 702)
    assert history.recall("0905", 30) == (False, None)
    assert await history.last_district("0905", 30) == 705
    assert history.recall("0999", 2) == (True, None)


async def test_not_loaded_means_the_database_answers(db: Database) -> None:
    async with db.session() as s:
        s.add(call("1", "0901", 3, 718))
        await s.commit()
    history = CallHistory(db, wait_s=30, clock=lambda: NOW)
    assert history.recall("0901", 30) == (False, None)
    assert await history.last_district("0901", 30) == 718


async def test_other_instances_calls_come_in_at_the_refresh(db: Database) -> None:
    clock = [NOW]
    history = CallHistory(db, instance="main", clock=lambda: clock[0])
    await history.load(30)
    async with db.session() as s:
        s.add(call("1", "0901", 0.01, 718, asterisk_instance="north"))
        await s.commit()
    assert history.recall("0901", 30) == (True, None)  # not told yet
    clock[0] = NOW + timedelta(seconds=30)
    assert await history.refresh() == 1
    assert history.recall("0901", 30) == (True, 718)
