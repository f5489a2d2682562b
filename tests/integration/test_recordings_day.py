"""Issue 15's "done when", on a real Asterisk with SIPp phones and in chromium.

A day of calls: an emergency call, and two wrong numbers (one of them on a legal hold), every
caller speaking (a tone), answered by SIPp agents. Then a supervisor signs in, finds the
emergency call on the calls page, plays it in the browser, sees its digest verified and their
own listening in the audit on the page. During a live call a coach whispers to a new agent
from the wallboard: Asterisk shows the supervisor's phone spying on that agent's channel in
whisper mode. Then the purge, run as if 40 days had passed: the wrong number is gone, the one
on hold and the emergency call are kept, and the chain still verifies.

The calls are made today (a test cannot wait a day); the calls page searches yesterday and
today by default, which is where a supervisor finds yesterday's call.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import async_playwright, expect
from sqlalchemy import select

from pbx.recording import AmiSpyPbx
from pbx.recording_signals import SpyMode
from provision.secrets import supervisor_password
from simulation.citizens import citizen_scenario, run_citizens
from simulation.conference_phones import tone_pcap
from simulation.sipp import remove_run
from simulation.stack import Stack, free_udp_tcp_port
from simulation.supervisor_phones import SippSupervisorPhone
from store.models import Agent
from store.types import utcnow
from store.users import create_user, set_password
from tests.integration.conftest import database_for
from tests.web.support import CHROMIUM, Server, chromium_args

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]

COACH = "Cô Lan giám sát"
PASSWORD = "giam-sat-1022-thu-nghiem"
NEW_AGENT = "Tổng đài viên mới Hà"
EMERGENCY, WRONG, WRONG_HELD, LIVE = "0905400001", "0905400002", "0905400003", "0905400004"


async def until(cond: Callable[[], Awaitable[bool]], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not await cond():
        assert time.monotonic() < deadline, f"not within {within_s} s: {what}"
        await asyncio.sleep(0.3)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def stack(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stack]:
    async with (
        database_for(request.param) as url,
        Stack(
            state_dir=tmp_path / "hotline",
            database_url=url,
            talk_ms=15_000,
            settings={"callback_threshold_s": -1, "supervisor_phone_count": 1},
        ) as stack,
    ):
        await stack.start_agents(3)
        yield stack


def dial(stack: Stack, number: str, keys: str) -> subprocess.Popen[bytes]:
    """A citizen who dials 1022, presses ``keys`` and speaks (a 1 kHz tone) until the agent
    hangs up."""
    return run_citizens(
        citizen_scenario(keys, voice=tone_pcap(1000, 60), wait_for_bye_ms=120_000),
        [number],
        server_port=stack.settings.sip_port,
        local_port=free_udp_tcp_port(),
        media_port=stack.next_media_port(),
    )


async def hung_up(proc: subprocess.Popen[bytes]) -> None:
    try:
        rc = await asyncio.wait_for(asyncio.to_thread(proc.wait), 120)
        assert rc == 0, "a SIPp citizen failed"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        remove_run(proc)


async def test_a_day_of_recorded_calls_listened_to_coached_and_purged(stack: Stack) -> None:
    hotline = stack.running
    coach, token = await create_user(hotline.db, name=COACH, role="supervisor")
    await set_password(hotline.db, coach.id, PASSWORD)
    async with hotline.db.session() as s:
        agents = {e: i for e, i in (await s.execute(select(Agent.endpoint, Agent.id))).all()}
    agent_tokens = {}
    for endpoint in ("agent01", "agent02", "agent03"):
        name = NEW_AGENT if endpoint == "agent03" else f"Tổng đài viên {endpoint}"
        _, agent_tokens[endpoint] = await create_user(
            hotline.db, name=name, role="agent", agent_id=agents[endpoint]
        )
    api = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hotline.app()),
        base_url="http://hotline",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    phone = SippSupervisorPhone(
        endpoint="sup01",
        password=supervisor_password(stack.settings.secrets, "sup01"),
        server_port=stack.settings.sip_port,
        local_port=free_udp_tcp_port(),
        media_port=stack.next_media_port(),
    )
    await asyncio.to_thread(phone.start)
    server = Server(hotline.app())
    await server.start()
    try:
        # -- the day's calls -------------------------------------------------------------------
        # 1 medical, 2 not life-threatening, 1 Thủ Dầu Một; 2 food, 7 (a district).
        day = [
            dial(stack, EMERGENCY, "121"),
            dial(stack, WRONG, "27"),
            dial(stack, WRONG_HELD, "27"),
        ]
        await asyncio.gather(*(hung_up(p) for p in day))

        async def record_of(number: str) -> dict[str, Any]:
            resp = await api.get("/calls", params={"limit": 100})
            assert resp.status_code == 200, resp.text
            [call] = [c for c in resp.json()["items"] if c["caller_number"] == number]
            return dict(call)

        calls: dict[str, dict[str, Any]] = {}

        async def all_sealed() -> bool:
            for number in (EMERGENCY, WRONG, WRONG_HELD):
                calls[number] = await record_of(number)
                found = (await api.get(f"/calls/{calls[number]['id']}/recordings")).json()
                items = found["items"] if isinstance(found, dict) else found
                if not items or any(r["status"] != "sealed" for r in items):
                    return False
                calls[number]["recordings"] = items
            return True

        await until(all_sealed, 40, "the three calls' recordings sealed")
        assert calls[EMERGENCY]["category"] == "medical"
        for number in (WRONG, WRONG_HELD):
            call = calls[number]
            resp = await api.post(
                f"/calls/{call['id']}/outcome",
                json={"disposition": "wrong_number", "notes": "Gọi nhầm số"},
                headers={"Authorization": f"Bearer {agent_tokens[call['agent_endpoint']]}"},
            )
            assert resp.status_code == 201, resp.text
        held = await api.post(
            "/holds", json={"call_id": calls[WRONG_HELD]["id"], "reason": "Khiếu nại số 12/2026"}
        )
        assert held.status_code == 201, held.text
        [emergency_rec] = calls[EMERGENCY]["recordings"]

        # -- a live call, and a coach whispering to the new agent from the wallboard ---------------
        for endpoint in ("agent01", "agent02"):
            resp = await api.post(f"/agents/{agents[endpoint]}/pause", json={"reason": "training"})
            assert resp.status_code == 200, resp.text
        live = dial(stack, LIVE, "27")
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=chromium_args()
            )
            context = await browser.new_context(
                locale="vi-VN",
                timezone_id="Asia/Ho_Chi_Minh",
                viewport={"width": 1280, "height": 900},
            )
            page = await context.new_page()
            await page.goto(f"{server.url}/login")
            await page.get_by_label("Tên đăng nhập").fill(COACH)
            await page.get_by_label("Mật khẩu").fill(PASSWORD)
            await page.get_by_role("button", name="Đăng nhập").click()
            await page.wait_for_url(f"{server.url}/wallboard")

            spy_cell = page.locator(f'#agents-body tr[data-agent-id="{agents["agent03"]}"] td.spy')
            await expect(spy_cell.get_by_role("button", name="Nhắc")).to_be_visible(timeout=60_000)
            await page.get_by_label("Máy của giám sát viên").select_option("sup01")
            await spy_cell.get_by_role("button", name="Nhắc").click()
            await expect(spy_cell.locator(".spy-mode")).to_have_text("Đang nhắc (sup01)")
            spy = AmiSpyPbx(hotline.link)  # to read what Asterisk shows, nothing more

            async def whispering() -> bool:
                return any(
                    s.mode is SpyMode.WHISPER and s.target_channel.startswith("PJSIP/agent03-")
                    for s in await spy.sessions()
                )

            await until(whispering, 15, "ChanSpy whispering to agent03's channel")
            await hung_up(live)  # the agent ends the call: the coach's phone leaves with it

            async def no_spy() -> bool:
                return not await spy.sessions()

            await until(no_spy, 15, "the coach's phone to leave with the call")

            # -- the supervisor finds the emergency call, listens, sees it verified ---------------
            await page.goto(f"{server.url}/calls")
            await page.get_by_label("Lĩnh vực").select_option(label="Cấp cứu y tế")
            await page.get_by_role("button", name="Tìm").click()
            rows = page.locator("#results-body tr")
            await expect(rows).to_have_count(1)
            await expect(rows.locator("td.number")).to_have_text(EMERGENCY)
            await rows.get_by_role("link", name="Xem và nghe").click()
            await expect(page).to_have_url(f"{server.url}/calls/{calls[EMERGENCY]['id']}")
            card = page.locator(f'article.recording[data-recording-id="{emergency_rec["id"]}"]')
            await expect(card.locator(".verified")).to_have_text("Đã xác minh")
            await expect(card.locator(".listens")).to_have_text("Chưa ai nghe bản ghi này.")
            duration = await card.locator("audio").evaluate(
                """async (a) => { a.muted = true; await a.play();
                     await new Promise((ok) => {
                       const t = () => (a.currentTime > 0.5 ? ok() : setTimeout(t, 50)); t(); });
                     return a.duration; }"""
            )
            assert duration == pytest.approx(emergency_rec["duration_s"], abs=1.0)
            await expect(card.locator(".listens")).to_contain_text(f"Đã nghe: {COACH} lúc ")
            await context.close()
            await browser.close()

        listens = (await api.get(f"/recordings/{emergency_rec['id']}/listens")).json()
        assert listens and {e["user_name"] for e in listens} == {COACH}

        # -- the caller's voice is in the file, not silence ---------------------------------------
        audio = await api.get(f"/recordings/{emergency_rec['id']}/audio")
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
        pcm = audio.content[44:]
        loud = sum(
            1
            for i in range(0, len(pcm) - 1, 2)
            if abs(int.from_bytes(pcm[i : i + 2], "little", signed=True)) > 2000
        )
        assert loud > 8000 * 2, "the recording holds the caller's tone, not silence"

        # -- 40 days on: expired recordings are gone, except those on hold ---------------------
        assert hotline.recordings is not None
        report = await hotline.recordings.purge(now=utcnow() + timedelta(days=40))
        [wrong_rec] = calls[WRONG]["recordings"]
        [held_rec] = calls[WRONG_HELD]["recordings"]
        assert report.removed == [wrong_rec["id"]]
        assert report.kept_on_hold == [held_rec["id"]]
        after = {
            r["id"]: r["status"]
            for r in (await api.get("/recordings", params={"limit": 100})).json()["items"]
        }
        assert after[wrong_rec["id"]] == "purged"
        assert after[held_rec["id"]] == "sealed" and after[emergency_rec["id"]] == "sealed"
        gone = await api.get(f"/recordings/{wrong_rec['id']}/audio")
        assert gone.status_code == 410
        chain = (await api.get("/recordings/verify")).json()
        assert chain["ok"] is True and chain["purged"] == 1, chain
    finally:
        await server.stop()
        await api.aclose()
        await asyncio.to_thread(phone.stop)
