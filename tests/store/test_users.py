"""Users and tokens: validation, the token shown once and stored only as a hash."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from dispatch.teams import ensure_places_and_teams
from store.db import Database
from store.models import Agent, ApiToken, Place, Team, User
from store.seed import ensure_agents
from store.users import (
    check_token,
    create_user,
    get_user_by_name,
    issue_token,
    list_tokens,
    list_users,
    revoke_token,
    revoke_tokens,
    set_active,
    token_lifetimes,
    user_for_token,
)


async def agent_id(db: Database, endpoint: str = "agent01") -> int:
    await ensure_agents(db, 2)
    async with db.session() as session:
        found = await session.scalar(select(Agent.id).where(Agent.endpoint == endpoint))
    assert found is not None
    return found


async def test_token_is_returned_once_and_stored_as_sha256(db: Database) -> None:
    user, token = await create_user(db, name="Võ Thị Sáu", role="supervisor")

    async with db.session() as session:
        stored = (await session.scalars(select(ApiToken))).all()

    assert len(token) >= 43  # 32 bytes, base64url
    assert [row.token_hash for row in stored] == [hashlib.sha256(token.encode()).hexdigest()]
    assert all(token not in (row.token_hash, row.label) for row in stored)
    found = await user_for_token(db, token)
    assert found is not None and (found.id, found.name) == (user.id, "Võ Thị Sáu")


async def test_unknown_revoked_and_inactive_tokens_find_no_one(db: Database) -> None:
    user, token = await create_user(db, name="a", role="admin")
    second = await issue_token(db, user.id, label="laptop")
    assert second != token
    assert await user_for_token(db, "not-a-token") is None

    assert await revoke_tokens(db, user.id) == 2
    assert await user_for_token(db, token) is None
    assert await user_for_token(db, second) is None

    third = await issue_token(db, user.id)
    assert await user_for_token(db, third) is not None
    async with db.session() as session:
        await session.execute(update(User).values(active=False))
        await session.commit()
    assert await user_for_token(db, third) is None


async def test_agent_user_links_to_its_agent(db: Database) -> None:
    linked = await agent_id(db, "agent02")

    user, _ = await create_user(db, name="agent two", role="agent", agent_id=linked)

    assert user.agent_id == linked
    listed = await list_users(db)
    assert [(u.name, u.agent.endpoint if u.agent else None, n) for u, n in listed] == [
        ("agent two", "agent02", 1)
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "x", "role": "boss"}, "unknown role 'boss': choose one of agent, supervisor"),
        ({"name": "x", "role": "agent"}, "role 'agent' needs an agent"),
        ({"name": "x", "role": "agent", "agent_id": 999}, "unknown agent id 999"),
        ({"name": "x", "role": "team", "agent_id": 1}, "only role 'agent' takes one"),
        ({"name": "x", "role": "team"}, "role 'team' needs a team"),
        ({"name": "x", "role": "admin", "team_id": 1}, "only role 'team' takes one"),
        ({"name": "x", "role": "agent", "agent_id": 1, "team_id": 1}, "only role 'team'"),
        ({"name": "x", "role": "team", "team_id": 99999}, "unknown team id 99999"),
        ({"name": "  ", "role": "admin"}, "must not be empty"),
    ],
)
async def test_bad_users_are_refused_with_a_reason(
    db: Database, kwargs: dict[str, object], message: str
) -> None:
    await agent_id(db)

    with pytest.raises(ValueError, match=message):
        await create_user(db, **kwargs)  # type: ignore[arg-type]

    async with db.session() as session:
        assert (await session.scalars(select(User))).all() == []


async def test_duplicate_name_is_refused(db: Database) -> None:
    await create_user(db, name="Bình", role="supervisor")

    with pytest.raises(ValueError, match="a user named 'Bình' already exists"):
        await create_user(db, name="Bình", role="admin")

    found = await get_user_by_name(db, "Bình")
    assert found is not None and found.role == "supervisor"


async def test_team_user_acts_for_its_team(db: Database) -> None:
    await ensure_places_and_teams(db, 74)
    async with db.session() as session:
        team_id = await session.scalar(
            select(Team.id)
            .join(Place, Place.id == Team.place_id)
            .where(Place.level == "commune", Place.code == 25741, Team.kind == "team")
        )
    assert team_id is not None

    user, token = await create_user(db, name="Tổ Hiệp Thành", role="team", team_id=team_id)

    found = await user_for_token(db, token)
    assert found is not None
    assert (found.id, found.role, found.team_id, found.agent_id) == (user.id, "team", team_id, None)


async def test_issue_token_for_unknown_user(db: Database) -> None:
    with pytest.raises(ValueError, match="unknown user id 42"):
        await issue_token(db, 42)


async def test_a_token_expires_after_its_roles_lifetime(db: Database) -> None:
    _, token = await create_user(db, name="an", role="admin")
    issued = datetime.now(UTC)
    assert await user_for_token(db, token, now=issued + timedelta(hours=23)) is not None
    assert await user_for_token(db, token, now=issued + timedelta(hours=24, seconds=5)) is None
    check = await check_token(db, token, now=issued + timedelta(days=2))
    assert check.user is None and check.expired
    # A shorter lifetime set later applies to tokens issued before.
    short = token_lifetimes({"admin": 60})
    assert (
        await user_for_token(db, token, now=issued + timedelta(minutes=2), lifetimes=short) is None
    )


async def test_revoking_one_token_and_deactivating_a_user(db: Database) -> None:
    user, first = await create_user(db, name="an", role="supervisor")
    second = await issue_token(db, user.id, label="tablet")
    tablet = next(t for t in await list_tokens(db, user.id) if t.label == "tablet")
    revoked = await revoke_token(db, user.id, tablet.id)
    assert revoked is not None and revoked.revoked_at is not None
    assert await user_for_token(db, second) is None
    assert await user_for_token(db, first) is not None
    assert await revoke_token(db, user.id + 1, tablet.id) is None  # not that user's
    await set_active(db, user.id, False)
    assert await user_for_token(db, first) is None
    await set_active(db, user.id, True)
    assert await user_for_token(db, first) is not None
