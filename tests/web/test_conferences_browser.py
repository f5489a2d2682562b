"""The commander's conference pages in a real browser.

The page's rules (conference-logic.js) are run in the browser itself: the roll counted per
province → district → commune and moved one point at a time, the words for states and
reasons."""

from __future__ import annotations

import asyncio
import io
import os
import re
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from conference.service import ConferenceParams, ConferenceService
from dispatch.teams import ensure_places_and_teams
from pbx.conference_signals import PARTICIPANTS
from store.models import Conference, Place, Team
from store.users import create_user
from tests.conference.fake_pbx import (
    Behaviour,
    FakeConferencePbx,
    absent,
    leader,
    no_answer,
    present,
)
from tests.conference.test_service import fake_speak
from tests.web.conftest import Site

pytestmark = pytest.mark.browser

LOGIC = "/static/js/conference-logic.js"
PROVINCE = "Tỉnh Bình Dương"
P = f"p:{PROVINCE}"
D718, D724 = f"{P}/d:Huyện 718", f"{P}/d:Huyện 724"


def point(
    pid: int, state: str, commune: int | None, district: int | None, **more: Any
) -> dict[str, Any]:
    """A point as GET /conferences/{id} gives it (Contract D)."""
    data: dict[str, Any] = {
        "id": pid,
        "label": f"Đội {pid}",
        "team_id": pid,
        "place": None,
        "province": PROVINCE if district else None,
        "district": f"Huyện {district}" if district else None,
        "commune": f"Phường {commune % 10}" if commune else None,
        "is_leader": False,
        "node": "root",
        "state": state,
        "reason": "",
        "attempts": 1,
        "muted": True,
        "hand_at": None,
        "talking": False,
        "updated_at": "2026-12-06T08:00:00+00:00",
    }
    data.update(more)
    return data


async def logic_page(site: Site, browser: Browser) -> Page:
    context = await site.signed_in(browser, "supervisor")
    page = await context.new_page()
    await page.goto(f"{site.url}/login")
    return page


async def run(page: Page, body: str, arg: object = None) -> Any:
    """``body`` with ``L`` the logic module and ``arg`` given."""
    return await page.evaluate(
        f"async (arg) => {{ const L = await import('{LOGIC}'); {body} }}", arg
    )


async def test_the_roll_counts_per_place_and_moves_one_point_at_a_time(
    site: Site, browser: Browser
) -> None:
    page = await logic_page(site, browser)
    points = [
        # Phường 1 of 718 and Phường 1 of 724: one name, two places.
        point(1, "joined", 25741, 718),
        point(2, "absent", 25744, 718, reason="absent"),
        point(3, "ringing", 25941, 724),
        point(4, "failed", 25941, 724, reason="busy"),
        point(5, "left", None, 718),  # the district's own team: no commune
        point(6, "present", None, None, label="Sở Y tế"),  # by number: totals only
        point(7, "joined", None, None, is_leader=True),  # leaders are not counted
    ]
    # The API's roll gives the order (by official code): 724 before 718 here on purpose.
    api_roll = {
        "provinces": [
            {
                "code": 74,
                "name": PROVINCE,
                "districts": [
                    {"code": 1, "name": "Huyện 724", "communes": [{"code": 1, "name": "Phường 1"}]},
                    {"code": 2, "name": "Huyện 718", "communes": []},
                ],
            }
        ]
    }
    roll = await run(
        page,
        """
        const r = L.Roll.of(arg.points, arg.roll);
        const pick = (k) => { const n = r.nodes.get(k);
          return [n.present, n.absent, n.dialling, n.left, n.total]; };
        return { rows: r.rows().map(([n, d]) => [n.name, d]),
                 t: pick("t"), p: pick(arg.P), d718: pick(arg.D718), d724: pick(arg.D724),
                 c718: pick(`${arg.D718}/c:Phường 1`), c724: pick(`${arg.D724}/c:Phường 1`) };
        """,
        {"points": points, "roll": api_roll, "P": P, "D718": D718, "D724": D724},
    )
    assert roll["rows"] == [
        [PROVINCE, 0],
        ["Huyện 724", 1],
        ["Phường 1", 2],
        ["Huyện 718", 1],
        ["Phường 1", 2],
        ["Phường 4", 2],
    ]
    #                  present absent dialling left total
    assert roll["t"] == [2, 2, 1, 1, 6]
    assert roll["p"] == [1, 2, 1, 1, 5]
    assert roll["d718"] == [1, 1, 0, 1, 3]
    assert roll["d724"] == [0, 1, 1, 0, 2]
    assert roll["c718"] == [1, 0, 0, 0, 1]
    assert roll["c724"] == [0, 1, 1, 0, 2]

    # One message: point 3 pressed 1; a stale copy of point 1 (older) is dropped; a point of
    # a new district appears; the hands come oldest first.
    moved = await run(
        page,
        """
        const m = L.createModel({ id: 9, title: "x", status: "running", points: arg.points,
                                  hands: [], roll: {} });
        const c = L.applyEvent(m, { conference: { id: 9, status: "running", locked: true },
          points: arg.changes, hands: arg.hands });
        const n = m.roll.nodes.get(`${arg.D724}/c:Phường 1`);
        return { points: c.points, rows: [...c.rows].sort(), shape: c.shape,
                 c724: [n.present, n.dialling],
                 p1: m.points.get(1).state, counts: m.counts, locked: m.conference.locked,
                 hands: m.hands.map((h) => h.point_id) };
        """,
        {
            "points": points,
            "D724": D724,
            "changes": [
                point(3, "present", 25941, 724, updated_at="2026-12-06T08:00:05+00:00"),
                point(1, "dialling", 25741, 718, updated_at="2026-12-06T07:59:00+00:00"),
                point(8, "queued", 25992, 999),
            ],
            "hands": [
                {"point_id": 3, "at": "2026-12-06T08:00:09+00:00"},
                {"point_id": 1, "at": "2026-12-06T08:00:02+00:00"},
            ],
        },
    )
    assert moved["points"] == [3, 8]
    assert moved["rows"] == sorted(
        [P, D724, f"{D724}/c:Phường 1", f"{P}/d:Huyện 999", f"{P}/d:Huyện 999/c:Phường 2", "t"]
    )
    assert moved["shape"] is True
    assert moved["c724"] == [1, 0]
    assert moved["p1"] == "joined"
    assert moved["counts"] == {
        "all": 7,
        "present": 3,
        "absent": 1,
        "dialling": 1,
        "left": 1,
        "failed": 1,
    }
    assert moved["locked"] is True
    assert moved["hands"] == [1, 3]
    await page.context.close()


async def test_the_words_of_states_reasons_and_controls(site: Site, browser: Browser) -> None:
    page = await logic_page(site, browser)
    words = await run(
        page,
        """
        return {
          states: ["joined", "absent", "dialling", "left", "failed"].map((s) => L.STATE_LABELS[s]),
          filters: ["ringing", "joined", "failed"].map(L.filterOf),
          buckets: ["failed", "answered"].map(L.bucketOf),
          reasons: ["BUSY", "no_answer", "Normal Clearing", "retry:NOANSWER", "originate reason 5",
                    "<b>lạ</b>", ""].map((r) => L.reasonText(r)),
          pressedNothing: L.reasonText("", "absent"),
          scheduled: L.controlsOf({ status: "scheduled" }),
          running: L.controlsOf({ status: "running", locked: true, record: true,
                                  floor_point_id: 4 }),
          ended: L.controlsOf({ status: "ended" }),
          elapsed: L.elapsedMs({ started_at: "2026-12-06T08:00:00Z",
                                 ended_at: "2026-12-06T08:01:15Z" }, 0),
          floor: L.pointActions({ id: 4, state: "joined" }, arg),
          other: L.pointActions({ id: 5, state: "joined" }, arg),
          gone: L.pointActions({ id: 6, state: "absent" }, arg),
        };
        """,
        {"status": "running", "floor_point_id": 4},
    )
    assert words["states"] == ["Có mặt", "Vắng", "Đang gọi", "Đã rời", "Lỗi"]
    assert words["filters"] == ["dialling", "present", "failed"]
    assert words["buckets"] == ["absent", "dialling"]
    assert words["reasons"] == [
        "bận máy",
        "không trả lời",
        "gác máy",
        "không trả lời — sẽ gọi lại",
        "bận máy",
        "<b>lạ</b>",
        "",
    ]
    assert words["pressedNothing"] == "không bấm phím"
    assert words["scheduled"]["start"] is True and words["scheduled"]["muteAll"] is False
    running = words["running"]
    assert running["start"] is False and running["release"] is True
    assert (running["lockLabel"], running["lockPath"]) == ("Mở khóa", "unlock")
    assert (running["recordLabel"], running["recordPath"]) == ("Dừng ghi âm", "record/stop")
    assert words["ended"]["end"] is False and words["ended"]["muteAll"] is False
    assert words["elapsed"] == 75_000
    assert words["floor"] == {"floor": False, "kick": True, "redial": False}
    assert words["other"] == {"floor": True, "kick": True, "redial": False}
    assert words["gone"] == {"floor": False, "kick": False, "redial": True}
    await page.context.close()


# -- the pages over the conference service and the scripted PBX ---------------------------------

TITLE = "Họp khẩn phòng chống dịch toàn tỉnh"
HOSTILE_TITLE = '<script>window.__xss=1</script>Họp khẩn <img src=x onerror="window.__xss=2">'
VIEWPORT = {"width": 1280, "height": 800}
COMMUNES = 91  # commune teams of Bình Dương (vietnam-provinces 0.6.0)
ABSENT, NEVER = 5, 2  # press nothing; never answer (3 attempts)

# Every change of the header's "present" count, as the page shows it (no reload between).
TRACK_PRESENT = """
window.__present = [];
document.addEventListener("DOMContentLoaded", () => {
  const node = document.getElementById("t-present");
  if (!node) return;
  new MutationObserver(() => window.__present.push(node.textContent))
    .observe(node, { childList: true, characterData: true, subtree: true });
});
"""


@dataclass
class Conferencing:
    site: Site
    service: ConferenceService
    pbx: FakeConferencePbx
    codes: list[int]  # the commune teams' communes, by code
    recordings: Path


@pytest.fixture
async def conferencing(site: Site, tmp_path: Path) -> AsyncIterator[Conferencing]:
    """Bình Dương with its default teams; the conference service on the site, publishing on
    its event stream, over the scripted PBX: the leader agent01 joins; the first communes
    press nothing, the next two never answer, the others press 1 within a few seconds (so
    the roll fills as the page watches)."""
    await ensure_places_and_teams(site.db, 74)
    async with site.db.session() as s:
        codes = list(
            await s.scalars(
                select(Place.code)
                .join(Team, Team.place_id == Place.id)
                .where(Place.level == "commune", Team.kind == "team")
                .order_by(Place.code)
            )
        )
    assert len(codes) == COMMUNES
    scripts: dict[str, Behaviour] = {"PJSIP/agent01": leader()}
    for i, code in enumerate(codes):
        if i < ABSENT:
            scripts[f"PJSIP/team-c{code}"] = absent(after_s=1.0)
        elif i < ABSENT + NEVER:
            scripts[f"PJSIP/team-c{code}"] = no_answer(after_s=0.2)
        else:
            scripts[f"PJSIP/team-c{code}"] = present(after_s=1.5 + (i % 10) * 0.3, key_s=0.2)
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    pbx = FakeConferencePbx(["root"], scripts, default=present(after_s=0.5), recordings=recordings)
    service = ConferenceService(
        site.db,
        pbx,
        ConferenceParams(dial_rate_per_s=10_000, flush_s=0.05, per_node=1000),
        publish=site.feed.bus.publish,
        speak=fake_speak,
    )
    await service.start()
    site.app.state.services = replace(site.app.state.services, conferences=service)
    try:
        yield Conferencing(site, service, pbx, codes, recordings)
    finally:
        await service.close()
        await pbx.close()


@pytest.fixture
def screens(tmp_path: Path) -> Path:
    """Where the README's screenshot goes: docs/screens with ``make screens``
    (HOTLINE1022_SCREENS), else a temporary directory (as tests/web/test_screens.py)."""
    where = os.environ.get("HOTLINE1022_SCREENS")
    path = Path(where).resolve() if where else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


async def roll_rows(page: Page, level: str) -> list[list[str]]:
    """The roll's rows of ``level``: name, present, absent, dialling, total."""
    rows: list[list[str]] = await page.eval_on_selector_all(
        f'#roll-body tr[data-level="{level}"]',
        """rows => rows.map((r) => [r.querySelector("th").textContent.replace(/^[▸▾] /, ""),
             ...["present", "absent", "dialling", "total"].map(
               (c) => r.querySelector(`td.${c}`).textContent)])""",
    )
    return rows


async def test_a_supervisor_calls_every_commune_team_of_binh_duong_and_leads_the_meeting(
    conferencing: Conferencing, browser: Browser, screens: Path
) -> None:
    site, pbx = conferencing.site, conferencing.pbx
    context = await site.signed_in(browser, "supervisor")
    await context.add_init_script(TRACK_PRESENT)
    page = await context.new_page()
    await page.set_viewport_size(VIEWPORT)
    await page.goto(f"{site.url}/conferences")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    await expect(page.locator("#conferences-empty")).to_be_visible()

    # She names it, picks every commune team of Bình Dương and herself as the leader.
    await page.get_by_label("Tên hội nghị").fill(TITLE)
    await page.get_by_label("Tỉnh/thành phố").select_option(label="Tỉnh Bình Dương")
    await page.get_by_label("Gọi tới").select_option(label="Mọi đội phản ứng nhanh cấp xã")
    await page.get_by_role("button", name="Thêm điểm cầu").click()
    await expect(page.locator("#c-points li span")).to_have_text(
        ["Mọi đội phản ứng nhanh cấp xã — Tỉnh Bình Dương"]
    )
    await page.get_by_label("Máy nhánh hoặc số").fill("agent01")
    await page.get_by_label("Tên", exact=True).fill("Chỉ huy trưởng")
    await page.get_by_role("button", name="Thêm người chủ trì").click()
    await page.get_by_label("Ghi âm hội nghị").check()
    await page.get_by_role("button", name="Bắt đầu ngay").click()

    # Started: the conference's own page, and the phones ring.
    await page.wait_for_url(re.compile(r"/conferences/\d+$"))
    cid = int(page.url.rsplit("/", 1)[1])
    await expect(page.locator("#c-title")).to_have_text(TITLE)
    await expect(page.locator("#c-status")).to_have_text("Đang diễn ra")
    await expect(page.locator("#t-total")).to_have_text(str(COMMUNES))
    await expect(page.locator("#c-leaders")).to_contain_text("Chỉ huy trưởng")
    dialled = {str(c["dial"]) for c in pbx.called("dial_point")}
    assert {f"PJSIP/team-c{code}" for code in conferencing.codes} <= dialled

    # The roll fills while she watches: present grows, the last ones settle.
    final_present = COMMUNES - ABSENT - NEVER
    await expect(page.locator("#t-present")).to_have_text(str(final_present), timeout=30_000)
    await expect(page.locator("#t-absent")).to_have_text(str(ABSENT + NEVER), timeout=15_000)
    await expect(page.locator("#t-dialling")).to_have_text("0")
    seen = await page.evaluate("window.__present")
    assert len(set(seen)) >= 3, seen  # more than "0" then the final count: it grew live
    # Per district, as the API counts it (the service's roll).
    client = site.client
    auth = {"Authorization": f"Bearer {site.tokens['supervisor']}"}
    roll = (await client.get(f"/conferences/{cid}/roll", headers=auth, timeout=30)).json()
    districts = roll["provinces"][0]["districts"]
    assert await roll_rows(page, "district") == [
        [d["name"], str(d["present"]), str(d["absent"]), str(d["dialling"]), str(d["total"])]
        for d in districts
    ]
    # A district opens onto its communes.
    first = page.locator('#roll-body tr[data-level="district"]').first
    await first.get_by_role("button").click()
    communes = districts[0]["communes"]
    await expect(page.locator('#roll-body tr[data-level="commune"]:visible')).to_have_count(
        len(communes)
    )

    # The points, by state: those who pressed nothing, those who never answered, and why.
    await page.get_by_role("button", name=f"Vắng ({ABSENT})").click()
    visible = page.locator("#points-body tr:visible")
    await expect(visible).to_have_count(ABSENT)
    await expect(visible.locator("td.reason")).to_have_text(["không bấm phím"] * ABSENT)
    await page.get_by_role("button", name=f"Lỗi ({NEVER})").click()
    await expect(visible).to_have_count(NEVER)
    await expect(visible.locator("td.reason")).to_have_text(["không trả lời"] * NEVER)
    await expect(visible.locator("td.attempts")).to_have_text(["3"] * NEVER)
    await page.get_by_role("button", name=f"Có mặt ({final_present})").click()
    await expect(visible).to_have_count(final_present)

    # She mutes everyone: Asterisk is asked for the participants, the page says so.
    await page.get_by_role("button", name="Tắt mic tất cả").click()
    await expect(page.locator("#ctl-done")).to_have_text("Đã tắt mic tất cả điểm cầu.")
    await expect(page.locator("#c-muted-all")).to_be_visible()
    assert [c["target"] for c in pbx.called("mute")] == [PARTICIPANTS]

    # Two communes raise their hands; she gives the floor to the first from the queue.
    detail = (await client.get(f"/conferences/{cid}", headers=auth, timeout=30)).json()
    joined = [p for p in detail["points"] if p["state"] == "joined" and not p["is_leader"]]
    speaker, next_one = joined[10], joined[40]
    channel = pbx.channel_of(speaker["id"])
    assert channel is not None
    pbx.raise_hand(channel)
    hands = page.locator("#hands li")
    await expect(hands).to_have_count(1)
    later = pbx.channel_of(next_one["id"])
    assert later is not None
    pbx.raise_hand(later)
    await expect(hands.locator(".hand-label")).to_have_text([speaker["label"], next_one["label"]])
    await hands.first.get_by_role("button", name="Cho phát biểu").click()
    await expect(page.locator("#c-floor")).to_have_text(f"Đang phát biểu: {speaker['label']}")
    await expect(hands.locator(".hand-label")).to_have_text([next_one["label"]])
    row = page.locator(f'#points-body tr[data-id="{speaker["id"]}"]')
    await expect(row).to_have_class(re.compile(r"\bfloor\b"))
    await expect(row.locator("td.mic")).to_have_text("Mở")
    assert channel in [c["target"] for c in pbx.called("unmute")]
    await expect(page.get_by_role("button", name="Thu hồi quyền phát biểu")).to_be_enabled()
    await first.get_by_role("button").click()  # the districts only, for the picture
    await expect(page.locator('#roll-body tr[data-level="commune"]:visible')).to_have_count(0)
    await page.screenshot(path=screens / "conference.png")

    # The other hand is passed over.
    await hands.first.get_by_role("button", name="Bỏ qua").click()
    await expect(hands).to_have_count(0)

    # Asterisk gone: the control is refused, and the page says why in the service's words.
    pbx.down = {"root"}
    await page.get_by_role("button", name="Khóa", exact=True).click()
    await expect(page.locator("#ctl-error")).to_contain_text(
        "Không kết nối được tổng đài (Asterisk)"
    )
    pbx.down = set()

    # She ends it (after confirming); the recording is there afterwards.
    await page.get_by_role("button", name="Kết thúc").click()
    await expect(page.locator("#end-dialog")).to_be_visible()
    await page.get_by_role("button", name="Kết thúc hội nghị").click()
    await expect(page.locator("#c-status")).to_have_text("Đã kết thúc")
    await expect(page.get_by_role("button", name="Tắt mic tất cả")).to_be_disabled()
    async with site.db.session() as s:
        path = await s.scalar(select(Conference.recording_path).where(Conference.id == cid))
    assert path is not None and Path(path).parent == conferencing.recordings
    await asyncio.to_thread(Path(path).write_bytes, wav_of_silence())  # as Asterisk leaves it
    audio = page.locator("#recording-audio")
    await expect(audio).to_be_visible(timeout=15_000)
    await expect(audio).to_have_attribute("src", f"/conferences/{cid}/recording")

    # The list shows it ended, with its roll.
    await page.goto(f"{site.url}/conferences")
    listed = page.locator(f'#conferences-body tr[data-id="{cid}"]')
    await expect(listed).to_have_attribute("data-status", "ended")
    await expect(listed.locator("a")).to_have_text(TITLE)
    await expect(listed.locator("td.present")).to_have_text(str(final_present))
    await context.close()


def wav_of_silence() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    return out.getvalue()


# Which rows of the points table and of the roll a change touched (any mutation inside).
TRACK_ROWS = """
window.__touched = { points: new Set(), roll: new Set() };
const watchRows = (id, attr, seen) => new MutationObserver((records) => {
  for (const r of records) {
    const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
    const row = node.closest(`tr[${attr}]`);
    seen.add(row ? row.getAttribute(attr) : "(the table)");
  }
}).observe(document.getElementById(id),
           { subtree: true, childList: true, characterData: true, attributes: true });
watchRows("points-body", "data-id", window.__touched.points);
watchRows("roll-body", "data-key", window.__touched.roll);
"""


async def test_a_change_redraws_only_its_rows_and_titles_stay_text(
    conferencing: Conferencing, browser: Browser
) -> None:
    """Of a few hundred points, one hangs up: its row, and the roll rows of its commune,
    district, province and the totals are redrawn; nothing else (a conference of 3,000
    points is never drawn again whole for one change). The table shows a page of 100."""
    site, pbx = conferencing.site, conferencing.pbx
    numbers = [{"number": f"0913{n:06d}", "label": f"Điểm cầu số {n}"} for n in range(199)]
    body = {
        "title": HOSTILE_TITLE,
        "points": [{"under": {"level": "province", "code": 74}, "level": "commune"}, *numbers],
        "leaders": [{"endpoint": "agent01", "label": "Chỉ huy"}],
    }
    auth = {"Authorization": f"Bearer {site.tokens['supervisor']}"}
    created = await site.client.post("/conferences", json=body, headers=auth, timeout=30)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    started = await site.client.post(f"/conferences/{cid}/start", headers=auth, timeout=30)
    assert started.status_code == 200, started.text

    context = await site.signed_in(browser, "supervisor")
    page = await context.new_page()
    await page.goto(f"{site.url}/conferences/{cid}")
    total = COMMUNES + len(numbers)
    # One page of the table at a time (a browser lays a 3,000-row table out again on every
    # change); the communes first, by district, then the numbers.
    await expect(page.locator("#points-body tr")).to_have_count(100)
    await expect(page.locator("#p-range")).to_have_text(f"Điểm cầu 1–100 trên {total}")
    present = total - ABSENT - NEVER
    await expect(page.locator("#t-present")).to_have_text(str(present), timeout=30_000)
    await expect(page.locator("#t-dialling")).to_have_text("0", timeout=15_000)
    await expect(page.locator("#c-title")).to_have_text(HOSTILE_TITLE)
    await page.get_by_role("button", name="Trang sau →").click()
    await expect(page.locator("#p-range")).to_have_text(f"Điểm cầu 101–200 trên {total}")
    await page.get_by_role("button", name="← Trang trước").click()

    detail = (await site.client.get(f"/conferences/{cid}", headers=auth, timeout=30)).json()
    first_page = {
        int(i)
        for i in await page.eval_on_selector_all(
            "#points-body tr", "rows => rows.map((r) => r.dataset.id)"
        )
    }
    gone = next(
        p
        for p in detail["points"]
        if p["state"] == "joined" and p["commune"] and p["id"] in first_page
    )
    channel = pbx.channel_of(gone["id"])
    assert channel is not None
    province = f"p:{gone['province']}"
    district = f"{province}/d:{gone['district']}"
    commune = f"{district}/c:{gone['commune']}"
    # A commune's row is drawn while its district is open.
    await expect(page.locator(f'#roll-body tr[data-key="{commune}"]')).to_have_count(0)
    await page.locator(f'#roll-body tr[data-key="{district}"]').get_by_role("button").click()
    await expect(page.locator(f'#roll-body tr[data-key="{commune}"]')).to_have_count(1)
    await page.evaluate(TRACK_ROWS)
    pbx.phone_hangs_up(channel)
    row = page.locator(f'#points-body tr[data-id="{gone["id"]}"]')
    await expect(row).to_have_attribute("data-state", "left")
    await expect(row.locator("td.state")).to_have_text("Đã rời")
    await expect(page.locator("#t-left")).to_have_text("1")
    await page.wait_for_timeout(500)  # any later message would show up too
    touched = await page.evaluate(
        "({ points: [...window.__touched.points], roll: [...window.__touched.roll] })"
    )
    assert touched["points"] == [str(gone["id"])]
    assert sorted(touched["roll"]) == sorted([province, district, commune, "t"])
    roll_total = page.locator('#roll-body tr[data-key="t"]')
    await expect(roll_total.locator("td.present")).to_have_text(str(present - 1))

    await page.goto(f"{site.url}/conferences")
    listed = page.locator(f'#conferences-body tr[data-id="{cid}"] a')
    await expect(listed).to_have_text(HOSTILE_TITLE)
    assert await page.evaluate("window.__xss") is None
    await context.close()


async def test_a_district_center_calls_its_communes_and_a_supervisor_one_district(
    conferencing: Conferencing, browser: Browser
) -> None:
    """A district center's user may call the places under it: the form offers no province,
    and what it creates waits for "Bắt đầu". A supervisor picks one district's communes, adds
    a number and takes it back; a form without a title says so."""
    site = conferencing.site
    async with site.db.session() as s:
        center_id = await s.scalar(
            select(Team.id)
            .join(Place, Place.id == Team.place_id)
            .where(Place.level == "district", Place.code == 718, Team.kind == "center")
        )
    assert center_id is not None
    _, site.tokens["center"] = await create_user(
        site.db, name="Trực ban Thủ Dầu Một", role="team", team_id=center_id
    )
    context = await site.signed_in(browser, "center")
    page = await context.new_page()
    await page.goto(f"{site.url}/conferences")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "ok")
    await expect(page.locator("#c-province-field")).to_be_hidden()
    await expect(page.get_by_label("Gọi tới").locator("option")).to_have_text(
        ["Mọi đội phản ứng nhanh cấp xã", "Các đội cấp huyện"]
    )
    await page.get_by_label("Tên hội nghị").fill("Giao ban phường xã")
    await page.get_by_role("button", name="Thêm điểm cầu").click()
    await expect(page.locator("#c-points li span")).to_have_text(
        ["Mọi đội phản ứng nhanh cấp xã — Thành phố Thủ Dầu Một"]
    )
    # No leader: the points would wait with music for ever; the form says so.
    await page.get_by_role("button", name="Chỉ tạo, bắt đầu sau").click()
    await expect(page.locator("#c-error")).to_have_text("Hãy chọn ít nhất một người chủ trì.")
    await page.get_by_label("Máy nhánh hoặc số").fill("agent01")
    await page.get_by_role("button", name="Thêm người chủ trì").click()
    await page.get_by_role("button", name="Chỉ tạo, bắt đầu sau").click()
    await page.wait_for_url(re.compile(r"/conferences/\d+$"))
    await expect(page.locator("#c-status")).to_have_text("Chưa bắt đầu")
    await expect(page.locator("#t-total")).to_have_text("14")
    await expect(page.get_by_role("button", name="Tắt mic tất cả")).to_be_disabled()
    await page.get_by_role("button", name="Bắt đầu", exact=True).click()
    await expect(page.locator("#c-status")).to_have_text("Đang diễn ra")
    await expect(page.get_by_role("button", name="Bắt đầu", exact=True)).to_be_disabled()
    districts = await roll_rows(page, "district")
    assert [d[0] for d in districts] == ["Thành phố Thủ Dầu Một"]
    await context.close()

    context = await site.signed_in(browser, "supervisor")
    page = await context.new_page()
    await page.goto(f"{site.url}/conferences")
    await expect(page.locator("#conferences-body tr")).to_have_count(1)  # the center's
    await page.get_by_role("button", name="Chỉ tạo, bắt đầu sau").click()
    await expect(page.locator("#c-error")).to_have_text("Hãy nhập tên hội nghị.")
    await page.get_by_label("Tên hội nghị").fill("Bàu Bàng")
    await page.get_by_label("Tỉnh/thành phố").select_option(label="Tỉnh Bình Dương")
    await page.get_by_label("Gọi tới").select_option(label="Các đội cấp xã của một huyện…")
    await page.get_by_label("Quận/huyện").select_option(label="Huyện Bàu Bàng")
    await page.get_by_role("button", name="Thêm điểm cầu").click()
    await page.get_by_label("Hoặc một số điện thoại").fill("0912 345 678")
    await page.get_by_label("Tên điểm cầu").fill("Sở Y tế")
    await page.get_by_role("button", name="Thêm số").click()
    chosen = page.locator("#c-points li")
    await expect(chosen.locator("span")).to_have_text(
        ["Các đội cấp xã của một huyện — Huyện Bàu Bàng", "Sở Y tế — 0912345678"]
    )
    await chosen.nth(1).get_by_role("button", name="Bỏ").click()
    await expect(chosen).to_have_count(1)
    await page.get_by_label("Máy nhánh hoặc số").fill("agent01")
    await page.get_by_role("button", name="Thêm người chủ trì").click()
    # A start in the past is refused; one tomorrow at 08:00 (the browser's time) is kept.
    await page.get_by_label("Hẹn giờ bắt đầu", exact=False).fill("2020-01-01T08:00")
    await page.get_by_role("button", name="Chỉ tạo, bắt đầu sau").click()
    await expect(page.locator("#c-error")).to_have_text("Giờ bắt đầu phải ở tương lai.")
    tomorrow = await page.evaluate(
        "() => { const d = new Date(Date.now() + 86400000); d.setHours(8, 0, 0, 0);"
        " return [d.toISOString(), `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2,"
        " '0')}-${String(d.getDate()).padStart(2, '0')}T08:00`]; }"
    )
    await page.get_by_label("Hẹn giờ bắt đầu", exact=False).fill(tomorrow[1])
    await page.get_by_role("button", name="Chỉ tạo, bắt đầu sau").click()
    await page.wait_for_url(re.compile(r"/conferences/\d+$"))
    await expect(page.locator("#t-total")).to_have_text("7")
    await expect(page.locator("#c-status")).to_have_text("Chưa bắt đầu")
    cid = int(page.url.rsplit("/", 1)[1])
    auth = {"Authorization": f"Bearer {site.tokens['supervisor']}"}
    resp = await site.client.get(f"/conferences/{cid}", headers=auth, timeout=30)
    assert resp.status_code == 200, resp.text
    starts_at = datetime.fromisoformat(resp.json()["starts_at"].replace("Z", "+00:00"))
    assert starts_at == datetime.fromisoformat(tomorrow[0].replace("Z", "+00:00"))
    await context.close()
