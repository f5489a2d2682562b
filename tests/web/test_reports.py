"""``/reports``: who may open it, and in a browser the recorded day's plots and a table's
XLSX download whose numbers are the JSON's."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, expect

from api.tabular import Table
from stats.rollups import rebuild
from tests.dispatch.monitoring_world import build_world
from tests.stats.recorded_day import DAY, NOW, load_recorded_day
from tests.web.conftest import Site
from tests.web.support import watch
from web.session import SESSION_COOKIE

THE_DAY = "from=2024-05-01&to=2024-05-01&interval=hour"


@pytest.fixture
async def client(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=site.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as c:
        yield c


async def seed(site: Site) -> None:
    """The recorded day of the statistics tests and the monitoring world on the same day."""
    await load_recorded_day(site.db)
    await rebuild(site.db, DAY, DAY + timedelta(days=1), now=NOW)
    await build_world(site.db)


async def test_the_page_is_for_supervisors_and_admins(
    client: httpx.AsyncClient, site: Site
) -> None:
    resp = await client.get("/reports")
    assert (resp.status_code, resp.headers["location"]) == (303, "/login?next=/reports")
    client.cookies.set(SESSION_COOKIE, site.tokens["agent"])
    resp = await client.get("/reports")
    assert resp.status_code == 403 and "Không có quyền truy cập" in resp.text
    client.cookies.set(SESSION_COOKIE, site.tokens["supervisor"])
    resp = await client.get("/reports")
    assert resp.status_code == 200 and "Tải cả báo cáo (XLSX)" in resp.text


@pytest.mark.browser
async def test_the_recorded_day_as_plots_and_its_xlsx_equals_the_json(
    site: Site, browser: Browser
) -> None:
    await seed(site)
    context = await site.signed_in(browser, "supervisor")
    watched = await watch(context)
    page = watched.page
    await page.goto(f"{site.url}/reports?{THE_DAY}")
    await expect(page.locator("body")).to_have_attribute("data-loaded", "yes", timeout=15_000)
    # A plot of offered / answered / abandoned per category, each with its three lines.
    await expect(page.locator("#calls-plots figure")).to_have_count(4)
    await expect(page.locator("#calls-plots figure").first.locator("path.line")).to_have_count(3)
    await expect(page.locator("#quality-plots svg")).to_have_count(3)
    await expect(page.locator("#occupancy-plot path.line")).to_have_count(1)
    await expect(page.locator("#agents-table tbody tr", has_text="agent01")).to_have_count(1)
    await expect(page.locator("#districts-table tbody tr", has_text="Tổng")).to_have_count(1)

    async with page.expect_download() as download_info:
        await page.locator('.downloads[data-table="queues"] a', has_text="XLSX").click()
    download = await download_info.value
    assert download.suggested_filename == "stats-queues_2024-05-01.xlsx"
    sheet = load_workbook(io.BytesIO((await download.path()).read_bytes())).active
    assert sheet is not None
    names, *cells = list(sheet.iter_rows(min_row=2, values_only=True))

    response = await site.client.get(
        "/stats/queues",
        params={
            "since": "2024-05-01T00:00:00+07:00",
            "until": "2024-05-02T00:00:00+07:00",
            "interval": "hour",
            "by": "category",
        },
        headers={"Authorization": f"Bearer {site.tokens['supervisor']}"},
    )
    want = Table.of("t", "t", response.json()["rows"])
    assert names == want.columns
    assert [list(row) for row in cells] == [
        [
            pytest.approx(row.get(c), rel=1e-15) if isinstance(row.get(c), float) else row.get(c)
            for c in want.columns
        ]
        for row in want.rows
    ]
    assert sum(r["offered"] for r in response.json()["rows"]) == 21  # the day's, by hand

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Tải cả báo cáo (XLSX)").click()
    book = load_workbook(io.BytesIO((await (await download_info.value).path()).read_bytes()))
    assert "Tổng đài viên" in book.sheetnames
    assert await watched.csp_violations() == []
    await context.close()
