"""API users and their bearer tokens.

A token is shown once, when issued; the database keeps only its SHA-256, so a copy of the
database does not let anyone call the API.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from store.db import Database
from store.models import Agent, ApiToken, Role, Team, User
from store.types import utcnow

__all__ = [
    "create_user",
    "get_user_by_name",
    "hash_token",
    "issue_token",
    "list_users",
    "revoke_tokens",
    "user_for_token",
]

ROLES = tuple(role.value for role in Role)


def hash_token(token: str) -> str:
    """SHA-256 hex of a token: what the database stores and looks tokens up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> str:
    # 32 random bytes: 256 bits of entropy, url-safe so it fits in a header unquoted.
    return secrets.token_urlsafe(32)


async def create_user(
    db: Database,
    *,
    name: str,
    role: str,
    agent_id: int | None = None,
    team_id: int | None = None,
) -> tuple[User, str]:
    """Create a user and its first token; returns the user and the plain token (shown once).

    Raises ``ValueError`` for an empty or taken name, an unknown role, an ``agent`` user
    without an agent or a ``team`` user without a team (or another role with one), or an
    agent or team id that does not exist.
    """
    name = name.strip()
    if not name:
        raise ValueError("user name must not be empty")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: choose one of {', '.join(ROLES)}")
    if role == Role.AGENT and agent_id is None:
        raise ValueError("role 'agent' needs an agent: the agent this user logs in as")
    if role != Role.AGENT and agent_id is not None:
        raise ValueError(f"role {role!r} is not tied to an agent; only role 'agent' takes one")
    if role == Role.TEAM and team_id is None:
        raise ValueError("role 'team' needs a team: the team or center this user acts for")
    if role != Role.TEAM and team_id is not None:
        raise ValueError(f"role {role!r} is not tied to a team; only role 'team' takes one")

    token = _new_token()
    async with db.session() as session:
        if agent_id is not None and await session.get(Agent, agent_id) is None:
            raise ValueError(f"unknown agent id {agent_id}")
        if team_id is not None and await session.get(Team, team_id) is None:
            raise ValueError(f"unknown team id {team_id} (see: hotline1022 teams list)")
        if await session.scalar(select(User.id).where(User.name == name)) is not None:
            raise ValueError(f"a user named {name!r} already exists")
        user = User(name=name, role=role, agent_id=agent_id, team_id=team_id, active=True)
        session.add(user)
        await session.flush()
        session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), label="initial"))
        try:
            await session.commit()
        except IntegrityError as exc:
            # Lost a race with another process creating the same name.
            raise ValueError(f"a user named {name!r} already exists") from exc
    return user, token


async def issue_token(db: Database, user_id: int, label: str = "") -> str:
    """A further token for the user; returns the plain token (shown once)."""
    token = _new_token()
    async with db.session() as session:
        if await session.get(User, user_id) is None:
            raise ValueError(f"unknown user id {user_id}")
        session.add(ApiToken(user_id=user_id, token_hash=hash_token(token), label=label))
        await session.commit()
    return token


async def revoke_tokens(db: Database, user_id: int) -> int:
    """Revoke every live token of the user; returns how many were revoked."""
    async with db.session() as session:
        result = await session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


async def user_for_token(db: Database, token: str) -> User | None:
    """The active user holding this unrevoked token, or None."""
    async with db.session() as session:
        return await session.scalar(
            select(User)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(
                ApiToken.token_hash == hash_token(token),
                ApiToken.revoked_at.is_(None),
                User.active.is_(True),
            )
        )


async def get_user_by_name(db: Database, name: str) -> User | None:
    async with db.session() as session:
        return await session.scalar(select(User).where(User.name == name))


async def list_users(db: Database) -> list[tuple[User, int]]:
    """Every user (agent loaded) with its number of live tokens, by name."""
    live = (
        select(func.count(ApiToken.id))
        .where(ApiToken.user_id == User.id, ApiToken.revoked_at.is_(None))
        .scalar_subquery()
    )
    async with db.session() as session:
        rows = await session.execute(
            select(User, live).options(selectinload(User.agent)).order_by(User.name)
        )
        return [(user, int(count)) for user, count in rows]
