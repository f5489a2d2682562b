"""Issue 15's "done when", in a real browser over the real recordings' service: after a day
of calls a supervisor finds yesterday's emergency call, listens to it in the page, sees its
digest verified, and the audit shows that they listened; a byte altered in the file and the
page says the digest no longer matches. The PBX is the recordings' test fake, which writes
real files as MixMonitor would (``tests/recordings/fakes.py``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from recordings.service import RecordingParams, RecordingService
from store.models import AuditEntry
from tests.recordings.fakes import FakeRecordingPbx, Leg
from tests.web.conftest import Site
from tests.web.feeding import add_call
from tests.web.recording_fakes import tone_wav
from tests.web.support import watch
from web.session import SESSION_COOKIE

pytestmark = pytest.mark.browser

VN = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def screens(tmp_path: Path) -> Path:
    """Where the README's screenshot goes: docs/screens with ``make screens``
    (HOTLINE1022_SCREENS), else a temporary directory (as tests/web/test_screens.py)."""
    where = os.environ.get("HOTLINE1022_SCREENS")
    path = Path(where).resolve() if where else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
async def pbx(tmp_path: Path) -> FakeRecordingPbx:
    return FakeRecordingPbx(tmp_path / "recordings")


@pytest.fixture
async def service(site: Site, pbx: FakeRecordingPbx) -> AsyncIterator[RecordingService]:
    recordings = RecordingService(site.db, pbx, RecordingParams(root=pbx.root))
    await recordings.start()
    site.app.state.services = replace(site.app.state.services, recordings=recordings)
    yield recordings
    await recordings.close()


async def a_recorded_call(
    site: Site, pbx: FakeRecordingPbx, number: str, at: datetime, category: str
) -> tuple[int, Leg]:
    """A call answered at ``at``, recorded for 3 s of the caller's voice (a tone)."""
    uniqueid = f"{int(at.timestamp())}.{number[-3:]}"
    call = await add_call(
        site,
        number,
        uniqueid=uniqueid,
        linkedid=uniqueid,
        category=category,
        caller_name="Nguyễn Văn Bình",
        wait_s=8.0,
        arrived_at=at - timedelta(seconds=20),
        answered_at=at,
        ended_at=at + timedelta(seconds=3),
        talk_s=3.0,
    )
    leg = pbx.start_call(uniqueid, at=at)
    pbx.write(leg, tone_wav(3.0))
    pbx.close(leg, at=at + timedelta(seconds=3))
    return call.id, leg


async def test_a_supervisor_listens_to_yesterdays_emergency_call_and_the_audit_shows_it(
    site: Site,
    browser: Browser,
    pbx: FakeRecordingPbx,
    service: RecordingService,
    screens: Path,
) -> None:
    yesterday = datetime.now(VN).date() - timedelta(days=1)
    at = datetime(yesterday.year, yesterday.month, yesterday.day, 9, 5, tzinfo=VN).astimezone(UTC)
    await a_recorded_call(site, pbx, "0281111001", at - timedelta(hours=1), "food")
    call_id, leg = await a_recorded_call(site, pbx, "0909555123", at, "medical")
    await a_recorded_call(site, pbx, "0281111003", at + timedelta(hours=2), "general")
    await service.drain()

    context = await browser.new_context(
        locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", viewport={"width": 1280, "height": 800}
    )
    await context.add_cookies(
        [{"name": SESSION_COOKIE, "value": site.tokens["supervisor"], "url": site.url}]
    )
    watched = await watch(context)
    page = watched.page
    await page.goto(f"{site.url}/calls")
    await expect(page.locator("#results-body tr")).to_have_count(3)
    await page.screenshot(path=screens / "calls-search.png", full_page=True)
    await page.get_by_label("Lĩnh vực").select_option(label="Cấp cứu y tế")
    await page.get_by_role("button", name="Tìm").click()
    rows = page.locator("#results-body tr")
    await expect(rows).to_have_count(1)
    await expect(rows.locator("td.number")).to_have_text("0909555123")
    await expect(rows.locator("td").first).to_have_text(f"{yesterday:%d/%m} 09:05")
    await rows.get_by_role("link", name="Xem và nghe").click()
    await expect(page).to_have_url(f"{site.url}/calls/{call_id}")

    leg_box = page.locator("article.recording")
    await expect(leg_box).to_have_count(1)
    await expect(leg_box.locator(".verified")).to_have_text("Đã xác minh")
    duration = await leg_box.locator("audio").evaluate(
        """async (a) => { a.muted = true; await a.play();
             await new Promise((ok) => {
               const t = () => (a.currentTime > 0.2 ? ok() : setTimeout(t, 50)); t(); });
             return a.duration; }"""
    )
    assert 2.9 < duration < 3.1

    [recording_id] = [
        int(v)
        for v in await leg_box.evaluate_all("nodes => nodes.map((n) => n.dataset.recordingId)")
    ]
    async with site.db.session() as session:
        heard = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "listen",
                    AuditEntry.target == f"recording:{recording_id}",
                )
            )
        ).all()
    assert heard and {e.user_name for e in heard} == {"Trần Văn Giám"}
    # The page shows it too: who listened, and when.
    await expect(leg_box.locator(".listens")).to_contain_text("Đã nghe: Trần Văn Giám lúc ")
    await page.screenshot(path=screens / "call-recording.png", full_page=True)

    # One byte of the evidence altered: the page says so.
    data = bytearray(leg.path.read_bytes())
    data[100] ^= 0xFF
    leg.path.write_bytes(bytes(data))
    await page.reload()
    await expect(leg_box.locator(".verified")).to_have_attribute("data-ok", "0")
    await expect(leg_box.locator(".verified")).to_have_text(
        f"Không khớp: tệp {leg.name} đã bị thay đổi (SHA-256 khác)"
    )
    assert await watched.csp_violations() == []
    await context.close()
