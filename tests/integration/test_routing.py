"""Skill-based routing, pause and wrap-up, and a restart of the service, on a real Asterisk
with SIPp agents and citizens.

The rules are shortened so the escalations happen within seconds: the district's own
experts for 6 s, then anyone with the skill, after 14 s anyone; the emergency queue widens
to anyone after 4 s. Agents talk for 2 s, wrap up for 3 s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from simulation.citizens import citizen_scenario, run_citizens
from simulation.sipp import remove_run
from simulation.stack import Stack, free_udp_tcp_port
from store.models import AgentStateChange
from store.users import create_user
from tests.integration.conftest import Live

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.asterisk]

RULES = {
    "district_wait_s": 6,
    "skill_wait_s": 14,
    "urgent_anyone_wait_s": 4,
    "wrapup_s": 3,
    "callback_threshold_s": -1,  # no callback offers here: tests/integration/test_callbacks.py
}


@dataclass
class Routing(Live):
    """A hotline on a real Asterisk and a supervisor's API client, with shortcuts."""

    async def patch(self, agent_id: int, **body: object) -> dict[str, object]:
        resp = await self.api.patch(f"/agents/{agent_id}", json=body)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    async def post(self, path: str, **body: object) -> dict[str, object]:
        resp = await self.api.post(path, json=body or None)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    async def agents(self) -> dict[str, dict[str, object]]:
        resp = await self.api.get("/agents")
        return {a["endpoint"]: a for a in resp.json()}

    async def waiting(self, count: int) -> None:
        live = self.stack.running.live
        await self.stack.wait_for(
            lambda: sum(len(w) for w in live.waiting.values()) >= count,
            40,
            f"{count} caller(s) waiting in the queues",
        )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def routing(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Routing]:
    async with Stack(
        state_dir=tmp_path_factory.mktemp("routing"), agent_count=4, settings=RULES
    ) as stack:
        _, token = await create_user(stack.running.db, name="supervisor", role="supervisor")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=stack.running.app()),
            base_url="http://hotline",
            headers={"Authorization": f"Bearer {token}"},
        ) as api:
            r = Routing(stack, api, token)
            await stack.start_agents(4)
            # Skills changed after login: the penalties follow without a new login.
            await r.patch(1, home_district=718, skills={"medical": 5, "food": 2})
            await r.patch(2, home_district=724, skills={"medical": 5, "food": 4})
            await r.patch(3, home_district=724, skills={"food": 3})  # no medical skill
            yield r


async def penalty(stack: Stack, queue: str, endpoint: str) -> int:
    assert stack.asterisk is not None
    # In a thread: the CLI round trip must not block the loop the AMI heartbeat runs on.
    shown = await asyncio.to_thread(stack.asterisk.cli, f"queue show {queue}")
    for line in shown.splitlines():
        if f"PJSIP/{endpoint})" in line or f"{endpoint} (PJSIP/{endpoint}" in line:
            if "with penalty " not in line:
                return 0  # Asterisk leaves a zero penalty out
            return int(line.split("with penalty ")[1].split()[0])
    raise AssertionError(f"{endpoint} not in {queue}: {shown}")


async def test_skills_become_penalties_in_asterisk_at_once(routing: Routing) -> None:
    stack = routing.stack
    assert await penalty(stack, "medical-718", "agent01") == 0  # expert, own district
    assert await penalty(stack, "medical-718", "agent02") == 10  # expert, another district
    assert await penalty(stack, "medical-718", "agent03") == 20  # no medical skill
    assert await penalty(stack, "medical-718", "agent04") == 7  # seeded pool agent: 3, no district
    assert await penalty(stack, "food-724", "agent02") == 1


async def test_same_district_expert_first_then_others_after_the_rules(
    routing: Routing,
) -> None:
    await routing.post("/agents/4/pause", reason="training")  # keep the pool agent out
    # 1 medical, 2 not life-threatening, 1 Thủ Dầu Một (718): agent01 though all are free.
    rec = await routing.call("0905000001", "121")
    assert (rec["queue"], rec["agent_endpoint"]) == ("medical-718", "agent01")
    # 7 Dĩ An (724): agent02.
    rec = await routing.call("0905000002", "127")
    assert (rec["queue"], rec["agent_endpoint"]) == ("medical-724", "agent02")
    # agent01 on a meal break: a 718 caller waits the rule's 6 s, then agent02 takes it.
    await routing.post("/agents/1/pause", reason="meal")
    rec = await routing.call("0905000003", "121")
    assert rec["agent_endpoint"] == "agent02"
    assert isinstance(rec["wait_s"], float) and 6 <= rec["wait_s"] < 12, rec["wait_s"]
    # agent02 paused too: only agent03 (no medical skill) is left, after 14 s.
    await routing.post("/agents/2/pause", reason="break")
    rec = await routing.call("0905000004", "121")
    assert rec["agent_endpoint"] == "agent03"
    assert isinstance(rec["wait_s"], float) and 14 <= rec["wait_s"] < 20, rec["wait_s"]
    for agent_id in (1, 2, 4):
        await routing.post(f"/agents/{agent_id}/unpause")


async def test_life_threatening_before_a_caller_who_waited_longer(routing: Routing) -> None:
    for agent_id in (1, 2, 3):
        await routing.post(f"/agents/{agent_id}/pause", reason="break")
    await routing.post("/agents/4/pause", reason="break")
    food = asyncio.create_task(routing.call("0905000011", "27"))  # food, Dĩ An
    await routing.waiting(1)
    await asyncio.sleep(2)
    urgent = asyncio.create_task(routing.call("0905000012", "117"))  # life-threatening
    await routing.waiting(2)
    await routing.post("/agents/4/unpause")  # one free agent for two callers
    urgent_rec, food_rec = await asyncio.gather(urgent, food)
    assert urgent_rec["queue"] == "emergency" and food_rec["queue"] == "food-724"
    assert urgent_rec["agent_endpoint"] == "agent04" == food_rec["agent_endpoint"]
    assert str(urgent_rec["answered_at"]) < str(food_rec["answered_at"])
    assert str(food_rec["queue_entered_at"]) < str(urgent_rec["queue_entered_at"])
    for agent_id in (1, 2, 3):
        await routing.post(f"/agents/{agent_id}/unpause")


async def test_pause_reason_and_wrapup_show_in_state_and_history(routing: Routing) -> None:
    await routing.post("/agents/2/pause", reason="meal")
    agents = await routing.agents()
    await routing.stack.wait_for(
        lambda: routing.stack.running.agent_states.agents["agent02"].state == "paused",
        10,
        "agent02 paused",
    )
    agents = await routing.agents()
    assert (agents["agent02"]["state"], agents["agent02"]["pause_reason"]) == ("paused", "meal")
    for agent_id in (2, 3, 4):
        await routing.post(f"/agents/{agent_id}/pause", reason="break")
    await routing.call("0905000021", "121")  # agent01 takes it, then wraps up 3 s
    states = routing.stack.running.agent_states
    await routing.stack.wait_for(
        lambda: states.agents["agent01"].state == "wrapup", 10, "agent01 in wrap-up"
    )
    assert (await routing.agents())["agent01"]["state"] == "wrapup"
    await routing.stack.wait_for(
        lambda: states.agents["agent01"].state == "idle", 10, "agent01 idle after wrap-up"
    )
    # The flusher writes the changes in the background: wait until the last one is in.
    rows: list[AgentStateChange] = []
    for _ in range(100):
        await states.flush()
        async with routing.stack.running.db.session() as s:
            rows = list(
                (await s.scalars(select(AgentStateChange).order_by(AgentStateChange.id))).all()
            )
        if [r.state for r in rows if r.agent_id == 1][-1:] == ["idle"]:
            break
        await asyncio.sleep(0.1)
    by_agent = {(r.agent_id, r.state, r.reason) for r in rows}
    assert (2, "paused", "meal") in by_agent and (2, "paused", "break") in by_agent
    seq = [r.state for r in rows if r.agent_id == 1]
    assert seq[-4:] == ["ringing", "on_call", "wrapup", "idle"], seq
    # And in the statistics: the pause time by reason, the wrap-up after the call.
    await routing.stack.running.stats.refresh_due()
    resp = await routing.api.get("/stats/agents", params={"interval": "day"})
    assert resp.status_code == 200, resp.text
    by_endpoint = {r["endpoint"]: r for r in resp.json()["rows"]}
    assert by_endpoint["agent02"]["paused_by_reason"]["meal"] > 0
    assert by_endpoint["agent02"]["paused_by_reason"]["break"] > 0
    agent01 = by_endpoint["agent01"]  # 3 s of wrap-up after each of its calls
    assert agent01["answered"] >= 1
    assert abs(agent01["wrapup_s"] - 3 * agent01["answered"]) < 0.5 * agent01["answered"]
    for agent_id in (2, 3, 4):
        await routing.post(f"/agents/{agent_id}/unpause")


async def test_restart_of_the_service_with_callers_queued_loses_nothing(
    routing: Routing,
) -> None:
    stack = routing.stack
    for agent_id in (1, 2, 3, 4):
        await routing.post(f"/agents/{agent_id}/pause", reason="training")
    first = asyncio.create_task(routing.call("0905000031", "27", within_s=120))
    second = asyncio.create_task(routing.call("0905000032", "3", within_s=120))
    await routing.waiting(2)
    await stack.stop_service()
    # While the service is down a citizen calls, finds no menu (FastAGI is down), waits in
    # the operator queue and gives up: only Asterisk sees that call.
    unseen = run_citizens(
        citizen_scenario("", hangup_after_ms=6000),
        ["0905000033"],
        server_port=stack.settings.sip_port,
        local_port=free_udp_tcp_port(),
        media_port=stack.next_media_port(),
    )
    assert await asyncio.to_thread(unseen.wait) == 0
    remove_run(unseen)
    await stack.start_service()
    # The new service knows both waiting callers and every agent, still paused.
    await stack.wait_for(
        lambda: sum(len(w) for w in stack.running.live.waiting.values()) == 2,
        10,
        "the new service to see both waiting callers",
    )
    tracker = stack.running.agent_states
    expected = {f"agent0{i}": ("paused", "training") for i in (1, 2, 3, 4)}
    await stack.wait_for(
        lambda: {ep: (a.state, a.reason) for ep, a in tracker.agents.items()} == expected,
        10,
        f"every agent paused for training (now {tracker.agents})",
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.running.app()),
        base_url="http://hotline",
        headers=dict(routing.api.headers),
    ) as api:
        routing.api = api
        for agent_id in (1, 2, 3, 4):
            await routing.post(f"/agents/{agent_id}/unpause")
        first_rec, second_rec = await asyncio.gather(first, second)
        missed = await routing.complete_record_of("0905000033")
    for rec in (first_rec, second_rec):
        assert rec["status"] == "answered" and rec["complete"] is True
        assert rec["agent_endpoint"] and rec["wait_s"] is not None and rec["wait_s"] > 2
    # The menu facts written before the restart are kept.
    assert (first_rec["category"], first_rec["district_code"]) == ("food", 724)
    assert first_rec["ivr_choice"] == "27" and second_rec["queue"] == "violation"
    # The call the service never saw is recorded from Asterisk's CDR.
    assert missed["status"] == "abandoned_queue" and missed["complete"] is True
    assert "CDR" in str(missed["hangup_cause"]) and missed["ended_at"]
