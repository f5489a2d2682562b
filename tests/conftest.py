"""Shared fixtures: a blank database on SQLite and on PostgreSQL, and a migrated one.

``database_url`` runs each test that uses it twice: on a SQLite file in ``tmp_path`` and on
a PostgreSQL database created once per test session (``hotline_test_<random>``, dropped at
the end) whose schema is wiped before every test. The PostgreSQL runs carry the ``postgres``
marker: ``pytest -m "not postgres"`` leaves them out on a machine without the server.

The server is ``HOTLINE_TEST_POSTGRES_URL`` (an admin URL to an existing database), default
``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

from hotline1022.logmask import LOGGERS, MaskNumbers
from store.db import Database
from store.migrate import upgrade_async

T = TypeVar("T")

POSTGRES_ADMIN_URL = os.environ.get(
    "HOTLINE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


def run_in_thread(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a private loop in a worker thread.

    Sync fixtures use it so that their event loop never meets the test's loop.
    """
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        async def main() -> T:
            return await factory()

        try:
            result.append(asyncio.run(main()))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_execute(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In parallel runs (``make test``: pytest-xdist, a module per worker at a time), the
    modules that drive a real Asterisk or a browser go first. They are few, long and mostly
    wait; the many short CPU-bound ones then fill the workers' gaps and the run ends together,
    instead of one long module starting last. A run in one process keeps the usual order."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return
    slow = {
        item.path
        for item in items
        if item.get_closest_marker("asterisk") or item.get_closest_marker("browser")
    }
    items.sort(key=lambda item: item.path not in slow)  # stable: the order within stays


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the whole test session, dropped afterwards."""
    name = f"hotline_test_{secrets.token_hex(6)}"
    try:
        run_in_thread(lambda: _pg_execute(POSTGRES_ADMIN_URL, f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL at {POSTGRES_ADMIN_URL} is not usable ({exc}); set "
            "HOTLINE_TEST_POSTGRES_URL or leave these tests out with -m 'not postgres'"
        )
    yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    run_in_thread(
        lambda: _pg_execute(POSTGRES_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    )


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database (no tables), fresh for this test."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'hotline1022.db'}"
    url: str = request.getfixturevalue("postgres_database_url")
    run_in_thread(lambda: _pg_execute(url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public"))
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A ``Database`` on the migrated (``alembic upgrade head``) test database."""
    await upgrade_async(database_url)
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture(autouse=True)
def _no_masking_left_behind() -> Iterator[None]:
    """A test that starts the service masks numbers on the handlers present, pytest's own
    capture handlers among them, which outlive the test: take the filter off again."""
    yield
    for name in LOGGERS:
        for handler in logging.getLogger(name).handlers:
            for f in [f for f in handler.filters if isinstance(f, MaskNumbers)]:
                handler.removeFilter(f)
