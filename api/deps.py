"""Dependencies the routers take as parameters: services, a session, the caller and roles.

    @router.get("/calls")
    async def list_calls(user: CallReader, session: SessionDep) -> CallPage: ...

Authentication is a bearer token (``Authorization: Bearer <token>``) issued by
``hotline1022 users create`` or ``POST /users``, or the session cookie that
``POST /auth/login`` sets (``api/auth.py``; the bearer token wins when both are sent; a
cookie-authenticated request that changes something must carry the CSRF header, else 403).
``HTTPBearer(auto_error=False)`` lets this module word the 401 answers itself. A token is
good until it is revoked, its user is deactivated, or its role's lifetime passes
(``AuthPolicy``); a client address whose tokens fail too often is answered 429 for a while
(``api/ratelimit.py``), valid token or not, so that it learns nothing more.

What an error may tell, the rule every route follows so that none leaks what another user
owns:

- **401**: no token, or one that is not valid. Said before anything else is looked at.
- **403**: the caller's *role* may not do this, to any resource of the kind (an agent
  listing callbacks; an agent logging in as another agent id, whatever the id). Decided
  from the role and the request alone, never from a row: a 403 says nothing about what
  exists.
- **404**: the resource does not exist, *or the caller may not see it* (another agent's
  call, its outcome, an incident about no call the agent took, one outside a team's
  place). Both answer the same status and the same words, so an id cannot be probed.
- Only once the caller may see the resource does its state speak: 409 (an outcome already
  recorded, a step not allowed from where the incident is), or a 403 for an action that
  the caller may see but not take (a team acknowledging an incident it does not hold
  but that lies under its place).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPBearer
from fastapi.security.base import SecurityBase
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import check_cross_site, session_token
from api.ratelimit import FailureLimiter
from api.schemas import ErrorOut
from api.services import Services
from store.models import Role, User
from store.users import check_token, token_lifetimes

__all__ = [
    "AUTH_RESPONSES",
    "AuthGuard",
    "AuthPolicy",
    "Authentication",
    "CurrentAuth",
    "CurrentUser",
    "PolicyDep",
    "RoleGuard",
    "ServicesDep",
    "SessionDep",
    "agent_scope",
    "authenticate",
    "bearer_scheme",
    "get_auth_policy",
    "get_services",
    "get_session",
    "require_roles",
]

MISSING_TOKEN = "Missing bearer token: send 'Authorization: Bearer <token>'"
INVALID_TOKEN = "Invalid or revoked token"
EXPIRED_TOKEN = "Token expired: ask an administrator for a new one"
TOO_MANY_FAILURES = "Too many failed authentications from this address: try again later"

log = logging.getLogger(__name__)

# For the OpenAPI page of every route that needs a token.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_401_UNAUTHORIZED: {
        "model": ErrorOut,
        "description": "No token, or a bad, revoked or expired one, or a deactivated user's",
    },
    status.HTTP_403_FORBIDDEN: {
        "model": ErrorOut,
        "description": "The role may not do this; or a request authenticated by the session "
        "cookie without the right X-CSRF-Token, or from another Origin",
    },
    status.HTTP_429_TOO_MANY_REQUESTS: {
        "model": ErrorOut,
        "description": "Too many failed authentications from this address; see Retry-After",
        "headers": {
            "Retry-After": {
                "description": "Seconds until the address may try again",
                "schema": {"type": "integer"},
            }
        },
    },
}


@dataclass
class AuthPolicy:
    """How tokens are checked: the roles' lifetimes and the failed-authentication limit.
    ``clock`` is monotonic seconds, for the limiter (tests pass their own)."""

    lifetimes: Mapping[str, timedelta] = field(default_factory=token_lifetimes)
    failures: FailureLimiter = field(default_factory=lambda: FailureLimiter(limit=10, window_s=300))
    clock: Callable[[], float] = time.monotonic


async def get_auth_policy(request: Request) -> AuthPolicy:
    """The app's ``AuthPolicy`` (``app.state.auth``). A dependency (``PolicyDep``) and what
    the pages call too: async, so FastAPI runs it in the event loop rather than sending a
    plain ``def`` to a worker thread on every request."""
    policy = getattr(request.app.state, "auth", None)
    if not isinstance(policy, AuthPolicy):
        raise RuntimeError("app.state.auth is not set: build the app with create_app()")
    return policy


PolicyDep = Annotated[AuthPolicy, Depends(get_auth_policy)]


bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An API token from `hotline1022 users create` or `hotline1022 users token`.",
)


async def get_services(request: Request) -> Services:
    """The app's ``Services`` (``app.state.services``): a dependency (``ServicesDep``) and
    what the pages call too (async for the same reason as ``get_auth_policy``)."""
    services = request.app.state.services
    if not isinstance(services, Services):  # only a hand-built app could get here
        raise RuntimeError("app.state.services is not set: build the app with create_app()")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, closed (and rolled back if uncommitted) afterwards."""
    async with (await get_services(request)).db.session() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


@dataclass(frozen=True)
class Authentication:
    """Who is calling and by what: ``token`` is the bearer token or the session cookie's
    value (``by_cookie`` says which), good until ``ends_at``."""

    user: User
    token: str
    by_cookie: bool
    ends_at: datetime | None


# Where a request keeps its Authentication once made: two guards on one route (a route's
# own and one of its dependencies') check the token once, as FastAPI's cache did.
_AUTHENTICATED = "hotline1022.authentication"


def _bearer_token(request: Request) -> str:
    """The token of ``Authorization: Bearer <token>``, else "" (what ``bearer_scheme``, an
    ``HTTPBearer(auto_error=False)``, reads: the scheme case-insensitive, the token
    stripped)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def authenticate(request: Request) -> Authentication:
    """The active user whose unrevoked, unexpired token was sent (bearer, else the session
    cookie); else 401, or 429 for an address that failed too often lately (checked first:
    it learns nothing more). A cookie-authenticated unsafe request without the right CSRF
    header, or from another Origin, is then refused (403)."""
    done = request.scope.get(_AUTHENTICATED)
    if isinstance(done, Authentication):
        return done
    policy = await get_auth_policy(request)
    address = request.client.host if request.client is not None else "unknown"
    now = policy.clock()
    wait = policy.failures.retry_after(address, now)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            TOO_MANY_FAILURES,
            headers={"Retry-After": str(wait)},
        )
    by_cookie = False
    token = _bearer_token(request)
    if not token:
        token = session_token(request) or ""
        by_cookie = bool(token)
    if not token:
        # Not counted: it guesses nothing and costs no lookup (and a browser or a tool
        # probing without a token should not lock out the address's real clients).
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, MISSING_TOKEN, headers={"WWW-Authenticate": "Bearer"}
        )
    services = await get_services(request)
    checked = await check_token(services.db, token, lifetimes=policy.lifetimes)
    if checked.user is None:
        policy.failures.failed(address, now)
        why = "expired" if checked.expired else "invalid"
        what = "session" if by_cookie else "token"
        log.info("failed authentication from %s: %s %s", address, why, what)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            EXPIRED_TOKEN if checked.expired else INVALID_TOKEN,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if by_cookie:
        check_cross_site(request, token)
    auth = Authentication(checked.user, token, by_cookie, checked.ends_at)
    request.scope[_AUTHENTICATED] = auth
    return auth


class _Guard(SecurityBase):
    """One dependency that authenticates the request (``authenticate``) and, for a
    ``RoleGuard``, checks the role: FastAPI solves one node per request where a chain of
    six (roles, user, authentication, services, policy, bearer scheme) cost about a third
    of a light route's CPU. A ``SecurityBase`` with ``bearer_scheme``'s model and name, so
    the OpenAPI document shows every guarded route's bearer security as before."""

    def __init__(self) -> None:
        self.model = bearer_scheme.model
        self.scheme_name = bearer_scheme.scheme_name


class AuthGuard(_Guard):
    """``Depends(AuthGuard())``: the request's ``Authentication`` (any role)."""

    async def __call__(self, request: Request) -> Authentication:
        return await authenticate(request)


class RoleGuard(_Guard):
    """``Depends(RoleGuard(roles, action))``: the caller if their role is one of ``roles``,
    else 403 (after ``authenticate``'s 429, 401 and cross-site 403)."""

    def __init__(self, roles: tuple[str, ...] | None, action: str) -> None:
        super().__init__()
        self.allowed = roles
        self.action = action

    async def __call__(self, request: Request) -> User:
        user = (await authenticate(request)).user
        if self.allowed is not None and user.role not in self.allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"Role {user.role!r} may not {self.action}; "
                f"allowed roles: {', '.join(self.allowed)}",
            )
        return user


CurrentAuth = Annotated[Authentication, Depends(AuthGuard())]
CurrentUser = Annotated[User, Depends(RoleGuard(None, ""))]


def require_roles(*roles: str, action: str = "use this endpoint") -> RoleGuard:
    """A dependency that returns the caller if their role is one of ``roles``, else 403.

    ``action`` completes the message: "Role 'team' may not <action>; allowed roles: …".
    """
    allowed = tuple(Role(role).value for role in roles)  # a typo fails at import, not later
    return RoleGuard(allowed, action)


def agent_scope(user: User) -> int | None:
    """The agent id an ``agent`` user is confined to; None for roles that see every agent."""
    if user.role != Role.AGENT:
        return None
    if user.agent_id is None:
        # Its agent was deleted (the link is SET NULL): confining to "nothing" is the only
        # safe reading; treating None as "no filter" would show everyone's calls.
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"User {user.name!r} has role 'agent' but no agent"
        )
    return user.agent_id
