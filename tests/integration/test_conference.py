"""The issue's "done when", on a real Asterisk with the whole service: a commander calls every
commune team of Bình Dương into one conference over REST; 91 SIPp team phones ring, most press
1, some press nothing, are busy or ring out; the roll is final within two minutes, per
district; the commander (a SIPp phone speaking a tone) is heard by a point; mute all and the
floor are seen in Asterisk's own ``ConfbridgeList``; a raised hand reaches the commander; the
recording holds the commander's voice; every control is in the audit with its latency."""

from __future__ import annotations

import asyncio
import io
import math
import shutil
import struct
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from ivr.menu_file import DEFAULT_MENU
from pbx.conference_signals import ConferenceMember
from simulation.conference_phones import (
    PointBehaviour,
    PointGroup,
    RtpMeter,
    SippConferencePoints,
    team_credentials,
    tone_pcap,
)
from simulation.stack import Stack
from store.seed import agent_endpoint
from store.users import create_user
from tests.integration.conftest import database_for

pytestmark = pytest.mark.asterisk

BINH_DUONG = 74
LEADER = agent_endpoint(1)
RING_S = 8
ATTEMPTS = 2


@dataclass
class Commander:
    stack: Stack
    api: httpx.AsyncClient
    phones: SippConferencePoints
    meter: RtpMeter
    groups: dict[str, list[str]]  # behaviour → endpoints
    teams: dict[str, int]  # endpoint → team id


async def _commune_teams(api: httpx.AsyncClient) -> dict[str, int]:
    """Every commune team's phone endpoint → the team's id."""
    resp = await api.get("/teams", params={"level": "commune", "kind": "team", "limit": 500})
    assert resp.status_code == 200, resp.text
    teams = {
        p["endpoint"]: t["id"]
        for t in resp.json()["items"]
        for p in t["phones"]
        if p.get("endpoint")
    }
    assert len(teams) == 91, len(teams)
    return teams


@pytest_asyncio.fixture(
    scope="module",
    loop_scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
async def commander(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Commander]:
    state_dir: Path = tmp_path_factory.mktemp("conference")
    menu_file = state_dir / "menu.yaml"
    shutil.copyfile(DEFAULT_MENU, menu_file)
    async with (
        database_for(request.param) as url,
        Stack(
            state_dir=state_dir,
            database_url=url,
            agent_count=2,
            menu_file=menu_file,
            settings={
                "callback_threshold_s": -1,
                "conference_ring_s": RING_S,
                "conference_max_attempts": ATTEMPTS,
                "conference_key_timeout_s": 4,
                "conference_dial_rate_per_s": 20,
            },
        ) as stack,
    ):
        hotline = stack.running
        _, token = await create_user(hotline.db, name="commander", role="supervisor")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=hotline.app()),
            base_url="http://hotline",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as api:
            teams = await _commune_teams(api)
            communes = sorted(teams)
            groups = {
                "silent": communes[0:4],
                "busy": communes[4:6],
                "never": communes[6:8],
                "hand": communes[8:9],
                "meter": communes[9:10],
                "fast": communes[10:50],
                "slow": communes[50:],
            }
            secrets = stack.settings.secrets
            tone = tone_pcap()
            meter = RtpMeter()
            meter.start()
            phones = SippConferencePoints(
                [
                    PointGroup(
                        "leader",
                        PointBehaviour.leader(tone),
                        ((LEADER, secrets["agents"][LEADER]),),
                    ),
                    PointGroup(
                        "fast",
                        PointBehaviour.presses("1", answer_after_ms=300, after_ms=1500),
                        team_credentials(secrets, groups["fast"]),
                    ),
                    PointGroup(
                        "slow",
                        PointBehaviour.presses("1", answer_after_ms=2500, after_ms=3000),
                        team_credentials(secrets, groups["slow"]),
                    ),
                    PointGroup(
                        "meter",
                        PointBehaviour(
                            answer_after_ms=500, keys=((1500, "1"),), rtp_port=meter.port
                        ),
                        team_credentials(secrets, groups["meter"]),
                    ),
                    PointGroup(
                        "hand",
                        PointBehaviour.raises_hand(after_ms=1500, hand_at_ms=25_000),
                        team_credentials(secrets, groups["hand"]),
                    ),
                    PointGroup(
                        "silent",
                        PointBehaviour.silent(),
                        team_credentials(secrets, groups["silent"]),
                    ),
                    PointGroup(
                        "busy",
                        PointBehaviour.busy_line(),
                        team_credentials(secrets, groups["busy"]),
                    ),
                    PointGroup(
                        "never",
                        PointBehaviour.never_answers(),
                        team_credentials(secrets, groups["never"]),
                    ),
                ],
                server_port=stack.settings.sip_port,
            )
            await asyncio.to_thread(phones.start)
            try:
                yield Commander(stack, api, phones, meter, groups, teams)
            finally:
                phones.stop()
                meter.stop()


async def _detail(api: httpx.AsyncClient, cid: int) -> dict[str, Any]:
    resp = await api.get(f"/conferences/{cid}")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def _until(what: str, within_s: float, check: Any) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        got = await check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.25)


def _by_endpoint(c: Commander, detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    by_team = {p["team_id"]: p for p in detail["points"] if not p["is_leader"]}
    return {ep: by_team[team_id] for ep, team_id in c.teams.items()}


def _rms_dbfs(wav_bytes: bytes, start_s: float = 0.0) -> float:
    with wave.open(io.BytesIO(wav_bytes)) as w:
        assert w.getsampwidth() == 2, w.getsampwidth()
        rate = w.getframerate()
        w.setpos(min(int(start_s * rate), w.getnframes()))
        frames = w.readframes(w.getnframes())
    samples = struct.unpack(f"<{len(frames) // 2}h", frames)
    if not samples:
        return -120.0
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    return 20 * math.log10(max(rms, 1e-9) / 32768)


async def _members(c: Commander, cid: int) -> list[ConferenceMember]:
    pbx = c.stack.running.conferences.pbx
    return await pbx.members(pbx.root, cid)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_commander_calls_every_commune_of_binh_duong(commander: Commander) -> None:
    c = commander
    resp = await c.api.post(
        "/conferences",
        json={
            "title": "Giao ban phòng chống dịch <b>Bình Dương</b>",
            "points": [
                {
                    "under": {"level": "province", "code": BINH_DUONG},
                    "level": "commune",
                    "kind": "team",
                }
            ],
            "leaders": [{"endpoint": LEADER, "label": "Chỉ huy"}],
            "record": True,
            "starts_at": None,
        },
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    cid = created["id"]
    points = [p for p in created["points"] if not p["is_leader"]]
    assert len(points) == 91

    started = time.monotonic()
    resp = await c.api.post(f"/conferences/{cid}/start")
    assert resp.status_code == 200, resp.text

    async def final_roll() -> dict[str, Any] | None:
        resp = await c.api.get(f"/conferences/{cid}/roll")
        assert resp.status_code == 200, resp.text
        roll: dict[str, Any] = resp.json()
        return roll if roll["totals"]["dialling"] == 0 else None

    roll = await _until("a final roll", 120, final_roll)
    took_s = time.monotonic() - started
    print(f"final roll of 91 points in {took_s:.1f} s: {roll['totals']}")
    assert took_s < 120
    present = 40 + 41 + 1 + 1  # fast, slow, the meter's point, the hand
    assert roll["totals"]["present"] == present, roll["totals"]
    assert roll["totals"]["absent"] == 4 + 2 + 2, roll["totals"]
    # Per district: the nine districts of Bình Dương, adding up to the totals.
    (province,) = roll["provinces"]
    assert province["code"] == BINH_DUONG
    assert len(province["districts"]) == 9
    assert sum(d["present"] for d in province["districts"]) == present
    assert sum(d["absent"] for d in province["districts"]) == 8

    detail = await _detail(c.api, cid)
    by_ep = _by_endpoint(c, detail)
    for ep in c.groups["busy"]:
        assert by_ep[ep]["state"] == "failed" and by_ep[ep]["reason"] == "busy", by_ep[ep]
        assert by_ep[ep]["attempts"] == ATTEMPTS
        assert [k.outcome for k in c.phones.calls()[ep]] == ["busy"] * ATTEMPTS
    for ep in c.groups["never"]:
        assert by_ep[ep]["state"] == "failed" and by_ep[ep]["reason"] == "no_answer", by_ep[ep]
        assert by_ep[ep]["attempts"] == ATTEMPTS
    for ep in c.groups["silent"]:
        assert by_ep[ep]["state"] == "absent", by_ep[ep]
        assert c.phones.calls()[ep][0].answered

    # Asterisk's own list: the present points are in the bridge, muted, with the leader.
    members = await _members(c, cid)
    in_bridge = {m.point_id for m in members if m.point_id is not None}
    leader = next(p for p in detail["points"] if p["is_leader"])
    assert leader["state"] == "joined", leader
    assert leader["id"] in in_bridge
    joined = {p["id"] for p in detail["points"] if p["state"] == "joined"}
    assert joined == in_bridge, joined ^ in_bridge
    assert all(m.muted for m in members if m.point_id != leader["id"]), [
        m for m in members if not m.muted
    ]

    # The commander's voice (a 1 kHz tone) reaches a point.
    since = time.monotonic() - 5
    assert await asyncio.to_thread(c.meter.wait, lambda m: m.tone_ms(since) >= 1000, 10), (
        "the point never heard the leader"
    )

    # Mute all, then the floor to one commune: only that one is unmuted in Asterisk.
    resp = await c.api.post(f"/conferences/{cid}/mute-all")
    assert resp.status_code == 200, resp.text
    floor_ep = c.groups["fast"][0]
    floor_id = by_ep[floor_ep]["id"]
    resp = await c.api.post(f"/conferences/{cid}/points/{floor_id}/floor")
    assert resp.status_code == 200, resp.text
    members = await _members(c, cid)
    unmuted = {m.point_id for m in members if not m.muted}
    assert unmuted == {floor_id, leader["id"]}, unmuted

    # The raised hand (the hand group presses * 25 s after answering).
    hand_id = by_ep[c.groups["hand"][0]]["id"]

    async def hand_raised() -> bool:
        return any(h["point_id"] == hand_id for h in (await _detail(c.api, cid))["hands"])

    await _until("the raised hand", 60, hand_raised)

    resp = await c.api.post(f"/conferences/{cid}/end")
    assert resp.status_code == 200, resp.text
    resp = await c.api.get(f"/conferences/{cid}/recording")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("audio/wav")
    level = _rms_dbfs(resp.content)
    print(f"recording: {len(resp.content)} bytes, {level:.1f} dBFS")
    assert level > -40, level

    resp = await c.api.get(f"/conferences/{cid}/actions")
    assert resp.status_code == 200, resp.text
    actions = resp.json()["items"]
    done = {a["action"] for a in actions if a["ok"]}
    assert {"start", "mute_all", "floor", "end"} <= done, done
    assert all(a["latency_ms"] is not None for a in actions if a["action"] == "mute_all")
