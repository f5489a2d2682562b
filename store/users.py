"""API users and their bearer tokens.

A token is shown once, when issued; the database keeps only its SHA-256, so a copy of the
database does not let anyone call the API.

Tokens expire: each role has a lifetime (``DEFAULT_TOKEN_TTL_S``, the settings'
``token_ttl_s``). A token is good until the earlier of its own ``expires_at`` (set when
issued) and its creation plus the role's lifetime *now*, so shortening a lifetime in the
settings takes effect at once. A token can be revoked alone; a deactivated user's tokens
stop working at once: a good token is kept in memory (``store/token_cache.py``) only until
the next revocation or deactivation, which empties every process's cache.

Passwords (to sign in to the pages) are stored as Argon2id hashes (argon2-cffi's
``PasswordHasher``); a hash made with older parameters is replaced at the next good
sign-in. Hashing costs tens of milliseconds of CPU and 64 MiB, so it runs in a thread
(``asyncio.to_thread``) and never stalls the event loop. ``verify_password`` costs the same
for an unknown name, a user without a password or an inactive one (it checks against a
dummy hash), so the time of an answer does not tell which names exist.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from store.db import Database
from store.models import Agent, ApiToken, Role, Team, User
from store.token_cache import CachedToken, notify_sql, revoked, token_cache
from store.types import utcnow

__all__ = [
    "DEFAULT_TOKEN_TTL_S",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "WEB_SESSION_LABEL",
    "TokenCheck",
    "check_token",
    "create_user",
    "generate_password",
    "get_user",
    "get_user_by_name",
    "has_password",
    "hash_token",
    "issue_token",
    "issue_token_row",
    "list_tokens",
    "list_users",
    "revoke_session",
    "revoke_token",
    "revoke_tokens",
    "set_active",
    "set_password",
    "token_lifetimes",
    "user_for_token",
    "validate_password",
    "verify_password",
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
            await _announce(db, session)
            await session.commit()
            revoked(db.url)
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
            await _announce(db, session)
            await session.commit()
            revoked(db.url)
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
        await _announce(db, session)
        await session.commit()
    revoked(db.url)
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class TokenCheck:
    """What a token is: its user when good; else ``user`` is None and ``expired`` says
    whether it was a real token past its lifetime (unknown, revoked and inactive: False).
    ``ends_at``: when a good token stops working (its expiry or its role's lifetime)."""

    user: User | None
    expired: bool = False
    ends_at: datetime | None = None


async def check_token(
    db: Database,
    token: str,
    *,
    now: datetime | None = None,
    lifetimes: Mapping[str, timedelta] | None = None,
) -> TokenCheck:
    """Look the token up: good only if known, not revoked, not expired, its user active.

    A good token is kept in this process's ``store.token_cache`` and not looked up again
    until a revocation (here or, as that module says, in another process) empties it."""
    now = now or utcnow()
    token_hash = hash_token(token)
    cache = token_cache(db.url)
    generation = cache.generation
    hit = cache.get(token_hash)
    if hit is not None:
        user, created_at, expires_at = hit.user(), hit.created_at, hit.expires_at
    else:
        async with db.session() as session:
            row = (
                await session.execute(
                    select(User, ApiToken.created_at, ApiToken.expires_at)
                    .join(ApiToken, ApiToken.user_id == User.id)
                    .where(
                        ApiToken.token_hash == token_hash,
                        ApiToken.revoked_at.is_(None),
                        User.active.is_(True),
                    )
                )
            ).one_or_none()
        if row is None:
            return TokenCheck(None)
        user, created_at, expires_at = row
        cache.put(token_hash, CachedToken.of(user, created_at, expires_at), generation)
    ends = created_at + _lifetime(user.role, lifetimes)
    if expires_at is not None:
        ends = min(ends, expires_at)
    if now >= ends:
        return TokenCheck(None, expired=True)
    return TokenCheck(user, ends_at=ends)


async def _announce(db: Database, session: AsyncSession) -> None:
    """In a revoking transaction on PostgreSQL: the other processes hear of it at commit."""
    if db.engine.dialect.name == "postgresql":
        await session.execute(text(notify_sql()))


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


# --- passwords -------------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 10
# Argon2 takes any length, but a megabyte-long password would still be read and hashed.
MAX_PASSWORD_LENGTH = 256
# The label of the tokens that the sign-in page issues as session cookies.
WEB_SESSION_LABEL = "web session"

# argon2-cffi's defaults are RFC 9106's "low memory" choice: Argon2id, t=3, 64 MiB, p=4.
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Made once, with the same parameters as real hashes, so that checking a name that has
    # no hash costs as long as checking one that has.
    return _hasher.hash(secrets.token_urlsafe(16))


def validate_password(password: str, name: str = "") -> None:
    """Raise ``ValueError`` saying what is wrong with ``password`` as a new password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(
            f"the password is too short: at least {MIN_PASSWORD_LENGTH} characters "
            f"(it has {len(password)})"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"the password is too long: at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise ValueError("the password must not be only spaces")
    if name and password.strip().casefold() == name.strip().casefold():
        raise ValueError("the password must not be the user name")


def generate_password() -> str:
    """A strong password for a person to type: 16 characters from letters and digits
    without look-alikes (about 90 bits)."""
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(16))


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


async def set_password(
    db: Database, user_id: int, password: str, *, end_sessions: bool = True
) -> User:
    """Set the user's password (checked by ``validate_password``); by default ends their
    web sessions too (bearer tokens for scripts go on working). ``ValueError`` for an
    unknown user or a password that does not pass."""
    async with db.session() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise ValueError(f"unknown user id {user_id}")
        validate_password(password, user.name)
        user.password_hash = await asyncio.to_thread(_hasher.hash, password)
        if end_sessions:
            await session.execute(
                update(ApiToken)
                .where(
                    ApiToken.user_id == user_id,
                    ApiToken.label == WEB_SESSION_LABEL,
                    ApiToken.revoked_at.is_(None),
                )
                .values(revoked_at=utcnow())
            )
            await _announce(db, session)
        await session.commit()
        if end_sessions:
            revoked(db.url)
        return user


async def verify_password(db: Database, name: str, password: str) -> User | None:
    """The active user of that name if ``password`` is theirs, else None (unknown name, no
    password set, inactive user or wrong password: the same answer, in about the same
    time). A hash made with older parameters is replaced by a new one."""
    user = await get_user_by_name(db, name.strip()) if name.strip() else None
    stored = user.password_hash if user is not None else None
    good = await asyncio.to_thread(_verify, stored, password)
    if not good or user is None or stored is None or not user.active:
        return None
    if _hasher.check_needs_rehash(stored):
        rehashed = await asyncio.to_thread(_hasher.hash, password)
        async with db.session() as session:
            # Only if no one changed it meanwhile.
            await session.execute(
                update(User)
                .where(User.id == user.id, User.password_hash == stored)
                .values(password_hash=rehashed)
            )
            await session.commit()
        user.password_hash = rehashed
    return user


async def has_password(db: Database) -> bool:
    """Whether any user has a password (the service's first start creates some if not)."""
    async with db.session() as session:
        found = await session.scalar(select(User.id).where(User.password_hash.is_not(None)))
        return found is not None


async def revoke_session(db: Database, token: str) -> bool:
    """Revoke the token of that value (a sign-out); False if unknown or already revoked."""
    async with db.session() as session:
        result = await session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        await _announce(db, session)
        await session.commit()
    revoked(db.url)
    return bool(getattr(result, "rowcount", 0))
