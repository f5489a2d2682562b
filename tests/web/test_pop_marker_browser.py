"""The console marks which call its pop shows (``data-uniqueid`` on ``#pop``), and the
pop-latency benchmark's watcher (``bench/pop_latency.py``'s ``WATCH_POP``) notes each pop
shown, once, with the page's wall-clock time and the frame after it."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.web.conftest import Site
from tests.web.feeding import add_call, mine, pop_for

pytestmark = pytest.mark.browser

BENCH = Path(__file__).resolve().parents[2] / "bench" / "pop_latency.py"


def _watch_pop() -> str:
    spec = importlib.util.spec_from_file_location("bench_pop_latency_web", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    script: str = module.WATCH_POP
    return script


async def test_each_pop_is_marked_with_its_call_and_noted_when_shown(
    site: Site, browser: Browser
) -> None:
    context = await site.signed_in(browser, "agent")
    await context.add_init_script(_watch_pop())
    page = await context.new_page()
    await page.goto(f"{site.url}/console")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    assert await page.evaluate("window.__pops") == []

    first = await add_call(site, "0909000001")
    second = await add_call(site, "0909000002")
    before = time.time() * 1000
    site.feed.bus.publish("pop", pop_for(first, site), mine(site))
    await expect(page.locator("#pop")).to_have_attribute("data-uniqueid", first.uniqueid)
    site.feed.bus.publish("pop", pop_for(second, site), mine(site))
    await expect(page.locator("#pop")).to_have_attribute("data-uniqueid", second.uniqueid)
    await expect(page.locator("#pop-number")).to_have_text("0909000002")
    await page.wait_for_function("window.__pops.every((p) => p.frame !== null)")
    after = time.time() * 1000

    pops = await page.evaluate("window.__pops")
    assert [p["uniqueid"] for p in pops] == [first.uniqueid, second.uniqueid]
    for p in pops:
        # The page's clock is this machine's wall clock (a few ms of rounding aside).
        assert before - 5 <= p["dom"] <= p["frame"] <= after + 5
    await context.close()
