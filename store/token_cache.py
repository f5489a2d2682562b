"""Verified tokens kept in memory, so that a request does not look its token up every time.

    cache = token_cache(db.url)          # one per database URL in the process (db.tokens)
    generation = cache.generation
    hit = cache.get(token_hash)          # None: look it up, then
    cache.put(token_hash, entry, generation)
    cache.invalidate()                   # after a revocation: every entry dropped

A revocation stays immediate. Whatever can make a good token bad (revoking it or all of a
user's, a sign-out, a new password ending the web sessions, deactivating the user) is done by
``store/users.py``, which after its commit calls ``revoked(url)``:

- in this process the cache is emptied at once, and its ``generation`` moves on, so that a
  look-up that started before the revocation does not put its (now stale) answer back;
- other processes learn it before they trust their own cache again. On SQLite (one machine)
  ``revoked`` replaces a small file beside the database (``<file>-auth``) and every cache
  stats it on each use: a new inode empties the cache (a ``stat``, no query). On PostgreSQL
  (several nodes) the revocation's transaction sends ``NOTIFY hotline1022_auth`` (see
  ``notify_sql``) and each process ``LISTEN``s on a connection of its own (``watching``); a
  cache is trusted only while that connection is up, so a process that is not listening
  looks every token up, as before. Between another node's commit and its notification
  reaching this process (milliseconds) a request may still pass with the revoked token.

Only good tokens are kept; a token's expiry is checked again at every use (the entry keeps
its ``created_at`` and ``expires_at``), so it stops at the same instant as before. The
entries hold the user's column values, not the ORM object: each use gets its own detached
``User``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import ORMExecuteState, Session, make_transient_to_detached

from store.models import ApiToken, User

__all__ = [
    "AUTH_CHANNEL",
    "CachedToken",
    "TokenCache",
    "notify_sql",
    "revoked",
    "token_cache",
]

log = logging.getLogger(__name__)

AUTH_CHANNEL = "hotline1022_auth"
_USER_COLUMNS = tuple(attr.key for attr in User.__mapper__.column_attrs)
_USER_CLASS = User.__mapper__.class_manager


def notify_sql() -> str:
    """The statement a revoking transaction runs on PostgreSQL (sent when it commits)."""
    return f"NOTIFY {AUTH_CHANNEL}"


@dataclass(frozen=True)
class CachedToken:
    """A good token's user (column values) and the two instants its expiry is computed from."""

    user_columns: tuple[tuple[str, Any], ...]
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, user: User, created_at: datetime, expires_at: datetime | None) -> CachedToken:
        columns = tuple((key, getattr(user, key)) for key in _USER_COLUMNS)
        return cls(columns, created_at, expires_at)

    def user(self) -> User:
        """A detached ``User`` of its own, as if just loaded by a session that closed (its
        columns set as a load sets them: without ``__init__``'s events, a quarter of the
        time)."""
        user: User = _USER_CLASS.new_instance()
        user.__dict__.update(self.user_columns)
        make_transient_to_detached(user)
        return user


class TokenCache:
    """The good tokens of one database, by SHA-256; see the module's docstring."""

    def __init__(self, url: str, *, max_entries: int = 10_000) -> None:
        parsed = make_url(url)
        self.url = url
        self.max_entries = max_entries
        self.generation = 0
        self._entries: dict[str, CachedToken] = {}
        self._postgres = parsed.get_backend_name() == "postgresql"
        self._listening = False
        database = parsed.database if parsed.get_backend_name() == "sqlite" else None
        self.sidecar: Path | None = (
            Path(f"{database}-auth") if database and database != ":memory:" else None
        )
        self._seen: tuple[int, int] | None = self._stat()

    def __len__(self) -> int:
        return len(self._entries)

    def trusted(self) -> bool:
        """Whether this process would hear of another's revocation: on PostgreSQL, while it
        listens; on SQLite, after checking the file beside the database."""
        if self._postgres:
            return self._listening
        if self.sidecar is not None:
            seen = self._stat()
            if seen != self._seen:
                self._seen = seen
                self.invalidate()
        return True

    def get(self, token_hash: str) -> CachedToken | None:
        if not self.trusted():
            return None
        return self._entries.get(token_hash)

    def put(self, token_hash: str, entry: CachedToken, generation: int) -> None:
        """Keep ``entry`` unless a revocation came since ``generation`` was read."""
        # trusted() first: it may learn of another process's revocation (and move on).
        if not self.trusted() or generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest
        self._entries[token_hash] = entry

    def invalidate(self) -> None:
        self.generation += 1
        self._entries.clear()

    def _stat(self) -> tuple[int, int] | None:
        if self.sidecar is None:
            return None
        try:
            st = os.stat(self.sidecar)
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns

    def bump(self) -> None:
        """Tell the other processes on this machine (SQLite): a new file beside the database."""
        if self.sidecar is None:
            return
        fresh = self.sidecar.with_name(f"{self.sidecar.name}.{secrets.token_hex(4)}")
        try:
            fresh.write_text(secrets.token_hex(8))
            os.replace(fresh, self.sidecar)
        except OSError as exc:
            log.error("could not tell other processes of a revocation (%s): %s", self.sidecar, exc)

    @contextlib.asynccontextmanager
    async def watching(self, *, retry_s: float = 1.0) -> AsyncIterator[None]:
        """While inside, on PostgreSQL: listen for other processes' revocations (the cache
        is trusted only while listening). Nothing to do on SQLite."""
        if not self._postgres:
            yield
            return
        task = asyncio.create_task(self._listen(retry_s), name="token-cache-listen")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self._listening = False
            self.invalidate()

    async def _listen(self, retry_s: float) -> None:
        import asyncpg  # type: ignore[import-untyped]

        dsn = make_url(self.url).set(drivername="postgresql").render_as_string(False)
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(AUTH_CHANNEL, lambda *_: self.invalidate())
                self.invalidate()  # what others revoked while nobody listened
                self._listening = True
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # down or refused: look tokens up meanwhile
                log.warning("token revocations: not listening (%s: %s)", type(exc).__name__, exc)
            finally:
                self._listening = False
                self.invalidate()
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
            await asyncio.sleep(retry_s)


_caches: dict[str, TokenCache] = {}


@functools.lru_cache(maxsize=64)
def _key(url: str) -> str:
    # Memoised: every request looks its cache up by URL, and parsing one is a tenth of
    # what checking a cached token costs.
    return make_url(url).render_as_string(hide_password=False)


def token_cache(url: str) -> TokenCache:
    """This process's cache of the database at ``url`` (shared by its ``Database``s)."""
    key = _key(url)
    cache = _caches.get(key)
    if cache is None:
        cache = _caches[key] = TokenCache(url)
    return cache


def revoked(url: str) -> None:
    """After a revocation's commit: empty this process's cache, tell the others (SQLite)."""
    cache = token_cache(url)
    cache.invalidate()
    cache.bump()


# Any other change to a user or a token made through a Session in this process (an edit
# that is not one of store/users.py's revocations, now or later; an ``update(User)``)
# empties the cache too: when it is sent, so that no look-up in between keeps the old row,
# and again after the commit (then the other processes on a SQLite file hear of it; on
# PostgreSQL the other nodes hear only of store/users.py's, which send NOTIFY).
_CHANGED = "hotline1022_auth_changed"


_AUTH_MAPPERS = (User.__mapper__, ApiToken.__mapper__)


def _changed(session: Session) -> None:
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    session.info[_CHANGED] = url
    token_cache(url).invalidate()


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: object) -> None:
    if any(isinstance(obj, User | ApiToken) for obj in (*session.dirty, *session.deleted)):
        _changed(session)


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    # update(User) / delete(ApiToken) statements: no object is flushed for them.
    if (state.is_update or state.is_delete) and state.bind_mapper in _AUTH_MAPPERS:
        _changed(state.session)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    url = session.info.pop(_CHANGED, None)
    if url is not None:
        revoked(url)
