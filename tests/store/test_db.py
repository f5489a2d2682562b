"""Database: the SQLite connection settings and a ping that never hangs or raises."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from store.db import Database


async def test_ping_answers_true_on_a_working_database(db: Database) -> None:
    assert await db.ping() is True


async def test_session_rolls_back_uncommitted_work(db: Database) -> None:
    async with db.session() as session:
        await session.execute(
            text(
                "INSERT INTO agents (endpoint, name, created_at) "
                "VALUES ('agent01', 'x', CURRENT_TIMESTAMP)"
            )
        )
    async with db.session() as session:
        assert await session.scalar(text("SELECT count(*) FROM agents")) == 0


async def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with database.engine.connect() as conn:
            assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
            assert await conn.scalar(text("PRAGMA busy_timeout")) == 5000
    finally:
        await database.dispose()


async def aiosqlite_threads_ended() -> None:
    # aiosqlite stops the worker thread of a connection that failed to open without waiting
    # for it; were the test's loop closed first, the thread would die calling back into it.
    for _ in range(500):
        if not any("_connection_worker_thread" in t.name for t in threading.enumerate()):
            return
        await asyncio.sleep(0.01)


async def test_ping_is_false_when_sqlite_cannot_open(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    try:
        assert await database.ping() is False
    finally:
        await database.dispose()
        await aiosqlite_threads_ended()


async def test_ping_is_false_when_the_sqlite_file_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(b"not a database " * 100)
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        assert await database.ping() is False
    finally:
        await database.dispose()


@pytest.fixture
async def closed_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A port that accepts connections and never says a word (a hung server)."""
    writers: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_ping_is_false_when_postgresql_refuses(closed_port: int) -> None:
    database = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port}/x")
    try:
        assert await database.ping() is False
    finally:
        await database.dispose()


async def test_ping_gives_up_on_a_server_that_never_answers(silent_port: int) -> None:
    database = Database(
        f"postgresql+asyncpg://postgres@127.0.0.1:{silent_port}/x", ping_timeout_s=0.2
    )
    try:
        # The outer bound only turns a hang into a failure; the ping's own timeout answers.
        async with asyncio.timeout(10):
            assert await database.ping() is False
    finally:
        await database.dispose()


async def test_ping_still_answers_after_dispose(db: Database) -> None:
    # dispose() closes the pool; the engine reconnects on demand, so a ping still works.
    await db.dispose()

    assert await db.ping() is True


def test_repr_hides_the_password() -> None:
    database = Database("postgresql+asyncpg://u:s3cret@127.0.0.1/x")

    assert "s3cret" not in repr(database)


async def test_connect_timeout_bounds_a_database_that_never_answers() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def swallow(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.append(w)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/hung", connect_timeout_s=0.5)
    try:
        started = time.monotonic()
        with pytest.raises((TimeoutError, OSError)):
            async with db.session() as s:
                await s.execute(text("SELECT 1"))
        assert time.monotonic() - started < 2
    finally:
        for w in accepted:
            w.close()
        server.close()
        await db.dispose()


async def test_statement_timeout_bounds_a_statement_on_either_database(
    database_url: str,
) -> None:
    db = Database(database_url, statement_timeout_s=0.5)
    blocker = Database(database_url)
    try:
        if database_url.startswith("sqlite"):
            # Another connection holds SQLite's write lock: the write gives up.
            async with blocker.engine.connect() as other:
                await other.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
                await other.commit()
                await other.execute(text("BEGIN IMMEDIATE"))
                started = time.monotonic()
                with pytest.raises(Exception, match="locked"):
                    async with db.session() as s:
                        await s.execute(text("INSERT INTO t VALUES (1)"))
                        await s.commit()
                await other.rollback()
        else:
            started = time.monotonic()
            with pytest.raises(Exception):  # noqa: B017 (asyncpg: TimeoutError or a cancel)
                async with db.session() as s:
                    await s.execute(text("SELECT pg_sleep(5)"))
        assert time.monotonic() - started < 2.5
    finally:
        await db.dispose()
        await blocker.dispose()


async def _in_use_together(database: Database, n: int) -> set[int]:
    """Run ``n`` sessions at once (so the pool holds ``n`` connections); their backends' pids."""

    async def one() -> int:
        async with database.session() as session:
            pid = int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)
            await asyncio.sleep(0.05)
            return pid

    return set(await asyncio.gather(*(one() for _ in range(n))))


async def _terminate(url: str, pids: set[int]) -> None:
    """What a server restart does to the pooled connections: each one closed by the server."""
    killer = Database(url)
    try:
        async with killer.session() as session:
            await session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS integer[])) AS pid"
                ),
                {"pids": list(pids)},
            )
    finally:
        await killer.dispose()


@pytest.mark.postgres
async def test_pooled_connections_the_server_closed_are_replaced_before_use(
    postgres_database_url: str,
) -> None:
    """No pre-ping on every checkout any more: a restart (here its effect, every pooled
    connection closed by the server) is still ridden out, every request after it answered
    on a new connection, none failing."""
    database = Database(postgres_database_url)
    try:
        before = await _in_use_together(database, 3)
        await _terminate(postgres_database_url, before)
        await asyncio.sleep(0.2)  # a restart takes longer; the goodbyes reach the pool

        after = await _in_use_together(database, 3)  # would raise on a dead connection

        assert len(after) == 3 and not after & before
    finally:
        await database.dispose()


@pytest.mark.postgres
async def test_a_pooled_connection_is_pinged_only_after_sitting_idle(
    postgres_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load a connection goes straight back to work (the pre-ping cost three round
    trips a request); one idle longer than ``ping_idle_s`` is pinged first, since a
    firewall may have dropped it without a word."""
    database = Database(postgres_database_url, ping_idle_s=0.3)
    dialect = database.engine.sync_engine.dialect
    pings: list[object] = []
    real_ping = dialect.do_ping

    def counting_ping(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)  # type: ignore[arg-type]

    monkeypatch.setattr(dialect, "do_ping", counting_ping)
    try:
        for _ in range(5):
            async with database.session() as session:
                await session.execute(text("SELECT 1"))
        assert pings == []

        await asyncio.sleep(0.4)
        async with database.session() as session:
            await session.execute(text("SELECT 1"))
        assert len(pings) == 1
    finally:
        await database.dispose()
