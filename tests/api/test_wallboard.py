"""``GET /wallboard/data`` on the recorded day (figures worked out by hand in
tests/stats/recorded_day.py), who may read it, the page's refusals, and the ``figures``
event: computed once after a call ends and sent to supervisors and admins only."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta

import pytest

from api.wallboard import WallboardFigures
from live.hub import EventHub, Viewer
from queues.ports import QueueView
from stats.rollups import rebuild
from stats.wallboard import Thresholds
from store.models import Incident
from store.types import utcnow
from tests.api.support import Api
from tests.dispatch.incident_world import build_world
from tests.stats.recorded_day import DAY, NOW, load_recorded_day
from web import create_pages
from web.session import SESSION_COOKIE

NEXT_DAY = DAY + timedelta(days=1)


@pytest.fixture
async def day(api: Api) -> dict[str, int]:
    ids = await load_recorded_day(api.db)
    await rebuild(api.db, DAY, NEXT_DAY, now=NOW)
    # The recorded day's noon is "now" for the figures.
    figures = WallboardFigures(api.db, None, thresholds=Thresholds(), clock=lambda: NOW)
    api.app.state.services = replace(api.app.state.services, wallboard=figures)
    return ids


@pytest.mark.parametrize("who", ["supervisor", "admin"])
async def test_the_wallboard_holds_the_figures_of_the_day(
    api: Api, day: dict[str, int], who: str
) -> None:
    api.queues.views = [QueueView("medical", "medical", 2, 41.5, ["agent01"])]

    response = await api.client.get("/wallboard/data", headers=api.auth(who))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["queues"][0]["waiting"] == 2
    assert body["queues"][0]["longest_wait_s"] == 41.5
    assert body["thresholds"]["wait_warn_s"] == Thresholds().wait_warn_s
    figures = body["figures"]
    assert figures["day"] == "2024-05-01"
    medical = {r["category"]: r for r in figures["categories"]}["medical"]
    assert (medical["offered"], medical["answered"], medical["abandoned"]) == (9, 6, 2)
    # Answered within 15 s (medical's first threshold): 3 of 9 − 1 short abandon.
    assert (medical["service_level"], medical["sl_seconds"]) == (0.375, 15)
    assert medical["sl_level"] == "bad"  # below 70 %
    assert medical["asa_s"] == pytest.approx(102.5 / 6)
    assert medical["asa_level"] == "ok"  # 17 s: under 20 s
    assert medical["abandon_rate"] == pytest.approx(2 / 9)
    assert medical["abandon_level"] == "bad"
    queues = {r["queue"] for r in figures["queues"]}
    assert {"medical", "emergency", "food"} <= queues
    # agent01 answered M1, M3, M7: talk 120 + 90 + 150, wrap-up 30 + 20 + 10.
    agents = {a["agent_id"]: a for a in figures["agents"]}
    a01 = agents[day["agent01"]]
    assert (a01["answered"], a01["aht_s"]) == (3, pytest.approx(420 / 3))
    # 00:00 to 12:00 in quarters; 08:00–08:15 offered M1, M2, M3, M4, F1, V1; M4 abandoned.
    quarters = {q["label"]: q for q in figures["intervals"]}
    assert len(quarters) == 48
    q8 = quarters["08:00"]
    assert (q8["offered"], q8["answered"], q8["abandoned"]) == (6, 5, 1)


async def test_the_figures_are_computed_once_for_many_readers(
    api: Api, day: dict[str, int]
) -> None:
    figures = api.app.state.services.wallboard
    answers = await asyncio.gather(
        *(api.client.get("/wallboard/data", headers=api.auth("supervisor")) for _ in range(5))
    )
    assert all(a.status_code == 200 for a in answers)
    assert figures.rounds == 1


async def test_open_incidents_are_listed_overdue_first(api: Api) -> None:
    world = await build_world(api.db)
    late = await world.incident(caller="0911000001")
    on_time = await world.incident(caller="0911000002", address="8 Lê Lợi", urgency="normal")
    async with api.db.session() as s:
        for incident, due in ((late, -5), (on_time, 30)):
            row = await s.get(Incident, incident.id)
            assert row is not None
            row.ack_due_at = utcnow() + timedelta(minutes=due)
        await s.commit()

    body = (await api.client.get("/wallboard/data", headers=api.auth("admin"))).json()

    assert body["incidents_total"] == 2
    assert body["incidents_overdue"] == 1
    first = body["incidents"][0]
    assert (first["id"], first["overdue"]) == (late.id, True)


@pytest.mark.parametrize("who", ["agent", "team"])
async def test_agents_and_teams_may_not_read_the_wallboard(api: Api, who: str) -> None:
    response = await api.client.get("/wallboard/data", headers=api.auth(who))
    assert response.status_code == 403
    assert "read the wallboard" in response.json()["detail"]


async def test_anonymous_is_asked_to_sign_in(api: Api) -> None:
    assert (await api.client.get("/wallboard/data")).status_code == 401


async def test_a_bad_incidents_limit_is_a_422(api: Api) -> None:
    response = await api.client.get(
        "/wallboard/data", params={"incidents": 501}, headers=api.auth("supervisor")
    )
    assert response.status_code == 422


async def test_a_call_that_ends_sends_the_figures_to_supervisors_only(
    api: Api, day: dict[str, int]
) -> None:
    hub = EventHub(boot="w")
    figures = WallboardFigures(
        api.db,
        hub,
        thresholds=Thresholds(),
        interval_s=0.05,
        idle_s=3600,
        clock=lambda: NOW,
    )
    supervisor = hub.subscribe(Viewer("supervisor"))
    agent = hub.subscribe(Viewer("agent", agent_id=day["agent01"]))
    team = hub.subscribe(Viewer("team", team_id=1, place_path="/1/"))
    running = asyncio.create_task(figures.run())
    try:
        figures.rollups_refreshed()  # no call ended: nothing to tell
        figures.call_ended()  # ended, but the rollups do not count it yet
        await asyncio.sleep(0.2)
        assert figures.rounds == 0
        figures.call_ended()
        figures.call_ended()
        figures.rollups_refreshed()  # three calls in one round: one computation
        raw = await supervisor.next(timeout=10)
        assert raw is not None
        lines = dict(line.split(": ", 1) for line in raw.decode().strip().split("\n"))
        assert lines["event"] == "figures"
        sent = json.loads(lines["data"])
        assert {r["category"]: r["offered"] for r in sent["categories"]}["medical"] == 9
        assert await agent.next(timeout=0.2) is None
        assert await team.next(timeout=0.01) is None
        assert figures.rounds == 1
        figures.rollups_refreshed()  # a round with no call ended since: nothing new
        assert await supervisor.next(timeout=0.2) is None
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running


async def test_nobody_watching_nothing_is_computed(api: Api) -> None:
    hub = EventHub(boot="w")
    figures = WallboardFigures(
        api.db, hub, thresholds=Thresholds(), interval_s=0.01, idle_s=3600, clock=lambda: NOW
    )
    running = asyncio.create_task(figures.run())
    try:
        figures.mark()
        await asyncio.sleep(0.3)
        assert figures.rounds == 0
        sub = hub.subscribe(Viewer("admin"))
        figures.mark()
        assert await sub.next(timeout=10) is not None
        assert figures.rounds == 1
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running


async def test_the_page_sends_the_signed_out_to_login_and_refuses_agents_and_teams(
    api: Api,
) -> None:
    create_pages(api.app)
    response = await api.client.get("/wallboard", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/wallboard"
    for who in ("agent", "team"):
        api.client.cookies.set(SESSION_COOKIE, api.tokens[who])
        page = await api.client.get("/wallboard")
        assert page.status_code == 403
        assert "Bảng giám sát" in page.text
    api.client.cookies.set(SESSION_COOKIE, api.tokens["admin"])
    page = await api.client.get("/wallboard?wall=1")
    assert page.status_code == 200
    assert 'id="queues-table"' in page.text
    assert "page-wallboard wall" in page.text
