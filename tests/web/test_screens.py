"""Screenshots of each page for the README (``make screens``): docs/screens/*.png.

Each is taken in a state worth seeing (an error shown, Swagger UI rendered), so a page that
breaks also fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.web.conftest import Site

pytestmark = pytest.mark.browser

SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"
VIEWPORT = {"width": 1280, "height": 800}


async def test_screens_of_login_docs_and_the_403_page(site: Site, browser: Browser) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    context = await browser.new_context(viewport=VIEWPORT, locale="vi-VN")
    page = await context.new_page()
    await page.goto(f"{site.url}/login?next=/console")
    await page.get_by_role("button", name="Đăng nhập").click()
    await expect(page.locator("#login-error")).to_be_visible()
    await page.screenshot(path=SCREENS / "login.png")
    await page.goto(f"{site.url}/docs")
    await expect(page.locator("#operations-tag-calls")).to_be_visible(timeout=15_000)
    await page.screenshot(path=SCREENS / "docs.png")
    await context.close()

    context = await site.signed_in(browser, "supervisor")
    page = await context.new_page()
    await page.set_viewport_size(VIEWPORT)
    await page.goto(f"{site.url}/console")
    await expect(page.locator("#forbidden-title")).to_be_visible()
    await page.screenshot(path=SCREENS / "forbidden.png")
    await context.close()
    for name in ("login", "docs", "forbidden"):
        assert (SCREENS / f"{name}.png").stat().st_size > 5_000
