"""Web sessions: the sign-in cookie and what guards cookie-authenticated requests.

A session is a token of the ordinary kind (``store/users.py``, labelled ``"web session"``):
revocation, the role's lifetime and deactivation apply to it as to any bearer token. The
browser keeps it in a cookie that scripts cannot read (HttpOnly), that no other site's
request carries (SameSite=Strict), sent only over TLS when the page came over TLS (Secure).

A browser sends cookies by itself, so a request authenticated by the cookie that changes
something (any method but GET, HEAD, OPTIONS) must also prove it comes from one of the
service's own pages:

- header ``X-CSRF-Token`` equal to ``csrf_token_for(session token)``, a value that the
  pages get from ``POST /auth/login`` or ``GET /auth/me`` (or a ``<meta>`` of the page) and
  another site cannot read; derived from the token, so nothing more is stored;
- and, when the browser sends ``Origin``, the service's own origin (scheme and host of the
  request; behind a TLS proxy, run uvicorn with ``--proxy-headers`` so the scheme is right).

Bearer tokens are not sent by browsers on their own, so bearer requests need neither.

    token = session_token(request)            # the cookie's value, or None
    check_cross_site(request, token)          # 403 unless header and Origin are right
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime

from fastapi import HTTPException, Request, Response, status

__all__ = [
    "CROSS_SITE_REFUSED",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "check_cross_site",
    "check_origin",
    "clear_session_cookie",
    "csrf_token_for",
    "session_token",
    "set_session_cookie",
]

SESSION_COOKIE = "hotline1022_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CROSS_SITE_REFUSED = "Yêu cầu từ trang khác bị từ chối / Cross-site request refused"


def csrf_token_for(token: str) -> str:
    """The CSRF token of a session token: url-safe SHA-256 of ``"csrf\\0" + token``. It does
    not reveal the session token, and only who knows the session token can compute it."""
    digest = hashlib.sha256(b"csrf\0" + token.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def session_token(request: Request) -> str | None:
    """The session cookie's value, or None when the request carries none."""
    return request.cookies.get(SESSION_COOKIE) or None


def _own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}".lower()


def check_origin(request: Request) -> None:
    """403 if the request says it comes from another origin (``Origin`` sent and not the
    service's own). A request without ``Origin`` (a script, an old browser) passes."""
    origin = request.headers.get("origin")
    if origin is not None and origin.strip().lower() != _own_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, CROSS_SITE_REFUSED)


def check_cross_site(request: Request, token: str) -> None:
    """For a request authenticated by the session cookie ``token``: unless its method is
    safe, 403 without the right ``X-CSRF-Token`` or with another ``Origin``."""
    if request.method.upper() in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode(), csrf_token_for(token).encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, CROSS_SITE_REFUSED)
    check_origin(request)


def set_session_cookie(
    response: Response, request: Request, token: str, ends_at: datetime, now: datetime
) -> None:
    """Give the browser the session cookie, kept until the session ends (``Max-Age``)."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max(0, int((ends_at - now).total_seconds())),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """Tell the browser to drop the session cookie."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
