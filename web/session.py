"""Who is signed in on a page request: the session cookie that ``POST /auth/login`` set.

Pages never answer 401: a visitor without a valid session is sent to the login page. The
cookie holds an ordinary API token (``store/users.py``), so revocation, expiry by role and
deactivation apply as they do to a bearer token."""

from __future__ import annotations

from fastapi import Request

from api.auth import SESSION_COOKIE, csrf_token_for, session_token
from api.deps import get_auth_policy, get_services
from store.models import User
from store.users import check_token

__all__ = ["SESSION_COOKIE", "page_user"]


async def page_user(request: Request) -> tuple[User, str] | None:
    """The signed-in user and their CSRF token, or None (no cookie, or a token no longer good)."""
    token = session_token(request)
    if token is None:
        return None
    services = await get_services(request)
    policy = await get_auth_policy(request)
    checked = await check_token(services.db, token, lifetimes=policy.lifetimes)
    if checked.user is None:
        return None
    return checked.user, csrf_token_for(token)
