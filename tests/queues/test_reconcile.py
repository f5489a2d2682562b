"""The rebuild after a (re)connect, step by step (``queues.reconcile``), and the call
reconciliation's fence and instance boundary (``CallTracker.reconcile``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

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


async def test_an_answer_between_the_snapshot_and_the_reconciliation_is_kept(
    db: Database,
) -> None:
    """The race CI found: a restarted service takes its snapshot (the caller waiting), an
    agent answers before the reconciliation has loaded the call's open record; the answer
    and the end must still reach the record (it was written abandoned in the queue)."""
    old = CallTracker(db)
    old.on_event(ev("Newchannel", T0, uid="w.1"))
    old.on_event(ev("QueueCallerJoin", T0 + 5, uid="w.1", Queue="food", Position="1"))
    await old.flush()
    new = CallTracker(db)
    new.begin_snapshot()
    entries = [{"Uniqueid": "w.1", "Queue": "food", "Wait": "20"}]  # QueueStatus, as taken
    channels = [{"Uniqueid": "w.1"}]
    new.on_event(
        ev(
            "AgentConnect",
            T0 + 30,
            uid="w.1",
            Queue="food",
            Interface="PJSIP/agent01",
            MemberName="agent01",
            HoldTime="25",
        )
    )
    await new.reconcile(entries, channels)
    assert new.calls["w.1"].status == "connected"
    assert new.calls["w.1"].agent_endpoint == "agent01"
    new.on_event(ev("Hangup", T0 + 90, uid="w.1", Cause="16", **{"Cause-txt": "Normal"}))
    assert new.calls["w.1"].status == "answered"


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


def menu_channel(uid: str, duration: str) -> dict[str, str]:
    """A ``CoreShowChannel`` row of a citizen in the FastAGI menu, as Asterisk 22 sends it."""
    return {
        "Event": "CoreShowChannel",
        "Channel": f"PJSIP/pstn-{uid}",
        "Uniqueid": uid,
        "Linkedid": uid,
        "CallerIDNum": "0912345678",
        "CallerIDName": "Trần Văn Nam",
        "Context": "citizens",
        "Exten": "1022",
        "Application": "AGI",
        "ChannelStateDesc": "Up",
        "Duration": duration,
    }


async def test_a_call_that_arrived_while_the_link_was_down_keeps_its_arrival(
    db: Database,
) -> None:
    """The chaos run's misdated calls: a caller who dialled 1022 while the link was down is
    still in the menu at the reconciliation; the record must say they arrived when Asterisk
    answered them (the channel's Duration ago), not when they later join a queue."""
    tracker = CallTracker(db)  # the service (re)started: it saw no Newchannel
    tracker.begin_snapshot()
    before = datetime.now(UTC)
    counts = await tracker.reconcile([], [menu_channel("menu.1", "00:00:42")])
    assert counts["ended"] == 0
    # The caller finishes the menu a minute later and joins a queue.
    later = before.timestamp() + 60
    tracker.on_event(ev("QueueCallerJoin", later, uid="menu.1", Queue="food", Position="1"))
    await tracker.flush()
    async with db.session() as s:
        row = await s.scalar(select(Call).where(Call.uniqueid == "menu.1"))
    assert row is not None and row.status == "queued" and not row.complete
    arrived = row.arrived_at.replace(tzinfo=UTC)
    assert abs(arrived - (before - timedelta(seconds=42))) < timedelta(seconds=3)
    assert (row.caller_number, row.caller_name) == ("0912345678", "Trần Văn Nam")
    assert counts.get("found_in_menu") == 1


async def test_a_menu_call_that_hangs_up_during_the_snapshot_is_recorded_ended(
    db: Database,
) -> None:
    """The fence: the snapshot shows the caller, who hangs up before the reconciliation
    runs. The record is adopted from the channel and ended at the Hangup, not left open."""
    tracker = CallTracker(db)
    tracker.begin_snapshot()
    channels = [menu_channel("gone.1", "00:00:10")]  # CoreShowChannels, as taken
    hung_up = datetime.now(UTC).timestamp()
    tracker.on_event(ev("Hangup", hung_up, uid="gone.1", Cause="16"))
    counts = await tracker.reconcile([], channels)
    assert counts["ended"] == 0
    await tracker.flush()
    async with db.session() as s:
        row = await s.scalar(select(Call).where(Call.uniqueid == "gone.1"))
    assert row is not None and row.complete and row.status == "abandoned_ivr"
    assert row.ended_at.replace(tzinfo=UTC) == datetime.fromtimestamp(hung_up, UTC)
    assert counts.get("found_in_menu") == 1


async def test_only_live_1022_calls_are_adopted_from_the_channels(db: Database) -> None:
    """Agents' legs, callback placeholders and other numbers are not citizens' calls."""
    tracker = CallTracker(db)
    tracker.begin_snapshot()
    other = {**menu_channel("agent.1", "00:01:00"), "Context": "agents", "Exten": "s"}
    bench = {**menu_channel("bench.1", "00:00:05"), "Exten": "1023"}
    counts = await tracker.reconcile([], [other, bench])
    assert counts.get("found_in_menu", 0) == 0 and not tracker.calls


async def test_a_second_rebuild_waits_for_the_first_instead_of_interleaving() -> None:
    """A link that reconnects while a rebuild is still going (CI saw it: the second run's
    reconciliation closed the first one's fence under it, and a live call was lost)."""
    order: list[str] = []
    first_inside = asyncio.Event()
    release = asyncio.Event()

    async def slow(name: str) -> None:
        order.append(f"{name} in")
        first_inside.set()
        await release.wait()
        order.append(f"{name} out")

    async def quick(name: str) -> None:
        order.append(f"{name} in")
        order.append(f"{name} out")

    rebuild = Rebuild()
    first = asyncio.create_task(rebuild.run([Step("calls", lambda: slow("first"))]))
    await first_inside.wait()
    second = asyncio.create_task(rebuild.run([Step("calls", lambda: quick("second"))]))
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == ["first in"]
    release.set()
    assert await first and await second
    assert order == ["first in", "first out", "second in", "second out"]
    assert rebuild.status()["count"] == 2


async def test_a_newer_rebuild_supersedes_one_that_keeps_failing() -> None:
    """The link drops and comes back while a rebuild is retrying a failing step: the old
    run stops at its next attempt instead of retrying (and running its later steps) before
    the newer one may start; a run superseded before it began never starts."""
    attempts: list[str] = []
    failing_inside = asyncio.Event()
    go_on = asyncio.Event()

    async def failing() -> None:
        attempts.append("old agents")
        failing_inside.set()
        await go_on.wait()
        raise ConnectionError("link dropped")

    async def ok(name: str) -> None:
        attempts.append(name)

    rebuild = Rebuild(attempts=3, first_delay_s=0.01)
    old = asyncio.create_task(
        rebuild.run([Step("agents", failing), Step("calls", lambda: ok("old calls"))])
    )
    await failing_inside.wait()
    between = asyncio.create_task(rebuild.run([Step("calls", lambda: ok("between calls"))]))
    await asyncio.sleep(0)
    new = asyncio.create_task(rebuild.run([Step("calls", lambda: ok("new calls"))]))
    await asyncio.sleep(0)
    go_on.set()
    assert await old is False
    assert await between is False
    assert await new is True
    assert attempts == ["old agents", "new calls"]
    assert rebuild.status()["state"] == "done"
    assert rebuild.status()["count"] == 2
