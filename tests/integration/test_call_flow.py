"""A citizen's call end to end: SIPp dials 1022 on a real Asterisk, presses keys as RFC 4733
events, waits in app_queue, a SIPp agent answers; the record is then read over REST."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.conftest import Live

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.asterisk]


async def test_agent_logs_in_over_rest_and_joins_every_queue(live: Live) -> None:
    await live.stack.start_agents(1, login=False)
    resp = await live.api.post("/agents/1/login")
    assert resp.status_code == 200, resp.text
    assert resp.json()["logged_in"] is True
    assert live.stack.asterisk is not None
    for queue in ("medical", "food", "violation", "operator"):
        assert "PJSIP/agent01" in live.stack.asterisk.cli(f"queue show {queue}")
    queues = (await live.api.get("/queues")).json()
    assert {q["name"]: q["logged_in_agents"] for q in queues}["medical"] == ["agent01"]


async def test_medical_call_answered_by_agent(live: Live) -> None:
    # 1 medical, 2 not life-threatening, 1 Thủ Dầu Một
    rec = await live.call("0901000001", "121")
    assert rec["status"] == "answered"
    assert rec["category"] == "medical"
    assert rec["queue"] == "medical-718"  # the district's own medical queue
    assert rec["route"] == "ivr"
    assert rec["ivr_choice"] == "121"
    assert rec["priority"] == 10
    assert rec["district_code"] == 718
    assert rec["ivr_outcome"] == "transferred"
    assert rec["agent_endpoint"] == "agent01"
    assert rec["caller_name"] == "Nguyễn Văn An"
    assert rec["complete"] is True
    assert rec["wait_s"] is not None and 0 <= rec["wait_s"] < 10
    # The SIPp agent talks for 2 s before hanging up.
    assert rec["talk_s"] is not None and 1.5 <= rec["talk_s"] < 6
    assert rec["answered_at"] and rec["ended_at"] and rec["queue_entered_at"]
    detail = await live.api.get(f"/calls/{rec['id']}")
    assert detail.status_code == 200
    assert detail.json()["uniqueid"] == rec["uniqueid"]


async def test_caller_who_hangs_up_in_queue_is_abandoned(live: Live) -> None:
    resp = await live.api.post("/agents/1/logout")
    assert resp.status_code == 200, resp.text
    # Press 2 then 7 (Dĩ An), hear the confirmation (~3 s), wait in the food queue, hang up.
    rec = await live.call("0901000002", "27", hangup_after_ms=7000)
    assert rec["status"] == "abandoned_queue"
    assert rec["category"] == "food"
    assert rec["queue"] == "food-724"
    assert rec["agent_endpoint"] is None
    assert rec["answered_at"] is None
    assert rec["wait_s"] is not None and rec["wait_s"] > 1
    assert rec["complete"] is True


async def test_caller_who_hangs_up_in_the_menu_is_abandoned_in_ivr(live: Live) -> None:
    rec = await live.call("0901000003", "", hangup_after_ms=2000)
    assert rec["status"] == "abandoned_ivr"
    assert rec["queue"] is None and rec["queue_entered_at"] is None
    assert rec["complete"] is True


async def test_fastagi_down_still_reaches_the_operator_queue(live: Live) -> None:
    resp = await live.api.post("/agents/1/login")
    assert resp.status_code == 200, resp.text
    hotline = live.stack.running
    await hotline.agi.close()
    try:
        rec = await live.call("0901000005", "1")
    finally:
        await hotline.agi.start()
    assert rec["route"] == "fallback"
    assert rec["queue"] == "operator"
    assert rec["status"] == "answered"
    assert rec["agent_endpoint"] == "agent01"


async def test_asterisk_restart_reconnects_and_relogs_agents(live: Live) -> None:
    ast = live.stack.asterisk
    link = live.stack.running.link
    assert ast is not None
    rebuild = live.stack.running.rebuild
    reconnects, rebuilds = link.status()["reconnects"], rebuild.count
    paused = await live.api.post("/agents/1/pause", json={"reason": "meal"})
    assert paused.status_code == 200, paused.text
    await asyncio.to_thread(ast.start)  # stops the running instance, starts it afresh
    await live.stack.wait_for(
        lambda: link.connected and link.status()["reconnects"] != reconnects,
        30,
        "the AMI link to come back",
    )
    await live.stack.wait_for(
        lambda: "PJSIP/agent01" in ast.cli("queue show medical"), 10, "agent01 to be re-added"
    )
    # The service re-adds agent01 queue by queue, then reads its view back from a snapshot:
    # what it shows is complete once that rebuild is done (medical alone says too little:
    # on a loaded machine the operator queue's member came a moment later).
    await live.stack.wait_for(
        lambda: rebuild.count > rebuilds and rebuild.state == "done",
        30,
        "the state to be rebuilt after the restart",
    )
    queues = {q["name"]: q for q in (await live.api.get("/queues")).json()}
    assert queues["operator"]["logged_in_agents"] == ["agent01"]
    health = await live.api.get("/health")
    assert health.status_code == 200 and health.json()["ami"]["connected"] is True
    # Paused before the restart, paused after it, for the same reason.
    shown = await asyncio.to_thread(ast.cli, "queue show medical-718")
    assert "paused:meal" in shown, shown
    states = live.stack.running.agent_states
    await live.stack.wait_for(
        lambda: (
            (states.agents["agent01"].state, states.agents["agent01"].reason) == ("paused", "meal")
        ),
        10,
        "agent01 paused for a meal again",
    )
    assert (await live.api.post("/agents/1/unpause")).status_code == 200


async def test_login_while_asterisk_is_down_is_a_clear_503(live: Live) -> None:
    ast = live.stack.asterisk
    assert ast is not None
    await asyncio.to_thread(ast.stop)
    try:
        await live.stack.wait_for(lambda: not live.stack.running.link.connected, 15, "link down")
        resp = await live.api.post("/agents/2/login")
        assert resp.status_code == 503
        assert "Asterisk" in resp.json()["detail"]
        health = await live.api.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "degraded"
        agents = {a["id"]: a for a in (await live.api.get("/agents")).json()}
        assert agents[2]["logged_in"] is False
    finally:
        await asyncio.to_thread(ast.start)
