"""The commander's conference pages in a real browser.

The page's rules (conference-logic.js) are run in the browser itself: the roll counted per
province → district → commune and moved one point at a time, the words for states and
reasons."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Browser, Page

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
          reasons: ["busy", "no_answer", "absent", "hung_up", "<b>lạ</b>", ""].map(L.reasonText),
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
        "không bấm phím",
        "gác máy",
        "<b>lạ</b>",
        "",
    ]
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
