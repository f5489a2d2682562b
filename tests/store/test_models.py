"""Rows round-trip on both databases: Unicode names, aware UTC timestamps, constraints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import ColumnElement, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from store.categories import Category
from store.db import Database
from store.models import Agent, Call, CallStatus, Role, Route, User

HANOI = timezone(timedelta(hours=7))


def make_call(**overrides: object) -> Call:
    fields: dict[str, object] = {
        "uniqueid": "1716526800.1",
        "linkedid": "1716526800.1",
        "caller_number": "0912345678",
        "caller_name": "Nguyễn Thị Ánh Tuyết",
        "arrived_at": datetime(2024, 5, 24, 8, 0, tzinfo=HANOI),
        "status": CallStatus.QUEUED,
    }
    fields.update(overrides)
    return Call(**fields)


async def test_call_round_trips_with_a_vietnamese_name(db: Database) -> None:
    async with db.session() as session:
        agent = Agent(endpoint="agent07", name="Trần Văn Đức")
        session.add(agent)
        await session.flush()
        session.add(
            make_call(
                answered_at=datetime(2024, 5, 24, 1, 0, 30, 250_000, tzinfo=UTC),
                ivr_choice="1",
                category=Category.MEDICAL,
                priority=10,
                route=Route.IVR,
                queue="q-medical",
                agent_id=agent.id,
                agent_endpoint="agent07",
                status=CallStatus.ANSWERED,
                wait_s=30.25,
                talk_s=95.5,
                hangup_cause="16",
                complete=True,
            )
        )
        await session.commit()

    async with db.session() as session:
        call = await session.scalar(select(Call))

    assert call is not None
    assert call.caller_name == "Nguyễn Thị Ánh Tuyết"
    assert (call.category, call.route, call.status) == ("medical", "ivr", "answered")
    assert (call.wait_s, call.talk_s, call.priority, call.complete) == (30.25, 95.5, 10, True)
    assert call.answered_at == datetime(2024, 5, 24, 1, 0, 30, 250_000, tzinfo=UTC)
    assert call.queue_entered_at is None


async def test_timestamps_come_back_aware_in_utc(db: Database) -> None:
    async with db.session() as session:
        session.add(make_call(arrived_at=datetime(2024, 5, 24, 8, 0, tzinfo=HANOI)))
        await session.commit()

    async with db.session() as session:
        call = await session.scalar(select(Call))

    assert call is not None
    for value in (call.arrived_at, call.updated_at):
        assert value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)
    assert call.arrived_at == datetime(2024, 5, 24, 1, 0, tzinfo=UTC)


async def test_filters_compare_instants_not_wall_clock_text(db: Database) -> None:
    # 08:00 in Hà Nội is 01:00 UTC: bounds given in other offsets must compare as instants.
    plus2 = timezone(timedelta(hours=2))
    async with db.session() as session:
        session.add(make_call(arrived_at=datetime(2024, 5, 24, 8, 0, tzinfo=HANOI)))
        await session.commit()

        async def count(*where: ColumnElement[bool]) -> int:
            return len((await session.scalars(select(Call).where(*where))).all())

        assert await count(Call.arrived_at >= datetime(2024, 5, 24, 7, 30, tzinfo=HANOI)) == 1
        assert await count(Call.arrived_at < datetime(2024, 5, 24, 3, 30, tzinfo=plus2)) == 1
        assert await count(Call.arrived_at < datetime(2024, 5, 24, 2, 30, tzinfo=plus2)) == 0
        assert await count(Call.arrived_at == datetime(2024, 5, 24, 1, 0, tzinfo=UTC)) == 1


async def test_naive_timestamps_are_refused(db: Database) -> None:
    async with db.session() as session:
        session.add(make_call(arrived_at=datetime(2024, 5, 24, 8, 0)))
        with pytest.raises(StatementError, match="naive datetime"):
            await session.commit()


async def test_unique_uniqueid(db: Database) -> None:
    async with db.session() as session:
        session.add(make_call())
        await session.commit()
        session.add(make_call(linkedid="other"))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_foreign_keys_are_enforced(db: Database) -> None:
    # On SQLite only because Database turns the pragma on for every connection.
    async with db.session() as session:
        session.add(make_call(agent_id=999))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_defaults(db: Database) -> None:
    async with db.session() as session:
        agent = Agent(endpoint="agent01", name="Tổng đài viên 01")
        session.add(agent)
        await session.flush()
        session.add(User(name="Lê Hoàng", role=Role.AGENT, agent_id=agent.id))
        await session.commit()

    async with db.session() as session:
        stored_agent = await session.scalar(select(Agent))
        user = await session.scalar(select(User))

    assert stored_agent is not None and user is not None
    assert (stored_agent.logged_in, stored_agent.logged_in_at) == (False, None)
    assert stored_agent.created_at.tzinfo is not None
    assert (user.name, user.active) == ("Lê Hoàng", True)


async def test_server_defaults_apply_to_raw_inserts(db: Database) -> None:
    # Other writers (SQL consoles, later migrations) may not go through the ORM.
    async with db.session() as session:
        await session.execute(
            text(
                "INSERT INTO agents (endpoint, name, created_at) "
                "VALUES ('agent09', 'Tổng đài viên 09', CURRENT_TIMESTAMP)"
            )
        )
        await session.commit()
        agent = await session.scalar(select(Agent))

    assert agent is not None and agent.logged_in is False
