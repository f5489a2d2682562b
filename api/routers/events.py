"""``GET /events``: the live event stream (Server-Sent Events) behind every screen.

A connection gets a ``snapshot`` first (what this user may see), then every change it may
see as it happens. A reconnect that sends ``Last-Event-ID`` (or ``?last_event_id=``) gets
the messages it missed, if the buffer still holds them all; otherwise a ``resync`` and a
fresh ``snapshot``. A ``heartbeat`` every ``events_heartbeat_s`` keeps proxies from closing
an idle stream. The stream ends when the client goes away or the service stops (the
browser's EventSource then reconnects, with its last id).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse

from api.deps import AUTH_RESPONSES, CurrentUser, ServicesDep
from api.live_feed import LiveFeed
from api.schemas import ErrorOut
from live.hub import Subscription, Viewer
from store.models import User

__all__ = ["router"]

router = APIRouter(tags=["events"], responses=AUTH_RESPONSES)

NOT_RUNNING = "Luồng sự kiện chưa chạy / The event stream is not running"

EVENT_STREAM_DOC = """\
`text/event-stream`; every message is `id: <boot>-<seq>`, `event: <type>`, `data: <json>`.
Types: `snapshot` (first), `agent`, `queue`, `call`, `pop` (to the agent being rung),
`incident`, `heartbeat`, `resync` (then a fresh `snapshot`)."""

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
    user: CurrentUser,
    services: ServicesDep,
    last_event_id: LastId = None,
    last_event_id_header: LastIdHeader = None,
) -> StreamingResponse:
    """Every role: each sees what the REST routes let it read (an agent its own state, calls
    and pops, the queues and the incidents of its calls; a team the incidents under its
    place; supervisors and admins everything)."""
    feed = services.feed
    if feed is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, NOT_RUNNING)
    viewer = await feed.viewer_of(user)
    # Subscribed before the snapshot is made: nothing published meanwhile is lost.
    sub = feed.hub.subscribe(viewer)
    last = last_event_id_header or last_event_id
    # Right after subscribing, with no await between: the replay and the queue meet exactly.
    missed = feed.hub.replay(last, viewer) if last else None
    return StreamingResponse(
        _stream(request, feed, user, viewer, sub, last, missed),
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
            raw = await sub.next(timeout=heartbeat_s)
            if raw is not None:
                yield raw
            elif sub.overflowed:
                yield hub.message("resync", {"reason": sub.reason})
                sub.reset()
                yield await _snapshot(feed, user, viewer)
            elif not sub.closed:
                if await request.is_disconnected():
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
