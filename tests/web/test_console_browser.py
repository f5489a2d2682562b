"""The agent's console in chromium, fed by the real event stream (``GET /events``) of a
``LiveFeed`` the test publishes on: the pop, the outcome form, today's calls, and the stream
lost and found again (a replay of what was missed, or a resync beyond the buffer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, Page, Request, expect
from sqlalchemy import func, select

from dispatch.teams import ensure_places_and_teams
from live.hub import Audience
from store.models import CallOutcome, Incident, User
from store.users import revoke_tokens
from tests.web.conftest import BUFFER, Site
from tests.web.feeding import (
    HOSTILE_NAME,
    TRACK_CONNECTION,
    add_call,
    agent_event,
    mine,
    pop_for,
)
from tests.web.support import watch

pytestmark = pytest.mark.browser


@pytest.fixture
async def console(site: Site, browser: Browser) -> AsyncIterator[Page]:
    context = await site.signed_in(browser, "agent")
    await context.add_init_script(TRACK_CONNECTION)
    page = await context.new_page()
    await page.goto(f"{site.url}/console")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    yield page
    await context.close()


async def test_the_pop_shows_the_call_and_caller_text_stays_text(site: Site, console: Page) -> None:
    call = await add_call(site, "0909123456")
    site.feed.bus.publish(
        "agent", agent_event(site, "ringing", call_uniqueid=call.uniqueid), mine(site)
    )
    site.feed.bus.publish("pop", pop_for(call, site), mine(site))
    page = console
    await expect(page.locator("#pop")).to_be_visible()
    await expect(page.locator("#pop-number")).to_have_text("0909123456")
    await expect(page.locator("#pop-name")).to_have_text(HOSTILE_NAME)
    await expect(page.locator("#pop-category")).to_have_text("Cấp cứu y tế")
    await expect(page.locator("#pop-district")).to_have_text("Thủ Dầu Một")
    await expect(page.locator("#pop-route")).to_have_text("Người gọi chọn ở menu")
    await expect(page.locator("#pop-redial")).to_contain_text("Có")
    await expect(page.locator("#pop-previous li")).to_have_count(1)
    await expect(page.locator("#pop-previous")).to_contain_text(
        "Hỗ trợ lương thực, nhu yếu phẩm · Đã trả lời · Tư vấn"
    )
    assert await page.locator("#pop img").count() == 0
    assert await page.evaluate("window.__xss") is None
    await expect(page.locator("#agent-state")).to_have_text("Đang đổ chuông")
    await expect(page.locator("#agent-state-time")).to_have_text("01:05", timeout=3000)
    await expect(page.locator("#answered-today")).to_have_text("3")
    await expect(page.locator("#outcome-call")).to_contain_text(f"#{call.id}")
    # The clock ticks.
    await expect(page.locator("#agent-state-time")).not_to_have_text("01:05", timeout=3000)


async def test_the_outcome_form_dispatches_an_incident_once(site: Site, console: Page) -> None:
    await ensure_places_and_teams(site.db, 74)  # Bình Dương: Thủ Dầu Một is 718
    call = await add_call(site, "0909000111")
    site.feed.bus.publish("pop", pop_for(call, site), mine(site))
    page = console
    await expect(page.locator("#outcome-form")).to_be_visible()
    await page.get_by_label("Kết quả", exact=True).select_option(
        label="Sự vụ — điều động tổ phản ứng nhanh"
    )
    # Nothing is sent without a commune and an urgency: said beside the fields.
    await page.get_by_role("button", name="Ghi kết quả").click()
    await expect(page.locator('.field-error[data-for="urgency"]')).to_be_visible()
    await expect(page.locator('.field-error[data-for="commune_code"]')).to_be_visible()
    await page.get_by_label("Mức khẩn").select_option(label="Khẩn cấp")
    search = page.locator("#commune-search")
    await search.click()
    await search.press_sequentially("hiep th", delay=40)
    # Only the commune of the caller's district whose name matches is offered.
    options = page.locator("#commune-options li[data-code]")
    await expect(options).to_have_count(1)
    await expect(options).to_have_text("Phường Hiệp Thành")
    await options.click()
    await expect(page.locator("#commune-chosen")).to_contain_text("25741")
    await page.get_by_label("Địa chỉ").fill("12 Đường 30/4")
    await page.get_by_label("Ghi chú").fill("Người già ngất xỉu")
    posts: list[Request] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    await page.get_by_role("button", name="Ghi kết quả").click()
    result = page.locator("#outcome-result")
    await expect(result.locator(".incident-id")).to_be_visible()
    await expect(result.locator(".incident-team")).not_to_be_empty()
    await expect(page.get_by_role("button", name="Ghi kết quả")).to_be_disabled()
    assert len(posts) == 1
    assert posts[0].headers["idempotency-key"]
    assert posts[0].headers["x-csrf-token"]

    incident_id = int((await result.locator(".incident-id").inner_text()).lstrip("#"))
    resp = await site.client.get(
        f"/incidents/{incident_id}",
        headers={"Authorization": f"Bearer {site.tokens['supervisor']}"},
    )
    assert resp.status_code == 200, resp.text
    incident = resp.json()
    assert incident["call_id"] == call.id
    assert incident["urgency"] == "critical"
    assert incident["address"] == "12 Đường 30/4"
    assert incident["team_name"]
    await expect(result.locator(".incident-team")).to_have_text(incident["team_name"])


async def test_a_lost_answer_is_sent_again_with_the_same_key(site: Site, console: Page) -> None:
    call = await add_call(site, "0909000222")
    site.feed.bus.publish("pop", pop_for(call, site), mine(site))
    page = console
    await expect(page.locator("#outcome-form")).to_be_visible()
    keys: list[str] = []

    async def lose_first_answer(route):  # type: ignore[no-untyped-def]
        keys.append(route.request.headers["idempotency-key"])
        answer = await route.fetch()  # the service records it...
        if len(keys) == 1:
            assert answer.status == 201
            await route.abort()  # ...and the answer is lost on the way back
        else:
            await route.fulfill(response=answer)

    await page.route(f"**/calls/{call.id}/outcome", lose_first_answer)
    await page.get_by_label("Kết quả", exact=True).select_option(label="Tư vấn")
    await page.get_by_role("button", name="Ghi kết quả").click()
    await expect(page.locator("#outcome-error")).to_contain_text("Không gửi được")
    await page.get_by_role("button", name="Ghi kết quả").click()
    await expect(page.locator("#outcome-result")).to_contain_text("Tư vấn")
    assert len(keys) == 2 and keys[0] == keys[1]
    async with site.db.session() as session:
        count = await session.scalar(
            select(func.count(CallOutcome.id)).where(CallOutcome.call_id == call.id)
        )
    assert count == 1


async def test_field_errors_of_a_422_are_shown_beside_the_field(site: Site, console: Page) -> None:
    call = await add_call(site, "0909000333")
    site.feed.bus.publish("pop", pop_for(call, site), mine(site))
    page = console
    await expect(page.locator("#outcome-form")).to_be_visible()
    await page.get_by_label("Kết quả", exact=True).select_option(
        label="Sự vụ — điều động tổ phản ứng nhanh"
    )
    # A page older than the service: it offers an urgency the API no longer knows.
    await page.evaluate(
        """() => { const o = document.createElement("option"); o.value = "someday";
                   o.textContent = "Khi rảnh"; document.getElementById("urgency").append(o); }"""
    )
    await page.get_by_label("Mức khẩn").select_option("someday")
    await page.evaluate("""() => { document.getElementById("commune-code").value = "25741"; }""")
    await page.get_by_role("button", name="Ghi kết quả").click()
    error = page.locator('.field-error[data-for="urgency"]')
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("critical")
    await expect(page.get_by_role("button", name="Ghi kết quả")).to_be_enabled()
    async with site.db.session() as session:
        assert await session.scalar(select(func.count(Incident.id))) == 0


async def test_todays_calls_open_with_their_outcome_or_a_reminder(
    site: Site, console: Page
) -> None:
    done = await add_call(site, "0909000444")
    await add_call(site, "0909000555")
    async with site.db.session() as session:
        session.add(
            CallOutcome(
                call_id=done.id,
                agent_id=site.agent_id,
                disposition="information",
                notes="Giờ mở cửa trạm y tế",
                address="",
                recorded_by=None,
                request_hash="x",
            )
        )
        await session.commit()
    page = console
    await page.reload()
    rows = page.locator("#calls-body tr")
    await expect(rows).to_have_count(2)
    await page.locator("#calls-body tr", has_text="0909000444").click()
    await expect(page.locator("#call-detail")).to_contain_text("Cung cấp thông tin")
    await expect(page.locator("#call-detail")).to_contain_text("Giờ mở cửa trạm y tế")
    await page.locator("#calls-body tr", has_text="0909000555").click()
    await expect(page.locator("#call-detail .no-outcome")).to_contain_text("chưa có kết quả")
    await page.locator("#call-detail .record-outcome").click()
    await expect(page.locator("#outcome-call")).to_contain_text("0909000555")


async def test_queue_buttons_and_pause_with_a_reason(site: Site, console: Page) -> None:
    """Each button posts to the agents' routes; the state shown is what the stream says
    (the same whether the change came from this page or from the phone)."""
    page = console
    await expect(page.get_by_role("button", name="Rời hàng đợi")).to_be_disabled()
    async with page.expect_response(f"**/agents/{site.agent_id}/login") as answer:
        await page.get_by_role("button", name="Vào hàng đợi").click()
    assert (await answer.value).status == 200
    site.feed.bus.publish("agent", agent_event(site, "idle"), mine(site))
    await expect(page.locator("#agent-state")).to_have_text("Sẵn sàng")
    await expect(page.get_by_role("button", name="Vào hàng đợi")).to_be_disabled()
    await expect(page.get_by_role("button", name="Tiếp tục nhận cuộc gọi")).to_be_disabled()

    await page.get_by_label("Lý do tạm nghỉ").select_option(label="Nghỉ ăn")
    async with page.expect_request(f"**/agents/{site.agent_id}/pause") as sent:
        await page.get_by_role("button", name="Tạm nghỉ").click()
    assert (await sent.value).post_data_json == {"reason": "meal"}
    site.feed.bus.publish("agent", agent_event(site, "paused", reason="meal"), mine(site))
    await expect(page.locator("#agent-state")).to_have_text("Tạm nghỉ")
    await expect(page.locator("#agent-reason")).to_have_text("Lý do: Nghỉ ăn")
    async with page.expect_response(f"**/agents/{site.agent_id}/unpause") as answer:
        await page.get_by_role("button", name="Tiếp tục nhận cuộc gọi").click()
    assert (await answer.value).status == 200
    async with page.expect_response(f"**/agents/{site.agent_id}/logout") as answer:
        await page.get_by_role("button", name="Rời hàng đợi").click()
    assert (await answer.value).status == 200


async def test_wrapup_counts_down(site: Site, console: Page) -> None:
    until = datetime.now(UTC) + timedelta(seconds=30)
    site.feed.bus.publish(
        "agent", agent_event(site, "wrapup", wrapup_until=until.isoformat()), mine(site)
    )
    left = console.locator("#wrapup-left")
    await expect(console.locator("#wrapup")).to_be_visible()
    first = int(await left.inner_text())
    assert 25 <= first <= 31  # ceil of 30 s less latency, on a clock synced to the server
    await expect(left).not_to_have_text(str(first), timeout=3000)


async def test_a_reconnect_gets_the_missed_events(site: Site, console: Page) -> None:
    page = console
    streams: list[Request] = []
    page.on("request", lambda r: streams.append(r) if "/events" in r.url else None)
    await site.server.stop()  # the connection drops
    await expect(page.locator("#connection")).to_have_attribute("data-state", "lost")
    await expect(page.locator("#connection")).to_have_text("Mất kết nối — đang kết nối lại…")
    site.feed.bus.publish("agent", agent_event(site, "paused", reason="meal"), mine(site))
    await site.server.start()
    await expect(page.locator("#agent-state")).to_have_attribute(
        "data-state", "paused", timeout=15_000
    )
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    assert streams
    for stream in streams:
        assert (await stream.all_headers()).get("last-event-id", "").startswith(site.feed.hub.boot)
    assert "resync" not in await page.evaluate("window.__connection")


async def test_a_reconnect_beyond_the_buffer_resyncs_from_a_snapshot(
    site: Site, console: Page
) -> None:
    page = console
    call = await add_call(site, "0911222333")
    await site.server.stop()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "lost")
    for _ in range(BUFFER + 2):  # more than the buffer keeps
        site.feed.bus.publish(
            "heartbeat", {"server_time": datetime.now(UTC).isoformat()}, Audience()
        )
    site.feed.pops[site.agent_id] = pop_for(call, site)  # what the fresh snapshot carries
    await site.server.start()
    await expect(page.locator("#pop-number")).to_have_text("0911222333", timeout=15_000)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    assert "resync" in await page.evaluate("window.__connection")


async def test_the_console_loads_with_no_csp_violation(site: Site, browser: Browser) -> None:
    context = await site.signed_in(browser, "agent")
    watched = await watch(context)
    response = await watched.page.goto(f"{site.url}/console")
    assert response is not None and response.status == 200
    headers = await response.all_headers()
    assert headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")
    await expect(watched.page.locator("#connection")).to_have_attribute("data-state", "ok")
    call = await add_call(site, "0909000666")
    site.feed.bus.publish("pop", pop_for(call, site), mine(site))
    await expect(watched.page.locator("#pop-number")).to_have_text("0909000666")
    await watched.page.get_by_label("Kết quả", exact=True).select_option(label="Nhầm số")
    assert await watched.csp_violations() == []
    assert all(url.startswith(site.url) for url in watched.requests), watched.requests
    await context.close()


async def test_a_session_ended_elsewhere_sends_the_console_to_login(
    site: Site, console: Page
) -> None:
    async with site.db.session() as session:
        user = await session.scalar(select(User).where(User.role == "agent"))
    assert user is not None
    await revoke_tokens(site.db, user.id)  # as signing out on another tab does to this one
    await console.wait_for_url(f"{site.url}/login?next=/console", timeout=10_000)
