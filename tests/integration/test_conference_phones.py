"""The conference phones on a real Asterisk (its own instance, no service): a registered team
phone and a number behind the gateway answer the roll call, press 1 and join the bridge; the
point's RTP meter hears the waiting music, then the leader's tone once the leader joins; the
hotline's hang-up reaches the phones as a BYE."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import pytest

from hotline1022.settings import Settings
from pbx.ami import AmiLink
from pbx.client import AmiPbx
from pbx.conference_signals import account_code, bridge_name
from provision.asterisk import Asterisk
from provision.instance import provision
from simulation.conference_phones import (
    PointBehaviour,
    PointGroup,
    RtpMeter,
    SippConferencePoints,
    SippGatewayPhone,
    noise_pcap,
    team_credentials,
    tone_pcap,
)
from simulation.ports import asterisk_rtp_range
from simulation.stack import free_port, free_udp_tcp_port

pytestmark = pytest.mark.asterisk


@dataclass
class Node:
    ast: Asterisk
    settings: Settings
    gateway_port: int


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    rtp_start, rtp_end = asterisk_rtp_range()
    gateway_port = free_udp_tcp_port()
    settings = Settings(
        state_dir=tmp_path_factory.mktemp("confphones"),
        ami_port=free_port(),
        sip_port=free_udp_tcp_port(),
        agi_port=free_port(),
        agent_count=1,
        rtp_start=rtp_start,
        rtp_end=rtp_end,
        callback_host=f"127.0.0.1:{gateway_port}",
    )
    ast = provision(settings, f"confph{random.randrange(1 << 20):05x}")
    try:
        yield Node(ast, settings, gateway_port)
    finally:
        ast.remove()


@pytest.fixture
async def pbx(node: Node) -> AsyncIterator[AmiPbx]:
    s = node.settings
    link = AmiLink(
        host=s.ami_host, port=s.ami_port, username=s.ami_username, secret=s.effective_ami_secret
    )
    await link.start()
    try:
        yield AmiPbx(link)
    finally:
        await link.close()


async def _until(what: str, check: Callable[[], bool], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"waited {within_s} s for {what}"
        await asyncio.sleep(0.2)


async def _members(pbx: AmiPbx, conference: int) -> list[str]:
    try:
        replies = await pbx.link.action(
            "ConfbridgeList", {"Conference": bridge_name(conference)}, as_list=True
        )
    except Exception:  # no such conference yet
        return []
    return [r["Channel"] for r in replies if r.get("Event") == "ConfbridgeList"]


async def _originate(pbx: AmiPbx, channel: str, context: str, cid: int, pid: int) -> None:
    await pbx.originate(
        channel,
        context=context,
        exten="s",
        variables={
            "CONF_ID": str(cid),
            "CONF_POINT": str(pid),
            "CONF_ATTEMPT": "1",
            "CONF_TITLE": "",
        },
        account=account_code(cid, pid, 1),
        ring_timeout_ms=15_000,
    )


async def test_points_answer_press_1_join_and_hear_the_leader(node: Node, pbx: AmiPbx) -> None:
    cid = 7
    with RtpMeter() as meter:
        points = SippConferencePoints(
            [
                PointGroup(
                    "present",
                    PointBehaviour.presses(
                        answer_after_ms=300, after_ms=1500, rtp_port=meter.port, audio=noise_pcap()
                    ),
                    team_credentials(node.settings.secrets, ["team-c25741"]),
                )
            ],
            server_port=node.settings.sip_port,
        )
        gateway = SippGatewayPhone(
            node.gateway_port,
            default=PointBehaviour.presses("1", answer_after_ms=200, after_ms=1000),
            by_prefix=[("0999", PointBehaviour.leader(tone_pcap(1000, seconds=30)))],
        )
        points.start()
        gateway.start()
        try:
            await _until(
                "the point's registration",
                lambda: "team-c25741/sip:" in node.ast.cli("pjsip show contacts"),
                10,
            )
            await _originate(pbx, "PJSIP/team-c25741", "hotline-conf-point", cid, 1)
            await _originate(pbx, "PJSIP/0912000001@pstn-out", "hotline-conf-point", cid, 2)
            joined: list[str] = []

            async def both_joined() -> None:
                while len(joined) < 2:
                    joined[:] = await _members(pbx, cid)
                    await asyncio.sleep(0.3)

            await asyncio.wait_for(both_joined(), 30)
            assert sorted(c.split("-")[0] for c in joined) == [
                "PJSIP/pstn",
                "PJSIP/team",
            ], joined
            # Waiting for a leader: music, not the tone.
            waiting = time.monotonic()
            await _until("the waiting music", lambda: meter.loud_ms(waiting) >= 1000, 10)
            assert meter.tone_ms(waiting) <= 200

            spoke = time.monotonic()
            await _originate(pbx, "PJSIP/0999000001@pstn-out", "hotline-conf-leader", cid, 99)
            await _until("the leader's tone", lambda: meter.tone_ms(spoke) >= 2000, 15)
            assert len(await _members(pbx, cid)) == 3
            # The point's key came from the meter's port: Asterisk still sends there.
            (source,) = meter.sources().values()
            assert source.audio_packets > 100

            for channel in await _members(pbx, cid):
                await pbx.hangup(channel)
            await _until(
                "every phone's BYE",
                lambda: (
                    [c.outcome for c in points.calls()["team-c25741"]] == ["bye"]
                    and sorted(c.outcome for c in gateway.calls()) == ["bye", "bye"]
                ),
                10,
            )
            (point,) = points.calls()["team-c25741"]
            # It kept sending its room's noise from the meter's port after the 1.
            assert point.events == ("called", "answered", "key 1", "audio", "bye")
            by_number = {c.number: c for c in gateway.calls()}
            assert by_number["0912000001"].keys == "1"
            assert by_number["0999000001"].events == ("called", "answered", "audio", "bye")
        finally:
            points.stop()
            gateway.stop()
