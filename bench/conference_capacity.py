"""Benchmark: one Asterisk node's command conference -- how many muted listening points it
holds, what each costs in CPU, how long dialling N points to a final roll takes, and how
fast the controls are answered.

Everything is real: a throwaway Asterisk instance provisioned as ``make run`` does (the
conference's ``confbridge.conf`` rendered from ``conference_drop_silence`` and
``conference_mixing_interval_ms``), AMI Originates of ``PJSIP/<number>@pstn-out`` into
``hotline-conf-point`` with the service's channel variables and account codes, and one SIPp
gateway phone (``simulation.conference_phones``) answering every number by its prefix. The
points press 1 and then keep sending quiet room noise (-55 dBFS), as real phones do. A few
"probe" points advertise an ``RtpMeter``'s port: what they receive is measured (audio ms
per second, the leader's 1 kHz tone's share). The leader (a number behind the same gateway)
joins first and speaks a tone throughout.

1. Ramp (dsp_drop_silence on, mixing 40 ms): add points in ``--steps`` at 50/s; at each
   step, once every point joined, measure for ``--measure-s``: Asterisk's CPU
   (``/proc/<pid>/stat``), the machine's, SIPp's, the probes' audio. A step fails when a
   point did not join, a probe gets less than 90 % of its audio, the tone is lost, or
   Asterisk uses more than 90 % of the machine's cores. The last good step is the most one
   node holds here; CPU per point is the slope over the steps.
2. The same conference of ``--config-points`` points with dsp_drop_silence on/off and
   mixing every 20/40/80 ms: Asterisk's CPU per point in each.
3. The controls at each step of the ramp that passed: ConfbridgeMute/Unmute of the
   participants (everyone but the admins) and of one point, ConfbridgeList: AMI round trips.
4. Dialling to a final roll for ``--roll-sizes`` (and the most held) at each of
   ``--rates``: a realistic mix (80 % press 1 1.8 s after the call, 10 % 5.5 s after, 4 % never
   press, 3 % busy, 3 % never answer: ``--ring-timeout-s``); time until every Originate was
   sent and until every point is present, absent or failed (no redial here).

    .venv/bin/python bench/conference_capacity.py           # ~12 min on 2 shared cores
    .venv/bin/python bench/conference_capacity.py --quick   # a smoke run, ~1 min

Results are printed and appended to ``bench/results/conference.md`` with the command.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import shlex
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: the project's packages
    sys.path.insert(0, str(ROOT))

from hotline1022.settings import Settings  # noqa: E402
from pbx.ami import AmiLink  # noqa: E402
from pbx.client import AmiPbx  # noqa: E402
from pbx.conference_signals import account_code, bridge_name  # noqa: E402
from pbx.errors import PbxError  # noqa: E402
from pbx.events import AmiEvent  # noqa: E402
from provision.asterisk import Asterisk  # noqa: E402
from provision.instance import provision  # noqa: E402
from simulation.conference_phones import (  # noqa: E402
    PointBehaviour,
    RtpMeter,
    SippGatewayPhone,
    noise_pcap,
    tone_pcap,
)
from simulation.results import append_run  # noqa: E402
from simulation.stack import free_port, free_udp_tcp_port  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "conference.md"
TICK = os.sysconf("SC_CLK_TCK")
LEADER = "0999000001"
# The numbers' prefixes: the gateway phone answers each kind its own way.
PROBE, FAST, SLOW, SILENT, BUSY, NO_ANSWER = "0988", "0911", "0912", "0922", "0933", "0944"
ROLL_MIX = ((FAST, 80), (SLOW, 10), (SILENT, 4), (BUSY, 3), (NO_ANSWER, 3))
CORES = os.cpu_count() or 1
AUDIO_S = 1200  # the leader's tone and the points' noise: longer than any call of a run


# --- CPU ------------------------------------------------------------------------------------


def process_cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system, every thread) of ``pid``; 0 when it is gone."""
    if pid is None:
        return 0.0
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (float(fields[11]) + float(fields[12])) / TICK


def thread_cpu_s(pid: int | None) -> dict[int, float]:
    """CPU seconds of each thread of ``pid``: ConfBridge mixes a bridge in one thread, which
    one core bounds however many the machine has."""
    if pid is None:
        return {}
    out = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            raw = (task / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        out[int(task.name)] = (float(fields[11]) + float(fields[12])) / TICK
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of every CPU since boot."""
    values = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(values[:8])
    return total - values[3] - values[4], total


@dataclass(frozen=True)
class CpuSpan:
    """What ran during a span: cores busy per process and for the whole machine."""

    seconds: float
    asterisk: float
    sipp: float
    bench: float
    machine: float  # 0..1 of every core
    busiest_thread: float = 0.0  # Asterisk's busiest thread, in cores


class CpuWatch:
    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids
        self.t = time.monotonic()
        self.used = {k: process_cpu_s(p) for k, p in pids.items()}
        self.threads = thread_cpu_s(pids.get("asterisk"))
        self.machine = machine_busy()

    def span(self) -> CpuSpan:
        seconds = time.monotonic() - self.t
        used = {k: (process_cpu_s(p) - self.used[k]) / seconds for k, p in self.pids.items()}
        busy, total = machine_busy()
        share = (busy - self.machine[0]) / max(total - self.machine[1], 1)
        threads = thread_cpu_s(self.pids.get("asterisk"))
        busiest = max(
            ((v - self.threads.get(k, 0.0)) / seconds for k, v in threads.items()), default=0.0
        )
        return CpuSpan(seconds, used["asterisk"], used["sipp"], used["bench"], share, busiest)


# --- the roll as AMI tells it ---------------------------------------------------------------

FINAL = ("present", "absent", "failed")


@dataclass
class Point:
    cid: int
    pid: int
    number: str
    sent_at: float = 0.0
    state: str = "queued"
    final_at: float | None = None
    present_at: float | None = None


@dataclass
class Tracker:
    """Each point's state from the dialplan's UserEvents and Originate's failures; each
    bridge's members from ConfbridgeJoin/Leave."""

    points: dict[tuple[int, int], Point] = field(default_factory=dict)
    by_action: dict[str, tuple[int, int]] = field(default_factory=dict)
    by_channel: dict[str, tuple[int, int]] = field(default_factory=dict)
    early: set[str] = field(default_factory=set)  # failures before their Originate's reply
    members: dict[str, int] = field(default_factory=dict)

    def on_event(self, event: AmiEvent) -> None:
        now = time.monotonic()
        if event.name == "UserEvent" and event.get("UserEvent") == "HotlineConfPoint":
            point = self._point(event.get("Conference"), event.get("Point"))
            state = event.get("State")
            if point is not None and point.final_at is None:
                self._set(point, state, now)
        elif event.name == "ConfbridgeJoin":
            name = event.get("Conference")
            self.members[name] = self.members.get(name, 0) + 1
        elif event.name == "ConfbridgeLeave":
            name = event.get("Conference")
            self.members[name] = self.members.get(name, 0) - 1
        elif event.name == "OriginateResponse" and event.get("Response") == "Failure":
            key = self.by_action.get(event.get("ActionID"))
            if key is None:
                key = self.by_channel.get(event.get("Channel"))
            if key is not None:
                self._set(self.points[key], "failed", now)
            else:
                self.early.add(event.get("ActionID"))

    def replied(self, action_id: str, key: tuple[int, int]) -> None:
        """An Originate's reply: its failure may already have come (a busy line)."""
        self.by_action[action_id] = key
        if action_id in self.early:
            self._set(self.points[key], "failed", time.monotonic())

    def _point(self, cid: str, pid: str) -> Point | None:
        if not (cid.isdigit() and pid.isdigit()):
            return None
        return self.points.get((int(cid), int(pid)))

    def _set(self, point: Point | None, state: str, now: float) -> None:
        if point is None:
            return
        point.state = state
        if state in FINAL and point.final_at is None:
            point.final_at = now
        if state == "present" and point.present_at is None:
            point.present_at = now

    def joined(self, cid: int) -> int:
        return self.members.get(bridge_name(cid), 0)


# --- one node ---------------------------------------------------------------------------------


@dataclass
class Config:
    drop_silence: bool
    mixing_ms: int

    def label(self) -> str:
        return (
            f"dsp_drop_silence {'on' if self.drop_silence else 'off'}, mixing {self.mixing_ms} ms"
        )


@dataclass
class Node:
    ast: Asterisk
    settings: Settings
    link: AmiLink
    pbx: AmiPbx
    gateway: SippGatewayPhone
    tracker: Tracker
    meter: RtpMeter
    ring_timeout_s: float = 20.0

    def watch(self) -> CpuWatch:
        pid = self.gateway.proc.pid if self.gateway.proc is not None else None
        return CpuWatch({"asterisk": self.ast.pid, "sipp": pid, "bench": os.getpid()})

    async def originate(self, point: Point, context: str = "hotline-conf-point") -> None:
        self.tracker.points[(point.cid, point.pid)] = point
        self.tracker.by_channel[f"PJSIP/{point.number}@pstn-out"] = (point.cid, point.pid)
        point.sent_at = time.monotonic()
        point.state = "dialling"
        try:
            reply = await self.pbx.originate(
                f"PJSIP/{point.number}@pstn-out",
                context=context,
                exten="s",
                variables={
                    "CONF_ID": str(point.cid),
                    "CONF_POINT": str(point.pid),
                    "CONF_ATTEMPT": "1",
                    "CONF_TITLE": "",
                },
                account=account_code(point.cid, point.pid, 1),
                ring_timeout_ms=int(self.ring_timeout_s * 1000),
            )
        except PbxError:  # refused or unanswered: the point failed
            self.tracker._set(point, "failed", time.monotonic())
            return
        self.tracker.replied(reply.action_id, (point.cid, point.pid))

    async def dial(self, points: Sequence[Point], rate: float) -> float:
        """Originate every point at ``rate`` a second; seconds until the last was sent."""
        start = time.monotonic()
        tasks = []
        for i, point in enumerate(points):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.originate(point)))
        await asyncio.gather(*tasks)
        return time.monotonic() - start

    async def until(self, check: Any, within_s: float, poll_s: float = 0.25) -> bool:
        deadline = time.monotonic() + within_s
        while not check():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(poll_s)
        return True

    def channels(self) -> int:
        out = self.ast.cli("core show channels count")
        for line in out.splitlines():
            if "active channel" in line:
                return int(line.split()[0])
        return 0

    async def linked(self, within_s: float = 30) -> None:
        """Wait for the AMI link (a loaded machine may miss a heartbeat and reconnect)."""
        await self.until(lambda: self.link.connected, within_s)

    async def hang_up_all(self) -> None:
        self.ast.cli("channel request hangup all")
        await self.until(lambda: self.channels() == 0, 30, 0.5)
        await asyncio.sleep(1)


async def start_node(base: Settings, config: Config, meter: RtpMeter, points_rtp: bool) -> Node:
    settings = base.model_copy(
        update={
            "conference_drop_silence": config.drop_silence,
            "conference_mixing_interval_ms": config.mixing_ms,
        }
    )
    ast = await asyncio.to_thread(provision, settings, "benchconf")
    # Longer than any call here: a replayed pcap goes back in time, and Asterisk drops it.
    noise = noise_pcap(seconds=AUDIO_S) if points_rtp else None
    heard = AUDIO_S * 1000
    point = PointBehaviour.presses(answer_after_ms=300, after_ms=1500, audio=noise, audio_ms=heard)
    gateway = SippGatewayPhone(
        int(settings.callback_host.rsplit(":", 1)[1]),
        default=point,
        by_prefix=[
            (
                LEADER[:4],
                PointBehaviour.leader(tone_pcap(1000, seconds=AUDIO_S), tone_ms=AUDIO_S * 1000),
            ),
            (
                PROBE,
                PointBehaviour.presses(
                    answer_after_ms=300,
                    after_ms=1500,
                    rtp_port=meter.port,
                    audio=noise,
                    audio_ms=heard,
                ),
            ),
            (FAST, point),
            (
                SLOW,
                PointBehaviour.presses(
                    answer_after_ms=3000, after_ms=2500, audio=noise, audio_ms=heard
                ),
            ),
            (SILENT, PointBehaviour.silent(answer_after_ms=1000)),
            (BUSY, PointBehaviour.busy_line()),
            (NO_ANSWER, PointBehaviour.never_answers()),
        ],
    )
    gateway.start()
    link = AmiLink(
        host=settings.ami_host,
        port=settings.ami_port,
        username=settings.ami_username,
        secret=settings.effective_ami_secret,
        action_timeout=30,
    )
    await link.start()
    tracker = Tracker()
    link.add_listener(tracker.on_event)
    return Node(ast, settings, link, AmiPbx(link), gateway, tracker, meter)


async def stop_node(node: Node) -> None:
    await node.hang_up_all()
    await node.link.close()
    node.gateway.stop()
    await asyncio.to_thread(node.ast.stop)


# --- measuring a conference -------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    points: int
    joined: int
    cpu: CpuSpan
    probe_audio_min: float  # ms of audio a second, the worst probe
    probe_audio_mean: float
    tone_share: float
    verdict: str


async def measure(node: Node, cid: int, points: int, probes: int, seconds: float) -> Sample:
    joined = node.tracker.joined(cid) - 1 - probes  # the leader and the probes aside
    before = node.meter.sources()
    since = time.monotonic()
    watch = node.watch()
    await asyncio.sleep(seconds)
    cpu = watch.span()
    after = node.meter.sources()
    audio = sorted(
        (s.audio_ms - (before[k].audio_ms if k in before else 0)) / cpu.seconds
        for k, s in after.items()
        if s.last_at >= since
    )
    audio += [0.0] * max(probes - len(audio), 0)  # a probe that got nothing
    windows = [w for w in node.meter.windows(since) if w.audio_packets]
    share = statistics.mean(w.tone_share for w in windows) if windows else 0.0
    worst = min(audio) if audio else 0.0
    mean = statistics.mean(audio) if audio else 0.0
    if joined < points:
        verdict = f"{points - joined} did not join"
    elif worst < 900:
        verdict = "audio breaks"
    elif share < 0.5:
        verdict = "tone lost"
    elif cpu.asterisk > 0.9 * CORES:
        verdict = "Asterisk saturates the CPU"
    else:
        verdict = "ok"
    return Sample(points, joined, cpu, worst, mean, share, verdict)


async def open_conference(node: Node, cid: int, probes: int) -> None:
    """The leader first (the points hear it as they join), then the probes."""
    await node.originate(Point(cid, 0, LEADER), context="hotline-conf-leader")
    await node.until(lambda: node.tracker.joined(cid) >= 1, 15)
    await node.dial([Point(cid, 1 + i, f"{PROBE}{i + 1:06d}") for i in range(probes)], 20)
    await node.until(lambda: node.tracker.joined(cid) >= 1 + probes, 20)
    await asyncio.sleep(1)


async def grow(node: Node, cid: int, have: int, target: int, probes: int, rate: float) -> None:
    new = [Point(cid, 1000 + i, f"{FAST}{i:06d}") for i in range(have, target)]
    await node.dial(new, rate)
    await node.until(lambda: node.tracker.joined(cid) >= 1 + probes + target, 20 + len(new) / rate)


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    if len(xs) < 2:
        return math.nan
    mx, my = statistics.mean(xs), statistics.mean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else math.nan


@dataclass
class Ramp:
    config: Config
    rate: float
    baseline: Sample
    samples: list[Sample]
    controls: dict[int, dict[str, list[float]]] = field(default_factory=dict)

    @property
    def held(self) -> int:
        ok = [s.points for s in self.samples if s.verdict == "ok"]
        return max(ok) if ok else 0

    def cpu_per_point_ms(self) -> float:
        """Asterisk's CPU per point (ms a second) from the slope over the good steps."""
        good = [self.baseline, *[s for s in self.samples if s.verdict == "ok"]]
        return 1000 * slope([s.points for s in good], [s.cpu.asterisk for s in good])


async def ramp(
    node: Node,
    steps: Sequence[int],
    probes: int,
    rate: float,
    secs: float,
    control_repeats: int,
) -> Ramp:
    cid = 1
    controls_at: dict[int, dict[str, list[float]]] = {}
    await open_conference(node, cid, probes)
    baseline = await measure(node, cid, 0, probes, secs)
    print(f"  baseline (leader + {probes} probes): Asterisk {baseline.cpu.asterisk:.3f} cores")
    samples: list[Sample] = []
    have = 0
    for target in steps:
        await grow(node, cid, have, target, probes, rate)
        have = target
        await asyncio.sleep(2)
        sample = await measure(node, cid, target, probes, secs)
        samples.append(sample)
        print(
            f"  {target} points: joined {sample.joined}, Asterisk {sample.cpu.asterisk:.2f} "
            f"cores (busiest thread {sample.cpu.busiest_thread:.2f}), machine "
            f"{100 * sample.cpu.machine:.0f} %, SIPp {sample.cpu.sipp:.2f}, "
            f"probe audio min {sample.probe_audio_min:.0f} ms/s, tone {sample.tone_share:.2f}"
            f" -> {sample.verdict}"
        )
        if sample.verdict != "ok":
            break
        controls_at[target] = await controls(node, cid, control_repeats)
    return Ramp(Config(True, 40), rate, baseline, samples, controls_at)


# --- controls -------------------------------------------------------------------------------


async def timed(
    pbx: AmiPbx, action: str, fields: dict[str, str], *, as_list: bool = False
) -> float:
    start = time.perf_counter()
    try:
        await pbx.link.action(action, fields, as_list=as_list)
    except PbxError:
        return math.inf
    return 1000 * (time.perf_counter() - start)


async def controls(node: Node, cid: int, repeats: int) -> dict[str, list[float]]:
    """Each control ``repeats`` times; a refused or lost one counts as ``inf``."""
    name = bridge_name(cid)
    await node.linked()
    listing = await node.pbx.link.action("ConfbridgeList", {"Conference": name}, as_list=True)
    channels = [
        r["Channel"]
        for r in listing
        if r.get("Event") == "ConfbridgeList" and "pstn-out" in r.get("Channel", "")
    ]
    one = channels[len(channels) // 2]
    out: dict[str, list[float]] = {}
    for _ in range(repeats):
        for label, action, channel in (
            ("unmute participants", "ConfbridgeUnmute", "participants"),
            ("mute participants", "ConfbridgeMute", "participants"),
            ("unmute one point", "ConfbridgeUnmute", one),
            ("mute one point", "ConfbridgeMute", one),
        ):
            ms = await timed(node.pbx, action, {"Conference": name, "Channel": channel})
            out.setdefault(label, []).append(ms)
        ms = await timed(node.pbx, "ConfbridgeList", {"Conference": name}, as_list=True)
        out.setdefault("ConfbridgeList (every member)", []).append(ms)
        await node.linked()
        await asyncio.sleep(0.2)
    return out


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# --- dialling to a final roll ---------------------------------------------------------------


@dataclass(frozen=True)
class RollRun:
    points: int
    rate: float
    dial_s: float
    final_s: float | None  # None: not every point was final in time
    counts: dict[str, int]
    to_present_p50: float
    to_present_p95: float


def roll_numbers(n: int, seed: int = 1022) -> list[str]:
    rng = random.Random(seed)
    kinds = [k for k, weight in ROLL_MIX for _ in range(weight)]
    return [f"{rng.choice(kinds)}{i:06d}" for i in range(n)]


async def roll(node: Node, cid: int, n: int, rate: float) -> RollRun:
    await open_conference(node, cid, 0)
    points = [Point(cid, 1 + i, number) for i, number in enumerate(roll_numbers(n))]
    start = time.monotonic()
    dial_s = await node.dial(points, rate)
    done = await node.until(
        lambda: all(p.final_at is not None for p in points), 60 + node.ring_timeout_s, 0.5
    )
    final_s = max(p.final_at or 0.0 for p in points) - start if done else None
    counts = {s: sum(1 for p in points if p.state == s) for s in FINAL}
    counts["not final"] = sum(1 for p in points if p.state not in FINAL)
    waits = [p.present_at - p.sent_at for p in points if p.present_at is not None]
    await node.hang_up_all()
    return RollRun(
        n,
        rate,
        dial_s,
        final_s,
        counts,
        statistics.median(waits) if waits else math.nan,
        pct(waits, 0.95) if waits else math.nan,
    )


# --- the run ----------------------------------------------------------------------------------


def base_settings(state_dir: Path) -> Settings:
    return Settings(
        state_dir=state_dir,
        ami_port=free_port(),
        sip_port=free_udp_tcp_port(),
        agi_port=free_port(),
        agent_count=1,
        rtp_start=30000,
        rtp_end=39999,
        callback_host=f"127.0.0.1:{free_udp_tcp_port()}",
    )


@dataclass
class Figures:
    ramp: Ramp | None = None
    configs: list[tuple[Config, Sample, Sample]] = field(default_factory=list)
    rolls: list[RollRun] = field(default_factory=list)
    asterisk: str = ""
    load_start: str = ""
    load_end: str = ""
    wall_s: float = 0.0


def parse_list(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


async def run(args: argparse.Namespace) -> Figures:
    figures = Figures(load_start=" ".join(f"{x:.2f}" for x in os.getloadavg()))
    started = time.monotonic()
    state = Path(tempfile.mkdtemp(prefix="bench-conf-"))
    base = base_settings(state)
    meter = RtpMeter()
    meter.start()
    points_rtp = not args.silent_points
    try:
        default = Config(True, 40)
        print(f"ramp ({default.label()}), steps {args.steps}")
        node = await start_node(base, default, meter, points_rtp)
        node.ring_timeout_s = args.ring_timeout_s
        figures.asterisk = node.ast.version()
        try:
            figures.ramp = await ramp(
                node,
                parse_list(args.steps),
                args.probes,
                args.ramp_rate,
                args.measure_s,
                args.control_repeats,
            )
            await node.hang_up_all()
            await node.linked()
            held = figures.ramp.held or parse_list(args.steps)[0]
            sizes = sorted({*parse_list(args.roll_sizes), held})
            for cid, (n, rate) in enumerate(
                ((n, r) for n in sizes for r in parse_list(args.rates)), start=100
            ):
                print(f"roll: {n} points at {rate}/s")
                await node.linked()
                run_ = await roll(node, cid, n, rate)
                figures.rolls.append(run_)
                print(f"  dial {run_.dial_s:.1f} s, final {run_.final_s} s, {run_.counts}")
        finally:
            await stop_node(node)
        n = min(args.config_points, figures.ramp.held or args.config_points)
        for drop in (True, False):
            for mixing in parse_list(args.mixings):
                config = Config(drop, mixing)
                print(f"{config.label()}: {n} points")
                node = await start_node(base, config, meter, points_rtp)
                try:
                    await open_conference(node, 1, args.probes)
                    idle = await measure(node, 1, 0, args.probes, args.measure_s / 2)
                    await grow(node, 1, 0, n, args.probes, args.ramp_rate)
                    await asyncio.sleep(2)
                    full = await measure(node, 1, n, args.probes, args.measure_s)
                    figures.configs.append((config, idle, full))
                    print(
                        f"  Asterisk {idle.cpu.asterisk:.3f} -> {full.cpu.asterisk:.3f} cores,"
                        f" {full.verdict}"
                    )
                finally:
                    await stop_node(node)
    finally:
        meter.stop()
        Asterisk.locate("benchconf", build=False).remove()
    figures.load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    figures.wall_s = time.monotonic() - started
    return figures


def report(figures: Figures, argv: Sequence[str], args: argparse.Namespace) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cmd = shlex.join([".venv/bin/python", "bench/conference_capacity.py", *argv])
    lines = [
        f"## {now}",
        "",
        f"- command: `{cmd}`",
        f"- machine: {CORES} cores; {figures.asterisk}; Python "
        f"{platform.python_version()}; load average at start {figures.load_start}, at the "
        f"end {figures.load_end} (a shared machine: other work ran too)",
        "- phones: one SIPp gateway phone on the same machine answers every number; points "
        f"press 1 1.5 s after answering, then {'send -55 dBFS noise (20 ms µ-law)' if not args.silent_points else 'send nothing'}; "  # noqa: E501
        f"{args.probes} probe points' audio measured by an RtpMeter; the leader (a number "
        "behind the gateway) joins first and sends a 1 kHz tone throughout",
        f"- wall time {figures.wall_s / 60:.1f} min",
        "",
    ]
    ramp_ = figures.ramp
    if ramp_ is not None:
        lines += [
            f"### Points one node holds ({ramp_.config.label()}), added at "
            f"{ramp_.rate:g}/s, measured {args.measure_s:g} s per step",
            "",
            "| points | joined | Asterisk cores | its busiest thread | machine busy | SIPp "
            "cores | probe audio ms/s min / mean | tone share | verdict |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for s in [ramp_.baseline, *ramp_.samples]:
            lines.append(
                f"| {s.points} | {s.joined} | {s.cpu.asterisk:.3f} | {s.cpu.busiest_thread:.3f} "
                f"| {100 * s.cpu.machine:.0f} % "
                f"| {s.cpu.sipp:.2f} | {s.probe_audio_min:.0f} / {s.probe_audio_mean:.0f} | "
                f"{s.tone_share:.2f} | {s.verdict} |"
            )
        per = ramp_.cpu_per_point_ms()
        lines += [
            "",
            f"- **most held: {ramp_.held} points** (the last step that passed)",
            f"- **Asterisk CPU per point: {per:.2f} ms a second** ({per / 10:.3f} % of a "
            "core), the slope over the steps that passed",
            "",
        ]
    if figures.configs:
        n = figures.configs[0][2].points
        lines += [
            f"### {n} points in each configuration",
            "",
            "| dsp_drop_silence | mixing ms | Asterisk cores, leader + probes | with the "
            "points | its busiest thread | CPU per point ms/s | probe audio ms/s min | tone "
            "share | verdict |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for config, idle, full in figures.configs:
            per = 1000 * (full.cpu.asterisk - idle.cpu.asterisk) / max(full.points, 1)
            lines.append(
                f"| {'on' if config.drop_silence else 'off'} | {config.mixing_ms} | "
                f"{idle.cpu.asterisk:.3f} | {full.cpu.asterisk:.3f} | "
                f"{full.cpu.busiest_thread:.3f} | {per:.2f} | "
                f"{full.probe_audio_min:.0f} | {full.tone_share:.2f} | {full.verdict} |"
            )
        lines.append("")
    if ramp_ is not None and ramp_.controls:
        lines += [
            "### Controls at each step that passed (AMI round trip, the answer's wait)",
            "",
            "| points | action | n | p50 ms | p95 ms | max ms | lost |",
            "|---:|---|---:|---:|---:|---:|---:|",
        ]
        for points, table in sorted(ramp_.controls.items()):
            for label, values in table.items():
                done = [v for v in values if math.isfinite(v)] or [math.nan]
                lines.append(
                    f"| {points} | {label} | {len(values)} | {statistics.median(done):.1f} | "
                    f"{pct(done, 0.95):.1f} | {max(done):.1f} | {len(values) - len(done)} |"
                )
        lines.append("")
    if figures.rolls:
        mix = ", ".join(f"{w} % {k}" for k, w in ROLL_MIX)
        lines += [
            "### Dialling to a final roll",
            "",
            f"Mix of numbers: {mix} ({FAST}: press 1 at 1.8 s; {SLOW}: at 5.5 s; {SILENT}: "
            f"never; {BUSY}: busy; {NO_ANSWER}: rings {args.ring_timeout_s:g} s); no redial.",
            "",
            "| points | rate /s | all dialled s | final roll s | present | absent | failed | "
            "not final | to present p50 s | p95 s |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in figures.rolls:
            final = f"{r.final_s:.1f}" if r.final_s is not None else "—"
            lines.append(
                f"| {r.points} | {r.rate:g} | {r.dial_s:.1f} | {final} | {r.counts['present']} "
                f"| {r.counts['absent']} | {r.counts['failed']} | {r.counts['not final']} | "
                f"{r.to_present_p50:.1f} | {r.to_present_p95:.1f} |"
            )
        lines.append("")
    return "\n".join(lines)


TITLE = (
    "# The command conference on one Asterisk node\n\n"
    "Each run below was appended by `bench/conference_capacity.py` with the exact command."
)


def record(results: Path, text: str) -> None:
    append_run(results, TITLE, text)
    print(f"recorded in {results}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="a smoke run: a few points, ~1 min")
    p.add_argument("--steps", default="100,200,300,400,500,600,800,1000,1300,1600,1900")
    p.add_argument("--ramp-rate", type=float, default=50.0, help="points a second in the ramp")
    p.add_argument("--measure-s", type=float, default=8.0)
    p.add_argument("--probes", type=int, default=5)
    p.add_argument("--config-points", type=int, default=200)
    p.add_argument("--mixings", default="20,40,80", help="mixing intervals (ms) to compare")
    p.add_argument("--roll-sizes", default="100,300")
    p.add_argument("--rates", default="20,50")
    p.add_argument("--ring-timeout-s", type=float, default=20.0)
    p.add_argument("--control-repeats", type=int, default=10)
    p.add_argument("--silent-points", action="store_true", help="points send no RTP")
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--no-record", action="store_true")
    return p


QUICK = {
    "steps": "4,8",
    "measure_s": 2.0,
    "probes": 2,
    "config_points": 4,
    "mixings": "40",
    "roll_sizes": "6",
    "rates": "20",
    "ring_timeout_s": 5.0,
    "control_repeats": 3,
}


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so the phones, the calls and the instance are cleaned up


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _interrupted)
    args = build_parser().parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            if getattr(args, key) == build_parser().get_default(key):
                setattr(args, key, value)
    figures = asyncio.run(run(args))
    text = report(figures, argv, args)
    print(text)
    if not args.no_record:
        record(Path(args.results), text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
