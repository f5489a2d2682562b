"""The agent's console on a real Asterisk, in chromium: a SIPp citizen dials 1022 and
presses keys, the SIPp agent's phone rings, the console pops the call; the agent answers and
records the outcome with clicks and typing; the incident exists over REST with its team.
Then the page loses its stream while the agent's state changes: it gets what it missed, or,
beyond the (small) event buffer, a resync and a fresh snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import select

from simulation.agents import SippAgent
from simulation.stack import Stack, free_udp_tcp_port
from store.models import Agent
from store.seed import agent_endpoint
from store.users import create_user, set_password
from tests.integration.conftest import Live, database_for
from tests.web.support import CHROMIUM, Server, chromium_args

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.asterisk, pytest.mark.browser]

NAME = "Lê Thị Hoa"
PASSWORD = "tong-dai-1022-thu-nghiem"
RING_MS = 5000  # the agent reads the pop while the phone rings
BUFFER = 40  # events kept for reconnects: a few seconds of this test, so a resync is easy to cause

TRACK_CONNECTION = """
window.__connection = [];
document.addEventListener("DOMContentLoaded", () => {
  const node = document.getElementById("connection");
  if (!node) return;
  new MutationObserver(() => window.__connection.push(node.dataset.state))
    .observe(node, { attributes: true, attributeFilter: ["data-state"] });
});
"""


@dataclass
class Console:
    live: Live
    server: Server  # the service's app in uvicorn, for the browser
    page: Page
    agent_id: int


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Live]:
    state_dir: Path = tmp_path_factory.mktemp("hotline")
    async with (
        database_for(request.param) as url,
        Stack(
            state_dir=state_dir,
            database_url=url,
            talk_ms=3000,
            settings={"callback_threshold_s": -1, "events_buffer": BUFFER},
        ) as stack,
    ):
        hotline = stack.running
        _, token = await create_user(hotline.db, name="supervisor", role="supervisor")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=hotline.app()),
            base_url="http://hotline",
            headers={"Authorization": f"Bearer {token}"},
        ) as api:
            yield Live(stack, api, token)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=chromium_args()
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console(live: Live, browser: Browser) -> AsyncIterator[Console]:
    """agent01's softphone (registered, not in the queues) and its console, signed in
    through the login form."""
    stack = live.stack
    hotline = stack.running
    async with hotline.db.session() as session:
        agent_id = await session.scalar(select(Agent.id).where(Agent.endpoint == "agent01"))
    assert agent_id is not None
    user, _ = await create_user(hotline.db, name=NAME, role="agent", agent_id=agent_id)
    await set_password(hotline.db, user.id, PASSWORD)
    phone = SippAgent(
        agent_endpoint(1),
        stack.settings.secrets["agents"][agent_endpoint(1)],
        stack.settings.sip_port,
        free_udp_tcp_port(),
        stack.next_media_port(),
        talk_ms=3000,
        ring_ms=RING_MS,
    )
    await asyncio.to_thread(phone.start)
    server = Server(hotline.app())
    await server.start()
    context = await browser.new_context(locale="vi-VN")
    await context.add_init_script(TRACK_CONNECTION)
    try:
        page = await context.new_page()
        await page.goto(f"{server.url}/console")
        assert page.url == f"{server.url}/login?next=/console"
        await page.get_by_label("Tên đăng nhập").fill(NAME)
        await page.get_by_label("Mật khẩu").fill(PASSWORD)
        await page.get_by_role("button", name="Đăng nhập").click()
        await page.wait_for_url(f"{server.url}/console")
        await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
        yield Console(live, server, page, agent_id)
    finally:
        await context.close()
        await server.stop()
        await asyncio.to_thread(phone.stop)


async def test_a_call_pops_and_its_outcome_dispatches_the_communes_team(
    console: Console,
) -> None:
    page, live = console.page, console.live
    await page.get_by_role("button", name="Vào hàng đợi").click()
    await expect(page.locator("#agent-state")).to_have_text("Sẵn sàng", timeout=15_000)

    # 1 medical, 2 not life-threatening, 1 Thủ Dầu Một
    citizen = asyncio.create_task(live.call("0905300001", "121"))
    await expect(page.locator("#agent-state")).to_have_text("Đang đổ chuông", timeout=60_000)
    # The pop, while it rings.
    await expect(page.locator("#pop-number")).to_have_text("0905300001")
    await expect(page.locator("#pop-category")).to_have_text("Cấp cứu y tế")
    await expect(page.locator("#pop-district")).to_have_text("Thủ Dầu Một")
    await expect(page.locator("#pop-name")).to_have_text("Nguyễn Văn An")
    await expect(page.locator("#pop-route")).to_have_text("Người gọi chọn ở menu")
    await expect(page.locator("#pop-redial")).to_have_text("Không")
    await expect(page.locator("#agent-state")).to_have_text("Đang đổ chuông")
    # The softphone answers.
    await expect(page.locator("#agent-state")).to_have_text("Đang đàm thoại", timeout=15_000)
    record = await citizen
    assert record["status"] == "answered" and record["agent_endpoint"] == "agent01"
    await expect(page.locator("#outcome-call")).to_contain_text(f"#{record['id']}")
    await expect(page.locator("#answered-today")).to_have_text("1")

    await page.get_by_label("Kết quả", exact=True).select_option(
        label="Sự vụ — điều động tổ phản ứng nhanh"
    )
    await page.get_by_label("Mức khẩn").select_option(label="Gấp")
    search = page.locator("#commune-search")
    await search.click()
    await search.press_sequentially("hiep tha", delay=50)
    option = page.locator("#commune-options li[data-code]")
    await expect(option).to_have_count(1)
    await expect(option).to_have_text("Phường Hiệp Thành")
    await option.click()
    await page.get_by_label("Địa chỉ").fill("15 đường Yersin")
    await page.get_by_label("Ghi chú").fill("Người bệnh sốt cao, khó thở nhẹ")
    await page.get_by_role("button", name="Ghi kết quả").click()
    result = page.locator("#outcome-result")
    await expect(result.locator(".incident-team")).to_have_text(
        "Tổ phản ứng nhanh phường Hiệp Thành"
    )
    incident_id = int((await result.locator(".incident-id").inner_text()).lstrip("#"))

    resp = await live.api.get(f"/incidents/{incident_id}")
    assert resp.status_code == 200, resp.text
    incident = resp.json()
    assert incident["call_id"] == record["id"]
    assert incident["team_name"] == "Tổ phản ứng nhanh phường Hiệp Thành"
    assert incident["urgency"] == "urgent"
    assert incident["category"] == "medical"
    assert incident["address"] == "15 đường Yersin"

    # The call is in today's list with its outcome.
    await page.locator("#calls-body tr", has_text="0905300001").click()
    await expect(page.locator("#call-detail .incident-id")).to_have_text(f"#{incident_id}")


async def switch(console: Console, action: str, **body: str) -> None:
    """What a supervisor (or the agent's phone) does while the page is cut off."""
    resp = await console.live.api.post(f"/agents/{console.agent_id}/{action}", json=body or None)
    assert resp.status_code == 200, resp.text


async def test_a_reconnect_gets_what_it_missed(console: Console) -> None:
    page = console.page
    await page.evaluate("window.__connection = []")
    await console.server.stop()  # the page's stream is cut
    await expect(page.locator("#connection")).to_have_attribute("data-state", "lost")
    await switch(console, "pause", reason="meal")
    await console.server.start()
    await expect(page.locator("#agent-state")).to_have_text("Tạm nghỉ", timeout=20_000)
    await expect(page.locator("#agent-reason")).to_have_text("Lý do: Nghỉ ăn")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    assert "resync" not in await page.evaluate("window.__connection")


async def test_a_reconnect_beyond_the_buffer_resyncs(console: Console) -> None:
    page = console.page
    await page.evaluate("window.__connection = []")
    await console.server.stop()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "lost")
    hub = console.live.stack.running.feed.hub
    first = hub.seq
    for _ in range(BUFFER):  # more changes than the buffer keeps
        await switch(console, "unpause")
        await switch(console, "pause", reason="training")
    await console.live.stack.wait_for(
        lambda: hub.seq - first > BUFFER, 10, "more events than the buffer holds"
    )
    await switch(console, "logout")
    await console.server.start()
    await expect(page.locator("#agent-state")).to_have_text("Chưa vào hàng đợi", timeout=20_000)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    assert "resync" in await page.evaluate("window.__connection")
