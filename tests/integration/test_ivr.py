"""Every branch of the default 1022 menu on a real Asterisk, with SIPp pressing keys as
RFC 4733 events. The callers of one phase call at the same time, as they would."""

from __future__ import annotations

import asyncio

import pytest

from ivr.menu_file import DEFAULT_MENU
from ivr.prompts import duration_s
from tests.integration.conftest import Live

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.asterisk]

# number: (keys, hang up after the last key (ms) or None to wait for the hotline's BYE)
BRANCHES: dict[str, tuple[str, int | None]] = {
    "0902000001": ("114", None),  # medical, life-threatening, Bến Cát
    "0902000002": ("129", None),  # medical, other, Bắc Tân Uyên
    "0902000003": ("27", None),  # food, Dĩ An
    "0902000004": ("3", None),  # violation
    "0902000005": ("0", None),  # operator
    "0902000006": ("", None),  # nothing: retried, then the default
    "0902000007": ("83", None),  # invalid key, then violation
    "0902000008": ("4*25", None),  # information, back, food in Phú Giáo
    "0902000009": ("42", None),  # symptoms heard, then silence: goodbye
    "0902000010": ("410", None),  # 0 during the announcement: an agent
    "0902000011": ("1", 2500),  # hangs up in the medical sub-menu
}


# The default menu's welcome lasts ~17 s; the caller who presses nothing hears it three times
# (two retries), which made that one branch ~75 s. The same keys, said in a ~8 s prompt:
# every branch and retry is the default menu's, and the first key still lands mid-prompt.
SHORT_WELCOME = (
    "  welcome: >-\n"
    "    Tổng đài 1022. Cấp cứu bấm 1, lương thực 2, vi phạm 3, thông tin 4,\n"
    "    tổng đài viên 0.\n"
)


@pytest.fixture(scope="module")
def menu_text() -> str:
    text = DEFAULT_MENU.read_text(encoding="utf-8")
    start = text.index("  welcome: >-\n")
    end = text.index("  invalid:", start)
    return text[:start] + SHORT_WELCOME + text[end:]


@pytest.fixture(scope="module")
def records() -> dict[str, dict[str, object]]:
    return {}


async def test_every_branch_of_the_menu(live: Live, records: dict[str, dict[str, object]]) -> None:
    await live.stack.start_agents(3)
    results = await asyncio.gather(
        *(
            live.call(number, keys, hangup_after_ms=hangup, within_s=150)
            for number, (keys, hangup) in BRANCHES.items()
        )
    )
    records.update(zip(BRANCHES, results, strict=True))

    def check(number: str, **expected: object) -> None:
        rec = records[number]
        got = {k: rec[k] for k in expected}
        assert got == expected, f"{number} {BRANCHES[number]}: {got} != {expected}"

    check(
        "0902000001",
        status="answered",
        queue="emergency",  # life-threatening: one queue, ahead of every other
        priority=20,
        district_code=721,
        route="ivr",
        ivr_choice="114",
        ivr_outcome="transferred",
    )
    check("0902000002", status="answered", queue="medical-726", priority=10, district_code=726)
    check("0902000003", status="answered", queue="food-724", category="food", district_code=724)
    check("0902000004", status="answered", queue="violation", district_code=None)
    check("0902000005", status="answered", queue="operator", category="general")
    check(
        "0902000006",
        status="answered",
        queue="operator",
        route="default",
        ivr_choice=None,
        district_code=None,
    )
    # ivr_choice keeps the keys that chose; the invalid 8 is in the call's path.
    check("0902000007", status="answered", queue="violation", ivr_choice="3", route="ivr")
    detail = (await live.api.get(f"/calls/{records['0902000007']['id']}")).json()
    steps = [(s["node"], s["kind"], s["key"]) for s in detail["ivr_path"]]
    assert ("welcome", "invalid", "8") in steps and ("welcome", "key", "3") in steps
    check("0902000008", status="answered", queue="food-722", ivr_choice="4*25", district_code=722)
    check(
        "0902000009",
        status="self_served",
        queue=None,
        ivr_outcome="self_served",
        ivr_exit_node="goodbye",
        agent_endpoint=None,
    )
    check("0902000010", status="answered", queue="operator", ivr_choice="410")
    check(
        "0902000011",
        status="abandoned_ivr",
        ivr_outcome="abandoned",
        ivr_exit_node="medical_severity",
        queue=None,
    )


async def test_returning_caller_confirms_the_district_with_one_key(live: Live) -> None:
    # 0902000003 gave Dĩ An (724) before: "2" then "1" confirms it.
    rec = await live.call("0902000003", "21")
    assert rec["district_code"] == 724
    assert rec["ivr_choice"] == "21"
    assert rec["queue"] == "food-724" and rec["status"] == "answered"
    assert len(await live.records_of("0902000003")) == 2
    # ... and "2" then "2" chooses another: 3 = Dầu Tiếng.
    rec = await live.call("0902000003", "223")
    assert rec["district_code"] == 720


async def test_ivr_stats_count_what_callers_did(live: Live) -> None:
    resp = await live.api.get("/ivr/stats")
    assert resp.status_code == 200, resp.text
    nodes = {n["node"]: n for n in resp.json()}
    assert nodes["welcome"]["reached"] >= len(BRANCHES)
    assert nodes["welcome"]["keys"]["1"] >= 3
    assert nodes["welcome"]["invalid"] >= 1 and nodes["welcome"]["timeout"] >= 3
    assert nodes["info"]["back"] >= 1
    assert nodes["medical_severity"]["hung_up"] >= 1
    assert nodes["info_symptoms"]["heard"] >= 1
    assert nodes["aid_district"]["keys"]["1"] >= 1  # the confirmation


async def test_fastagi_killed_mid_call_still_reaches_a_queue(live: Live) -> None:
    hotline = live.stack.running
    call = asyncio.create_task(live.call("0902000020", "1", within_s=90))
    # Wait until the caller is in the medical sub-menu, then kill the FastAGI server.
    await live.stack.wait_for(
        lambda: any(c.ivr_exit_node == "medical_severity" for c in hotline.tracker.calls.values()),
        30,
        "the caller to reach the medical sub-menu",
    )
    await hotline.agi.close()
    try:
        rec = await call
    finally:
        await hotline.agi.start()
    assert rec["route"] == "fallback"
    assert rec["queue"] == "operator" and rec["status"] == "answered"
    assert rec["ivr_exit_node"] == "medical_severity"


async def test_announcement_rewritten_by_a_supervisor_is_spoken_at_once(live: Live) -> None:
    ast = live.stack.asterisk
    assert ast is not None
    wav = ast.host_path(ast.prompts_dir) / "info_testing.wav"
    before = wav.read_bytes()
    resp = await live.api.put(
        "/ivr/announcements/info_testing",
        json={"text": "Từ hôm nay, xét nghiệm miễn phí tại nhà văn hóa khu phố."},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["source"] == "supervisor"
    assert wav.read_bytes() != before
    assert (await live.api.put("/ivr/announcements/welcome", json={"text": "x"})).status_code == 404

    # From the /admin page: a draft is heard first and Asterisk's file stays until it is
    # published; then Asterisk plays the very file listened to; a revert brings back the old.
    put_live = wav.read_bytes()
    resp = await live.api.post(
        "/ivr/announcements/info_testing/draft", json={"text": "Bản nháp: xét nghiệm lúc 7 giờ."}
    )
    assert resp.status_code == 200, resp.text
    heard = (await live.api.get("/ivr/announcements/info_testing/draft.wav")).content
    assert wav.read_bytes() == put_live
    resp = await live.api.post(
        "/ivr/announcements/info_testing/draft/publish",
        json={"draft_id": resp.json()["draft"]["id"]},
    )
    assert resp.status_code == 200, resp.text
    assert wav.read_bytes() == heard
    resp = await live.api.post("/ivr/announcements/info_testing/revert")
    assert resp.status_code == 200, resp.text
    assert wav.read_bytes() == put_live


async def test_menu_reload_takes_a_valid_file_and_refuses_an_invalid_one(live: Live) -> None:
    menu_file = live.stack.settings.menu_file
    original = menu_file.read_text()
    # A typo: the service must refuse it and keep the menu in force.
    menu_file.write_text(
        original.replace(
            "\n    menu:\n      prompt: welcome", "\n    menu:\n      promt: welcome", 1
        )
    )
    resp = await live.api.post("/ivr/reload")
    assert resp.status_code == 422, resp.text
    assert any("promt" in f["message"] for f in resp.json()["detail"]["faults"])
    # A valid change: violation reports now wait with priority 5.
    menu_file.write_text(
        original.replace(
            "queue: {category: violation, queue: violation, priority: 0",
            "queue: {category: violation, queue: violation, priority: 5",
            1,
        )
    )
    resp = await live.api.post("/ivr/reload")
    assert resp.status_code == 200, resp.text
    rec = await live.call("0902000030", "3")
    assert rec["priority"] == 5 and rec["queue"] == "violation"


async def test_an_announcement_longer_than_an_agi_command_is_heard_in_full(live: Live) -> None:
    """One AGI command used to wait 30 s at most: a longer announcement dropped the FastAGI
    session and the caller landed in the operator queue (route "fallback")."""
    ast = live.stack.asterisk
    assert ast is not None
    await live.stack.start_agents(1, first=9)  # so that a caller who falls through is answered
    text = " ".join(
        f"Điểm {i}: nếu có sốt, ho, khó thở, xin quý vị tự cách ly tại nhà." for i in range(1, 9)
    )
    resp = await live.api.put("/ivr/announcements/info_symptoms", json={"text": text})
    assert resp.status_code == 200, resp.text
    seconds = duration_s(ast.host_path(ast.prompts_dir) / "info_symptoms.wav")
    assert seconds > 35, seconds  # longer than one AGI command may take
    # "4", "2": the announcement, heard to its end; the session goes on to the next menu,
    # where the caller hangs up (waiting out its retries to "goodbye" took ~35 s more).
    # The announcement ends ~3 s after the answer plus its length; info_after's three
    # tries (prompt ~5 s, 5 s timeout) end ~30 s later. The hang-up falls in the middle:
    # at +7 s it once came before the announcement's end, with the suite's other three
    # workers beside it (the announcement ~6 s late; cause not found).
    hangup_ms = int(seconds * 1000) + 15000
    rec = await live.call("0902000040", "42", hangup_after_ms=hangup_ms, within_s=240)
    assert rec["route"] != "fallback" and rec["queue"] is None
    assert rec["status"] == "self_served" and rec["ivr_exit_node"] == "info_after"
    detail = (await live.api.get(f"/calls/{rec['id']}")).json()
    steps = [(s["node"], s["kind"]) for s in detail["ivr_path"]]
    assert ("info_symptoms", "heard") in steps
    assert steps[-1][0] == "info_after", steps  # the session went on past the announcement
