"""The incident board in a real browser: a team takes an incident and a supervisor's board
and wallboard show it at once; a refused transition says why in Vietnamese; the filters
live in the URL; a team sees only its area."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from playwright.async_api import Browser, Page, expect

from api.wallboard import WallboardFigures
from stats.wallboard import Thresholds
from tests.web.board_world import board_of
from tests.web.conftest import Site

pytestmark = pytest.mark.browser

OVERDUE = re.compile(r"\boverdue\b")


async def open_board(site: Site, browser: Browser, who: str, query: str = "") -> Page:
    context = await site.signed_in(browser, who)
    page = await context.new_page()
    await page.goto(f"{site.url}/incidents{query}")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    return page


def row(page: Page, incident_id: int) -> object:
    return page.locator(f'#incidents-body tr[data-id="{incident_id}"]')


@pytest.fixture
def figures(site: Site) -> WallboardFigures:
    """The wallboard's figures of the day, as the service runs them (the site has none)."""
    publisher = WallboardFigures(site.db, site.feed.hub, thresholds=Thresholds(), interval_s=0.05)
    site.app.state.services = replace(site.app.state.services, wallboard=publisher)
    return publisher


async def test_a_team_takes_an_incident_and_the_supervisors_screens_show_it_live(
    site: Site, browser: Browser, figures: WallboardFigures
) -> None:
    board = await board_of(site, "team-25741")
    mine = await board.open(25741, address="15 đường Yersin")
    elsewhere = await board.open(25942, address="3 đường Trần Hưng Đạo")

    team = await open_board(site, browser, "team-25741")
    supervisor = await open_board(site, browser, "supervisor")
    wall = await (await site.signed_in(browser, "supervisor")).new_page()
    await wall.goto(f"{site.url}/wallboard")
    await expect(wall.locator("#connection")).to_have_attribute("data-state", "ok")
    on_the_wall = wall.locator(f'#incidents-list li[data-incident-id="{mine}"]')
    await expect(on_the_wall).to_have_attribute("data-status", "dispatched")
    await expect(row(supervisor, elsewhere)).to_be_visible()
    await expect(row(team, mine)).to_contain_text("15 đường Yersin")
    # Another district's incident is not on the commune team's board, now or when it changes.
    await expect(team.locator("#incidents-body tr")).to_have_count(1)
    later = await board.open(25942, address="9 đường Lý Thường Kiệt")
    await expect(row(supervisor, later)).to_be_visible()
    await expect(team.locator("#incidents-body tr")).to_have_count(1)

    # The team takes it from its board; the supervisor's board shows it within a second.
    await row(team, mine).click()
    await expect(team.locator("#d-history li")).to_have_count(2)
    await team.get_by_role("button", name="Nhận lệnh").click()
    await expect(row(supervisor, mine)).to_have_attribute(
        "data-status", "acknowledged", timeout=1_000
    )
    await expect(on_the_wall).to_have_attribute("data-status", "acknowledged", timeout=1_000)
    await expect(row(supervisor, mine).locator(".status")).to_have_text("Đội đã nhận lệnh")
    await expect(team.locator("#d-done")).to_have_text("Đã nhận lệnh.")
    await expect(team.locator("#d-history li")).to_have_count(3)

    # Only the steps the lifecycle allows from here are offered; cancelling without a reason
    # is refused by the API, and the board says why in Vietnamese.
    options = team.locator("#d-move option")
    await expect(options).to_have_text(
        [
            "Đang di chuyển",
            "Đã có mặt tại hiện trường (cần lý do)",
            "Đã xử lý xong (cần lý do)",
            "Đã hủy (cần lý do)",
        ]
    )
    await team.get_by_label("Chuyển trạng thái").select_option("cancelled")
    await team.get_by_role("button", name="Chuyển", exact=True).click()
    await expect(team.locator("#d-error")).to_contain_text(
        "Bị từ chối: cần ghi lý do khi hủy sự vụ hoặc bỏ qua một bước."
    )
    await expect(row(supervisor, mine)).to_have_attribute("data-status", "acknowledged")

    # With a reason it goes: closed, it leaves both boards.
    await team.get_by_label("Lý do").fill("Người gọi báo đã tự đến bệnh viện")
    await team.get_by_role("button", name="Chuyển", exact=True).click()
    await expect(row(supervisor, mine)).to_have_count(0, timeout=1_000)
    await expect(row(team, mine)).to_have_count(0)
    await expect(on_the_wall).to_have_count(0, timeout=1_000)
    for page in (team, supervisor, wall):
        await page.context.close()


async def test_overdue_first_in_red_filters_in_the_url_and_counts_per_district(
    site: Site, browser: Browser
) -> None:
    board = await board_of(site)
    food = await board.open(25741, category="food", urgency="normal")
    late = await board.open(25942, category="medical", urgency="normal", overdue_s=120)
    medical = await board.open(25741, category="medical", urgency="critical")
    # Due in eight seconds: it turns red on the board without any message.
    soon = await board.open(25744, category="medical", urgency="normal", overdue_s=-8)

    page = await open_board(site, browser, "supervisor")
    rows = page.locator("#incidents-body tr")
    await expect(rows).to_have_count(4)
    await expect(rows.first).to_have_attribute("data-id", str(late))
    await expect(rows.first).to_have_class(OVERDUE)
    await expect(rows.first.locator(".due")).to_contain_text("Quá hạn 2 phút")
    turning = page.locator(f'#incidents-body tr[data-id="{soon}"]')
    await expect(turning).not_to_have_class(OVERDUE, timeout=1_000)
    await expect(turning.locator(".due")).to_contain_text("Còn")
    await expect(turning).to_have_class(OVERDUE, timeout=15_000)
    await expect(turning.locator(".due")).to_contain_text("Quá hạn")
    await expect(rows.nth(1)).to_have_attribute("data-id", str(soon))
    await expect(rows.nth(2)).to_have_attribute("data-id", str(medical))

    # The counts per district are the API's.
    summary = (
        await site.client.get(
            "/monitoring/summary", headers={"Authorization": f"Bearer {site.tokens['supervisor']}"}
        )
    ).json()
    for summary_row in summary["rows"]:
        cells = page.locator(f'#summary-body tr[data-code="{summary_row["place"]["code"]}"] td')
        await expect(cells.last).to_have_text(str(summary_row["open"]))
    await expect(page.locator("#summary-foot td").last).to_have_text("4")

    # Filters: kept in the URL, and the URL alone gives the same view.
    await page.get_by_label("Quận/huyện").select_option(label="Thành phố Thủ Dầu Một")
    await page.get_by_label("Lĩnh vực").select_option("medical")
    await expect(page).to_have_url(f"{site.url}/incidents?district=718&category=medical")
    await expect(rows).to_have_count(2)
    await expect(page.locator("#summary-body tr")).to_have_count(2)  # its communes
    await page.get_by_label("Xã/phường").select_option(label="Phường Hiệp Thành")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-id", str(medical))
    await rows.first.click()
    await expect(page).to_have_url(
        f"{site.url}/incidents?district=718&commune=25741&category=medical&incident={medical}"
    )
    fresh = await open_board(
        site, browser, "supervisor", page.url.removeprefix(f"{site.url}/incidents")
    )
    await expect(fresh.locator("#incidents-body tr")).to_have_count(1)
    await expect(fresh.get_by_label("Xã/phường")).to_have_value("25741")
    await expect(fresh.locator("#d-id")).to_have_text(str(medical))
    await page.get_by_role("button", name="Bỏ lọc").click()
    await expect(rows).to_have_count(4)
    assert food in [int(await r.get_attribute("data-id") or 0) for r in await rows.all()]
    for p in (page, fresh):
        await p.context.close()


async def test_a_district_center_hands_an_incident_to_a_commune_team_live(
    site: Site, browser: Browser
) -> None:
    board = await board_of(site, "center-718", "team-25741")
    # Phú Lợi has no team of its own: the district's team holds it.
    incident = await board.open(25744, address="2 đường Phú Lợi")
    center = await open_board(site, browser, "center-718")
    team = await open_board(site, browser, "team-25741")
    await expect(row(center, incident)).to_contain_text("Đội team-718")
    await expect(team.locator("#incidents-body tr")).to_have_count(0)

    # The center may hand it only to teams under its district (not the holder itself).
    await row(center, incident).click()
    await expect(center.locator("#d-assign option")).to_have_text(
        ["Đội center-718 — Thành phố Thủ Dầu Một", "Đội team-25741 — Phường Hiệp Thành"]
    )
    await center.get_by_label("Giao cho đội khác").select_option(
        label="Đội team-25741 — Phường Hiệp Thành"
    )
    await center.get_by_label("Lý do").fill("Đội phường gần hơn")
    await center.get_by_role("button", name="Giao lại").click()
    await expect(center.locator("#d-done")).to_have_text(
        "Đã giao cho Đội team-25741 — Phường Hiệp Thành."
    )
    # The commune team now holds an incident outside its commune: it shows on its board.
    await expect(row(team, incident)).to_contain_text("Đội team-25741", timeout=1_000)
    await expect(center.locator("#d-history li").last).to_contain_text("Giao lại")

    # Handed back, it leaves the team's board (the stream tells the team that lost it).
    await expect(center.locator("#d-assign option")).to_have_text(
        ["Đội center-718 — Thành phố Thủ Dầu Một", "Đội team-718 — Thành phố Thủ Dầu Một"]
    )
    await center.get_by_label("Giao cho đội khác").select_option(
        label="Đội team-718 — Thành phố Thủ Dầu Một"
    )
    await center.get_by_role("button", name="Giao lại").click()
    await expect(row(team, incident)).to_have_count(0, timeout=1_000)
    await expect(row(center, incident)).to_contain_text("Đội team-718")
    for page in (center, team):
        await page.context.close()
