"""The service's rebuild after an AMI (re)connect, against the fake AMI server: step by
step, and shown in ``GET /health``; and the second process refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select, update

from hotline1022.service import Hotline
from hotline1022.settings import Settings
from queues.calls import UNSEEN_CAUSE
from store.lock import AlreadyRunning
from store.migrate import upgrade_async
from store.models import Agent, Call
from store.seed import ensure_agents
from tests.pbx.fake_ami import FakeAmi

ALIVE = "1700000000.0"  # the fake AMI's one channel


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    server = FakeAmi()
    await server.start()
    yield server
    await server.stop()


def settings(tmp_path: Path, database_url: str, ami: FakeAmi) -> Settings:
    return Settings(
        state_dir=tmp_path,
        database_url=database_url,
        ami_port=ami.port,
        ami_username=ami.username,
        ami_secret=ami.secret,
        agi_secret="test-agi-secret",
        dispatch_secret="test-dispatch-secret",
        rebuild_attempts=2,
    )


@pytest.fixture
async def hotline(tmp_path: Path, database_url: str, ami: FakeAmi) -> AsyncIterator[Hotline]:
    await upgrade_async(database_url)
    h = Hotline(settings(tmp_path, database_url, ami))
    h.rebuild.first_delay_s = 0.01
    yield h
    await h.link.close()
    await h.db.dispose()


async def test_a_failing_queue_add_does_not_stop_the_call_reconciliation(
    hotline: Hotline,
) -> None:
    """The fake Asterisk lacks the routing's queues: every QueueAdd of the agents' restore
    fails. The calls are reconciled all the same, and /health says which step failed."""
    db = hotline.db
    await ensure_agents(db, 2)
    async with db.session() as s:
        await s.execute(update(Agent).values(logged_in=True))
        now = datetime.now(UTC)
        for uid in (ALIVE, "gone.1"):
            s.add(
                Call(
                    uniqueid=uid,
                    linkedid=uid,
                    caller_number="0901",
                    arrived_at=now,
                    status="queued",
                    asterisk_instance="main",
                )
            )
        await s.commit()
    await hotline.link.start()
    await hotline._on_ami_connect()
    await hotline.tracker.flush()
    async with db.session() as s:
        rows = {c.uniqueid: c for c in (await s.scalars(select(Call))).all()}
    assert rows["gone.1"].complete and rows["gone.1"].hangup_cause == UNSEEN_CAUSE
    assert not rows[ALIVE].complete  # still on Asterisk

    app = hotline.app()
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        body = (await client.get("/health")).json()
    rebuild = body["ami"]["rebuild"]
    assert rebuild["state"] == "failed" and rebuild["failed_steps"] == ["agents"]
    assert rebuild["skipped_steps"] == [] and rebuild["duration_s"] >= 0
    assert rebuild["started_at"] is not None
    assert body["ami"]["journal"]["records_dropped"] == 0


async def test_a_second_service_process_is_refused_with_a_clear_message(
    tmp_path: Path, database_url: str, ami: FakeAmi, hotline: Hotline
) -> None:
    await hotline.lock.acquire()
    second = Hotline(settings(tmp_path, database_url, ami))
    try:
        with pytest.raises(AlreadyRunning, match="another hotline1022 process"):
            await second.start()
    finally:
        await hotline.lock.release()
        await second.db.dispose()
