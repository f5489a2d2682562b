"""The supervisor's wallboard on a real Asterisk, in chromium: a SIPp citizen dials 1022,
chooses food in Dĩ An and waits in the queue; the wallboard's waiting count and longest
wait change within a second of Asterisk's QueueCallerJoin (measured from the AMI event to
the DOM), the wait goes on ticking; when the citizen hangs up nobody waits, and the figures
of the day the service sends count the abandoned call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright, expect

from pbx.events import AmiEvent, QueueCallerJoin
from tests.integration.conftest import Live
from tests.web.support import CHROMIUM, Server, chromium_args
from web.session import SESSION_COOKIE

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.asterisk, pytest.mark.browser]

# When the food row's cells first show the caller (epoch ms, the browser's clock: the same
# machine's as the service's).
WATCH_FOOD_ROW = """
window.__seen = {};
document.addEventListener("DOMContentLoaded", () => {
  const body = document.getElementById("queues-body");
  new MutationObserver(() => {
    const row = body.querySelector('tr[data-key="food"]');
    if (!row) return;
    const waiting = row.querySelector("td.waiting").textContent;
    const longest = row.querySelector("td.longest").textContent;
    if (waiting === "1" && !window.__seen.waiting) window.__seen.waiting = Date.now();
    if (longest !== "—" && !window.__seen.longest) {
      window.__seen.longest = Date.now();
      window.__seen.first_longest = longest;
    }
  }).observe(body, { childList: true, subtree: true, characterData: true });
});
"""


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


async def test_a_caller_waiting_shows_on_the_wallboard_within_a_second(
    live: Live, browser: Browser
) -> None:
    hotline = live.stack.running
    # Nobody answers: every agent out of the queues.
    for agent_id in (1, 2):
        resp = await live.api.post(f"/agents/{agent_id}/logout")
        assert resp.status_code == 200, resp.text
    joined: list[float] = []

    def on_event(ev: AmiEvent) -> None:
        if isinstance(ev, QueueCallerJoin) and ev.queue == "food-724":
            joined.append(time.time() * 1000)

    hotline.link.add_listener(on_event)
    server = Server(hotline.app())
    await server.start()
    context = await browser.new_context(locale="vi-VN")
    await context.add_init_script(WATCH_FOOD_ROW)
    await context.add_cookies(
        [
            {
                "name": SESSION_COOKIE,
                "value": live.supervisor_token,
                "url": server.url,
                "httpOnly": True,
                "sameSite": "Strict",
            }
        ]
    )
    citizen: asyncio.Task[dict[str, object]] | None = None
    try:
        page = await context.new_page()
        await page.goto(f"{server.url}/wallboard")
        await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
        food = page.locator('#queues-body tr[data-key="food"]')
        await expect(food.locator("td.waiting")).to_have_text("0")

        # 2 food, 7 Dĩ An; the confirmation (~3 s), then the queue, then a hang-up.
        citizen = asyncio.create_task(live.call("0905300002", "27", hangup_after_ms=12_000))
        await expect(food.locator("td.waiting")).to_have_text("1", timeout=60_000)
        longest = food.locator("td.longest")
        await expect(longest).not_to_have_text("—")
        seen = await page.evaluate("window.__seen")
        assert len(joined) == 1
        waiting_ms = seen["waiting"] - joined[0]
        longest_ms = seen["longest"] - joined[0]
        print(f"QueueCallerJoin -> DOM: waiting {waiting_ms:.0f} ms, longest {longest_ms:.0f} ms")
        assert waiting_ms < 1000, waiting_ms
        assert longest_ms < 1000, longest_ms
        assert seen["first_longest"] in ("00:00", "00:01")
        # The wait ticks on the page's own clock.
        await expect(longest).to_have_text("00:03", timeout=10_000)

        record = await citizen
        assert record["status"] == "abandoned_queue" and record["queue"] == "food-724"
        await expect(food.locator("td.waiting")).to_have_text("0", timeout=5_000)
        await expect(longest).to_have_text("—")
        # The service counts the abandoned call in the figures of the day and sends them.
        await expect(page.locator("#chart")).to_have_attribute("data-offered", "1", timeout=30_000)
        await expect(food.locator("td.abandon")).to_have_text("100%")
        await expect(food.locator("td.abandon")).to_have_attribute("data-level", "bad")
    finally:
        if citizen is not None and not citizen.done():
            citizen.cancel()
        await context.close()
        await server.stop()
