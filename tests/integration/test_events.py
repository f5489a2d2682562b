"""The screen pop on a real Asterisk: a SIPp citizen dials 1022 and walks the menu, app_queue
rings a SIPp agent's phone, and that agent's ``GET /events`` stream (served by uvicorn, as in
production) gets the pop, with the caller's number and menu path, before the answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import uvicorn

from simulation.agents import SippAgent
from simulation.citizens import citizen_scenario, run_citizens
from simulation.sipp import remove_run
from simulation.stack import free_udp_tcp_port
from store.users import create_user
from tests.integration.conftest import Live

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.asterisk]


async def _messages(response: httpx.Response, out: list[dict[str, Any]]) -> None:
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line:
            key, _, value = line.partition(": ")
            fields[key] = value
        elif fields:
            out.append({"event": fields["event"], "data": json.loads(fields["data"])})
            fields = {}


async def test_the_agent_rung_gets_the_pop_before_answering(live: Live) -> None:
    stack = live.stack
    hotline = stack.running
    endpoint = "agent01"
    agent = SippAgent(
        endpoint,
        stack.settings.secrets["agents"][endpoint],
        stack.settings.sip_port,
        free_udp_tcp_port(),
        stack.next_media_port(),
        talk_ms=1000,
        ring_ms=1500,  # a person takes a moment to pick up
    )
    await asyncio.to_thread(agent.start)
    stack.agents.append(agent)
    await hotline.agents.login(1)
    _, token = await create_user(hotline.db, name="Agent One", role="agent", agent_id=1)
    states = hotline.agent_states.agents
    await stack.wait_for(
        lambda: endpoint in states and states[endpoint].state == "idle", 10, "agent01 idle"
    )

    server = uvicorn.Server(
        uvicorn.Config(hotline.app(), host="127.0.0.1", port=0, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    await stack.wait_for(lambda: server.started, 10, "uvicorn to listen")
    port = server.servers[0].sockets[0].getsockname()[1]
    messages: list[dict[str, Any]] = []
    try:
        async with (
            httpx.AsyncClient(timeout=None) as client,
            client.stream(
                "GET",
                f"http://127.0.0.1:{port}/events",
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            assert response.status_code == 200
            reading = asyncio.create_task(_messages(response, messages))
            await stack.wait_for(lambda: bool(messages), 10, "the snapshot")
            assert messages[0]["event"] == "snapshot"
            assert messages[0]["data"]["user"]["agent_id"] == 1

            # 1 medical, 2 not life-threatening, 1 Thủ Dầu Một
            proc = run_citizens(
                citizen_scenario("121", wait_for_bye_ms=60_000),
                ["0901000777"],
                server_port=stack.settings.sip_port,
                local_port=free_udp_tcp_port(),
                media_port=stack.next_media_port(),
            )
            try:
                await stack.wait_for(
                    lambda: any(
                        m["event"] == "agent" and m["data"]["state"] == "on_call" for m in messages
                    ),
                    60,
                    "the agent to answer",
                )
                rc = await asyncio.wait_for(asyncio.to_thread(proc.wait), 60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                remove_run(proc)
            assert rc == 0
            reading.cancel()
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 15)

    kinds = [(m["event"], m["data"].get("state")) for m in messages]
    pop_at = kinds.index(("pop", None))
    assert pop_at < kinds.index(("agent", "on_call")), kinds
    assert messages[0]["data"]["agents"][0]["state"] == "idle"  # logged in before the call
    pop = messages[pop_at]["data"]
    call = pop["call"]
    assert pop["agent_id"] == 1
    assert call["caller_number"] == "0901000777"
    assert call["caller_name"] == "Nguyễn Văn An"
    assert (call["category"], call["priority"], call["route"]) == ("medical", 10, "ivr")
    assert (call["queue"], call["district_code"]) == ("medical-718", 718)
    assert call["call_id"] is not None and call["redial"] is False
    record = await live.complete_record_of("0901000777")
    assert record["id"] == call["call_id"] and record["uniqueid"] == call["uniqueid"]
    assert pop["previous_calls"] == [] and pop["open_incidents"] == []
    # The agent's own calls reach it; no other agent's (none here), no supervisor's pop.
    assert any(m["event"] == "call" and m["data"]["uniqueid"] == call["uniqueid"] for m in messages)
