"""Screenshots of each page for the README (``make screens``): docs/screens/*.png.

``make test`` takes them too (a page that breaks fails here) but into a temporary
directory: only ``make screens`` (``HOTLINE1022_SCREENS=docs/screens``) replaces the README's
pictures, so a test run leaves the work tree as it was.

Each is taken in a state worth seeing (an error shown, Swagger UI rendered), so a page that
breaks also fails here."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from api.live_feed import QUEUES_AUDIENCE
from api.wallboard import WallboardFigures
from dispatch.teams import ensure_places_and_teams
from live.hub import Audience
from stats.rollups import rebuild
from stats.wallboard import Thresholds, midnight
from tests.dispatch.monitoring_world import build_world
from tests.stats.recorded_day import DAY, NOW, load_recorded_day
from tests.web.board_world import board_of
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


async def test_screen_of_the_wallboard_on_a_wall(
    site: Site, browser: Browser, screens: Path
) -> None:
    now = datetime.now(UTC)
    start = max(midnight(now), now - timedelta(hours=3))
    # Calls over the last hours (answered and abandoned), so that the chart has bars.
    for i in range(24):
        entered = start + (now - start) * (i / 24)
        abandoned = i % 5 == 4
        await add_call(
            site,
            f"09090{i:05d}",
            uniqueid=f"1700000100.{i}",
            linkedid=f"1700000100.{i}",
            caller_name="",
            arrived_at=entered - timedelta(seconds=20),
            queue_entered_at=entered,
            answered_at=None if abandoned else entered + timedelta(seconds=5 + 3 * i),
            ended_at=entered + timedelta(seconds=40 if abandoned else 200),
            status="abandoned_queue" if abandoned else "answered",
            wait_s=40.0 if abandoned else 5.0 + 3 * i,
            talk_s=None if abandoned else 180.0,
            category=("medical", "food", "violation")[i % 3],
            queue=("medical-718", "food-724", "violation")[i % 3],
        )
    await rebuild(site.db, midnight(now), now + timedelta(minutes=1), now=now)
    figures = WallboardFigures(site.db, site.feed.hub, thresholds=Thresholds(), interval_s=0.05)
    site.app.state.services = replace(site.app.state.services, wallboard=figures)
    context = await site.signed_in(browser, "supervisor")
    page = await context.new_page()
    await page.set_viewport_size({"width": 1920, "height": 1080})
    await page.goto(f"{site.url}/wallboard?wall=1")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    for name, category, waiting, longest in (
        ("medical-718", "medical", 3, 75.0),
        ("food-724", "food", 2, 35.0),
        ("violation", "violation", 0, 0.0),
    ):
        item = {
            "name": name,
            "category": category,
            "waiting": waiting,
            "longest_wait_s": longest,
            "logged_in_agents": ["agent01", "agent02"],
            "agents_by_state": {},
            "estimated_wait_s": None,
            "callbacks_pending": 1 if waiting > 2 else 0,
        }
        site.feed.bus.publish("queue", item, QUEUES_AUDIENCE)
    for endpoint, state, reason in (("agent01", "on_call", None), ("agent02", "paused", "meal")):
        data = agent_event(site, state, endpoint=endpoint, name=endpoint, reason=reason)
        data["queues"] = ["medical-718", "food-724"]
        if endpoint == "agent02":
            data["agent_id"] = site.agent_id + 1
            data["name"] = "Lê Thị Hoa"
        else:
            data["name"] = "Nguyễn Thị Lan"
        site.feed.bus.publish("agent", data, Audience())
    for incident_id, due_s, status, urgency in (
        (41, -420, "dispatched", "critical"),
        (42, 900, "new", "urgent"),
        (43, 300, "en_route", "normal"),
    ):
        at = datetime.now(UTC)
        site.feed.bus.publish(
            "incident",
            {
                "id": incident_id,
                "status": status,
                "category": "medical",
                "urgency": urgency,
                "commune_code": 25741,
                "district_code": 718,
                "team_id": 1,
                "team_name": "Tổ phản ứng nhanh phường Phú Cường",
                "call_id": None,
                "address": "15 Yersin",
                "created_at": (at - timedelta(minutes=12)).isoformat(),
                "ack_due_at": (at + timedelta(seconds=due_s)).isoformat(),
            },
            Audience(),
        )
    await figures.refresh()
    await expect(page.locator("#chart")).to_have_attribute("data-offered", "24")
    await expect(page.locator('#incidents-list li[data-overdue="1"]')).to_have_count(1)
    await expect(page.locator('#agents-body tr[data-state="paused"]')).to_have_count(1)
    await page.screenshot(path=screens / "wallboard.png")
    await context.close()
    assert (screens / "wallboard.png").stat().st_size > 20_000


async def test_screen_of_the_incident_board_with_an_incident_open(
    site: Site, browser: Browser, screens: Path
) -> None:
    board = await board_of(site, "center-718")
    await board.open(25942, category="medical", urgency="critical", overdue_s=400)
    taken = await board.open(25741, category="medical", urgency="urgent", address="15 đường Yersin")
    await board.open(25744, category="food", urgency="normal", address="2 đường Phú Lợi")
    await board.open(25741, category="violation", urgency="normal", overdue_s=90)
    context = await site.signed_in(browser, "supervisor")
    page = await context.new_page()
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.goto(f"{site.url}/incidents")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    await expect(page.locator("#incidents-body tr")).to_have_count(4)
    await page.locator(f'#incidents-body tr[data-id="{taken}"]').click()
    await expect(page.locator("#d-history li")).to_have_count(2)
    await expect(page.locator("#d-assign option").first).to_be_attached()
    await page.screenshot(path=screens / "incidents.png", full_page=True)
    await context.close()
    assert (screens / "incidents.png").stat().st_size > 20_000


async def test_screens_of_the_admin_page(
    site: Site, browser: Browser, screens: Path, tmp_path: Path
) -> None:
    from tests.web.test_admin_browser import real_ivr

    await ensure_places_and_teams(site.db, 74)
    await real_ivr(site, tmp_path)
    context = await site.signed_in(browser, "supervisor")
    page = await context.new_page()
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.goto(f"{site.url}/admin#agents")
    await expect(page.locator("#agents-body tr")).to_have_count(2)
    await page.screenshot(path=screens / "admin-agents.png", full_page=True)
    await page.get_by_role("tab", name="Thông báo").click()
    card = page.locator('article[data-name="info_cases"]')
    await card.get_by_label("Nội dung mới của info_cases").fill(
        "Hôm nay tỉnh ghi nhận 12 ca mắc mới, tất cả đã được cách ly."
    )
    await card.get_by_role("button", name="Tạo bản nghe thử").click()
    await expect(card.locator(".draft audio")).to_be_visible()
    await card.scroll_into_view_if_needed()
    await page.screenshot(path=screens / "admin-announcements.png", full_page=True)
    await context.close()
    for name in ("admin-agents", "admin-announcements"):
        assert (screens / f"{name}.png").stat().st_size > 20_000
