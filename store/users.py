"""API users and their bearer tokens.

A token is shown once, when issued; the database keeps only its SHA-256, so a copy of the
database does not let anyone call the API.

Tokens expire: each role has a lifetime (``DEFAULT_TOKEN_TTL_S``, the settings'
``token_ttl_s``). A token is good until the earlier of its own ``expires_at`` (set when
issued) and its creation plus the role's lifetime *now*, so shortening a lifetime in the
settings takes effect at once. A token can be revoked alone; a deactivated user's tokens
stop working at once (every request looks the user up).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from store.db import Database
from store.models import Agent, ApiToken, Role, Team, User
from store.types import utcnow

__all__ = [
    "DEFAULT_TOKEN_TTL_S",
    "TokenCheck",
    "check_token",
    "create_user",
    "get_user",
    "get_user_by_name",
    "hash_token",
    "issue_token",
    "issue_token_row",
    "list_tokens",
    "list_users",
    "revoke_token",
    "revoke_tokens",
    "set_active",
    "token_lifetimes",
    "user_for_token",
]

ROLES = tuple(role.value for role in Role)

# How long a token lives, per role: an agent's for a shift, a supervisor's for a week, a
# rapid-response team's phone app for a month, an admin's (who may do everything) a day.
DEFAULT_TOKEN_TTL_S: dict[str, int] = {
    Role.AGENT.value: 12 * 3600,
    Role.SUPERVISOR.value: 7 * 24 * 3600,
    Role.TEAM.value: 30 * 24 * 3600,
    Role.ADMIN.value: 24 * 3600,
}


def token_lifetimes(ttl_s: Mapping[str, int] | None = None) -> dict[str, timedelta]:
    """Role -> lifetime; roles missing from ``ttl_s`` keep their default."""
    merged = {**DEFAULT_TOKEN_TTL_S, **(ttl_s or {})}
    return {role: timedelta(seconds=merged[role]) for role in ROLES}


def _lifetime(role: str, lifetimes: Mapping[str, timedelta] | None) -> timedelta:
    return (lifetimes or token_lifetimes())[role]


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
    lifetimes: Mapping[str, timedelta] | None = None,
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
        now = utcnow()
        session.add(
            ApiToken(
                user_id=user.id,
                token_hash=hash_token(token),
                label="initial",
                created_at=now,
                expires_at=now + _lifetime(role, lifetimes),
            )
        )
        try:
            await session.commit()
        except IntegrityError as exc:
            # Lost a race with another process creating the same name.
            raise ValueError(f"a user named {name!r} already exists") from exc
    return user, token


async def issue_token(
    db: Database,
    user_id: int,
    label: str = "",
    lifetimes: Mapping[str, timedelta] | None = None,
) -> str:
    """A further token for the user; returns the plain token (shown once)."""
    token, _ = await issue_token_row(db, user_id, label, lifetimes)
    return token


async def issue_token_row(
    db: Database,
    user_id: int,
    label: str = "",
    lifetimes: Mapping[str, timedelta] | None = None,
) -> tuple[str, ApiToken]:
    """As ``issue_token``, with the stored row (id, expiry) beside the plain token."""
    token = _new_token()
    async with db.session() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise ValueError(f"unknown user id {user_id}")
        now = utcnow()
        row = ApiToken(
            user_id=user_id,
            token_hash=hash_token(token),
            label=label,
            created_at=now,
            expires_at=now + _lifetime(user.role, lifetimes),
        )
        session.add(row)
        await session.commit()
    return token, row


async def revoke_token(db: Database, user_id: int, token_id: int) -> ApiToken | None:
    """Revoke one token of the user (a revoked one stays as it was); None if the user has
    no token of that id. The user's other tokens go on working."""
    async with db.session() as session:
        row = await session.scalar(
            select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
        )
        if row is None:
            return None
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            await session.commit()
        return row


async def list_tokens(db: Database, user_id: int) -> list[ApiToken]:
    """The user's tokens, newest first (their hashes are for lookups, not for showing)."""
    async with db.session() as session:
        rows = await session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user_id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
        return list(rows)


async def set_active(db: Database, user_id: int, active: bool) -> User | None:
    """(De)activate a user; a deactivated user's tokens stop working at the next request.
    None if there is no such user."""
    async with db.session() as session:
        user = await session.get(User, user_id)
        if user is None:
            return None
        if user.active != active:
            user.active = active
            await session.commit()
        return user


async def get_user(db: Database, user_id: int) -> User | None:
    async with db.session() as session:
        return await session.get(User, user_id)


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


@dataclass(frozen=True)
class TokenCheck:
    """What a token is: its user when good; else ``user`` is None and ``expired`` says
    whether it was a real token past its lifetime (unknown, revoked and inactive: False)."""

    user: User | None
    expired: bool = False


async def check_token(
    db: Database,
    token: str,
    *,
    now: datetime | None = None,
    lifetimes: Mapping[str, timedelta] | None = None,
) -> TokenCheck:
    """Look the token up: good only if known, not revoked, not expired, its user active."""
    now = now or utcnow()
    async with db.session() as session:
        row = (
            await session.execute(
                select(User, ApiToken.created_at, ApiToken.expires_at)
                .join(ApiToken, ApiToken.user_id == User.id)
                .where(
                    ApiToken.token_hash == hash_token(token),
                    ApiToken.revoked_at.is_(None),
                    User.active.is_(True),
                )
            )
        ).one_or_none()
    if row is None:
        return TokenCheck(None)
    user, created_at, expires_at = row
    ends = created_at + _lifetime(user.role, lifetimes)
    if expires_at is not None:
        ends = min(ends, expires_at)
    if now >= ends:
        return TokenCheck(None, expired=True)
    return TokenCheck(user)


async def user_for_token(
    db: Database,
    token: str,
    *,
    now: datetime | None = None,
    lifetimes: Mapping[str, timedelta] | None = None,
) -> User | None:
    """The active user holding this unrevoked, unexpired token, or None."""
    return (await check_token(db, token, now=now, lifetimes=lifetimes)).user


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
