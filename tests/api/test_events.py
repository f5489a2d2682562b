"""``GET /events`` over a real HTTP server (uvicorn on a free port: httpx's in-process
transport does not stream): snapshot first, then the changes the user may see, replay on
reconnect, resync beyond the buffer, heartbeats, 401, and the end of the stream at shutdown."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.deps import AuthPolicy
from api.live_feed import LiveFeed
from api.ratelimit import FailureLimiter
from dispatch.incidents import IncidentService
from hotline1022.service import end_streams_on_exit
from live.bus import InProcessBus
from live.hub import Audience, EventHub
from queues.agent_state import AgentLiveState
from queues.calls import CallState
from queues.ports import QueueView
from tests.api.support import Api

BUFFER = 5


@dataclass
class Stream:
    api: Api
    feed: LiveFeed
    url: str
    calls: dict[str, CallState]
    server: uvicorn.Server
    serving: asyncio.Task[None]

    def auth(self, who: str) -> dict[str, str]:
        return self.api.auth(who)


@pytest.fixture
async def stream(api: Api) -> AsyncIterator[Stream]:
    calls: dict[str, CallState] = {}
    api.queues.views = [QueueView("food-724", "food", 2, 12.0, ["agent01"], 30.0)]
    feed = LiveFeed(
        InProcessBus(EventHub(buffer=BUFFER, boot="t")),
        api.db,
        agent_states=None,
        queues=api.queues,
        calls=lambda: calls,
        district_names={724: "Dĩ An"},
        coalesce_s=0.01,
        heartbeat_s=0.3,
    )
    await feed.start()
    # The queue items as they stay (the fake does not change): no queue events after this.
    assert feed.publish_queues() == 1 and feed.publish_queues() == 0
    app = create_app(
        db=api.db,
        agents=api.control,
        queues=api.queues,
        ami_status=lambda: {"connected": True},
        incidents=IncidentService(api.db),
        auth=AuthPolicy(failures=FailureLimiter(limit=1_000_000, window_s=300)),
        feed=feed,
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    end_streams_on_exit(server, feed.hub)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 -- uvicorn offers no event for it
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Stream(api, feed, f"http://127.0.0.1:{port}", calls, server, task)
    finally:
        feed.hub.close()
        server.should_exit = True
        if not task.done():
            await asyncio.wait_for(task, 10)
        await feed.close()


class Reader:
    """The messages of one open stream, parsed."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        fields: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            async for line in self.lines:
                if not line:
                    if fields:
                        break
                    continue
                key, _, value = line.partition(": ")
                fields[key] = value
            else:
                raise EOFError("the stream ended")
        return {"id": fields["id"], "event": fields["event"], "data": json.loads(fields["data"])}

    async def until(self, event: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        while True:
            message = await self.next(timeout)
            if message["event"] == event:
                return message


@asynccontextmanager
async def _open(
    client: httpx.AsyncClient, s: Stream, who: str, last_id: str | None = None
) -> AsyncIterator[Reader]:
    headers = s.auth(who)
    if last_id is not None:
        headers["Last-Event-ID"] = last_id
    async with client.stream("GET", f"{s.url}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        yield Reader(response)


def _agent(endpoint: str, state: str = "idle") -> AgentLiveState:
    return AgentLiveState(endpoint, queues={"food-724"}, state=state, since=1_700_000_000.0)


def _call(uid: str, endpoint: str | None) -> CallState:
    return CallState(
        uniqueid=uid,
        linkedid=uid,
        caller_number="0912345678",
        caller_name="Nguyễn Văn An",
        arrived_at=datetime(2024, 5, 1, 8, 0, tzinfo=UTC),
        status="connected",
        agent_endpoint=endpoint,
        district_code=724,
    )


async def test_without_a_token_401(stream: Stream) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{stream.url}/events")
    assert response.status_code == 401
    assert "detail" in response.json()


async def test_snapshot_first_then_only_what_the_agent_may_see(stream: Stream) -> None:
    stream.calls["c1"] = _call("c1", "agent01")
    stream.calls["c2"] = _call("c2", "agent02")
    async with httpx.AsyncClient() as client, _open(client, stream, "agent") as reader:
        first = await reader.next()
        assert first["event"] == "snapshot"
        snap = first["data"]
        assert snap["user"]["role"] == "agent"
        assert snap["user"]["agent_id"] == stream.api.agent_ids["agent01"]
        assert [a["endpoint"] for a in snap["agents"]] == ["agent01"]
        assert [c["uniqueid"] for c in snap["calls"]] == ["c1"]
        assert snap["calls"][0]["district_name"] == "Dĩ An"
        assert snap["queues"][0]["name"] == "food-724"
        assert snap["incidents"] == [] and snap["pop"] is None
        # Another agent's state and call, then this agent's: only the latter arrive.
        stream.feed.agent_changed(_agent("agent02", "paused"))
        stream.feed.call_changed(stream.calls["c2"])
        stream.feed.agent_changed(_agent("agent01", "ringing"))
        message = await reader.next()
        assert message["event"] == "agent"
        assert message["data"]["endpoint"] == "agent01"
        assert message["data"]["state"] == "ringing"
        stream.feed.call_changed(stream.calls["c1"])
        message = await reader.until("call")
        assert message["data"]["uniqueid"] == "c1"


async def test_a_supervisor_sees_every_agent_and_call_but_no_pop(stream: Stream) -> None:
    async with httpx.AsyncClient() as client, _open(client, stream, "supervisor") as reader:
        snap = (await reader.next())["data"]
        assert {a["endpoint"] for a in snap["agents"]} >= {"agent01", "agent02"}
        agent01 = frozenset({stream.api.agent_ids["agent01"]})
        stream.feed.bus.publish("pop", {}, Audience(staff=frozenset(), agent_ids=agent01))
        stream.feed.agent_changed(_agent("agent02", "paused"))
        assert (await reader.next())["event"] == "agent"


async def test_a_team_gets_no_agents_calls_or_queues(stream: Stream) -> None:
    stream.calls["c1"] = _call("c1", "agent01")
    async with httpx.AsyncClient() as client, _open(client, stream, "team") as reader:
        snap = (await reader.next())["data"]
        assert snap["agents"] == [] and snap["calls"] == [] and snap["queues"] == []
        stream.feed.agent_changed(_agent("agent01"))
        stream.feed.call_changed(stream.calls["c1"])
        assert (await reader.next(timeout=2))["event"] == "heartbeat"


async def test_reconnect_with_last_event_id_gets_exactly_the_missed_ones(stream: Stream) -> None:
    async with httpx.AsyncClient() as client:
        async with _open(client, stream, "agent") as reader:
            await reader.next()
            stream.feed.agent_changed(_agent("agent01", "ringing"))
            last = (await reader.next())["id"]
        stream.feed.agent_changed(_agent("agent01", "on_call"))
        stream.feed.agent_changed(_agent("agent02", "on_call"))  # not this agent's
        stream.feed.agent_changed(_agent("agent01", "wrapup"))
        async with _open(client, stream, "agent", last_id=last) as reader:
            one, two = await reader.next(), await reader.next()
            assert [m["event"] for m in (one, two)] == ["agent", "agent"]
            assert [m["data"]["state"] for m in (one, two)] == ["on_call", "wrapup"]
            assert int(two["id"].split("-")[1]) > int(one["id"].split("-")[1])
            # Nothing else: the next message is a heartbeat (no snapshot, nothing repeated).
            assert (await reader.next())["event"] == "heartbeat"


async def test_query_parameter_works_as_the_header(stream: Stream) -> None:
    last = stream.feed.hub.last_id
    stream.feed.agent_changed(_agent("agent01", "paused"))
    async with (
        httpx.AsyncClient() as client,
        client.stream(
            "GET",
            f"{stream.url}/events",
            params={"last_event_id": last},
            headers=stream.auth("agent"),
        ) as response,
    ):
        message = await Reader(response).next()
        assert message["event"] == "agent" and message["data"]["state"] == "paused"


async def test_resync_when_the_buffer_no_longer_holds_what_was_missed(stream: Stream) -> None:
    async with httpx.AsyncClient() as client:
        async with _open(client, stream, "agent") as reader:
            last = (await reader.next())["id"]
        for _ in range(BUFFER + 2):
            stream.feed.agent_changed(_agent("agent02", "paused"))
        async with _open(client, stream, "agent", last_id=last) as reader:
            resync = await reader.next()
            assert resync["event"] == "resync" and resync["data"]["reason"]
            snapshot = await reader.next()
            assert snapshot["event"] == "snapshot"
            assert snapshot["id"] == stream.feed.hub.last_id
        # An id from another boot (the service restarted) resyncs too.
        async with _open(client, stream, "agent", last_id="deadbeef-3") as reader:
            assert [(await reader.next())["event"], (await reader.next())["event"]] == [
                "resync",
                "snapshot",
            ]


async def test_heartbeats_keep_an_idle_stream_alive(stream: Stream) -> None:
    async with httpx.AsyncClient() as client, _open(client, stream, "admin") as reader:
        await reader.next()
        beats = [await reader.next(timeout=2), await reader.next(timeout=2)]
        assert [b["event"] for b in beats] == ["heartbeat", "heartbeat"]
        assert datetime.fromisoformat(beats[0]["data"]["server_time"])


async def test_a_slow_viewer_resyncs(stream: Stream) -> None:
    async with httpx.AsyncClient() as client, _open(client, stream, "supervisor") as reader:
        await reader.next()
        (sub,) = stream.feed.hub._subs
        sub.resync("viewer too slow")
        assert (await reader.next())["event"] == "resync"
        assert (await reader.next())["event"] == "snapshot"


async def test_the_stream_ends_when_the_service_stops_and_disconnects_unsubscribe(
    stream: Stream,
) -> None:
    async with httpx.AsyncClient() as client, _open(client, stream, "supervisor") as reader:
        await reader.next()
        assert stream.feed.hub.viewers == 1
        stream.feed.hub.close()
        with pytest.raises(EOFError):
            await reader.next(timeout=3)
    assert stream.feed.hub.viewers == 0


async def test_a_client_that_leaves_is_unsubscribed(stream: Stream) -> None:
    async with httpx.AsyncClient() as client, _open(client, stream, "supervisor") as reader:
        await reader.next()
        assert stream.feed.hub.viewers == 1
    async with asyncio.timeout(5):
        while stream.feed.hub.viewers:  # noqa: ASYNC110 -- the server's side, seen from here
            await asyncio.sleep(0.05)


async def test_uvicorn_stops_at_once_with_streams_open(stream: Stream) -> None:
    async with httpx.AsyncClient() as client, _open(client, stream, "supervisor") as reader:
        await reader.next()
        # What SIGTERM does: uvicorn waits for open connections before its lifespan ends,
        # so the streams must end when the signal comes, not at the lifespan's shutdown.
        stream.server.handle_exit(signal.SIGTERM, None)
        # uvicorn raises the signals it caught again once it has stopped: not in pytest.
        stream.server._captured_signals.clear()
        with pytest.raises(EOFError):
            await reader.next(timeout=3)
    await asyncio.wait_for(stream.serving, 5)


async def test_an_agent_created_after_the_start_gets_its_events(stream: Stream) -> None:
    from store.agents import create_agent

    async with stream.api.db.session() as session:
        agent = await create_agent(
            session, endpoint="agent77", name="Mới vào", home_district=None, skills={}
        )
        await session.commit()
        new_id = agent.id
    async with httpx.AsyncClient() as client, _open(client, stream, "supervisor") as reader:
        await reader.next()
        stream.feed.agent_changed(_agent("agent77", "idle"))
        message = await reader.until("agent")
        assert (message["data"]["agent_id"], message["data"]["name"]) == (new_id, "Mới vào")


async def test_a_browser_signed_in_with_the_session_cookie_may_watch(stream: Stream) -> None:
    """EventSource cannot send headers: the session cookie of POST /auth/login is enough."""
    from store.users import get_user_by_name, set_password

    user = await get_user_by_name(stream.api.db, "Đỗ Thị Agent")
    assert user is not None
    await set_password(stream.api.db, user.id, "mật-khẩu-đủ-dài-2026")
    async with httpx.AsyncClient(base_url=stream.url) as browser:
        login = await browser.post(
            "/auth/login", json={"name": "Đỗ Thị Agent", "password": "mật-khẩu-đủ-dài-2026"}
        )
        assert login.status_code == 200, login.text
        async with browser.stream("GET", "/events") as response:
            assert response.status_code == 200
            first = await Reader(response).next()
            assert first["event"] == "snapshot"
            assert first["data"]["user"]["name"] == "Đỗ Thị Agent"


async def test_a_change_made_while_the_snapshot_is_made_comes_after_it(
    stream: Stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = stream.feed
    real = feed.incidents_data

    async def slow_incidents(viewer: Any) -> list[dict[str, Any]]:
        feed.agent_changed(_agent("agent01", "paused"))  # while the database is read
        return await real(viewer)

    monkeypatch.setattr(feed, "incidents_data", slow_incidents)
    async with httpx.AsyncClient() as client, _open(client, stream, "agent") as reader:
        snapshot, change = await reader.next(), await reader.next()
    assert snapshot["event"] == "snapshot" and change["event"] == "agent"
    assert int(snapshot["id"].split("-")[1]) < int(change["id"].split("-")[1])
    # Reconnecting from the snapshot's id gets the change again: nothing falls between.
    monkeypatch.setattr(feed, "incidents_data", real)
    async with (
        httpx.AsyncClient() as client,
        _open(client, stream, "agent", last_id=snapshot["id"]) as reader,
    ):
        again = await reader.next()
    assert (again["id"], again["data"]["state"]) == (change["id"], "paused")


async def test_logging_out_ends_the_stream_within_a_heartbeat(stream: Stream) -> None:
    """A browser that signs out (or whose session is revoked) stops receiving at the next
    heartbeat: the stream says ``ended`` and closes; reconnecting is then refused."""
    from store.users import get_user_by_name, set_password

    user = await get_user_by_name(stream.api.db, "Đỗ Thị Agent")
    assert user is not None
    await set_password(stream.api.db, user.id, "mật-khẩu-đủ-dài-2026")
    async with httpx.AsyncClient(base_url=stream.url) as browser:
        login = await browser.post(
            "/auth/login", json={"name": "Đỗ Thị Agent", "password": "mật-khẩu-đủ-dài-2026"}
        )
        assert login.status_code == 200, login.text
        csrf = login.json()["csrf_token"]
        async with browser.stream("GET", "/events") as response:
            reader = Reader(response)
            assert (await reader.next())["event"] == "snapshot"
            assert (await reader.next(timeout=2))["event"] == "heartbeat"  # still signed in
            out = await browser.post("/auth/logout", headers={"X-CSRF-Token": csrf})
            assert out.status_code == 204, out.text
            ended = await reader.until("ended", timeout=2)
            assert "đăng nhập lại" in ended["data"]["reason"]
            with pytest.raises(EOFError):
                await reader.next(timeout=2)
        assert (await browser.get("/events")).status_code == 401


async def test_a_deactivated_user_s_stream_ends(stream: Stream) -> None:
    from store.users import get_user_by_name, set_active

    async with httpx.AsyncClient() as client, _open(client, stream, "supervisor") as reader:
        assert (await reader.next())["event"] == "snapshot"
        user = await get_user_by_name(stream.api.db, "supervisor user")
        assert user is not None
        await set_active(stream.api.db, user.id, False)
        assert (await reader.until("ended", timeout=2))["event"] == "ended"


async def test_a_database_that_cannot_recheck_the_session_keeps_the_stream(
    stream: Stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.routers.events as events_module

    async def down(*args: object, **kwargs: object) -> object:
        raise ConnectionError("database unreachable")

    async with httpx.AsyncClient() as client, _open(client, stream, "supervisor") as reader:
        assert (await reader.next())["event"] == "snapshot"
        monkeypatch.setattr(events_module, "check_token", down)
        beats = [(await reader.next(timeout=2))["event"] for _ in range(2)]
        assert beats == ["heartbeat", "heartbeat"]
