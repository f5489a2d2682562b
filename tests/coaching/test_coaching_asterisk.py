"""The REST API of the running service on a real Asterisk (issue 15): a supervisor's SIPp phone
is rung into an agent's live call through ``POST /monitor``, Asterisk shows ChanSpy on the
agent's own channel in each mode as the API changes it, ``DELETE`` ends it; then the call's
recording is found by its number, streamed with a range, verified, and the listening and the
coaching are in the audit log.

The service wires ``CoachingService`` over ``AmiSpyPbx`` and the channel list, and
``RecordingService`` over ``AmiRecordingPbx`` (``hotline1022/service.py``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from pbx.recording import AmiSpyPbx
from pbx.recording_signals import SpyMode
from provision.secrets import supervisor_password
from simulation.citizens import citizen_scenario, run_citizens
from simulation.conference_phones import tone_pcap
from simulation.sipp import remove_run
from simulation.stack import Stack, free_udp_tcp_port
from simulation.supervisor_phones import SippSupervisorPhone
from store.models import Agent, AuditEntry
from store.users import create_user

pytestmark = [pytest.mark.asterisk]


async def until(cond: Callable[[], Awaitable[bool]], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not await cond():
        assert time.monotonic() < deadline, f"not within {within_s} s: {what}"
        await asyncio.sleep(0.2)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with Stack(
        state_dir=tmp_path / "hotline",
        talk_ms=20_000,
        settings={"callback_threshold_s": -1, "supervisor_phone_count": 2},
    ) as stack:
        await stack.start_agents(1)
        yield stack


async def test_a_supervisor_coaches_an_agent_then_listens_to_the_recording(
    stack: Stack,
) -> None:
    hotline = stack.running
    _, token = await create_user(hotline.db, name="Cô Lan giám sát", role="supervisor")
    async with hotline.db.session() as s:
        agent01 = await s.scalar(select(Agent.id).where(Agent.endpoint == "agent01"))
    agent_user, agent_token = await create_user(
        hotline.db, name="Anh Minh", role="agent", agent_id=agent01
    )
    phone = SippSupervisorPhone(
        endpoint="sup01",
        password=supervisor_password(stack.settings.secrets, "sup01"),
        server_port=stack.settings.sip_port,
        local_port=free_udp_tcp_port(),
        media_port=stack.next_media_port(),
    )
    number = "0903000001"
    citizen = run_citizens(
        citizen_scenario("121", voice=tone_pcap(1000, 90), wait_for_bye_ms=120_000),
        [number],
        server_port=stack.settings.sip_port,
        local_port=free_udp_tcp_port(),
        media_port=stack.next_media_port(),
    )
    spy = AmiSpyPbx(hotline.link)  # only to read what Asterisk shows
    await asyncio.to_thread(phone.start)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=hotline.app()),
            base_url="http://hotline",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as api:
            agents = (await api.get("/agents")).json()
            agent = next(a for a in agents if a["endpoint"] == "agent01")

            async def on_call() -> bool:
                state = hotline.agent_states.snapshot().get("agent01")
                return state is not None and bool(state.on_call)

            await until(on_call, 60, "agent01 to take the call")

            started = await api.post(
                "/monitor", json={"agent_id": agent["id"], "mode": "whisper", "phone": "sup01"}
            )
            assert started.status_code == 201, started.text
            session = started.json()
            assert session["target_channel"].startswith("PJSIP/agent01-")

            async def shown(mode: SpyMode) -> bool:
                return any(
                    s.spy_channel == session["spy_channel"]
                    and s.target_channel == session["target_channel"]
                    and s.mode is mode
                    for s in await spy.sessions()
                )

            await until(lambda: shown(SpyMode.WHISPER), 15, "ChanSpy whispering")
            listed = (await api.get("/monitor")).json()["items"]
            assert [(s["id"], s["mode"]) for s in listed] == [(session["id"], "whisper")]

            changed = await api.patch(f"/monitor/{session['id']}", json={"mode": "barge"})
            assert changed.status_code == 200, changed.text
            await until(lambda: shown(SpyMode.BARGE), 15, "ChanSpy barging")

            ended = await api.delete(f"/monitor/{session['id']}")
            assert ended.status_code == 200

            async def gone() -> bool:
                return not any(
                    s.spy_channel == session["spy_channel"] for s in await spy.sessions()
                )

            await until(gone, 15, "the supervisor's phone to leave")
            assert (await api.get("/monitor")).json()["items"] == []

            # The agent pauses the call's recording (the caller reads out bank details) and
            # resumes it; the call is the one the agent has now.
            as_agent = {"Authorization": f"Bearer {agent_token}"}
            call_id = None

            async def call_row() -> bool:
                nonlocal call_id
                mine = (await api.get("/calls", headers=as_agent)).json()["items"]
                call_id = next((c["id"] for c in mine if c["caller_number"] == number), None)
                return call_id is not None

            await until(call_row, 15, "the call's row with its agent")
            paused = await api.post(f"/calls/{call_id}/recording/pause", headers=as_agent)
            assert paused.status_code == 200, paused.text
            assert paused.json()["paused"] is True
            again = await api.post(f"/calls/{call_id}/recording/pause", headers=as_agent)
            assert again.status_code == 409
            await asyncio.sleep(1)
            resumed = await api.post(f"/calls/{call_id}/recording/resume", headers=as_agent)
            assert resumed.status_code == 200, resumed.text

            rc = await asyncio.wait_for(asyncio.to_thread(citizen.wait), 120)
            assert rc == 0, "the SIPp citizen failed"

            found: list[dict[str, Any]] = []

            async def sealed() -> bool:
                page = (await api.get("/recordings", params={"number": number})).json()
                found[:] = [r for r in page["items"] if r["status"] == "sealed"]
                return bool(found)

            await until(sealed, 30, "the call's recording sealed")
            [recording] = found
            assert recording["agent_endpoint"] == "agent01" and recording["kind"] == "call"
            [pause] = recording["pauses"]
            assert pause["by_name"] == "Anh Minh" and pause["resumed_at"]
            head = await api.get(
                f"/recordings/{recording['id']}/audio", headers={"Range": "bytes=0-43"}
            )
            assert head.status_code == 206
            assert head.content[:4] == b"RIFF" and head.content[8:12] == b"WAVE"
            assert head.headers["content-range"].endswith(f"/{recording['size_bytes']}")
            verified = (await api.get(f"/recordings/{recording['id']}/verify")).json()
            assert verified["ok"] is True and verified["sha256"] == recording["sha256"]
    finally:
        phone.stop()
        if citizen.poll() is None:
            citizen.kill()
            citizen.wait()
        remove_run(citizen)

    async with hotline.db.session() as s:
        actions = list(
            await s.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.user_name == "Cô Lan giám sát")
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["monitor_start", "monitor_mode", "monitor_stop", "listen"]
    async with hotline.db.session() as s:
        by_agent = list(
            await s.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.user_id == agent_user.id)
                .order_by(AuditEntry.id)
            )
        )
    assert by_agent == ["recording_pause", "recording_resume"]
