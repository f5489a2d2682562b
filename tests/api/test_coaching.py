"""``/monitor`` over the real app and database (both), a fake ``SpyPbx`` and the live hub:
who may, the supervisor's phone joining an agent's call in each mode, changing the mode,
ending it, the refusals in Vietnamese, the audit, and the ``coaching`` events' audience."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest
from sqlalchemy import select

from coaching.service import CoachingParams, CoachingService
from live.bus import InProcessBus
from live.hub import EventHub, Viewer
from store.models import AuditEntry
from tests.api.support import Api
from tests.coaching.fakes import FakeAgents, FakeSpyPbx, channel_of


@dataclass
class Coach:
    api: Api
    service: CoachingService
    pbx: FakeSpyPbx
    agents: FakeAgents
    hub: EventHub

    def on_call(self, endpoint: str) -> int:
        self.agents.on_call[endpoint] = f"17.{endpoint}"
        self.pbx.agent_channels[channel_of(endpoint)] = f"17.{endpoint}"
        return self.api.agent_ids[endpoint]


@pytest.fixture
async def coach(api: Api) -> AsyncIterator[Coach]:
    pbx, agents, hub = FakeSpyPbx(), FakeAgents(), EventHub()
    service = CoachingService(
        api.db,
        pbx,
        agents,
        pbx,
        CoachingParams(ring_s=30, notify_agent="coaching", phone_count=4, poll_s=3600),
        publish=InProcessBus(hub).publish,
    )
    await service.start()
    api.app.state.services = replace(api.app.state.services, coaching=service)
    try:
        yield Coach(api, service, pbx, agents, hub)
    finally:
        await service.close()


async def test_only_supervisors_and_admins_monitor(coach: Coach) -> None:
    api = coach.api
    a1 = coach.on_call("agent01")
    body = {"agent_id": a1, "mode": "listen", "phone": "sup01"}
    assert (await api.client.get("/monitor")).status_code == 401
    for who in ("agent", "team"):
        assert (await api.client.get("/monitor", headers=api.auth(who))).status_code == 403
        refused = await api.client.post("/monitor", json=body, headers=api.auth(who))
        assert refused.status_code == 403
    assert coach.pbx.calls == []
    listed = await api.client.get("/monitor", headers=api.auth("admin"))
    assert listed.json() == {"items": [], "phones": ["sup01", "sup02", "sup03", "sup04"]}


@pytest.mark.parametrize("mode", ["listen", "whisper", "barge"])
async def test_a_supervisor_joins_an_agents_call_in_each_mode(coach: Coach, mode: str) -> None:
    api = coach.api
    a1 = coach.on_call("agent01")

    started = await api.client.post(
        "/monitor",
        json={"agent_id": a1, "mode": mode, "phone": "sup02"},
        headers=api.auth("supervisor"),
    )

    assert started.status_code == 201, started.text
    body = started.json()
    assert body["agent_id"] == a1 and body["mode"] == mode and body["phone"] == "sup02"
    assert body["spy_channel"].startswith("PJSIP/sup02-")
    assert body["target_channel"] == channel_of("agent01")
    assert body["by_name"] == "supervisor user" and body["started_at"]
    assert coach.pbx.calls == [("spy", "sup02", channel_of("agent01"), mode, "30")]
    coach.pbx.answer(body["spy_channel"])
    listed = await api.client.get("/monitor", headers=api.auth("admin"))
    assert [s["id"] for s in listed.json()["items"]] == [body["id"]]


async def test_change_the_mode_then_end(coach: Coach) -> None:
    api = coach.api
    a1 = coach.on_call("agent02")
    started = await api.client.post(
        "/monitor",
        json={"agent_id": a1, "mode": "listen", "phone": "sup01"},
        headers=api.auth("supervisor"),
    )
    sid, channel = started.json()["id"], started.json()["spy_channel"]
    coach.pbx.answer(channel)

    changed = await api.client.patch(
        f"/monitor/{sid}", json={"mode": "whisper"}, headers=api.auth("supervisor")
    )
    assert changed.status_code == 200 and changed.json()["mode"] == "whisper"
    assert coach.pbx.spying[channel].mode == "whisper"

    ended = await api.client.delete(f"/monitor/{sid}", headers=api.auth("admin"))
    assert ended.status_code == 200
    assert channel not in coach.pbx.spying
    again = await api.client.delete(f"/monitor/{sid}", headers=api.auth("admin"))
    assert again.status_code == 404
    assert "Không tìm thấy phiên giám sát" in again.json()["detail"]

    async with api.db.session() as s:
        rows = (await s.execute(select(AuditEntry.action, AuditEntry.user_name))).all()
    assert [tuple(r) for r in rows] == [
        ("monitor_start", "supervisor user"),
        ("monitor_mode", "supervisor user"),
        ("monitor_stop", "admin user"),
    ]


async def test_refusals_say_why_in_vietnamese(coach: Coach) -> None:
    api = coach.api
    sup = api.auth("supervisor")
    a1 = api.agent_ids["agent01"]

    idle = await api.client.post(
        "/monitor", json={"agent_id": a1, "mode": "barge", "phone": "sup01"}, headers=sup
    )
    assert idle.status_code == 409
    assert idle.json()["detail"] == "Tổng đài viên hiện không có cuộc gọi nào để giám sát."

    coach.on_call("agent01")
    not_a_phone = await api.client.post(
        "/monitor", json={"agent_id": a1, "mode": "barge", "phone": "sup09"}, headers=sup
    )
    assert not_a_phone.status_code == 422
    assert "không phải máy giám sát viên" in not_a_phone.json()["detail"]

    bad = await api.client.post(
        "/monitor", json={"agent_id": a1, "mode": "shout", "phone": "sup01"}, headers=sup
    )
    assert bad.status_code == 422
    nobody = await api.client.post(
        "/monitor", json={"agent_id": 999999, "mode": "listen", "phone": "sup01"}, headers=sup
    )
    assert nobody.status_code == 404

    first = await api.client.post(
        "/monitor", json={"agent_id": a1, "mode": "listen", "phone": "sup01"}, headers=sup
    )
    assert first.status_code == 201
    busy = await api.client.post(
        "/monitor", json={"agent_id": a1, "mode": "listen", "phone": "sup01"}, headers=sup
    )
    assert busy.status_code == 409 and "sup01" in busy.json()["detail"]

    coach.pbx.down = True
    down = await api.client.patch(
        f"/monitor/{first.json()['id']}", json={"mode": "barge"}, headers=sup
    )
    assert down.status_code == 503
    assert "Asterisk" in down.json()["detail"]


async def test_the_agent_sees_whispering_not_listening(coach: Coach) -> None:
    api = coach.api
    a1 = coach.on_call("agent01")
    agent = coach.hub.subscribe(Viewer("agent", agent_id=a1))
    other = coach.hub.subscribe(Viewer("agent", agent_id=api.agent_ids["agent02"]))
    supervisor = coach.hub.subscribe(Viewer("supervisor"))
    sup = api.auth("supervisor")

    started = await api.client.post(
        "/monitor", json={"agent_id": a1, "mode": "listen", "phone": "sup03"}, headers=sup
    )
    frame = await supervisor.next(timeout=2)
    assert frame is not None and b"event: coaching" in frame
    await asyncio.sleep(0.05)
    assert await agent.next(timeout=0.01) is None

    await api.client.patch(
        f"/monitor/{started.json()['id']}", json={"mode": "whisper"}, headers=sup
    )
    told = await agent.next(timeout=2)
    assert told is not None
    assert b'"mode":"whisper"' in told and b'"active":true' in told
    assert b"sup03" not in told  # the agent learns that, not who or from which phone
    await asyncio.sleep(0.05)
    assert await other.next(timeout=0.01) is None
