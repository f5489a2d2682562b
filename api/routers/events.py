"""``GET /events``: the live event stream (Server-Sent Events) behind every screen.

A connection gets a ``snapshot`` first (what this user may see), then every change it may
see as it happens. A reconnect that sends ``Last-Event-ID`` (or ``?last_event_id=``) gets
the messages it missed, if the buffer still holds them all; otherwise a ``resync`` and a
fresh ``snapshot``. A ``heartbeat`` every ``events_heartbeat_s`` keeps proxies from closing
an idle stream. The stream ends when the client goes away or the service stops (the
browser's EventSource then reconnects, with its last id).

The token (or session cookie) is checked again at every heartbeat and when its lifetime
ends: a stream whose session was logged out, revoked, expired or whose user was deactivated
gets an ``ended`` message and closes, within one heartbeat (its reconnect then gets 401).
A database that cannot answer that check leaves the stream open (the check is retried at
the next heartbeat): a viewer is not cut off by an outage the rest of the page survives.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse

from api.deps import (
    AUTH_RESPONSES,
    AuthPolicy,
    CurrentAuth,
    ServicesDep,
    get_auth_policy,
)
from api.live_feed import LiveFeed
from api.schemas import ErrorOut
from live.hub import Subscription, Viewer
from store.models import User
from store.users import check_token

__all__ = ["router"]

router = APIRouter(tags=["events"], responses=AUTH_RESPONSES)

NOT_RUNNING = "Luồng sự kiện chưa chạy / The event stream is not running"
SESSION_ENDED = (
    "Phiên đăng nhập đã kết thúc: vui lòng đăng nhập lại / The session has ended: sign in again"
)

log = logging.getLogger(__name__)

EVENT_STREAM_DOC = """\
`text/event-stream`; every message is `id: <boot>-<seq>`, `event: <type>`, `data: <json>`.
Types: `snapshot` (first), `agent`, `queue`, `call`, `pop` (to the agent being rung),
`incident`, `figures` (supervisors and admins: the wallboard's figures of the day, as
`GET /wallboard/data` gives them, a few seconds after a call ends), `heartbeat`, `resync`
(then a fresh `snapshot`), `ended` (the session was logged out, revoked, expired or its user
deactivated: the stream closes)."""

LastId = Annotated[
    str | None,
    Query(
        max_length=64,
        description="The id of the last message seen (for clients that cannot send the "
        "Last-Event-ID header)",
    ),
]
LastIdHeader = Annotated[str | None, Header(alias="Last-Event-ID", max_length=64)]


@router.get(
    "/events",
    summary="Live event stream (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": EVENT_STREAM_DOC,
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        503: {"model": ErrorOut, "description": "The event stream is not running"},
    },
)
async def events(
    request: Request,
    auth: CurrentAuth,
    services: ServicesDep,
    policy: Annotated[AuthPolicy, Depends(get_auth_policy)],
    last_event_id: LastId = None,
    last_event_id_header: LastIdHeader = None,
) -> StreamingResponse:
    """Every role: each sees what the REST routes let it read (an agent its own state, calls
    and pops, the queues and the incidents of its calls; a team the incidents under its
    place; supervisors and admins everything)."""
    user = auth.user
    feed = services.feed
    if feed is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, NOT_RUNNING)
    viewer = await feed.viewer_of(user)
    # Subscribed before the snapshot is made: nothing published meanwhile is lost.
    sub = feed.hub.subscribe(viewer)
    last = last_event_id_header or last_event_id
    # Right after subscribing, with no await between: the replay and the queue meet exactly.
    missed = feed.hub.replay(last, viewer) if last else None

    async def still_signed_in() -> bool:
        try:
            checked = await check_token(services.db, auth.token, lifetimes=policy.lifetimes)
        except Exception:  # the database is away: keep the stream, check again later
            log.warning("events: could not re-check %s's session; kept", user.name)
            return True
        return checked.user is not None

    return StreamingResponse(
        _stream(request, feed, user, viewer, sub, last, missed, still_signed_in, auth.ends_at),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(
    request: Request,
    feed: LiveFeed,
    user: User,
    viewer: Viewer,
    sub: Subscription,
    last: str | None,
    missed: list[bytes] | None,
    still_signed_in: Callable[[], Awaitable[bool]],
    ends_at: datetime | None,
) -> AsyncIterator[bytes]:
    hub = feed.hub
    heartbeat_s = feed.heartbeat_s
    try:
        if missed is not None:
            for frame in missed:
                yield frame
        else:
            if last:
                reason = "Không còn trong bộ đệm / not in the buffer any more"
                yield hub.message("resync", {"reason": reason})
            yield await _snapshot(feed, user, viewer)
        while not sub.closed:
            wait = heartbeat_s
            if ends_at is not None:
                wait = max(0.0, min(wait, (ends_at - datetime.now(UTC)).total_seconds()))
            raw = await sub.next(timeout=wait)
            if raw is not None:
                yield raw
            elif sub.overflowed:
                yield hub.message("resync", {"reason": sub.reason})
                sub.reset()
                yield await _snapshot(feed, user, viewer)
            elif not sub.closed:
                if await request.is_disconnected():
                    break
                expired = ends_at is not None and datetime.now(UTC) >= ends_at
                if expired or not await still_signed_in():
                    yield hub.message("ended", {"reason": SESSION_ENDED})
                    break
                yield hub.message("heartbeat", {"server_time": datetime.now(UTC).isoformat()})
    finally:
        hub.unsubscribe(sub)


async def _snapshot(feed: LiveFeed, user: User, viewer: Viewer) -> bytes:
    # The id is the newest change's when the snapshot begins: what is published while it is
    # made (it awaits the database) is queued for this viewer and comes after it, and a
    # reconnect from this id replays it too.
    begun = feed.hub.last_id
    return feed.hub.message("snapshot", await feed.snapshot(user, viewer), event_id=begun)
