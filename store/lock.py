"""One service process per database and Asterisk instance.

Two processes reconciling the same instance's calls would close each other's live calls, so
the second one is refused at start with ``AlreadyRunning``:

* PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) keyed by the
  instance name, held on a connection of its own for the life of the process (the server
  frees it when the process dies, even by SIGKILL);
* SQLite: an exclusive ``flock`` on ``<database file>.<instance>.lock`` (freed by the kernel
  when the process dies).

A restarted PostgreSQL frees the lock with the connection: ``keep()`` (a task of the
service) checks the connection every few seconds and takes the lock again once the server
is back; if another process took it meanwhile it says so loudly (``lost`` is True, and the
service's health shows it) rather than fight over the calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import zlib
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

__all__ = ["AlreadyRunning", "InstanceLock"]

log = logging.getLogger(__name__)

# The advisory lock's first key: the hotline's number, so other applications' locks differ.
LOCK_CLASS = 1022


class AlreadyRunning(RuntimeError):
    """Another service process holds this database and Asterisk instance."""


def lock_key(instance: str) -> int:
    """The advisory lock's second key: a signed 32-bit hash of the instance name."""
    value = zlib.crc32(instance.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


class InstanceLock:
    def __init__(self, url: str, instance: str, *, connect_timeout_s: float = 10.0) -> None:
        self.url = make_url(url)
        self.instance = instance
        self.connect_timeout_s = connect_timeout_s
        self._fd: int | None = None
        self._engine: AsyncEngine | None = None
        self._conn: AsyncConnection | None = None
        self._driver: Any = None  # the asyncpg connection under ``_conn``
        self.lost = False  # another process took the lock while the database was away

    @property
    def held(self) -> bool:
        return self._fd is not None or self._conn is not None

    def _refused(self, where: str) -> AlreadyRunning:
        return AlreadyRunning(
            f"another hotline1022 process is already serving Asterisk instance "
            f"{self.instance!r} on this database ({where}); stop it first, or give this one "
            f"its own instance (HOTLINE_ASTERISK_INSTANCE)"
        )

    async def acquire(self) -> None:
        if self.url.get_backend_name() == "sqlite":
            self._acquire_file()
        else:
            await self._acquire_advisory()

    def _acquire_file(self) -> None:
        database = self.url.database or ""
        if not database or database == ":memory:":
            return  # a private in-memory database: nobody else can open it
        path = Path(f"{database}.{self.instance}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise self._refused(f"lock file {path}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    async def _acquire_advisory(self) -> None:
        connect_args: dict[str, Any] = {"timeout": self.connect_timeout_s}
        if self._engine is None:
            self._engine = create_async_engine(self.url, connect_args=connect_args)
        conn = await self._engine.connect()
        got = await conn.scalar(
            text("SELECT pg_try_advisory_lock(:c, :k)"),
            {"c": LOCK_CLASS, "k": lock_key(self.instance)},
        )
        if not got:
            await conn.close()
            await self._engine.dispose()
            self._engine = None
            raise self._refused(f"PostgreSQL advisory lock ({LOCK_CLASS}, {self.instance!r})")
        # Ended, not committed: the session lock outlives transactions.
        await conn.commit()
        self._conn = conn
        self._driver = (await conn.get_raw_connection()).driver_connection

    async def keep(self, interval_s: float = 5.0) -> None:
        """Hold the PostgreSQL lock across a restart of the server. Runs until cancelled."""
        if self.url.get_backend_name() == "sqlite":
            return
        while True:
            await asyncio.sleep(interval_s)
            await self.check()

    async def check(self) -> None:
        """One round of ``keep``: the lock's connection still answers, or the lock is
        taken again on a new one."""
        conn = self._conn
        if conn is not None:
            try:
                async with asyncio.timeout(self.connect_timeout_s):
                    await conn.execute(text("SELECT 1"))
                    await conn.commit()
                return
            except Exception as exc:
                log.warning("instance lock: its connection broke (%s); taking it again", exc)
                self._conn = None
                driver, self._driver = self._driver, None
                with contextlib.suppress(Exception):
                    await conn.invalidate()
                if driver is not None:
                    with contextlib.suppress(Exception):
                        driver.terminate()  # the dead socket, closed here and now
        try:
            async with asyncio.timeout(self.connect_timeout_s * 2):
                await self._acquire_advisory()
            if self.lost:
                log.warning("instance lock %r held again", self.instance)
            self.lost = False
        except AlreadyRunning as exc:
            if not self.lost:
                log.critical("instance lock lost while the database was away: %s", exc)
            self.lost = True
        except Exception as exc:  # the server is still away: try again next round
            log.warning("instance lock: database not back yet (%s)", exc)

    async def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            try:
                await self._conn.execute(
                    text("SELECT pg_advisory_unlock(:c, :k)"),
                    {"c": LOCK_CLASS, "k": lock_key(self.instance)},
                )
                await self._conn.close()
            except Exception as exc:  # the server frees it with the connection anyway
                log.warning("could not release the instance lock cleanly: %s", exc)
            self._conn = None
            self._driver = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
