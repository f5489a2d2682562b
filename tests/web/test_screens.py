"""Screenshots of each page for the README (``make screens``): docs/screens/*.png.

``make test`` takes them too (a page that breaks fails here) but into a temporary
directory: only ``make screens`` (``HOTLINE1022_SCREENS=docs/screens``) replaces the README's
pictures, so a test run leaves the work tree as it was.

Each is taken in a state worth seeing (an error shown, Swagger UI rendered), so a page that
breaks also fails here."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from dispatch.teams import ensure_places_and_teams
from stats.rollups import rebuild
from tests.dispatch.monitoring_world import build_world
from tests.stats.recorded_day import DAY, NOW, load_recorded_day
from tests.web.conftest import Site
from tests.web.feeding import add_call, agent_event, mine, pop_for

pytestmark = pytest.mark.browser


@pytest.fixture
def screens(tmp_path: Path) -> Path:
    where = os.environ.get("HOTLINE1022_SCREENS")
    path = Path(where).resolve() if where else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


VIEWPORT = {"width": 1280, "height": 800}


async def test_screens_of_login_docs_and_the_403_page(
    site: Site, browser: Browser, screens: Path
) -> None:
    context = await browser.new_context(viewport=VIEWPORT, locale="vi-VN")
    page = await context.new_page()
    await page.goto(f"{site.url}/login?next=/console")
    await page.get_by_label("Tên đăng nhập").fill("Nguyễn Thị Lan")
    await page.get_by_label("Mật khẩu").fill("không-đúng")
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page.locator("#login-error")).to_have_text("Sai tên đăng nhập hoặc mật khẩu.")
    await page.screenshot(path=screens / "login.png")
    await page.goto(f"{site.url}/docs")
    await expect(page.locator("#operations-tag-calls")).to_be_visible(timeout=15_000)
    await page.screenshot(path=screens / "docs.png")
    await context.close()

    context = await site.signed_in(browser, "supervisor")
    page = await context.new_page()
    await page.set_viewport_size(VIEWPORT)
    await page.goto(f"{site.url}/console")
    await expect(page.locator("#forbidden-title")).to_be_visible()
    await page.screenshot(path=screens / "forbidden.png")
    await context.close()
    for name in ("login", "docs", "forbidden"):
        assert (screens / f"{name}.png").stat().st_size > 5_000


async def test_screen_of_the_console_with_a_pop_and_its_outcome(
    site: Site, browser: Browser, screens: Path
) -> None:
    await ensure_places_and_teams(site.db, 74)
    await add_call(site, "0909000777", caller_name="Trần Văn Bảy", status="answered")
    call = await add_call(site, "0912345678", caller_name="Nguyễn Văn An")
    context = await site.signed_in(browser, "agent")
    page = await context.new_page()
    await page.set_viewport_size({"width": 1280, "height": 1000})
    await page.goto(f"{site.url}/console")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    site.feed.bus.publish(
        "agent", agent_event(site, "on_call", call_uniqueid=call.uniqueid), mine(site)
    )
    pop = pop_for(call, site)
    pop["call"]["redial"] = False
    site.feed.bus.publish("pop", pop, mine(site))
    await expect(page.locator("#pop-number")).to_have_text("0912345678")
    await page.get_by_label("Kết quả", exact=True).select_option(
        label="Sự vụ — điều động tổ phản ứng nhanh"
    )
    await page.get_by_label("Mức khẩn").select_option(label="Gấp")
    await page.locator("#commune-search").press_sequentially("phu l", delay=30)
    options = page.locator("#commune-options li[data-code]")
    await expect(options.first).to_contain_text("Phú L")
    await expect(options.last).to_contain_text("Phú L")
    await page.screenshot(path=screens / "console-pop.png", full_page=True)
    await page.locator("#commune-search").fill("")
    await page.locator("#commune-search").press_sequentially("hiep", delay=30)
    await expect(page.locator("#commune-options li[data-code]")).to_have_count(1)
    await page.locator("#commune-options li[data-code]", has_text="Hiệp Thành").click()
    await page.get_by_label("Địa chỉ").fill("15 đường Yersin")
    await page.get_by_label("Ghi chú").fill("Người bệnh sốt cao, khó thở nhẹ")
    await page.get_by_role("button", name="Ghi kết quả").click()
    await expect(page.locator("#outcome-result .incident-team")).to_be_visible()
    await page.locator("#calls-body tr", has_text="0909000777").click()
    await expect(page.locator("#call-detail .no-outcome")).to_be_visible()
    await page.screenshot(path=screens / "console-outcome.png", full_page=True)
    await context.close()
    for name in ("console-pop", "console-outcome"):
        assert (screens / f"{name}.png").stat().st_size > 20_000


async def test_screen_of_the_reports_on_the_recorded_day(
    site: Site, browser: Browser, screens: Path
) -> None:
    await load_recorded_day(site.db)
    await rebuild(site.db, DAY, DAY + timedelta(days=1), now=NOW)
    await build_world(site.db)
    context = await site.signed_in(browser, "supervisor")
    page = await context.new_page()
    await page.set_viewport_size({"width": 1280, "height": 1000})
    await page.goto(f"{site.url}/reports?from=2024-05-01&to=2024-05-01&interval=hour")
    await expect(page.locator("body")).to_have_attribute("data-loaded", "yes", timeout=15_000)
    await expect(page.locator("#calls-plots svg")).to_have_count(4)
    await page.screenshot(path=screens / "reports.png", full_page=True)
    await context.close()
    assert (screens / "reports.png").stat().st_size > 50_000
