"""The /admin page in Chromium: an admin creates a user and hands over the password shown
once, then resets it; a supervisor creates an agent's sign-in (agent and team roles only, the
staff read-only) and reads its password once; a supervisor rewrites an announcement after
listening to its draft, publishes it and reverts it (real espeak-ng and sox behind the real
IVR service)."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from dispatch.teams import ensure_places_and_teams
from ivr.menu_file import DEFAULT_MENU
from ivr.service import IvrService
from store.users import create_user
from tests.web.conftest import Site
from tests.web.support import watch

pytestmark = pytest.mark.browser

GENERATED = re.compile(r"^\w{16}$")  # store.users.generate_password


async def sign_in_works(site: Site, name: str, password: str) -> bool:
    response = await site.client.post(
        "/auth/login", json={"name": name, "password": password}, headers={"Origin": site.url}
    )
    return response.status_code == 200


async def real_ivr(site: Site, tmp_path: Path) -> IvrService:
    menu = tmp_path / "menu.yaml"
    shutil.copyfile(DEFAULT_MENU, menu)
    ivr = IvrService(
        db=site.db, menu_path=menu, prompt_cache=tmp_path / "prompts", asterisk_prompts=None
    )
    await ivr.start()
    site.app.state.services = dataclasses.replace(site.app.state.services, ivr=ivr)
    return ivr


async def test_an_admin_creates_a_user_sees_the_password_once_and_resets_it(
    site: Site, browser: Browser
) -> None:
    _, site.tokens["admin"] = await create_user(site.db, name="Quản Trị", role="admin")
    context = await site.signed_in(browser, "admin")
    watched = await watch(context)
    page = watched.page
    await page.goto(f"{site.url}/admin#users")

    # She creates a supervisor's account with a generated password, and reads it once.
    await page.get_by_label("Tên đăng nhập").fill("Phạm Thu <b>Hà</b>")
    await page.get_by_label("Vai trò").select_option("supervisor")
    await page.get_by_role("button", name="Tạo người dùng").click()
    secret = page.locator("#secret-password")
    await expect(secret).to_have_text(GENERATED)
    first = await secret.inner_text()
    assert await sign_in_works(site, "Phạm Thu <b>Hà</b>", first)
    row = page.locator("tr", has_text="Phạm Thu <b>Hà</b>")  # the name shown as text
    await expect(row).to_contain_text("Giám sát viên")
    await page.get_by_role("button", name="Đã chép, ẩn đi").click()
    await expect(page.locator("#secret-box")).to_be_hidden()
    await page.reload()
    await expect(row).to_be_visible()
    assert first not in await page.content()  # shown once, never again

    # The user forgot it: a reset gives a new one and the old one stops working.
    await row.get_by_role("button", name="Đặt lại mật khẩu").click()
    await expect(secret).to_have_text(GENERATED)
    second = await secret.inner_text()
    assert second != first
    assert await sign_in_works(site, "Phạm Thu <b>Hà</b>", second)
    assert not await sign_in_works(site, "Phạm Thu <b>Hà</b>", first)

    # A bad typed password is refused with the API's reason, and nobody is created.
    await page.get_by_label("Tên đăng nhập").fill("Người Thứ Hai")
    await page.get_by_label("Tự nhập mật khẩu").check()
    await page.get_by_label("Mật khẩu (ít nhất 10 ký tự)").fill("ngắn")
    await page.evaluate("document.getElementById('user-password').removeAttribute('minlength')")
    await page.get_by_role("button", name="Tạo người dùng").click()
    await expect(page.locator("#admin-error")).to_contain_text("too short")
    await expect(page.locator("tr", has_text="Người Thứ Hai")).to_have_count(0)
    assert await watched.csp_violations() == []
    await context.close()


async def test_a_supervisor_creates_an_agents_sign_in_and_sees_the_password_once(
    site: Site, browser: Browser
) -> None:
    context = await site.signed_in(browser, "supervisor")
    watched = await watch(context)
    page = watched.page
    await page.goto(f"{site.url}/admin")
    await page.get_by_role("tab", name="Người dùng").click()

    # Only the roles a supervisor manages are offered; staff rows (their own) are read-only.
    role = page.get_by_label("Vai trò")
    await expect(role.locator("option")).to_have_text(["Tổng đài viên", "Đội / trung tâm"])
    own = page.locator('tr[data-user="Trần Văn Giám"]')
    await expect(own).to_contain_text("Do quản trị viên quản lý")
    await expect(own.get_by_role("button")).to_have_count(0)

    await page.get_by_label("Tên đăng nhập").fill("Võ Ca Chiều")
    await role.select_option("agent")
    agent = page.locator("#user-agent")
    agent02 = await agent.locator("option", has_text="(agent02)").get_attribute("value")
    assert agent02 is not None
    await agent.select_option(agent02)
    await page.get_by_role("button", name="Tạo người dùng").click()
    secret = page.locator("#secret-password")
    await expect(secret).to_have_text(GENERATED)
    password = await secret.inner_text()
    assert await sign_in_works(site, "Võ Ca Chiều", password)
    row = page.locator('tr[data-user="Võ Ca Chiều"]')
    await expect(row).to_contain_text("Tổng đài viên")
    await expect(row.get_by_role("button", name="Đặt lại mật khẩu")).to_be_visible()
    await page.reload()
    await expect(row).to_be_visible()
    assert password not in await page.content()  # shown once, never again
    assert await watched.csp_violations() == []
    await context.close()


async def draft_duration(page: Page) -> float:
    """The draft's <audio> once the browser has loaded it: its duration in seconds."""
    player = page.locator("audio.draft-audio")
    await expect(player).to_have_count(1)
    return float(
        await player.evaluate(
            """(audio) => new Promise((resolve, reject) => {
                 const done = () => resolve(audio.duration);
                 if (audio.readyState >= 1) return done();
                 audio.addEventListener("loadedmetadata", done, { once: true });
                 audio.addEventListener("error", () => reject(new Error(
                   `audio error ${audio.error && audio.error.code}`)), { once: true });
                 audio.load();
               })"""
        )
    )


async def test_a_supervisor_listens_to_a_draft_publishes_it_and_reverts(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    ivr = await real_ivr(site, tmp_path)
    old = ivr.menu.prompts["info_cases"]
    context = await site.signed_in(browser, "supervisor")
    watched = await watch(context)
    page = watched.page
    await page.goto(f"{site.url}/admin#announcements")
    card = page.locator('article[data-name="info_cases"]')
    await expect(card.locator(".live-text")).to_have_text(old)

    await card.get_by_label("Nội dung mới của info_cases").fill("Hôm nay có 12 ca mắc mới.")
    await card.get_by_role("button", name="Tạo bản nghe thử").click()
    await expect(card.locator(".draft")).to_contain_text("Hôm nay có 12 ca mắc mới.")
    assert await draft_duration(page) > 0.5
    await expect(card.locator(".live-text")).to_have_text(old)  # callers still hear the old

    await card.get_by_role("button", name="Đưa vào sử dụng").click()
    await expect(card.locator(".live-text")).to_have_text("Hôm nay có 12 ca mắc mới.")
    await expect(card.locator(".draft")).to_have_count(0)
    listed = {a["name"]: a for a in await ivr.announcements()}
    assert listed["info_cases"]["updated_by"] == "Trần Văn Giám"

    await card.locator("summary", has_text="Bản trước").click()
    await card.get_by_role("button", name="Quay lại bản trước").click()
    await expect(card.locator(".live-text")).to_have_text(old)
    assert await watched.csp_violations() == []
    await context.close()


async def test_a_supervisor_edits_a_team_and_the_pause_reasons(
    site: Site, browser: Browser
) -> None:
    await ensure_places_and_teams(site.db, 74)
    context = await site.signed_in(browser, "supervisor")
    watched = await watch(context)
    page = watched.page
    await page.goto(f"{site.url}/admin#teams")

    # A commune team gets a new member, whose name is shown as typed.
    await page.get_by_label("Cấp").select_option("commune")
    pick = page.get_by_label("Đội", exact=True)
    team = await pick.locator("option", has_text="Hiệp Thành").first.get_attribute("value")
    assert team is not None
    await pick.select_option(team)
    await page.get_by_role("button", name="Thêm thành viên").click()
    row = page.locator("#members-body tr").last
    await row.get_by_label("Họ tên").fill("Lê Văn <Tư>")
    await row.get_by_label("Số điện thoại").fill("0912000111")
    await page.get_by_role("button", name="Lưu đội").click()
    await expect(page.locator("#teams-status")).to_contain_text("Đã lưu")
    saved = (await site.client.get(f"/teams/{team}", headers=bearer(site))).json()
    assert {"name": "Lê Văn <Tư>", "phone": "0912000111"} in [
        {"name": m["name"], "phone": m["phone_number"]} for m in saved["members"]
    ]

    # A pause reason is retired; a new one takes the next phone code.
    await page.get_by_role("tab", name="Lý do tạm nghỉ").click()
    meal = page.locator('tr[data-reason="meal"]')
    await meal.get_by_role("button", name="Ngừng dùng").click()
    await expect(meal).to_contain_text("Đã ngừng dùng")
    reasons = await page.locator("#pauses-body tr").count()
    await page.get_by_label("Mã (chữ thường không dấu, ví dụ meeting)").fill("meeting")
    await page.get_by_label("Lý do", exact=True).fill("Họp giao ban")
    await page.get_by_role("button", name="Thêm", exact=True).click()
    await expect(page.locator("#pauses-status")).to_contain_text(f"*2{reasons + 1}")
    await expect(page.locator("#pauses-body tr")).to_have_count(reasons + 1)
    assert await watched.csp_violations() == []
    await context.close()


def bearer(site: Site) -> dict[str, str]:
    return {"Authorization": f"Bearer {site.tokens['supervisor']}"}
