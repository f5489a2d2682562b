"""Listen, whisper, barge and the recording's pause in a real browser (issue 15).

The wallboard: a supervisor picks their phone, whispers to an agent on a call, barges in,
ends it; another supervisor's wallboard follows from the event stream; the recordings' disk
line. The console: the agent pauses the call's recording (a caller's bank details) and
resumes it, and sees "being coached" only when the policy says so. The coaching service is
the real one over a fake PBX; the recordings' service is a fake in memory."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from coaching.service import CoachingParams, CoachingService, NotifyPolicy, Who
from live.hub import Audience
from pbx.recording_signals import SpyMode
from store.models import Agent, Call
from store.types import utcnow
from tests.coaching.fakes import FakeAgents, FakeSpyPbx, channel_of
from tests.web.conftest import Site
from tests.web.feeding import HOSTILE_NAME, add_call, agent_event, mine, pop_for
from tests.web.recording_fakes import FakeRecordings

pytestmark = pytest.mark.browser

CALLER = "1700000000.7777"


@pytest.fixture
def screens(tmp_path: Path) -> Path:
    """Where the README's screenshot goes: docs/screens with ``make screens``
    (HOTLINE1022_SCREENS), else a temporary directory (as tests/web/test_screens.py)."""
    where = os.environ.get("HOTLINE1022_SCREENS")
    path = Path(where).resolve() if where else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Coaching:
    service: CoachingService
    pbx: FakeSpyPbx
    recordings: FakeRecordings
    agent02: int


@pytest.fixture
async def coaching(site: Site, tmp_path: Path) -> AsyncIterator[Coaching]:
    # agent01 talks on CALLER (Asterisk has their channel); nobody else is on a call.
    pbx = FakeSpyPbx()
    pbx.agent_channels[channel_of("agent01")] = CALLER
    service = CoachingService(
        db=site.db,
        pbx=pbx,
        agents=FakeAgents(on_call={"agent01": CALLER}),
        channels=pbx,
        params=CoachingParams(notify_agent="coaching", phone_count=3),
        publish=site.feed.bus.publish,
    )
    recordings = FakeRecordings(site.db, tmp_path)
    site.app.state.services = replace(
        site.app.state.services, coaching=service, recordings=recordings
    )
    # As the wiring does (hotline1022/service.py): what a reloaded console learns.
    site.feed.coaching_view = service.agent_view
    site.feed.paused_view = recordings.paused_since
    async with site.db.session() as session:
        agent02 = await session.scalar(select(Agent.id).where(Agent.endpoint == "agent02"))
    assert agent02 is not None
    yield Coaching(service, pbx, recordings, agent02)
    await service.close()


def on_call(site: Site, agent_id: int, endpoint: str, name: str) -> None:
    data = agent_event(site, "on_call", call_uniqueid=CALLER, agent_id=agent_id)
    data.update(endpoint=endpoint, name=name)
    site.feed.bus.publish("agent", data, Audience(agent_ids=frozenset({agent_id})))


async def wallboard(site: Site, browser: Browser) -> Page:
    context = await site.signed_in(browser, "supervisor")
    page = await context.new_page()
    await page.goto(f"{site.url}/wallboard")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    return page


async def test_a_supervisor_whispers_to_an_agent_then_barges_in_then_ends(
    site: Site, browser: Browser, coaching: Coaching, screens: Path
) -> None:
    page = await wallboard(site, browser)
    other = await wallboard(site, browser)  # a second supervisor's screen
    on_call(site, site.agent_id, "agent01", "Nguyễn Thị Lan")
    row = page.locator(f'#agents-body tr[data-agent-id="{site.agent_id}"]')
    spy = row.locator("td.spy")
    await expect(spy.get_by_role("button")).to_have_text(["Nghe", "Nhắc", "Chen"])
    await expect(row.locator("th")).to_have_text("Nguyễn Thị Lan")
    # The recordings' disk, with the figures.
    await expect(page.locator("#recordings-usage")).to_have_text(
        "Ghi âm: 1,2 GB (1234 tệp), còn trống 40 GB, cũ nhất 06/11/2026"
    )

    phones = page.get_by_label("Máy của giám sát viên")
    await expect(phones.locator("option")).to_have_text(["sup01", "sup02", "sup03"])
    await phones.select_option("sup02")
    await spy.get_by_role("button", name="Nhắc").click()
    await expect(spy.locator(".spy-mode")).to_have_text("Đang nhắc (sup02)")
    await expect(spy.get_by_role("button")).to_have_text(["Nghe", "Chen", "Kết thúc"])
    assert coaching.pbx.calls == [("spy", "sup02", channel_of("agent01"), "whisper", "30")]
    [ringing] = coaching.pbx.ringing
    coaching.pbx.answer(ringing)  # the supervisor picks up
    await page.locator(".wb-agents").screenshot(path=screens / "wallboard-coaching.png")
    # The other screen learns it from the event stream.
    other_spy = other.locator(f'#agents-body tr[data-agent-id="{site.agent_id}"] td.spy')
    await expect(other_spy.locator(".spy-mode")).to_have_text("Đang nhắc (sup02)")

    await spy.get_by_role("button", name="Chen").click()
    await expect(spy.locator(".spy-mode")).to_have_text("Đang chen (sup02)")
    await expect(other_spy.locator(".spy-mode")).to_have_text("Đang chen (sup02)")
    assert coaching.pbx.calls[-1] == ("change_mode", ringing, "barge")

    await spy.get_by_role("button", name="Kết thúc").click()
    await expect(spy.get_by_role("button")).to_have_text(["Nghe", "Nhắc", "Chen"])
    await expect(other_spy.locator(".spy-mode")).to_have_count(0)
    assert coaching.pbx.calls[-1] == ("stop", ringing)
    assert coaching.pbx.spying == {}

    # agent02 shows on a call, but Asterisk has them on none: said in Vietnamese. Their
    # name is shown as text, in the buttons' accessible names too.
    on_call(site, coaching.agent02, "agent02", HOSTILE_NAME)
    row2 = page.locator(f'#agents-body tr[data-agent-id="{coaching.agent02}"]')
    await expect(row2.locator("th")).to_have_text(HOSTILE_NAME)
    await expect(row2.locator("td.spy button").first).to_have_attribute(
        "aria-label", f"Nghe: {HOSTILE_NAME}"
    )
    await row2.locator("td.spy").get_by_role("button", name="Nghe").click()
    await expect(page.locator("#spy-error")).to_have_text(
        "Tổng đài viên hiện không có cuộc gọi nào để giám sát."
    )
    assert len(coaching.pbx.calls) == 3

    # The phone chosen is remembered on this computer.
    await page.reload()
    await expect(page.get_by_label("Máy của giám sát viên")).to_have_value("sup02")
    assert await page.locator("#agents-body img").count() == 0
    assert await page.evaluate("window.__xss") is None
    await page.context.close()
    await other.context.close()


async def test_the_wall_screen_has_no_controls(
    site: Site, browser: Browser, coaching: Coaching
) -> None:
    context = await site.signed_in(browser, "supervisor")
    page = await context.new_page()
    await page.goto(f"{site.url}/wallboard?wall=1")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    on_call(site, site.agent_id, "agent01", "agent01")
    row = page.locator(f'#agents-body tr[data-agent-id="{site.agent_id}"]')
    await expect(row.locator("td.state")).to_have_text("Đang đàm thoại")
    await expect(row.locator("td.spy")).to_have_count(0)
    await expect(page.locator("#recordings-usage")).to_contain_text("Ghi âm: 1,2 GB")
    await context.close()


async def test_no_coaching_service_no_controls(site: Site, browser: Browser) -> None:
    page = await wallboard(site, browser)
    on_call(site, site.agent_id, "agent01", "agent01")
    row = page.locator(f'#agents-body tr[data-agent-id="{site.agent_id}"]')
    await expect(row.locator("td.state")).to_have_text("Đang đàm thoại")
    await expect(row.locator("td.spy")).to_have_count(0)
    await expect(page.get_by_label("Máy của giám sát viên")).to_have_count(0)
    await expect(page.locator("#recordings-usage")).to_be_hidden()
    await page.context.close()


async def console_on_call(site: Site, browser: Browser) -> tuple[Page, Call]:
    context = await site.signed_in(browser, "agent")
    page = await context.new_page()
    await page.goto(f"{site.url}/console")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    call = await add_call(site, "0909777777", uniqueid=CALLER)
    site.feed.bus.publish("pop", pop_for(call, site), mine(site))
    site.feed.bus.publish(
        "agent", agent_event(site, "on_call", call_uniqueid=call.uniqueid), mine(site)
    )
    return page, call


async def test_the_agent_pauses_the_recording_for_bank_details_and_resumes_it(
    site: Site, browser: Browser, coaching: Coaching
) -> None:
    page, call = await console_on_call(site, browser)
    state = page.locator("#recording-state")
    await expect(state).to_have_text("● Đang ghi âm")
    await expect(page.get_by_role("button", name="Tiếp tục ghi âm")).to_be_disabled()

    await page.get_by_role("button", name="Tạm dừng ghi âm").click()
    await expect(state).to_have_text(re.compile(r"^Đã tạm dừng ghi âm từ \d\d:\d\d:\d\d$"))
    await expect(page.get_by_role("button", name="Tạm dừng ghi âm")).to_be_disabled()
    assert coaching.recordings.pause_log == [(CALLER, True, "Nguyễn Thị Lan")]

    await page.get_by_role("button", name="Tiếp tục ghi âm").click()
    await expect(state).to_have_text("● Đang ghi âm")
    assert coaching.recordings.pause_log[-1] == (CALLER, False, "Nguyễn Thị Lan")

    # Paused meanwhile from elsewhere (another tab): the refusal says so and the page agrees.
    coaching.recordings.paused[CALLER] = utcnow()
    await page.get_by_role("button", name="Tạm dừng ghi âm").click()
    await expect(page.locator("#recording-error")).to_have_text(
        "Ghi âm của cuộc gọi này đang tạm dừng."
    )
    await expect(state).to_have_text("Đã tạm dừng ghi âm")
    await expect(page.get_by_role("button", name="Tiếp tục ghi âm")).to_be_enabled()

    # The call ends: nothing left to pause.
    site.feed.bus.publish(
        "agent", agent_event(site, "wrapup", call_uniqueid=call.uniqueid), mine(site)
    )
    await expect(page.locator("#recording-box")).to_be_hidden()
    await page.context.close()


async def test_the_console_follows_a_pause_made_elsewhere_and_a_reload_keeps_the_banner(
    site: Site, browser: Browser, coaching: Coaching
) -> None:
    """A supervisor (or the agent's other tab) pauses the call's recording: the `recording`
    message reaches the console. A reload mid-call keeps "being coached" (the snapshot)."""
    page, _call = await console_on_call(site, browser)
    state = page.locator("#recording-state")
    await expect(state).to_have_text("● Đang ghi âm")
    site.feed.bus.publish(
        "recording",
        {"id": 1, "kind": "call", "call_uniqueid": CALLER, "status": "recording", "paused": True},
        mine(site),
    )
    await expect(state).to_have_text(re.compile(r"^Đã tạm dừng ghi âm từ \d\d:\d\d:\d\d$"))
    await expect(page.get_by_role("button", name="Tiếp tục ghi âm")).to_be_enabled()
    # Another call's recording: not this console's business.
    site.feed.bus.publish(
        "recording",
        {
            "id": 2,
            "kind": "call",
            "call_uniqueid": "other.1",
            "status": "recording",
            "paused": False,
        },
        mine(site),
    )
    await page.wait_for_timeout(300)
    await expect(state).to_have_text(re.compile(r"^Đã tạm dừng"))

    who = Who(None, "Trần Văn Giám")
    await coaching.service.begin(
        agent_id=site.agent_id, mode=SpyMode.WHISPER, phone="sup01", by=who
    )
    banner = page.locator("#coaching-banner")
    await expect(banner).to_have_text(WHISPER)
    await page.reload()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    await expect(banner).to_have_text(WHISPER)
    await page.context.close()


WHISPER = "Giám sát viên đang hướng dẫn (nhắc riêng)"
LISTEN = "Giám sát viên đang nghe cuộc gọi này"
BARGE = "Giám sát viên đang hướng dẫn (nói chung với người gọi)"


@pytest.mark.parametrize(
    ("policy", "banners"),
    [
        # The default: told when the supervisor speaks to them (whisper, barge).
        ("coaching", [WHISPER, None, BARGE]),
        ("always", [WHISPER, LISTEN, BARGE]),
        ("never", [None, None, None]),
    ],
)
async def test_the_agent_sees_being_coached_as_the_policy_says(
    site: Site,
    browser: Browser,
    coaching: Coaching,
    policy: NotifyPolicy,
    banners: list[str | None],
) -> None:
    coaching.service.params = replace(coaching.service.params, notify_agent=policy)
    page, _ = await console_on_call(site, browser)
    banner = page.locator("#coaching-banner")
    await expect(page.locator("#recording-box")).to_be_visible()
    await expect(banner).to_be_hidden()

    async def shows(text: str | None) -> None:
        if text is None:
            # Shown before and now to be hidden, or never to come: a moment says so.
            await page.wait_for_timeout(300)
            await expect(banner).to_be_hidden()
        else:
            await expect(banner).to_have_text(text)

    who = Who(None, "Trần Văn Giám")
    session = await coaching.service.begin(
        agent_id=site.agent_id, mode=SpyMode.WHISPER, phone="sup01", by=who
    )
    await shows(banners[0])
    await coaching.service.change_mode(session.id, SpyMode.LISTEN, by=who)
    await shows(banners[1])
    await coaching.service.change_mode(session.id, SpyMode.BARGE, by=who)
    await shows(banners[2])
    await coaching.service.stop(session.id, by=who)
    await expect(banner).to_be_hidden()
    await page.context.close()
