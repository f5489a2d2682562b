"""The calls' pages (issue 15) in a real browser: a supervisor finds yesterday's emergency
call, listens to its recording in the page, sees its digest verified (and another's not),
the pauses, a purged leg; places a legal hold and releases it. The recordings' service is a
fake in memory (``tests/web/recording_fakes.py``); the API's routes and the player's range
requests are the real ones. Text from callers and users is shown as text."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from recordings.shapes import PauseInfo
from store.models import CallOutcome
from tests.web.conftest import Site
from tests.web.feeding import HOSTILE_NAME, add_call
from tests.web.recording_fakes import FakeRecordings, recording
from tests.web.support import watch
from web.security import CONTENT_SECURITY_POLICY
from web.session import SESSION_COOKIE

pytestmark = pytest.mark.browser

VN = ZoneInfo("Asia/Ho_Chi_Minh")
LOGIC = "/static/js/calls-logic.js"


async def in_vietnam(site: Site, browser: Browser, role: str) -> BrowserContext:
    """``role``'s browser, on Vietnam's clock (the days of the search are Vietnam's)."""
    context = await browser.new_context(locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    await context.add_cookies(
        [{"name": SESSION_COOKIE, "value": site.tokens[role], "url": site.url, "httpOnly": True}]
    )
    return context


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait for what the page asked the server (it answers after the address changed)."""
    for _ in range(int(timeout_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    assert condition()


@dataclass
class Recorded:
    fake: FakeRecordings
    call_id: int
    yesterday: date
    today: date


@pytest.fixture
async def recorded(site: Site, tmp_path: Path) -> AsyncIterator[Recorded]:
    """Yesterday's emergency call at 10:04 (Vietnam) with three legs: the call itself
    (paused once, verifies), its callback (purged) and a dispatch leg whose file was altered."""
    today = datetime.now(VN).date()
    yesterday = today - timedelta(days=1)
    at = datetime(yesterday.year, yesterday.month, yesterday.day, 10, 4, 30, tzinfo=VN)
    call = await add_call(
        site,
        "0909123456",
        arrived_at=at.astimezone(UTC),
        answered_at=(at + timedelta(seconds=12)).astimezone(UTC),
        ended_at=(at + timedelta(seconds=110)).astimezone(UTC),
        talk_s=95.0,
        wait_s=8.0,
    )
    async with site.db.session() as session:
        session.add(
            CallOutcome(
                call_id=call.id,
                agent_id=site.agent_id,
                request_hash="x",
                disposition="advice",
                notes=f"Người gọi báo tai nạn\n{HOSTILE_NAME}",
            )
        )
        await session.commit()
    fake = FakeRecordings(site.db, tmp_path)
    pause = PauseInfo(
        paused_at=(at + timedelta(seconds=42)).astimezone(UTC),
        resumed_at=(at + timedelta(seconds=70)).astimezone(UTC),
        by_name=HOSTILE_NAME,
    )
    fake.add(
        recording(1, call.id, at.astimezone(UTC), pauses=[pause], paused_s=28.0),
        recording(
            2,
            call.id,
            (at + timedelta(minutes=20)).astimezone(UTC),
            kind="callback",
            status="purged",
            purged_at=datetime(2026, 12, 1, 2, 0, tzinfo=UTC),
            retention_class="wrong_number",
        ),
        recording(3, call.id, (at + timedelta(minutes=30)).astimezone(UTC), kind="dispatch"),
        # Another day's call, found by another search.
        recording(4, None, (at - timedelta(days=3)).astimezone(UTC), caller_number="0281111222"),
    )
    fake.bad[3] = "Tệp 2026/12/05/1700000000.3.wav có SHA-256 khác với khi niêm phong"
    site.app.state.services = replace(site.app.state.services, recordings=fake)
    yield Recorded(fake, call.id, yesterday, today)


async def test_a_supervisor_finds_yesterdays_emergency_call_and_listens_to_it(
    site: Site, browser: Browser, recorded: Recorded
) -> None:
    context = await in_vietnam(site, browser, "supervisor")
    await context.add_init_script("window.__xss = undefined;")
    page = await context.new_page()
    await page.goto(f"{site.url}/wallboard")
    await page.get_by_role("link", name="Cuộc gọi", exact=True).click()
    await expect(page).to_have_url(
        f"{site.url}/calls?day_from={recorded.yesterday}&day_to={recorded.today}"
    )
    # Yesterday and today unless chosen: the three legs of yesterday's call, newest first.
    rows = page.locator("#results-body tr")
    await expect(rows).to_have_count(3)
    assert recorded.fake.searches[-1]["day_from"] == recorded.yesterday
    assert recorded.fake.searches[-1]["day_to"] == recorded.today
    first = page.locator('#results-body tr[data-recording-id="1"]')
    await expect(first.locator("td").nth(0)).to_have_text(f"{recorded.yesterday:%d/%m} 10:04")
    await expect(first.locator("td.number")).to_have_text("0909123456")
    await expect(first.locator("td").nth(2)).to_have_text("Cấp cứu y tế")
    await expect(first.locator("td.agent")).to_have_text("agent01")
    await expect(first.locator("td").nth(5)).to_have_text("01:35")
    await expect(page.locator('#results-body tr[data-recording-id="2"] td.status')).to_have_text(
        "Đã xoá theo thời hạn lưu"
    )

    # What the search cannot take is said before anything is sent.
    asked = len(recorded.fake.searches)
    await page.get_by_label("Số gọi").fill("09x09")
    await page.get_by_role("button", name="Tìm").click()
    await expect(page.locator("#search-error")).to_have_text(
        "Số gọi chỉ gồm chữ số (có thể có dấu + ở đầu), tối đa 15 số."
    )
    await page.get_by_label("Số gọi").fill("")
    await page.get_by_label("Từ ngày").fill(f"{recorded.today + timedelta(days=1)}")
    await page.get_by_role("button", name="Tìm").click()
    await expect(page.locator("#search-error")).to_have_text(
        "Ngày bắt đầu phải trước hoặc bằng ngày kết thúc."
    )
    assert len(recorded.fake.searches) == asked
    await page.get_by_label("Từ ngày").fill(f"{recorded.yesterday}")

    # By number (as people write it) and category: the address keeps the search.
    await page.get_by_label("Số gọi").fill("09 09")
    await page.get_by_label("Lĩnh vực").select_option(label="Cấp cứu y tế")
    await page.get_by_role("button", name="Tìm").click()
    await expect(page).to_have_url(
        f"{site.url}/calls?day_from={recorded.yesterday}&day_to={recorded.today}&category=medical&number=0909"
    )
    await until(lambda: recorded.fake.searches[-1]["number"] == "0909")
    assert recorded.fake.searches[-1]["category"] == "medical"
    await expect(rows).to_have_count(3)

    await first.get_by_role("link", name="Xem và nghe").click()
    await expect(page).to_have_url(f"{site.url}/calls/{recorded.call_id}")
    await expect(page.locator("body")).to_have_attribute("data-loaded", "1")
    await expect(page.locator("#f-number")).to_have_text("0909123456")
    await expect(page.locator("#f-name")).to_have_text(HOSTILE_NAME)
    await expect(page.locator("#f-arrived")).to_have_text(f"{recorded.yesterday:%d/%m/%Y} 10:04:30")
    await expect(page.locator("#f-talk")).to_have_text("01:35")
    await expect(page.locator("#f-outcome")).to_have_text("Tư vấn")
    await expect(page.locator("#f-notes")).to_have_text(f"Người gọi báo tai nạn\n{HOSTILE_NAME}")

    call_leg = page.locator('article.recording[data-recording-id="1"]')
    audio = call_leg.locator("audio")
    await expect(audio).to_have_attribute("src", "/recordings/1/audio")
    await expect(audio).to_have_attribute("preload", "none")
    await expect(call_leg.locator(".verified")).to_have_text("Đã xác minh")
    await expect(call_leg.locator(".sha")).to_have_text("01" * 32)
    await expect(call_leg.locator(".pauses li")).to_have_text(
        f"Tạm dừng ghi âm 10:05:12–10:05:40, bởi {HOSTILE_NAME}"
    )
    await expect(call_leg.locator(".retention")).to_contain_text("(loại: Khẩn cấp)")

    purged = page.locator('article.recording[data-recording-id="2"]')
    await expect(purged.locator(".purged")).to_have_text("Đã xoá theo thời hạn lưu")
    await expect(purged.locator("audio")).to_have_count(0)
    await expect(purged.locator(".verified")).to_have_text("Đã xác minh")  # the chain still holds

    altered = page.locator('article.recording[data-recording-id="3"]')
    await expect(altered.locator(".verified")).to_have_text(
        "Không khớp: Tệp 2026/12/05/1700000000.3.wav có SHA-256 khác với khi niêm phong"
    )
    await expect(altered.locator(".verified")).to_have_attribute("data-ok", "0")

    # Nothing was fetched (nor audited) before Play; then the player streams it and plays.
    assert recorded.fake.listened == []
    played = await audio.evaluate(
        """async (a) => { a.muted = true; await a.play();
             await new Promise((ok) => {
               const t = () => (a.currentTime > 0.2 ? ok() : setTimeout(t, 50)); t(); });
             return { duration: a.duration, at: a.currentTime }; }"""
    )
    assert 2.9 < played["duration"] < 3.1
    assert "Trần Văn Giám" in {name for _, name in recorded.fake.listened}
    assert {rid for rid, _ in recorded.fake.listened} == {1}

    assert await page.locator("main img").count() == 0
    assert await page.evaluate("window.__xss") is None
    await context.close()


async def test_a_legal_hold_keeps_the_calls_recordings_until_released(
    site: Site, browser: Browser, recorded: Recorded
) -> None:
    context = await in_vietnam(site, browser, "supervisor")
    page = await context.new_page()
    await page.goto(f"{site.url}/calls/{recorded.call_id}")
    await expect(page.locator("body")).to_have_attribute("data-loaded", "1")
    await expect(page.locator("#holds-empty")).to_be_visible()
    retention = page.locator('article.recording[data-recording-id="1"] .retention')
    await expect(retention).to_contain_text("Lưu đến")

    # A reason is needed, said beside the form before anything is sent.
    await page.get_by_role("button", name="Giữ lại bản ghi âm").click()
    await expect(page.locator("#hold-error")).to_have_text("Hãy ghi lý do giữ lại.")
    assert recorded.fake.hold_rows == {}

    reason = f"Khiếu nại số 12/KN {HOSTILE_NAME}"
    await page.get_by_label("Lý do giữ lại").fill(reason)
    await page.get_by_role("button", name="Giữ lại bản ghi âm").click()
    held = page.locator("#holds li")
    await expect(held).to_have_count(1)
    await expect(held.locator(".reason")).to_have_text(reason)
    await expect(held).to_contain_text("bởi Trần Văn Giám")
    await expect(retention).to_have_text("Đang được giữ lại theo yêu cầu pháp lý")
    [hold] = recorded.fake.hold_rows.values()
    assert (hold.call_id, hold.reason, hold.created_by) == (
        recorded.call_id,
        reason,
        "Trần Văn Giám",
    )
    assert await page.locator("main img").count() == 0

    await held.get_by_role("button", name="Bỏ giữ").click()
    await expect(held).to_have_count(0)
    await expect(page.locator("#holds-empty")).to_be_visible()
    await expect(retention).to_contain_text("Lưu đến")
    assert not recorded.fake.hold_rows[hold.id].active
    await context.close()


async def test_who_may_open_the_calls_pages(
    site: Site, browser: Browser, recorded: Recorded
) -> None:
    # An agent: the 403 page in Vietnamese, no link in the top bar.
    context = await site.signed_in(browser, "agent")
    page = await context.new_page()
    response = await page.goto(f"{site.url}/calls/{recorded.call_id}")
    assert response is not None and response.status == 403
    await expect(page.locator("main")).to_contain_text("Cuộc gọi và bản ghi âm")
    await page.goto(f"{site.url}/console")
    await expect(page.get_by_role("link", name="Cuộc gọi", exact=True)).to_have_count(0)
    await context.close()
    # Nobody signed in: to the sign-in page, and back here afterwards.
    anonymous = await browser.new_context()
    page = await anonymous.new_page()
    await page.goto(f"{site.url}/calls/{recorded.call_id}")
    await expect(page).to_have_url(f"{site.url}/login?next=/calls/{recorded.call_id}")
    await anonymous.close()
    # The same paths still answer the API's JSON to anyone not asking for a page.
    headers = {"Authorization": f"Bearer {site.tokens['supervisor']}"}
    listed = await site.client.get("/calls", headers=headers)
    assert listed.status_code == 200 and listed.json()["total"] == 1
    one = await site.client.get(f"/calls/{recorded.call_id}", headers=headers)
    assert one.status_code == 200 and one.json()["caller_number"] == "0909123456"


async def test_a_call_that_does_not_exist_says_so(
    site: Site, browser: Browser, recorded: Recorded
) -> None:
    context = await site.signed_in(browser, "supervisor")
    page = await context.new_page()
    await page.goto(f"{site.url}/calls/999999")
    await expect(page.locator("#load-error")).to_have_text("Không tìm thấy cuộc gọi #999999.")
    await expect(page.locator("body")).to_have_attribute("data-loaded", "1")
    await expect(page.locator("#facts-card")).to_be_hidden()
    await expect(page.locator("audio")).to_have_count(0)
    await context.close()


async def run(page: Page, body: str, arg: object = None) -> Any:
    return await page.evaluate(
        f"async (arg) => {{ const L = await import('{LOGIC}'); {body} }}", arg
    )


async def test_the_words_of_recordings(site: Site, browser: Browser) -> None:
    context = await in_vietnam(site, browser, "supervisor")
    page = await context.new_page()
    await page.goto(f"{site.url}/login")
    words = await run(
        page,
        """
        const labels = { spy_modes_agent: { whisper: "Giám sát viên đang nhắc" } };
        return {
          bytes: [0, 999, 1500, 1_234_567_890, 40_000_000_000, null].map(L.formatBytes),
          usage: L.usageLine({ files: 3, bytes: 1_200_000_000, disk_free_bytes: 40e9,
                               oldest: "2026-11-06T03:00:00+00:00" }),
          empty: L.usageLine({ files: 0, bytes: 0, disk_free_bytes: 5e11,
                               oldest_started_at: null }),
          pause: L.pauseLine({ paused_at: "2026-12-05T03:05:12Z",
                               resumed_at: "2026-12-05T03:05:40Z", by_name: "Lan" }),
          open: L.pauseLine({ paused_at: "2026-12-05T03:05:12Z", resumed_at: null, by_name: "" }),
          ok: L.verifyText({ ok: true, problems: [] }),
          bad: L.verifyText({ ok: false, problems: [{ what: "thiếu seq 4" }, "tệp mất"] }),
          none: L.verifyText({ ok: false, problems: [] }),
          whisper: L.coachingBanner({ agent_id: 1, mode: "whisper", active: true }, labels),
          ended: L.coachingBanner({ agent_id: 1, mode: "whisper", active: false }, labels),
          other: L.coachingBanner({ agent_id: 1, mode: "new", active: true }, labels),
          days: L.defaultDays(new Date(2026, 0, 1, 0, 30)),
          phones: L.phoneNames(3),
        };
        """,
    )
    assert words["bytes"] == ["0 B", "999 B", "1,5 kB", "1,2 GB", "40 GB", "—"]
    assert words["usage"] == "Ghi âm: 1,2 GB (3 tệp), còn trống 40 GB, cũ nhất 06/11/2026"
    assert words["empty"] == "Ghi âm: 0 B (0 tệp), còn trống 500 GB, chưa có bản ghi"
    assert words["pause"] == "Tạm dừng ghi âm 10:05:12–10:05:40, bởi Lan"
    assert words["open"] == "Tạm dừng ghi âm 10:05:12–nay (đang tạm dừng)"
    assert words["ok"] == {"ok": True, "text": "Đã xác minh"}
    assert words["bad"] == {"ok": False, "text": "Không khớp: thiếu seq 4; tệp mất"}
    assert words["none"] == {"ok": False, "text": "Không khớp: không rõ lý do"}
    assert words["whisper"] == "Giám sát viên đang nhắc"
    assert words["other"] == "Giám sát viên đang hướng dẫn"
    assert words["ended"] == ""
    assert words["days"] == {"from": "2025-12-31", "to": "2026-01-01"}
    assert words["phones"] == ["sup01", "sup02", "sup03"]
    await context.close()


@pytest.mark.parametrize("may_listen", [True, False])
async def test_an_agent_plays_their_own_calls_recording_only_where_allowed(
    site: Site, browser: Browser, recorded: Recorded, may_listen: bool
) -> None:
    today = await add_call(site, "0909000222", uniqueid="1700000000.0222")
    recorded.fake.add(recording(10, today.id, datetime.now(UTC) - timedelta(minutes=5)))
    site.app.state.services = replace(
        site.app.state.services, recording_agent_may_listen=may_listen
    )
    context = await site.signed_in(browser, "agent")
    watched = await watch(context)
    page = watched.page
    await page.goto(f"{site.url}/console")
    await page.locator(f'#calls-body tr[data-call-id="{today.id}"]').click()
    detail = page.locator("#call-detail")
    await expect(detail.locator(".no-outcome")).to_be_visible()
    if may_listen:
        leg = detail.locator('li.recording[data-recording-id="10"]')
        await expect(leg).to_contain_text("Cuộc gọi đến")
        await expect(leg.locator("audio")).to_have_attribute("src", "/recordings/10/audio")
        await leg.locator("audio").evaluate("(a) => { a.preload = 'auto'; a.load(); }")
        await until(lambda: (10, "Nguyễn Thị Lan") in recorded.fake.listened)
    else:
        # Not even asked: the page knows the setting (and half a second shows nothing came).
        await expect(page.locator("#console")).to_have_attribute("data-may-listen", "0")
        await page.wait_for_timeout(500)
        await expect(detail.locator("audio")).to_have_count(0)
        assert not [u for u in watched.requests if "/recordings" in u]
    await context.close()


@pytest.mark.parametrize("path", ["/calls", "/calls/1"])
async def test_the_calls_pages_carry_the_security_headers_and_no_inline_code(
    site: Site, path: str
) -> None:
    page = await site.client.get(
        path,
        headers={"Accept": "text/html", "Cookie": f"{SESSION_COOKIE}={site.tokens['supervisor']}"},
    )
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html)
    assert "<style" not in html and " style=" not in html
