"""The supervisor's wallboard in a real browser: it shows what the event stream says as it
says it: a caller waiting (and the wait ticking, turning red at its threshold), an agent
pausing, an incident going overdue on its own clock, the figures of the day when the
service publishes them. Text from users is shown as text."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from api.live_feed import QUEUES_AUDIENCE
from api.wallboard import WallboardFigures
from live.hub import Audience
from stats.rollups import rebuild
from stats.wallboard import Thresholds, midnight
from tests.web.conftest import Site
from tests.web.feeding import HOSTILE_NAME, add_call, agent_event

pytestmark = pytest.mark.browser

THRESHOLDS = Thresholds(wait_warn_s=30, wait_bad_s=60)


def queue_item(waiting: int, longest_wait_s: float, **changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "name": "medical-718",
        "category": "medical",
        "waiting": waiting,
        "longest_wait_s": longest_wait_s,
        "logged_in_agents": ["agent01"],
        "agents_by_state": {"idle": 1},
        "estimated_wait_s": None,
        "callbacks_pending": 1 if waiting else 0,
    }
    item.update(changes)
    return item


def incident_item(incident_id: int, due_in_s: float, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    item: dict[str, Any] = {
        "id": incident_id,
        "status": "dispatched",
        "category": "medical",
        "urgency": "urgent",
        "commune_code": 25741,
        "district_code": 718,
        "team_id": 1,
        "team_name": HOSTILE_NAME,
        "call_id": None,
        "address": "15 Yersin",
        "created_at": (now - timedelta(minutes=3)).isoformat(),
        "ack_due_at": (now + timedelta(seconds=due_in_s)).isoformat(),
    }
    item.update(changes)
    return item


@pytest.fixture
def figures(site: Site) -> WallboardFigures:
    publisher = WallboardFigures(site.db, site.feed.hub, thresholds=THRESHOLDS, interval_s=0.05)
    site.app.state.services = replace(site.app.state.services, wallboard=publisher)
    return publisher


async def test_the_wallboard_follows_the_event_stream(
    site: Site, browser: Browser, figures: WallboardFigures
) -> None:
    context = await site.signed_in(browser, "supervisor")
    page = await context.new_page()
    await page.goto(f"{site.url}/wallboard")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    medical = page.locator('#queues-body tr[data-key="medical"]')
    await expect(medical.locator("td.waiting")).to_have_text("0")
    await expect(page.locator("#chart")).to_have_attribute("data-offered", "0")
    # Both agents are out of the queues: counted, not listed.
    await expect(page.locator("#agents-body tr")).to_have_count(0)
    await expect(page.locator("#agents-out")).to_have_text("2 tổng đài viên chưa vào hàng đợi")

    # A caller has waited 57 s: amber, then red at 60 s, counted by the page's own clock.
    site.feed.bus.publish("queue", queue_item(1, 57.0), QUEUES_AUDIENCE)
    await expect(medical.locator("td.waiting")).to_have_text("1")
    await expect(medical.locator("td.callbacks")).to_have_text("1")
    longest = medical.locator("td.longest")
    await expect(longest).to_have_attribute("data-level", "warn")
    await expect(longest).to_have_attribute("data-level", "bad", timeout=10_000)
    assert (await longest.text_content() or "") >= "01:00"

    # The agent pauses for a meal: the row of agents and the category's count follow.
    paused = agent_event(site, "paused", reason="meal", name=HOSTILE_NAME)
    site.feed.bus.publish("agent", paused, Audience(agent_ids=frozenset({site.agent_id})))
    row = page.locator(f'#agents-body tr[data-agent-id="{site.agent_id}"]')
    await expect(row).to_have_attribute("data-state", "paused")
    await expect(row.locator("td.reason")).to_have_text("Nghỉ ăn")
    await expect(row.locator("th")).to_have_text(HOSTILE_NAME)
    await expect(medical.locator("td.paused")).to_have_text("1")
    await expect(medical.locator("td.idle")).to_have_text("0")
    await expect(page.locator("#agents-out")).to_have_text("1 tổng đài viên chưa vào hàng đợi")

    # An incident due in 2 s goes red (and overdue) by itself; a later one stays below it.
    site.feed.bus.publish("incident", incident_item(7, 600), Audience())
    site.feed.bus.publish("incident", incident_item(8, 2), Audience())
    first = page.locator("#incidents-list li").first
    await expect(first).to_have_attribute("data-incident-id", "7")
    await expect(first).to_have_attribute("data-overdue", "1", timeout=10_000)
    await expect(first).to_have_attribute("data-incident-id", "8")
    await expect(first.locator(".late")).to_contain_text("Quá hạn")
    # Acknowledged: no longer overdue (and still open).
    site.feed.bus.publish("incident", incident_item(8, 2, status="acknowledged"), Audience())
    await expect(page.locator('#incidents-list li[data-overdue="1"]')).to_have_count(0)

    # A call ends: the service computes the figures once and sends them to every board.
    await add_call(site, "0909000111", status="answered")
    now = datetime.now(UTC)
    await rebuild(site.db, midnight(now), now + timedelta(minutes=1), now=now)
    await figures.refresh()
    await expect(page.locator("#chart")).to_have_attribute("data-offered", "1")
    await expect(medical.locator("td.sl")).to_contain_text("%")
    await expect(row.locator("td.aht")).not_to_have_text("—")

    # The caller is answered: nobody waits.
    site.feed.bus.publish("queue", queue_item(0, 0.0), QUEUES_AUDIENCE)
    await expect(medical.locator("td.waiting")).to_have_text("0")
    await expect(longest).to_have_text("—")
    assert await page.evaluate("window.__xss") is None
    await context.close()


async def test_the_wall_layout_and_the_view_per_queue(
    site: Site, browser: Browser, figures: WallboardFigures
) -> None:
    context = await site.signed_in(browser, "supervisor")
    page = await context.new_page()
    await page.goto(f"{site.url}/wallboard?wall=1")
    await expect(page.locator("body")).to_have_class("page-wallboard wall")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    site.feed.bus.publish("queue", queue_item(3, 5.0), QUEUES_AUDIENCE)
    site.feed.bus.publish("queue", queue_item(2, 9.0, name="medical-724"), QUEUES_AUDIENCE)
    await expect(page.locator('#queues-body tr[data-key="medical"] td.waiting')).to_have_text("5")
    await page.get_by_role("button", name="Xem theo hàng đợi").click()
    await expect(page.locator('#queues-body tr[data-key="medical-724"] td.waiting')).to_have_text(
        "2"
    )
    await expect(page.locator('#queues-body tr[data-key="medical-718"] td.waiting')).to_have_text(
        "3"
    )
    await context.close()
