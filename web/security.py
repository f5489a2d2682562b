"""Security headers on every page: a Content-Security-Policy that allows only the service's
own origin (no inline script or style, no framing), ``nosniff`` and a strict referrer.

A pure ASGI middleware so that it sees every response, the routers' and the error handlers'
alike, and never buffers a body (the event stream passes through untouched)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "SecurityHeaders"]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
REFERRER_POLICY = "same-origin"

_ALWAYS = ((b"x-content-type-options", b"nosniff"),)
_ON_HTML = (
    *_ALWAYS,
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("latin-1")),
    (b"referrer-policy", REFERRER_POLICY.encode("latin-1")),
    (b"x-frame-options", b"DENY"),
)
_OURS = frozenset(name for name, _ in _ON_HTML)


class SecurityHeaders:
    """Adds the CSP and Referrer-Policy to HTML responses and ``nosniff`` to every one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", ()))
                if _OURS.isdisjoint(name for name, _ in raw):
                    # The usual case, on every API answer: appended, no header object built.
                    content_type = next((v for name, v in raw if name == b"content-type"), b"")
                    raw.extend(_ON_HTML if content_type.startswith(b"text/html") else _ALWAYS)
                    message["headers"] = raw
                else:  # a route set one of them: replaced, as MutableHeaders does
                    headers = MutableHeaders(scope=message)
                    headers["X-Content-Type-Options"] = "nosniff"
                    if headers.get("content-type", "").startswith("text/html"):
                        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
                        headers["Referrer-Policy"] = REFERRER_POLICY
                        headers["X-Frame-Options"] = "DENY"
            await send(message)

        await self.app(scope, receive, send_with_headers)
