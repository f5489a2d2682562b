"""The conference at the PBX level, on two real Asterisk instances (the root and node "b"):
SIPp points behind each node's gateway answer, press 1 or nothing, are busy, never answer,
raise a hand; a leader's phone plays a 1 kHz tone. What each point heard is measured by an
``RtpMeter``, the recording is read back, and ConfbridgeList shows mute and waiting."""

from __future__ import annotations

import asyncio
import math
import random
import time
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import pytest
import pytest_asyncio

from hotline1022.settings import Settings
from pbx.ami import AmiLink
from pbx.conference import AmiConferencePbx, ConferenceNode
from pbx.conference_signals import (
    ALL_MEMBERS,
    PARTICIPANTS,
    ConferenceMember,
    PointSignal,
    SignalKind,
)
from provision.asterisk import Asterisk
from provision.instance import provision
from simulation.conference_phones import (
    PointBehaviour,
    RtpMeter,
    SippGatewayPhone,
    tone_pcap,
)
from simulation.ports import node_rtp_range
from simulation.stack import free_port, free_udp_tcp_port

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.asterisk]

# The numbers behind each node's gateway, by what their phone does.
PRESENT = "0901"
SILENT = "0902"
BUSY = "0903"
NO_ANSWER = "0904"
HAND = "0905"
LEADER = "0999"
KEY_TIMEOUT_S = 2
TONE_HZ = 1000


@dataclass
class Node:
    name: str
    settings: Settings
    asterisk: Asterisk
    link: AmiLink
    gateway: SippGatewayPhone
    meter: RtpMeter  # the ear of the PRESENT points behind this node's gateway


@dataclass
class Conf:
    pbx: AmiConferencePbx
    root: Node
    b: Node
    signals: list[PointSignal] = field(default_factory=list)
    _numbers: count[int] = field(default_factory=lambda: count(100))
    _points: count[int] = field(default_factory=lambda: count(1))

    def number(self, prefix: str) -> str:
        return f"{prefix}{next(self._numbers):06d}"

    async def dial(
        self, node: str, cid: int, prefix: str, *, ring_s: int = 10, leader: bool = False
    ) -> int:
        """Dial a new point (a number behind that node's gateway); its point id."""
        pid = next(self._points)
        await self.pbx.dial_point(
            node,
            conference_id=cid,
            point_id=pid,
            attempt=1,
            dial=self.pbx.dial_string(endpoint=None, number=self.number(prefix)),
            title_prompt="",
            ring_s=ring_s,
            leader=leader,
        )
        return pid

    def seen(self, cid: int, pid: int | None, kind: SignalKind) -> PointSignal | None:
        for s in self.signals:
            if (s.conference_id, s.point_id, s.kind) == (cid, pid, kind):
                return s
        return None

    async def signal(
        self, cid: int, pid: int | None, kind: SignalKind, within_s: float = 30
    ) -> PointSignal:
        await until(lambda: self.seen(cid, pid, kind) is not None, within_s, f"{kind} of {pid}")
        signal = self.seen(cid, pid, kind)
        assert signal is not None
        return signal

    def kinds(self, cid: int, pid: int) -> list[SignalKind]:
        return [s.kind for s in self.signals if (s.conference_id, s.point_id) == (cid, pid)]

    async def member(self, node: str, cid: int, channel: str) -> ConferenceMember:
        found = [m for m in await self.pbx.members(node, cid) if m.channel == channel]
        assert found, f"{channel} not in the bridge on {node}"
        return found[0]

    async def member_is(
        self, node: str, cid: int, channel: str, check: Callable[[ConferenceMember], bool]
    ) -> ConferenceMember:
        """ConfbridgeList's view of ``channel`` once ``check`` holds (mute is applied by the
        bridge's thread, a moment after the action's answer)."""
        for _ in range(50):
            member = await self.member(node, cid, channel)
            if check(member):
                return member
            await asyncio.sleep(0.1)
        raise AssertionError(f"{channel} on {node}: {member}")

    async def end(self, cid: int) -> None:
        for node in self.pbx.nodes:
            await self.pbx.kick(node, cid, ALL_MEMBERS)


async def until(predicate: Callable[[], bool], within_s: float, what: str) -> None:
    try:
        async with asyncio.timeout(within_s):
            while not predicate():  # noqa: ASYNC110 -- signals arrive from the AMI links
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"gave up waiting for {what}") from None


def _gateway(meter: RtpMeter, tone: Path) -> SippGatewayPhone:
    present = PointBehaviour(answer_after_ms=300, keys=((1000, "1"),), rtp_port=meter.port)
    return SippGatewayPhone(
        free_udp_tcp_port(),
        default=present,
        by_prefix=[
            (PRESENT, present),
            (SILENT, PointBehaviour.silent(answer_after_ms=300)),
            (BUSY, PointBehaviour.busy_line()),
            (NO_ANSWER, PointBehaviour.never_answers()),
            (HAND, PointBehaviour.raises_hand(answer_after_ms=300, after_ms=1000, hand_at_ms=4000)),
            (LEADER, PointBehaviour.leader(tone, answer_after_ms=200)),
        ],
    )


async def _node(name: str, state_dir: Path, tone: Path) -> Node:
    meter = RtpMeter(tone_hz=TONE_HZ)
    meter.start()
    gateway = _gateway(meter, tone)
    rtp_start, rtp_end = node_rtp_range()
    settings = Settings(
        state_dir=state_dir,
        ami_port=free_port(),
        sip_port=free_udp_tcp_port(),
        agi_port=free_port(),
        agent_count=1,
        rtp_start=rtp_start,
        rtp_end=rtp_end,
        callback_host=f"127.0.0.1:{gateway.local_port}",
        conference_key_timeout_s=KEY_TIMEOUT_S,
    )
    ast = await asyncio.to_thread(provision, settings, f"conf{name}{random.randrange(1 << 20):05x}")
    gateway.start()
    link = AmiLink(
        host="127.0.0.1",
        port=settings.ami_port,
        username=settings.ami_username,
        secret=settings.effective_ami_secret,
    )
    await link.start()
    return Node(name, settings, ast, link, gateway, meter)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def conf(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Conf]:
    # One state dir: both nodes share secrets.json, so the link's password matches.
    state_dir = tmp_path_factory.mktemp("conference")
    tone = await asyncio.to_thread(tone_pcap, TONE_HZ, 60, -12.0)
    nodes: list[Node] = []
    pbx: AmiConferencePbx | None = None
    try:
        nodes.append(await _node("root", state_dir, tone))
        nodes.append(await _node("b", state_dir, tone))
        root, b = nodes
        pbx = AmiConferencePbx(
            root.link,
            "root",
            root.asterisk,
            ("127.0.0.1", root.settings.sip_port),
            [
                (
                    ConferenceNode(
                        name="b",
                        ami_host="127.0.0.1",
                        ami_port=b.settings.ami_port,
                        ami_username=b.settings.ami_username,
                        ami_secret=b.settings.effective_ami_secret,
                        sip_host="127.0.0.1",
                        sip_port=b.settings.sip_port,
                        instance=b.asterisk.name,
                    ),
                    b.link,
                    b.asterisk,
                )
            ],
        )
        result = Conf(pbx, root, b)
        pbx.listen(result.signals.append)
        yield result
    finally:
        if pbx is not None:
            await pbx.close()
        for node in nodes:
            await node.link.close()
            node.gateway.stop()
            node.meter.stop()
            await asyncio.to_thread(node.asterisk.remove)


async def test_confbridge_is_loaded_with_the_hotline_profiles(conf: Conf) -> None:
    modules = await asyncio.to_thread(conf.root.asterisk.cli, "module show like confbridge")
    assert "app_confbridge.so" in modules and "Running" in modules
    profile = await asyncio.to_thread(
        conf.root.asterisk.cli, "confbridge show profile user hotline_point"
    )
    assert "Start Muted:             true" in profile
    assert "Wait Marked:             enabled" in profile


async def test_a_point_pressing_1_joins_muted_and_waits_for_a_leader(conf: Conf) -> None:
    cid = 1
    pid = await conf.dial("root", cid, PRESENT)

    joined = await conf.signal(cid, pid, SignalKind.JOINED)

    assert conf.kinds(cid, pid)[:4] == [
        SignalKind.RINGING,
        SignalKind.ANSWERED,
        SignalKind.PRESENT,
        SignalKind.JOINED,
    ]
    member = await conf.member("root", cid, joined.channel)
    assert (member.point_id, member.muted, member.waiting, member.admin) == (pid, True, True, False)

    await conf.pbx.unmute("root", cid, joined.channel)
    await conf.signal(cid, pid, SignalKind.UNMUTED)
    await conf.member_is("root", cid, joined.channel, lambda m: not m.muted)
    await conf.pbx.mute("root", cid, joined.channel)
    await conf.signal(cid, pid, SignalKind.MUTED)
    await conf.member_is("root", cid, joined.channel, lambda m: m.muted)

    await conf.end(cid)
    await conf.signal(cid, pid, SignalKind.HUNG_UP)
    assert await conf.pbx.members("root", cid) == []


async def test_a_point_pressing_nothing_is_absent(conf: Conf) -> None:
    cid = 2
    pid = await conf.dial("root", cid, SILENT)

    await conf.signal(cid, pid, SignalKind.ABSENT, within_s=40)
    await conf.signal(cid, pid, SignalKind.HUNG_UP)

    kinds = conf.kinds(cid, pid)
    assert SignalKind.PRESENT not in kinds and SignalKind.JOINED not in kinds
    assert kinds.index(SignalKind.ANSWERED) < kinds.index(SignalKind.ABSENT)


async def test_busy_and_unanswered_points(conf: Conf) -> None:
    cid = 3
    busy = await conf.dial("root", cid, BUSY)
    unanswered = await conf.dial("root", cid, NO_ANSWER, ring_s=3)

    await conf.signal(cid, busy, SignalKind.BUSY)
    await conf.signal(cid, unanswered, SignalKind.NO_ANSWER, within_s=20)

    assert conf.kinds(cid, busy) == [SignalKind.BUSY]
    assert SignalKind.ANSWERED not in conf.kinds(cid, unanswered)
    assert conf.kinds(cid, unanswered)[-1] is SignalKind.NO_ANSWER


async def test_star_raises_a_hand(conf: Conf) -> None:
    cid = 4
    pid = await conf.dial("root", cid, HAND)

    joined = await conf.signal(cid, pid, SignalKind.JOINED)
    hand = await conf.signal(cid, pid, SignalKind.HAND, within_s=20)

    assert hand.channel == joined.channel
    # The point is still in the bridge, still muted, after its hand was taken.
    member = await conf.member("root", cid, joined.channel)
    assert member.muted and member.point_id == pid
    await conf.end(cid)


async def test_lock_keeps_new_points_out_and_kick_removes_one(conf: Conf) -> None:
    cid = 7
    first = await conf.dial("root", cid, PRESENT)
    joined = await conf.signal(cid, first, SignalKind.JOINED)

    await conf.pbx.lock("root", cid)
    late = await conf.dial("root", cid, PRESENT)
    await conf.signal(cid, late, SignalKind.PRESENT)
    await conf.signal(cid, late, SignalKind.HUNG_UP)
    assert SignalKind.JOINED not in conf.kinds(cid, late)
    await conf.pbx.unlock("root", cid)

    await conf.pbx.kick("root", cid, joined.channel)
    await conf.signal(cid, first, SignalKind.LEFT)
    await conf.signal(cid, first, SignalKind.HUNG_UP)
    assert await conf.pbx.members("root", cid) == []
    # The bridge is gone: controls on it are no-ops, as on one that never was.
    for missing in (cid, 999):
        await conf.pbx.mute("root", missing, PARTICIPANTS)
        await conf.pbx.unmute("root", missing, joined.channel)
        await conf.pbx.kick("root", missing, ALL_MEMBERS)
        await conf.pbx.lock("root", missing)
        await conf.pbx.hangup("root", joined.channel)


def _wav_level(path: Path) -> tuple[float, float]:
    """The loudest second's RMS level (dBFS) of a WAV file, and the share of the tone's
    energy in that second."""
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        samples = memoryview(w.readframes(w.getnframes())).cast("h").tolist()
    best: tuple[float, list[int]] = (0.0, [])
    for start in range(0, max(len(samples) - rate, 0) + 1, rate // 2):
        second = samples[start : start + rate]
        energy = sum(s * s for s in second) / max(len(second), 1)
        if energy > best[0]:
            best = (energy, second)
    energy, second = best
    if not second or energy == 0:
        return -math.inf, 0.0
    w_ = 2 * math.pi * TONE_HZ / rate
    re = sum(s * math.cos(w_ * i) for i, s in enumerate(second))
    im = sum(s * math.sin(w_ * i) for i, s in enumerate(second))
    share = 2 * (re * re + im * im) / (len(second) * len(second) * energy)
    return 10 * math.log10(energy / 32768**2), min(share, 1.0)


async def test_the_leader_is_heard_by_a_waiting_point_and_recorded(conf: Conf) -> None:
    cid = 5
    pid = await conf.dial("root", cid, PRESENT)
    point = await conf.signal(cid, pid, SignalKind.JOINED)
    waiting_since = time.monotonic()
    assert (await conf.member("root", cid, point.channel)).waiting
    # Until a leader comes, the point hears the waiting music: sound, but not the tone.
    music = await asyncio.to_thread(
        conf.root.meter.wait, lambda m: m.loud_ms(waiting_since) >= 1000, 10
    )
    assert music, conf.root.meter.windows(waiting_since)[-10:]
    assert conf.root.meter.tone_ms(waiting_since) == 0
    path = Path(await conf.pbx.start_record(cid, "conference-5"))
    await conf.signal(cid, None, SignalKind.RECORDING)

    leader = await conf.dial("root", cid, LEADER, leader=True)
    joined = await conf.signal(cid, leader, SignalKind.JOINED)
    since = time.monotonic()  # the meter's clock
    leader_member = await conf.member("root", cid, joined.channel)
    assert leader_member.admin and leader_member.marked and not leader_member.muted
    await conf.member_is("root", cid, point.channel, lambda m: not m.waiting)

    heard = await asyncio.to_thread(conf.root.meter.wait, lambda m: m.tone_ms(since) >= 1500, 15)
    assert heard, conf.root.meter.windows(since)[-10:]
    await conf.signal(cid, leader, SignalKind.TALKING)  # talk detection on the leader

    await conf.pbx.stop_record(cid)
    await conf.signal(cid, None, SignalKind.RECORDING_STOPPED)
    await conf.end(cid)
    await until(path.exists, 10, "the recording")
    level, share = await asyncio.to_thread(_wav_level, path)
    assert level > -30.0, level  # silence is below -60 dBFS
    assert share > 0.5, share  # and it is the leader's tone


async def test_two_nodes_hear_the_root_and_obey_mute_all(conf: Conf) -> None:
    cid = 6
    here = await conf.dial("root", cid, PRESENT)
    there = await conf.dial("b", cid, PRESENT)
    point_root = await conf.signal(cid, here, SignalKind.JOINED)
    point_b = await conf.signal(cid, there, SignalKind.JOINED)
    assert point_b.node == "b" and point_root.node == "root"
    assert (await conf.member("b", cid, point_b.channel)).waiting  # no link yet

    await conf.pbx.link_node("b", cid)
    link_up = await conf.signal(cid, None, SignalKind.LINK_UP)
    assert link_up.node == "b"
    await conf.member_is("b", cid, point_b.channel, lambda m: not m.waiting)

    leader = await conf.dial("root", cid, LEADER, leader=True)
    await conf.signal(cid, leader, SignalKind.JOINED)
    since = time.monotonic()
    heard = await asyncio.to_thread(conf.b.meter.wait, lambda m: m.tone_ms(since) >= 1500, 15)
    assert heard, conf.b.meter.windows(since)[-10:]

    for node in conf.pbx.nodes:
        await conf.pbx.unmute(node, cid, PARTICIPANTS)
    await conf.member_is("root", cid, point_root.channel, lambda m: not m.muted)
    await conf.member_is("b", cid, point_b.channel, lambda m: not m.muted)

    for node in conf.pbx.nodes:
        await conf.pbx.mute(node, cid, PARTICIPANTS)
    await conf.member_is("root", cid, point_root.channel, lambda m: m.muted)
    await conf.member_is("b", cid, point_b.channel, lambda m: m.muted)
    # The leader and both ends of the link are admins: still heard.
    for node in conf.pbx.nodes:
        admins = [m for m in await conf.pbx.members(node, cid) if m.admin]
        assert admins and not any(m.muted for m in admins), (node, admins)
    assert len(await conf.pbx.members("root", cid)) == 3  # point, leader, link from b

    await conf.end(cid)
    await conf.signal(cid, None, SignalKind.LINK_DOWN)
