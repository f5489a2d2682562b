"""Good tokens are kept in memory (``store/token_cache.py``), and a revocation still takes
effect at the very next request: in this process, in another process on the same SQLite
file, and on PostgreSQL through ``NOTIFY``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from store.db import Database
from store.migrate import upgrade_async
from store.models import ApiToken, User
from store.token_cache import CachedToken, TokenCache, revoked, token_cache
from store.users import create_user, hash_token, issue_token, revoke_token
from tests.api.support import Api


@asynccontextmanager
async def listening(cache: TokenCache) -> AsyncIterator[None]:
    """The cache as a serving process has it (create_app's lifespan): on PostgreSQL,
    listening for revocations, hence trusted."""
    async with cache.watching():
        for _ in range(250):
            if cache.trusted():
                break
            await asyncio.sleep(0.02)
        assert cache.trusted()
        yield


async def _token_id(db: Database, token: str) -> int:
    async with db.session() as session:
        found = await session.scalar(
            select(ApiToken.id).where(ApiToken.token_hash == hash_token(token))
        )
    assert found is not None
    return found


async def _user_id(db: Database, name: str) -> int:
    async with db.session() as session:
        found = await session.scalar(select(User.id).where(User.name == name))
    assert found is not None
    return found


async def test_a_revoked_token_is_refused_at_the_next_request(api: Api) -> None:
    async with listening(token_cache(api.db.url)):
        agent_id = await _user_id(api.db, "Đỗ Thị Agent")
        second = await issue_token(api.db, agent_id, "tablet")
        headers = {"Authorization": f"Bearer {second}"}
        assert (await api.client.get("/queues", headers=headers)).status_code == 200
        # Kept: the next request does not look it up.
        assert token_cache(api.db.url).get(hash_token(second)) is not None
        assert (await api.client.get("/queues", headers=headers)).status_code == 200

        token_id = await _token_id(api.db, second)
        revoked = await api.client.post(
            f"/users/{agent_id}/tokens/{token_id}/revoke", headers=api.auth("admin")
        )
        assert revoked.status_code == 200, revoked.text

        assert (await api.client.get("/queues", headers=headers)).status_code == 401
        # The user's other token goes on working.
        assert (await api.client.get("/queues", headers=api.auth("agent"))).status_code == 200


async def test_a_deactivated_users_cached_token_is_refused_at_the_next_request(
    api: Api,
) -> None:
    async with listening(token_cache(api.db.url)):
        user_id = await _user_id(api.db, "supervisor user")
        assert (await api.client.get("/queues", headers=api.auth("supervisor"))).status_code == 200
        assert token_cache(api.db.url).get(hash_token(api.tokens["supervisor"])) is not None

        answer = await api.client.post(f"/users/{user_id}/deactivate", headers=api.auth("admin"))
        assert answer.status_code == 200, answer.text

        assert (await api.client.get("/queues", headers=api.auth("supervisor"))).status_code == 401


async def test_an_orm_edit_of_a_user_empties_the_cache(api: Api) -> None:
    async with listening(token_cache(api.db.url)):
        assert (await api.client.get("/queues", headers=api.auth("agent"))).status_code == 200
        async with api.db.session() as session:
            user = await session.get(User, await _user_id(api.db, "Đỗ Thị Agent"))
            assert user is not None
            user.active = False
            await session.commit()

        assert (await api.client.get("/queues", headers=api.auth("agent"))).status_code == 401


async def test_another_process_on_the_same_sqlite_file_hears_of_a_revocation(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/other.db"
    other = TokenCache(url)  # what another process holds: not this process's registry
    entry = CachedToken((("id", 1),), datetime.now(UTC), None)
    other.put("h", entry, other.generation)
    assert other.get("h") is entry

    token_cache(url).invalidate()  # this process alone: the other hears nothing
    assert other.get("h") is entry

    revoked(url)  # what store/users.py does after a revocation's commit
    assert other.get("h") is None


def test_a_look_up_that_raced_a_revocation_is_not_kept() -> None:
    cache = TokenCache("sqlite+aiosqlite://")
    generation = cache.generation  # the look-up starts ...
    cache.invalidate()  # ... a revocation commits meanwhile ...
    cache.put("h", CachedToken((), datetime.now(UTC), None), generation)  # ... it ends
    assert cache.get("h") is None


@pytest.mark.postgres
async def test_postgres_processes_trust_their_cache_only_while_listening(
    postgres_database_url: str,
) -> None:
    await upgrade_async(postgres_database_url)
    db = Database(postgres_database_url)
    try:
        user, token = await create_user(db, name="watched", role="supervisor")
        other = TokenCache(db.url)  # another node's
        entry = CachedToken((("id", user.id),), datetime.now(UTC), None)
        assert not other.trusted()  # not listening: every token is looked up
        async with listening(other):
            other.put("h", entry, other.generation)
            assert other.get("h") is entry

            await revoke_token(db, user.id, await _token_id(db, token))
            for _ in range(250):
                if other.get("h") is None:
                    break
                await asyncio.sleep(0.02)
            assert other.get("h") is None
        assert not other.trusted()
    finally:
        await db.dispose()
