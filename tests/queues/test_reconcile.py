"""The rebuild after a (re)connect, step by step (``queues.reconcile``), and the call
reconciliation's fence and instance boundary (``CallTracker.reconcile``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from queues.calls import UNSEEN_CAUSE, CallTracker
from queues.reconcile import Rebuild, Step
from store.db import Database
from store.models import Call
from tests.queues.test_calls import T0, ev


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s

    def __call__(self) -> float:
        return self.now


async def test_a_failing_step_is_retried_with_backoff_and_the_others_still_run() -> None:
    clock = Clock()
    ran: list[str] = []
    tries = {"agents": 0, "flaky": 0}

    async def agents() -> None:
        tries["agents"] += 1
        raise RuntimeError("QueueAdd: No such queue")

    async def flaky() -> None:
        tries["flaky"] += 1
        if tries["flaky"] < 2:
            raise ConnectionError("link dropped")
        ran.append("flaky")

    async def ok(name: str) -> None:
        ran.append(name)

    rebuild = Rebuild(attempts=3, first_delay_s=0.5, sleep=clock.sleep, clock=clock)
    result = await rebuild.run(
        [
            Step("agents", agents),
            Step("flaky", flaky),
            Step("calls", lambda: ok("calls")),
            Step("cdr", lambda: ok("cdr"), needs=("calls",)),
            Step("after-agents", lambda: ok("x"), needs=("agents",)),
        ]
    )
    assert result is False
    assert tries == {"agents": 3, "flaky": 2}
    assert clock.slept == [0.5, 1.0, 0.5]  # backoff per step: doubled, then reset
    assert ran == ["flaky", "calls", "cdr"]
    status = rebuild.status()
    assert status["state"] == "failed"
    assert status["failed_steps"] == ["agents"] and status["skipped_steps"] == ["after-agents"]
    assert status["duration_s"] == 2.0 and status["started_at"] is not None


async def test_a_clean_rebuild_reports_done() -> None:
    clock = Clock()
    rebuild = Rebuild(sleep=clock.sleep, clock=clock)
    assert rebuild.status()["state"] == "never"

    async def nothing() -> None:
        clock.now += 0.25

    assert await rebuild.run([Step("a", nothing), Step("b", nothing, needs=("a",))])
    assert rebuild.status() | {"started_at": None} == {
        "state": "done",
        "started_at": None,
        "duration_s": 0.5,
        "failed_steps": [],
        "skipped_steps": [],
        "count": 1,
    }


async def test_a_call_that_starts_after_the_snapshot_is_not_closed(db: Database) -> None:
    """The race of the finding: CoreShowChannels is taken, then a call starts, then the
    reconciliation runs with the snapshot that lacks it."""
    tracker = CallTracker(db)
    tracker.on_event(ev("Newchannel", T0, uid="old.1"))  # the snapshot has it
    tracker.begin_snapshot()
    channels = [{"Uniqueid": "old.1"}]  # CoreShowChannels, as taken
    tracker.on_event(ev("Newchannel", T0 + 1, uid="new.1"))  # starts meanwhile
    counts = await tracker.reconcile([], channels)
    assert counts["ended"] == 0
    assert not tracker.calls["new.1"].complete and tracker.calls["new.1"].status == "in_ivr"
    await tracker.flush()
    async with db.session() as s:
        row = await s.scalar(select(Call).where(Call.uniqueid == "new.1"))
    assert row is not None and not row.complete and row.hangup_cause is None


async def test_a_recorded_call_with_an_event_after_the_snapshot_is_not_closed(
    db: Database,
) -> None:
    """An open record from before the restart whose channel the snapshot missed, but which
    an event names afterwards (it moved from the menu into a queue)."""
    old = CallTracker(db)
    old.on_event(ev("Newchannel", T0, uid="m.1"))
    await old.flush()
    new = CallTracker(db)
    new.begin_snapshot()
    new.on_event(ev("QueueCallerJoin", T0 + 9, uid="m.1", Queue="medical", Position="1"))
    counts = await new.reconcile([], [])
    assert counts["ended"] == 0
    await new.flush()
    async with db.session() as s:
        row = await s.scalar(select(Call).where(Call.uniqueid == "m.1"))
    assert row is not None and not row.complete and row.status == "queued"


async def test_the_fence_does_not_keep_calls_that_really_ended(db: Database) -> None:
    tracker = CallTracker(db)
    tracker.on_event(ev("Newchannel", T0, uid="gone.1"))
    tracker.begin_snapshot()
    counts = await tracker.reconcile([], [])
    assert counts["ended"] == 1 and tracker.calls["gone.1"].hangup_cause == UNSEEN_CAUSE


async def test_reconcile_never_closes_another_instance_s_calls(db: Database) -> None:
    """Two services, two Asterisk instances, one database: each closes only its own."""
    a = CallTracker(db, instance="a")
    b = CallTracker(db, instance="b")
    a.on_event(ev("Newchannel", T0, uid="a.1"))
    b.on_event(ev("Newchannel", T0, uid="b.1"))
    await a.flush()
    await b.flush()
    restarted_a = CallTracker(db, instance="a")
    restarted_a.begin_snapshot()
    counts = await restarted_a.reconcile([], [])  # Asterisk "a" has no channels
    assert counts["ended"] == 1
    await restarted_a.flush()
    async with db.session() as s:
        rows = {c.uniqueid: c for c in (await s.scalars(select(Call))).all()}
    assert rows["a.1"].complete and rows["a.1"].asterisk_instance == "a"
    assert not rows["b.1"].complete and rows["b.1"].asterisk_instance == "b"


async def test_rows_from_before_the_migration_belong_to_the_default_instance(
    db: Database,
) -> None:
    old = CallTracker(db)
    old.on_event(ev("Newchannel", T0, uid="x.1"))
    await old.flush()
    async with db.session() as s:
        await s.execute(update(Call).values(asterisk_instance="main"))
        await s.commit()
    new = CallTracker(db)
    new.begin_snapshot()
    assert (await new.reconcile([], []))["ended"] == 1


async def test_a_call_that_starts_while_the_reconciliation_reads_the_database(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen on the real Asterisk: the Newchannel arrives while the reconciliation awaits
    its query of the open records; the fence stays up until nothing awaits any more."""
    tracker = CallTracker(db)
    tracker.begin_snapshot()
    real = db.session

    @asynccontextmanager
    async def session_while_a_call_arrives() -> AsyncIterator[AsyncSession]:
        tracker.on_event(ev("Newchannel", T0, uid="late.1"))
        async with real() as s:
            yield s

    monkeypatch.setattr(db, "session", session_while_a_call_arrives)
    counts = await tracker.reconcile([], [])
    assert counts["ended"] == 0 and not tracker.calls["late.1"].complete
