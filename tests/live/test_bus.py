"""The publishing seam: in-process, and PostgreSQL LISTEN/NOTIFY between two processes' buses
on the real server (the connection dropping and coming back included)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url

from live.bus import (
    MAX_PAYLOAD,
    InProcessBus,
    PostgresBus,
    audience_from_json,
    audience_to_json,
    notification,
)
from live.hub import Audience, EventHub, Viewer
from tests.pbx.helpers import wait_until

AGENT_7 = Audience(agent_ids=frozenset({7}))


async def test_in_process_bus_reaches_the_hub() -> None:
    bus = InProcessBus(EventHub(boot="b"))
    await bus.start()
    bus.publish("agent", {"agent_id": 7}, AGENT_7)
    await bus.close()
    assert bus.hub.last_id == "b-1"


def test_an_audience_survives_the_wire() -> None:
    a = Audience(
        staff=frozenset(),
        agents=True,
        agent_ids=frozenset({1, 2}),
        team_ids=frozenset({3}),
        place_paths=("/1/5/",),
    )
    assert audience_from_json(json.loads(json.dumps(audience_to_json(a)))) == a


def test_a_change_too_large_for_notify_is_trimmed_and_says_so() -> None:
    data = {"agent_id": 7, "previous_calls": [{"call_id": i, "x": "é" * 40} for i in range(400)]}
    payload = notification("o", "pop", data, AGENT_7)
    assert payload is not None and len(payload.encode()) <= MAX_PAYLOAD
    sent = json.loads(payload)["d"]
    assert sent["truncated"] is True and sent["agent_id"] == 7
    assert 0 < len(sent["previous_calls"]) < 400
    assert sent["previous_calls"][0] == data["previous_calls"][0]  # the newest kept


def test_a_change_that_cannot_fit_is_not_sent() -> None:
    assert notification("o", "call", {"caller_name": "x" * 9000}, AGENT_7) is None


def test_a_small_change_is_sent_whole() -> None:
    payload = notification("o", "queue", {"name": "q"}, Audience(agents=True))
    assert payload is not None and "truncated" not in json.loads(payload)["d"]


# -- on the real PostgreSQL --------------------------------------------------------------


@pytest.fixture
def dsn(postgres_database_url: str) -> str:
    return (
        make_url(postgres_database_url)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


@pytest.fixture
async def buses(dsn: str) -> AsyncIterator[tuple[PostgresBus, PostgresBus]]:
    channel = f"test_events_{id(dsn) % 100000}"
    one = PostgresBus(
        EventHub(boot="one"), dsn, channel=channel, backoff_s=(0.05, 0.5), check_s=0.5
    )
    two = PostgresBus(
        EventHub(boot="two"), dsn, channel=channel, backoff_s=(0.05, 0.5), check_s=0.5
    )
    await one.start()
    await two.start()
    try:
        await asyncio.wait_for(one.listening.wait(), 10)
        await asyncio.wait_for(two.listening.wait(), 10)
        yield one, two
    finally:
        await one.close()
        await two.close()


@pytest.mark.postgres
async def test_a_change_published_in_one_process_reaches_the_others_viewers(
    buses: tuple[PostgresBus, PostgresBus],
) -> None:
    one, two = buses
    viewer = two.hub.subscribe(Viewer("agent", agent_id=7))
    one.publish("agent", {"agent_id": 7, "state": "idle"}, AGENT_7)
    raw = await viewer.next(timeout=5)
    assert raw is not None
    # Numbered by the receiving hub; the publisher's own hub has it at once, and only once.
    assert raw.startswith(b"id: two-1\nevent: agent\n")
    assert one.hub.seq == 1
    await asyncio.sleep(0.3)
    assert one.hub.seq == 1 and one.received == 0 and two.received == 1


@pytest.mark.postgres
async def test_the_listening_connection_drops_and_comes_back(
    buses: tuple[PostgresBus, PostgresBus], dsn: str
) -> None:
    one, two = buses
    viewer = two.hub.subscribe(Viewer("supervisor"))
    pid = two._listener.get_server_pid()
    admin = await asyncpg.connect(dsn)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    await wait_until(
        lambda: two.connects >= 2 and two.listening.is_set(), "the bus listens again", 10
    )
    # Changes may have been missed meanwhile: the viewers are told to resync.
    assert viewer.overflowed and "reconnect" in viewer.reason
    viewer.reset()
    one.publish("queue", {"name": "q"}, Audience(agents=True))
    raw = await viewer.next(timeout=5)
    assert raw is not None and b"event: queue" in raw


@pytest.mark.postgres
async def test_the_sender_survives_its_connection_dropping(
    buses: tuple[PostgresBus, PostgresBus], dsn: str
) -> None:
    one, two = buses
    viewer = two.hub.subscribe(Viewer("supervisor"))
    one.publish("queue", {"n": 1}, Audience(agents=True))
    assert await viewer.next(timeout=5) is not None
    admin = await asyncpg.connect(dsn)
    try:  # every connection of the publisher but its listener
        listener = one._listener.get_server_pid()
        others = await admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND pid <> $1 AND pid <> $2",
            listener,
            two._listener.get_server_pid(),
        )
        for row in others:
            await admin.fetchval("SELECT pg_terminate_backend($1)", row["pid"])
    finally:
        await admin.close()
    one.publish("queue", {"n": 2}, Audience(agents=True))
    raw = await viewer.next(timeout=10)
    assert raw is not None and b'"n":2' in raw
