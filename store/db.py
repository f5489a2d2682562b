"""The database handle: one async engine and its session factory.

Works for ``sqlite+aiosqlite:///path`` (the embedded default) and ``postgresql+asyncpg://…``
(production, shared by the nodes)::

    db = Database(settings.effective_database_url)
    async with db.session() as session:
        session.add(call)
        await session.commit()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

__all__ = ["Database"]

log = logging.getLogger(__name__)

# A server's pooled connection idle longer than this is pinged before use (_check_on_checkout).
PING_IDLE_S = 10.0
_IDLE_SINCE = "hotline1022_idle_since"

# Writers wait this long for SQLite's single write lock instead of failing at once.
SQLITE_BUSY_TIMEOUT_MS = 5000


def _sqlite_on_connect(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # WAL lets the API read while the call recorder writes; SQLite leaves foreign keys
            # off unless asked, per connection.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        finally:
            cursor.close()

    return on_connect


def _connect_args(
    url: str, connect_timeout_s: float | None, statement_timeout_s: float | None
) -> dict[str, Any]:
    """The driver's own bounds: asyncpg's connect ``timeout`` and ``command_timeout`` plus the
    server's ``statement_timeout``; SQLite's wait for its write lock (``timeout``)."""
    args: dict[str, Any] = {}
    if _is_sqlite(url):
        if statement_timeout_s is not None:
            args["timeout"] = statement_timeout_s
    elif make_url(url).get_driver_name() == "asyncpg":
        if connect_timeout_s is not None:
            args["timeout"] = connect_timeout_s
        if statement_timeout_s is not None:
            args["command_timeout"] = statement_timeout_s
            args["server_settings"] = {"statement_timeout": str(int(statement_timeout_s * 1000))}
    return args


def _check_on_checkout(engine: AsyncEngine, idle_s: float) -> None:
    """Before a pooled connection to a server is used: replace it, and every connection
    pooled before it, if the driver saw the server close it (a restart, an administrator's
    ``pg_terminate_backend``: asyncpg reads the server's goodbye while the connection sits
    in the pool, so this costs no round trip); else ping it if it sat idle over ``idle_s``
    (a connection dropped silently, by a firewall's idle timeout say).

    In place of SQLAlchemy's ``pool_pre_ping``, which pings on every checkout: asyncpg's
    ping is BEGIN, ``;``, ROLLBACK, three round trips per request. A connection lost while
    in use fails that request (503), as with the pre-ping, and SQLAlchemy then replaces the
    whole pool."""
    sync = engine.sync_engine
    dialect = sync.dialect

    def checked_in(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checked_out(
        dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None:  # a new connection
            return
        is_closed = getattr(record.driver_connection, "is_closed", None)
        if is_closed is not None and is_closed():
            raise exc.InvalidatePoolError("the server closed the pooled connection")
        if time.monotonic() - idle_since < idle_s:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.InvalidatePoolError("the pooled connection did not answer") from error
            raise

    event.listen(sync, "checkin", checked_in)
    event.listen(sync, "checkout", checked_out)


def _is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


class Database:
    """An async engine and an ``async_sessionmaker`` (``expire_on_commit=False``)."""

    def __init__(
        self,
        url: str,
        *,
        ping_timeout_s: float = 2.0,
        ping_idle_s: float = PING_IDLE_S,
        echo: bool = False,
        connect_timeout_s: float | None = None,
        statement_timeout_s: float | None = None,
    ) -> None:
        """``connect_timeout_s`` bounds opening a connection, ``statement_timeout_s`` one
        statement (PostgreSQL cancels it; SQLite gives up waiting for its write lock), so a
        database that hangs raises instead of stalling its callers for ever. None: the
        drivers' defaults (SQLite waits ``SQLITE_BUSY_TIMEOUT_MS``). ``ping_idle_s``: a
        server's pooled connection idle longer than this is pinged before use."""
        self.url = url
        self.ping_timeout_s = ping_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.statement_timeout_s = statement_timeout_s
        self.engine: AsyncEngine = create_async_engine(
            url,
            echo=echo,
            **({} if _is_sqlite(url) else {"pool_timeout": connect_timeout_s or 30}),
            connect_args=_connect_args(url, connect_timeout_s, statement_timeout_s),
        )
        if not _is_sqlite(url):
            # A server can drop a pooled connection (restart, idle timeout): see
            # ``_check_on_checkout``. A SQLite file has no server to lose.
            _check_on_checkout(self.engine, ping_idle_s)
        if _is_sqlite(url):
            event.listen(
                self.engine.sync_engine,
                "connect",
                _sqlite_on_connect(
                    SQLITE_BUSY_TIMEOUT_MS
                    if statement_timeout_s is None
                    else int(statement_timeout_s * 1000)
                ),
            )
        # Objects stay readable after commit: routers serialise them after the transaction.
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; the caller commits. Uncommitted work is rolled back on exit."""
        async with self.sessionmaker() as session:
            yield session

    async def ping(self) -> bool:
        """True if ``SELECT 1`` answers within ``ping_timeout_s``; never raises.

        Bounded so that a health check answers even when the server accepts connections but
        never replies.
        """
        try:
            async with asyncio.timeout(self.ping_timeout_s), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means "not usable", which is the answer
            log.warning("database ping failed: %s: %s", type(exc).__name__, exc)
            return False
        return True

    async def dispose(self) -> None:
        """Close the pooled connections (on shutdown; the engine would reconnect if used)."""
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({make_url(self.url).render_as_string(hide_password=True)!r})"
