"""Who is signed in on a page request: the session cookie that ``POST /auth/login`` set.

Pages never answer 401: a visitor without a valid session is sent to the login page. The
cookie holds an ordinary API token (``store/users.py``), so revocation, expiry by role and
deactivation apply as they do to a bearer token."""

from __future__ import annotations

import base64
import hashlib

from fastapi import Request

from api.deps import get_auth_policy, get_services
from store.models import User
from store.users import check_token

__all__ = ["SESSION_COOKIE", "csrf_token_for", "page_user", "session_token"]

SESSION_COOKIE = "hotline1022_session"


def session_token(request: Request) -> str | None:
    token = request.cookies.get(SESSION_COOKIE)
    return token or None


def csrf_token_for(token: str) -> str:
    """The anti-forgery value of a session: derived from its token, so nothing is stored."""
    digest = hashlib.sha256(b"csrf\0" + token.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def page_user(request: Request) -> tuple[User, str] | None:
    """The signed-in user and their CSRF token, or None (no cookie, or a token no longer good)."""
    token = session_token(request)
    if token is None:
        return None
    services = get_services(request)
    policy = get_auth_policy(request)
    checked = await check_token(services.db, token, lifetimes=policy.lifetimes)
    if checked.user is None:
        return None
    return checked.user, csrf_token_for(token)
