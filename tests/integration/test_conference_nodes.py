"""A conference over two Asterisk instances, through the whole service: the points are
spread over the root and node b (two points a node), node b's bridge is linked to the root's
once the leader is there; a point on b hears the leader on the root (its RTP meter finds the
leader's tone), mute all and unmute all are applied on both nodes (each node's own
``ConfbridgeList``), and the roll counts the points of both."""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from hotline1022.settings import Settings
from ivr.menu_file import DEFAULT_MENU
from provision.asterisk import Asterisk
from provision.instance import provision
from simulation.conference_phones import (
    PointBehaviour,
    PointGroup,
    RtpMeter,
    SippConferencePoints,
    SippGatewayPhone,
    tone_pcap,
)
from simulation.ports import node_rtp_range
from simulation.stack import Stack, free_port, free_udp_tcp_port
from store.seed import agent_endpoint
from store.users import create_user

pytestmark = pytest.mark.asterisk

LEADER = agent_endpoint(1)
NUMBERS = [f"090000000{i}" for i in range(1, 5)]


@dataclass
class TwoNodes:
    stack: Stack
    node_b: Asterisk
    api: httpx.AsyncClient
    meters: dict[str, RtpMeter]  # number → the meter its point's SDP names


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def two(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TwoNodes]:
    # One state dir: both nodes read the same secrets.json (the link's password, AMI's).
    state_dir: Path = tmp_path_factory.mktemp("nodes")
    menu_file = state_dir / "menu.yaml"
    shutil.copyfile(DEFAULT_MENU, menu_file)
    tone = await asyncio.to_thread(tone_pcap)
    meters = {n: RtpMeter() for n in NUMBERS}
    for meter in meters.values():
        meter.start()
    gateway = SippGatewayPhone(
        free_udp_tcp_port(),
        by_prefix=[
            (n, PointBehaviour(answer_after_ms=300, keys=((1500, "1"),), rtp_port=m.port))
            for n, m in meters.items()
        ],
    )
    await asyncio.to_thread(gateway.start)
    rtp_start, rtp_end = node_rtp_range()
    b_settings = Settings(
        state_dir=state_dir,
        ami_port=free_port(),
        sip_port=free_udp_tcp_port(),
        agi_port=free_port(),
        agent_count=1,
        rtp_start=rtp_start,
        rtp_end=rtp_end,
        callback_host=f"127.0.0.1:{gateway.local_port}",
        conference_key_timeout_s=4,
    )
    node_b = await asyncio.to_thread(provision, b_settings, f"nodeb{random.randrange(1 << 20):05x}")
    leader: SippConferencePoints | None = None
    try:
        async with Stack(
            state_dir=state_dir,
            agent_count=2,
            menu_file=menu_file,
            settings={
                "callback_threshold_s": -1,
                "callback_host": f"127.0.0.1:{gateway.local_port}",
                "conference_key_timeout_s": 4,
                "conference_ring_s": 8,
                "conference_points_per_node": 2,
                "conference_nodes": [
                    {
                        "name": "b",
                        "ami_host": "127.0.0.1",
                        "ami_port": b_settings.ami_port,
                        "ami_username": b_settings.ami_username,
                        "ami_secret": b_settings.effective_ami_secret,
                        "sip_host": "127.0.0.1",
                        "sip_port": b_settings.sip_port,
                        "instance": node_b.name,
                    }
                ],
            },
        ) as stack:
            leader = SippConferencePoints(
                [
                    PointGroup(
                        "leader",
                        PointBehaviour.leader(tone),
                        ((LEADER, stack.settings.secrets["agents"][LEADER]),),
                    )
                ],
                server_port=stack.settings.sip_port,
            )
            await asyncio.to_thread(leader.start)
            _, token = await create_user(stack.running.db, name="commander", role="supervisor")
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=stack.running.app()),
                base_url="http://hotline",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            ) as api:
                yield TwoNodes(stack, node_b, api, meters)
    finally:
        if leader is not None:
            leader.stop()
        gateway.stop()
        for meter in meters.values():
            meter.stop()
        await asyncio.to_thread(node_b.remove)


async def _until(what: str, within_s: float, check: Any) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        got = await check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.25)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_conference_spans_two_asterisk_nodes(two: TwoNodes) -> None:
    resp = await two.api.post(
        "/conferences",
        json={
            "title": "Giao ban hai nút",
            "points": [{"number": n, "label": f"Điểm cầu {n[-1]}"} for n in NUMBERS],
            "leaders": [{"endpoint": LEADER, "label": "Chỉ huy"}],
            "record": False,
            "starts_at": None,
        },
    )
    assert resp.status_code == 201, resp.text
    cid = resp.json()["id"]
    resp = await two.api.post(f"/conferences/{cid}/start")
    assert resp.status_code == 200, resp.text

    async def final_roll() -> dict[str, Any] | None:
        roll: dict[str, Any] = (await two.api.get(f"/conferences/{cid}/roll")).json()
        return roll if roll["totals"]["dialling"] == 0 else None

    roll = await _until("a final roll", 60, final_roll)
    assert roll["totals"]["present"] == 4, roll["totals"]

    detail = (await two.api.get(f"/conferences/{cid}")).json()
    points = [p for p in detail["points"] if not p["is_leader"]]
    nodes = {p["node"] for p in points}
    assert nodes == {"root", "b"}, [(p["label"], p["node"]) for p in points]
    on_b = [p for p in points if p["node"] == "b"]

    # Asterisk's own lists: each node's bridge holds its own points (and the link leg).
    pbx = two.stack.running.conference_pbx
    for node in ("root", "b"):
        members = await pbx.members(node, cid)
        mine = {p["id"] for p in points if p["node"] == node}
        assert mine <= {m.point_id for m in members}, (node, members)

    # The leader (a 1 kHz tone on the root) is heard by a point on node b.
    since = time.monotonic() - 5
    for p in on_b:
        number = next(n for n in NUMBERS if p["label"].endswith(n[-1]))
        meter = two.meters[number]
        assert await asyncio.to_thread(meter.wait, lambda m: m.tone_ms(since) >= 1000, 15), (
            f"{p['label']} on node b never heard the leader"
        )

    # Mute all, then unmute all: on both nodes, the points only (admins: leader, link legs).
    for action, muted in (("mute-all", True), ("unmute-all", False)):
        resp = await two.api.post(f"/conferences/{cid}/{action}")
        assert resp.status_code == 200, resp.text
        for node in ("root", "b"):
            members = await pbx.members(node, cid)
            points_there = [m for m in members if m.point_id is not None and not m.admin]
            assert points_there, (node, members)
            assert all(m.muted is muted for m in points_there), (node, action, members)
            assert all(not m.muted for m in members if m.admin), (node, members)

    resp = await two.api.post(f"/conferences/{cid}/end")
    assert resp.status_code == 200, resp.text
