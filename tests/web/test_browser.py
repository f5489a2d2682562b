"""The pages in Debian's chromium: offline /docs, no CSP violation, the login redirect and
the 403 page."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.web.conftest import Site
from tests.web.support import watch

pytestmark = pytest.mark.browser


async def test_docs_render_swagger_ui_with_nothing_from_outside(
    site: Site, browser: Browser
) -> None:
    context = await browser.new_context()
    # Offline: anything not for the site itself fails, as on a machine without internet.
    outside: list[str] = []

    async def refuse(route):  # type: ignore[no-untyped-def]
        outside.append(route.request.url)
        await route.abort()

    await context.route(lambda url: not url.startswith(site.url), refuse)
    watched = await watch(context)
    response = await watched.page.goto(f"{site.url}/docs")
    assert response is not None and response.status == 200
    await expect(watched.page.locator(".swagger-ui .info .title")).to_contain_text(
        "hotline1022", timeout=15_000
    )
    await expect(watched.page.locator("#operations-tag-calls")).to_be_visible()
    assert outside == []
    assert watched.requests, "the page requested nothing"
    assert all(url.startswith(site.url) or url.startswith("data:") for url in watched.requests), (
        watched.requests
    )
    assert await watched.csp_violations() == []
    await context.close()


@pytest.mark.parametrize("path", ["/login", "/login?next=/console"])
async def test_login_page_loads_with_its_csp_and_no_violation(
    site: Site, browser: Browser, path: str
) -> None:
    context = await browser.new_context()
    watched = await watch(context)
    response = await watched.page.goto(f"{site.url}{path}")
    assert response is not None
    headers = await response.all_headers()
    assert headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")
    await expect(watched.page.get_by_label("Tên đăng nhập")).to_be_visible()
    # The module script ran (it guards the form): an empty submit is answered on the page.
    await watched.page.get_by_role("button", name="Đăng nhập").click()
    await expect(watched.page.locator("#login-error")).to_have_text(
        "Hãy nhập tên đăng nhập và mật khẩu."
    )
    assert await watched.csp_violations() == []
    await context.close()


async def test_an_inline_script_would_be_refused(site: Site, browser: Browser) -> None:
    """The check above can fail: an inline script injected into a page is reported."""
    context = await browser.new_context()
    watched = await watch(context)
    await watched.page.goto(f"{site.url}/login")
    await watched.page.evaluate(
        """() => { const s = document.createElement("script");
                   s.textContent = "window.__ran = 1"; document.body.append(s); }"""
    )
    await watched.page.wait_for_timeout(200)
    assert await watched.page.evaluate("window.__ran") is None
    assert any("script-src" in v for v in await watched.csp_violations())
    await context.close()


async def test_console_without_a_session_goes_to_login(site: Site, browser: Browser) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{site.url}/console")
    assert page.url == f"{site.url}/login?next=/console"
    await expect(page.locator("#login-form")).to_have_attribute("data-next", "/console")
    await context.close()


async def test_a_user_without_the_agent_role_gets_the_403_page(
    site: Site, browser: Browser
) -> None:
    context = await site.signed_in(browser, "supervisor")
    watched = await watch(context)
    response = await watched.page.goto(f"{site.url}/console")
    assert response is not None and response.status == 403
    await expect(watched.page.locator("#forbidden-title")).to_have_text("Không có quyền truy cập")
    await expect(watched.page.locator("main")).to_contain_text("Trần Văn Giám")
    assert await watched.csp_violations() == []
    await context.close()
