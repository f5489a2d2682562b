"""Signing in through the page, and a cross-site form post refused (helper AUTH's routes)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from store.models import Agent, User
from store.users import set_password
from tests.web.conftest import Site
from tests.web.support import serving

pytestmark = pytest.mark.browser

PASSWORD = "mật-khẩu-đủ-dài-1022"


@pytest.fixture
async def passwords(site: Site) -> None:
    async with site.db.session() as session:
        users = list(await session.scalars(select(User)))
    for user in users:
        await set_password(site.db, user.id, PASSWORD)


async def sign_in(page: Page, name: str, password: str) -> None:
    await page.get_by_label("Tên đăng nhập").fill(name)
    await page.get_by_label("Mật khẩu").fill(password)
    await page.get_by_role("button", name="Đăng nhập").click()


async def test_a_wrong_password_is_said_beside_the_form(
    site: Site, browser: Browser, passwords: None
) -> None:
    page = await browser.new_page()
    await page.goto(f"{site.url}/login?next=/console")
    await sign_in(page, "Nguyễn Thị Lan", PASSWORD + "x")
    await expect(page.locator("#login-error")).to_have_text("Sai tên đăng nhập hoặc mật khẩu.")
    assert page.url == f"{site.url}/login?next=/console"
    await page.close()


@pytest.mark.parametrize(
    ("next_path", "lands_on"),
    [("/console", "/console"), ("//evil.example/x", "/console"), ("", "/console")],
)
async def test_signing_in_goes_to_next_or_the_roles_page(
    site: Site, browser: Browser, passwords: None, next_path: str, lands_on: str
) -> None:
    page = await browser.new_page()
    await page.goto(f"{site.url}/login?next={next_path}")
    await sign_in(page, "Nguyễn Thị Lan", PASSWORD)
    await page.wait_for_url(f"{site.url}{lands_on}")
    await expect(page.locator("#console")).to_be_visible()
    await page.close()


async def test_a_supervisor_signing_in_lands_on_the_wallboard(
    site: Site, browser: Browser, passwords: None
) -> None:
    # The form asks the server where a role goes ("/" redirects by role): it once kept its own
    # table, which sent supervisors to /docs after the wallboard existed.
    page = await browser.new_page()
    await page.goto(f"{site.url}/login")
    await sign_in(page, "Trần Văn Giám", PASSWORD)
    await page.wait_for_url(f"{site.url}/wallboard")
    await expect(page.locator("#queues-body")).to_be_attached()
    await page.close()


async def test_signing_out_ends_the_session(site: Site, browser: Browser, passwords: None) -> None:
    page = await browser.new_page()
    await page.goto(f"{site.url}/login")
    await sign_in(page, "Nguyễn Thị Lan", PASSWORD)
    await page.wait_for_url(f"{site.url}/console")
    await page.get_by_role("button", name="Đăng xuất").click()
    await page.wait_for_url(f"{site.url}/login")
    await page.goto(f"{site.url}/console")
    assert page.url == f"{site.url}/login?next=/console"
    await page.close()


async def test_a_cross_site_form_post_is_refused(
    site: Site, browser: Browser, passwords: None
) -> None:
    """A page on another origin (another port of 127.0.0.1: the same *site*, so the
    SameSite=Strict cookie goes along) posts a form to the agent's queue login."""
    target = f"{site.url}/agents/{site.agent_id}/login"

    async def evil(_request: Request) -> HTMLResponse:
        return HTMLResponse(
            f"""<!doctype html><form id="f" method="post" action="{target}">
            <input name="x" value="1"></form>
            <script>document.getElementById("f").submit()</script>"""
        )

    attacker = Starlette(routes=[Route("/", evil)])
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{site.url}/login")
    await sign_in(page, "Nguyễn Thị Lan", PASSWORD)
    await page.wait_for_url(f"{site.url}/console")
    async with serving(attacker) as evil_url:
        assert evil_url != site.url
        async with page.expect_response(target) as answer:
            await page.goto(evil_url)
        response = await answer.value
    # 403 (not 401): the cookie was sent, and refused for want of the CSRF token and origin.
    assert response.status == 403
    body = await response.json()
    assert body["detail"] == "Yêu cầu từ trang khác bị từ chối / Cross-site request refused"
    async with site.db.session() as session:
        agent = await session.get(Agent, site.agent_id)
        assert agent is not None and not agent.logged_in
    await context.close()


async def test_try_it_out_in_docs_works_with_the_session_cookie(
    site: Site, browser: Browser, passwords: None
) -> None:
    """Signed in through the form, /docs's "Try it out" posts with the session's CSRF token."""
    page = await browser.new_page()
    await page.goto(f"{site.url}/login?next=/docs")
    await sign_in(page, "Nguyễn Thị Lan", PASSWORD)
    await page.wait_for_url(f"{site.url}/docs")
    operation = page.locator("#operations-agents-login_agents__agent_id__login_post")
    await operation.locator(".opblock-summary").click()
    await operation.get_by_role("button", name="Try it out").click()
    await operation.locator('input[placeholder="agent_id"]').fill(str(site.agent_id))
    async with page.expect_response(f"**/agents/{site.agent_id}/login") as answer:
        await operation.get_by_role("button", name="Execute").click()
    response = await answer.value
    assert response.status == 200, await response.text()
    assert (await response.request.all_headers())["x-csrf-token"]
    async with site.db.session() as session:
        agent = await session.get(Agent, site.agent_id)
        assert agent is not None and agent.logged_in
    await page.close()
