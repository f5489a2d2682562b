"""Call records while the database is down: the journal, the memory bound, and the replay
after a crash (``CallTracker`` with a ``store.journal.Journal``)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from queues.calls import CallTracker
from store.db import Database
from store.journal import Journal
from store.models import Call, IvrEvent
from store.seed import ensure_agents
from tests.queues.test_calls import T0, UID, answered_call, ev, step

DOWN = "postgresql+asyncpg://postgres@127.0.0.1:1/none"  # nothing listens on port 1
ROOT = Path(__file__).resolve().parents[2]


async def counts(db: Database) -> tuple[int, int]:
    async with db.session() as s:
        calls = await s.scalar(select(func.count()).select_from(Call))
        events = await s.scalar(select(func.count()).select_from(IvrEvent))
    return int(calls or 0), int(events or 0)


def short_call(tracker: CallTracker, uid: str, at: float) -> None:
    tracker.on_event(ev("Newchannel", at, uid=uid))
    tracker.on_event(ev("Hangup", at + 2, uid=uid, Cause="16"))


async def test_records_the_database_refused_are_journaled_and_replayed_once(
    tmp_path: Path, db: Database
) -> None:
    down = Database(DOWN)
    journal = Journal(tmp_path / "journal" / "main" / "calls.jsonl", max_bytes=1 << 20)
    tracker = CallTracker(down, journal=journal)
    tracker.ivr_step(UID, step("welcome", "enter", at=T0 + 1))
    for e in answered_call():
        tracker.on_event(e)
    with pytest.raises(OSError):
        await tracker.flush()
    await down.dispose()
    [record] = journal.read()
    assert record["call"]["uniqueid"] == UID and record["call"]["status"] == "answered"
    saved = journal.path.read_bytes()

    # The process died; the next one starts with the database back.
    await ensure_agents(db, 1)
    restarted = CallTracker(db, journal=journal)
    assert await restarted.replay_journal() == 1
    assert await counts(db) == (1, 1)
    async with db.session() as s:
        call = await s.scalar(select(Call))
    assert call is not None and call.complete and call.status == "answered"
    assert call.agent_id is not None and not journal.path.exists()
    # Killed again before the journal was emptied: the same records replay to the same rows.
    journal.path.write_bytes(saved)
    assert await CallTracker(db, journal=journal).replay_journal() == 1
    assert await counts(db) == (1, 1)


async def test_memory_is_bounded_complete_calls_wait_in_the_journal(
    tmp_path: Path, db: Database
) -> None:
    down = Database(DOWN)
    journal = Journal(tmp_path / "calls.jsonl", max_bytes=1 << 20)
    tracker = CallTracker(down, journal=journal, max_calls=10)
    tracker.on_event(ev("Newchannel", T0, uid="live.1"))  # still going: never evicted
    for i in range(14):
        short_call(tracker, f"c.{i}", T0 + i)
    with pytest.raises(OSError):
        await tracker.flush()
    assert len(tracker.calls) == 10 and tracker.journal_only == 5
    assert "live.1" in tracker.calls and tracker.dropped == 0
    await down.dispose()
    tracker.db = db  # the database is back
    await tracker.flush()
    assert await counts(db) == (15, 0)
    assert tracker.journal_only == 0 and journal.read() == []
    assert set(tracker.calls) == {"live.1"}


async def test_memory_and_journal_full_drop_the_oldest_complete_records(
    tmp_path: Path,
) -> None:
    down = Database(DOWN)
    journal = Journal(tmp_path / "calls.jsonl", max_bytes=10)  # takes nothing
    tracker = CallTracker(down, journal=journal, max_calls=10)
    tracker.on_event(ev("Newchannel", T0, uid="live.1"))
    for i in range(12):
        short_call(tracker, f"c.{i}", T0 + i)
    with pytest.raises(OSError):
        await tracker.flush()
    await down.dispose()
    assert len(tracker.calls) == 10 and tracker.dropped == 3
    assert "live.1" in tracker.calls and "c.0" not in tracker.calls and "c.11" in tracker.calls


CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from queues.calls import CallTracker
    from store.db import Database
    from store.journal import Journal
    from tests.queues.test_calls import answered_call

    async def main():
        tracker = CallTracker(Database(sys.argv[1]), journal=Journal(Path(sys.argv[2]),
                              max_bytes=1 << 20))
        for e in answered_call():
            tracker.on_event(e)
        try:
            await tracker.flush()
        except OSError:
            pass
        print("pending", tracker.pending, flush=True)
        time.sleep(60)

    asyncio.run(main())
    """
)


async def test_killed_while_the_database_is_down_the_journal_restores_the_record(
    tmp_path: Path, db: Database
) -> None:
    path = tmp_path / "journal" / "main" / "calls.jsonl"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        DOWN,
        str(path),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    try:
        line = await asyncio.wait_for(child.stdout.readline(), 60)
        assert line.decode().strip() == "pending 1"
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    await ensure_agents(db, 1)
    assert await CallTracker(db, journal=Journal(path, max_bytes=1 << 20)).replay_journal() == 1
    async with db.session() as s:
        call = await s.scalar(select(Call).where(Call.uniqueid == UID))
    assert call is not None and call.status == "answered" and call.complete
