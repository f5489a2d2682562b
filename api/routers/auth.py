"""``/auth``: signing in to the pages with a name and password, a session cookie, signing out.

The session is a token like any other (``store/users.py``, labelled ``"web session"``),
kept by the browser in an HttpOnly, SameSite=Strict cookie (``api/auth.py``); a role's
lifetime, a revocation and a deactivation end it as they end a bearer token. Wrong names
and passwords count as failed authentications of the client address (429 after too many),
as bad tokens do. Scripts keep using bearer tokens.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.auth import (
    CROSS_SITE_REFUSED,
    check_cross_site,
    check_origin,
    clear_session_cookie,
    csrf_token_for,
    session_token,
    set_session_cookie,
)
from api.deps import (
    AUTH_RESPONSES,
    TOO_MANY_FAILURES,
    AuthPolicy,
    CurrentAuth,
    ServicesDep,
    get_auth_policy,
)
from api.schemas import ErrorOut
from store.models import User
from store.types import utcnow
from store.users import (
    MAX_PASSWORD_LENGTH,
    WEB_SESSION_LABEL,
    check_token,
    issue_token_row,
    revoke_session,
    verify_password,
)

__all__ = ["WRONG_LOGIN", "router"]

log = logging.getLogger(__name__)

WRONG_LOGIN = "Sai tên đăng nhập hoặc mật khẩu / Wrong name or password"

router = APIRouter(prefix="/auth", tags=["auth"])

Policy = Annotated[AuthPolicy, Depends(get_auth_policy)]

CROSS_SITE_RESPONSE: dict[int | str, dict[str, object]] = {
    status.HTTP_403_FORBIDDEN: {
        "model": ErrorOut,
        "description": f"From another Origin (or, signed in, without X-CSRF-Token): "
        f"{CROSS_SITE_REFUSED!r}",
    },
}
LOGIN_RESPONSES: dict[int | str, dict[str, object]] = {
    status.HTTP_200_OK: {
        "description": "Signed in; the session cookie is set",
        "headers": {
            "Set-Cookie": {
                "description": "hotline1022_session=<token>; HttpOnly; SameSite=Strict; "
                "Path=/; Max-Age=<seconds> (and Secure over https)",
                "schema": {"type": "string"},
            }
        },
    },
    status.HTTP_401_UNAUTHORIZED: {
        "model": ErrorOut,
        "description": f"Unknown name, wrong password, no password set or an inactive user, "
        f"all alike: {WRONG_LOGIN!r}",
    },
    **CROSS_SITE_RESPONSE,
    status.HTTP_429_TOO_MANY_REQUESTS: AUTH_RESPONSES[status.HTTP_429_TOO_MANY_REQUESTS],
}


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="The user name")
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class SessionUserOut(BaseModel):
    id: int
    name: str
    role: str
    agent_id: int | None
    team_id: int | None

    @classmethod
    def of(cls, user: User) -> SessionUserOut:
        return cls(
            id=user.id,
            name=user.name,
            role=user.role,
            agent_id=user.agent_id,
            team_id=user.team_id,
        )


class SessionOut(BaseModel):
    user: SessionUserOut
    csrf_token: str | None = Field(
        description="Send as header X-CSRF-Token with every request that changes something "
        "and is authenticated by the session cookie; null for a bearer token"
    )
    expires_at: datetime | None = Field(description="When the session (or token) ends")


@router.post(
    "/login",
    summary="Sign in with a name and password; sets the session cookie",
    responses=LOGIN_RESPONSES,
)
async def login(
    body: LoginIn, request: Request, response: Response, services: ServicesDep, policy: Policy
) -> SessionOut:
    # A form on another site must not sign the browser in to an account of its choosing.
    check_origin(request)
    address = request.client.host if request.client is not None else "unknown"
    now = policy.clock()
    wait = policy.failures.retry_after(address, now)
    if wait is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, TOO_MANY_FAILURES, headers={"Retry-After": str(wait)}
        )
    user = await verify_password(services.db, body.name, body.password)
    if user is None:
        policy.failures.failed(address, now)
        log.info("failed sign-in from %s", address)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, WRONG_LOGIN)
    token, row = await issue_token_row(services.db, user.id, WEB_SESSION_LABEL, policy.lifetimes)
    ends_at = row.expires_at or utcnow()
    set_session_cookie(response, request, token, ends_at, utcnow())
    log.info("user %r signed in from %s", user.name, address)
    return SessionOut(
        user=SessionUserOut.of(user), csrf_token=csrf_token_for(token), expires_at=ends_at
    )


@router.post(
    "/logout",
    summary="Sign out: the session's token is revoked and the cookie cleared",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=CROSS_SITE_RESPONSE,
)
async def logout(request: Request, services: ServicesDep, policy: Policy) -> Response:
    """Acts on the session cookie only (a bearer token is revoked with
    ``POST /users/{id}/tokens/{token_id}/revoke``); without a live session there is nothing
    to end and the answer is the same 204."""
    token = session_token(request)
    if token is not None:
        checked = await check_token(services.db, token, lifetimes=policy.lifetimes)
        if checked.user is not None:
            check_cross_site(request, token)
            await revoke_session(services.db, token)
            log.info("user %r signed out", checked.user.name)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookie(response, request)
    return response


@router.get(
    "/me",
    summary="Who is signed in: the user, the CSRF token, when the session ends",
    responses=AUTH_RESPONSES,
)
async def me(auth: CurrentAuth) -> SessionOut:
    return SessionOut(
        user=SessionUserOut.of(auth.user),
        csrf_token=csrf_token_for(auth.token) if auth.by_cookie else None,
        expires_at=auth.ends_at,
    )
