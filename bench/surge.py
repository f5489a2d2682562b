"""Benchmark: the surge day HCMC's relief line had in July 2021, plain queue vs the hotline.

Ho Chi Minh City's relief branch, 22–25 Jul 2021: about 59,000 calls a day, 5.11 % taken,
with 20–30 operators (the domain notes). ``simulation.surge`` runs one day of citizens
(``simulation.surge_model``: hourly profile, needs, patience, the redial model and its
sources) twice on the same citizens and the same random draws: a plain FIFO queue, and the
hotline as configured. For each staffing scenario the number of citizens is first calibrated
so that the plain queue makes ``--attempts`` attempts (59,000), then both arms run for each
seed. Prints the figures, and appends them with the command, date, machine and load to
``bench/results/surge.md``.

    python bench/surge.py                       # 3 seeds, both scenarios: a few minutes
    python bench/surge.py --seeds 1 --no-record

Scenarios (the same staff in both arms):

- ``round-the-clock``: 25 operators on duty every hour (the issue's "25 operators");
- ``shifts``: 25 operators as the head count of three 8-hour shifts (8, 9, 8 on duty):
  what the 5.11 % answered implies — 3,015 answered calls of AHT 180 s are 150 operator-hours,
  not the 600 of 25 operators round the clock.

Arms: ``plain``; ``hotline`` (offers judged as the service does, ``queues.wait_estimate``:
the estimated wait counts the callers of the caller's category and of heavier queues);
``hotline, own-queue estimate`` (the rule the service had before: the caller's own district
queue only), to show what the rule's change does.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from simulation.surge import HOTLINE, PLAIN, ArmResult, run_arm, window
from simulation.surge_model import SurgeParams, citizens

RESULTS = Path(__file__).resolve().parent / "results" / "surge.md"
HEADER = """# The surge: HCMC's July 2021 day, plain queue vs the hotline as configured

Each run below was appended by `python bench/surge.py` (a discrete-event simulation,
`simulation/surge.py`) or `python bench/surge_peak.py` (its peak calls on a real Asterisk);
the reading at the top is written from them. Other engineers' work
ran on the same 2-core machine at the same time: the simulation's figures do not depend on
it (only its wall time does).

"""

SCENARIOS: dict[str, tuple[int, ...]] = {
    "round-the-clock": (25,) * 24,
    "shifts": (8,) * 8 + (9,) * 8 + (8,) * 8,
}
ARMS: tuple[tuple[str, str, str], ...] = (
    ("plain", PLAIN, "service"),
    ("hotline", HOTLINE, "service"),
    ("hotline, own-queue estimate", HOTLINE, "own-queue"),
)
PEAK_HOURS = (9, 11)  # the DES's busiest hours of the attempts, checked on the real Asterisk


@dataclass(frozen=True)
class Calibration:
    citizens: int
    steps: tuple[tuple[int, int], ...]  # (citizens, plain attempts)


def calibrate(params: SurgeParams, target: int, seed: int, rounds: int = 3) -> Calibration:
    """Citizens such that the plain queue makes about ``target`` attempts: attempts grow
    about in proportion to citizens, so each round scales the count by target / attempts."""
    n = max(1, round(target / params.redial.expected_attempts() * 1.5))
    steps = []
    for _ in range(rounds):
        p = replace(params, citizens=n)
        attempts = run_arm(PLAIN, citizens(p, seed), p, seed).attempts
        steps.append((n, attempts))
        if attempts == target:
            break
        n = max(1, round(n * target / max(1, attempts)))
    return Calibration(n, tuple(steps))


def figures(r: ArmResult) -> dict[str, float]:
    return {
        "citizens": r.citizens,
        "served": r.served,
        "by agent": r.served_by["agent"],
        "by callback": r.served_by["callback"],
        "by announcement": r.served_by["announcement"],
        "unserved at 24:00": r.unserved,
        "of them gave up": r.gave_up,
        "of them still trying": r.still_trying,
        "attempts": r.attempts,
        "answered by an agent": r.answered,
        "answered share of attempts": r.answered_share,
        "abandon rate (after 5 s)": r.abandon_rate,
        "ASA s": r.asa_s,
        "emergency citizens": r.emergency_citizens,
        "emergencies answered ≤ 15 s": r.emergency_within_15s,
        "emergency citizens served": r.emergency_served,
        "callbacks requested": r.callbacks_requested,
        "callbacks completed": r.callbacks_completed,
        "callback offers refused (caps)": r.callback_offers_refused,
    }


SHARES = {"answered share of attempts", "abandon rate (after 5 s)"}


def _fmt(v: float, share: bool = False) -> str:
    if share:
        return f"{v:.1%}"
    return f"{v:,.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.1f}"


def ceiling(
    params: SurgeParams, hotline: Sequence[dict[str, float]], plain_served: Sequence[float]
) -> str:
    """The most the hotline arm could serve with these agents: the citizens the
    announcements served, plus one new citizen per AHT of every agent-second of the day
    (no idle agent, no unanswered callback ringing, nobody served twice), at most all."""
    agent_s = sum(params.agents_by_hour) * params.day_s / 24
    by_agents = agent_s / params.aht_s
    bound = [
        min(params.citizens, f["by announcement"] + by_agents) / p
        for f, p in zip(hotline, plain_served, strict=True)
    ]
    return (
        f"Ceiling of the hotline arm with these agents: {by_agents:,.0f} citizens by agents "
        f"({agent_s / 3600:,.0f} agent-hours ÷ AHT {params.aht_s:g} s) + those the "
        f"announcements served, at most all {params.citizens:,}: "
        f"{statistics.fmean(bound):.2f}× the plain queue ({min(bound):.2f}–{max(bound):.2f})."
    )


def run(seeds: Sequence[int], target: int, scenarios: Sequence[str], base: SurgeParams) -> str:
    out: list[str] = []
    for name in scenarios:
        params = replace(base, agents_by_hour=SCENARIOS[name])
        cal = calibrate(params, target, seeds[0])
        params = replace(params, citizens=cal.citizens)
        steps = ", ".join(f"{n:,} citizens → {a:,} attempts" for n, a in cal.steps)
        out.append(f"### Scenario `{name}`: agents by hour {list(params.agents_by_hour)}\n")
        out.append(f"Calibration (plain arm, seed {seeds[0]}): {steps}; used {cal.citizens:,}.\n")
        per_arm: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in ARMS}
        peaks: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in ARMS}
        for seed in seeds:
            people = citizens(params, seed)
            for label, arm, ahead in ARMS:
                r = run_arm(arm, people, replace(params, offer_ahead=ahead), seed)
                per_arm[label].append(figures(r))
                peaks[label].append(window(r, PEAK_HOURS[0] * 3600, PEAK_HOURS[1] * 3600))
        labels = [label for label, _, _ in ARMS]
        out.append("| figure (mean of seeds; min–max) | " + " | ".join(labels) + " |")
        out.append("|---" * (1 + len(labels)) + "|")
        for key in per_arm[labels[0]][0]:
            cells = []
            for label in labels:
                vals = [f[key] for f in per_arm[label]]
                mean = statistics.fmean(vals)
                pct = key in SHARES
                spread = (
                    f" ({_fmt(min(vals), pct)}–{_fmt(max(vals), pct)})" if len(vals) > 1 else ""
                )
                cells.append(_fmt(mean, pct) + spread)
            out.append(f"| {key} | " + " | ".join(cells) + " |")
        plain_served = [f["served"] for f in per_arm["plain"]]
        ratio_cells = ["1.00×"]
        for label in labels[1:]:
            ratios = [f["served"] / p for f, p in zip(per_arm[label], plain_served, strict=True)]
            ratio_cells.append(
                f"{statistics.fmean(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})"
            )
        out.append("| **unique citizens served ÷ plain** | " + " | ".join(ratio_cells) + " |")
        out.append("")
        out.append(ceiling(params, per_arm["hotline"], plain_served) + "\n")
        h0, h1 = PEAK_HOURS
        out.append(
            f"Peak hours {h0:02d}:00–{h1:02d}:00 in the simulation (attempts arriving then):\n"
        )
        out.append(
            "| arm | attempts/h | answered by an agent | abandoned | announcement "
            "| callback taken | agents took, per hour: callers on the line + callback dials |"
        )
        out.append("|---|---|---|---|---|---|---|")
        hours = h1 - h0
        for label in labels:
            w = peaks[label]
            out.append(
                f"| {label} | {statistics.fmean(x['attempts'] for x in w) / hours:,.0f} | "
                f"{statistics.fmean(x['answered_share'] for x in w):.1%} | "
                f"{statistics.fmean(x['abandoned'] / max(1, x['attempts']) for x in w):.1%} | "
                f"{statistics.fmean(x['announcement'] / max(1, x['attempts']) for x in w):.1%} | "
                f"{statistics.fmean(x['callback'] / max(1, x['attempts']) for x in w):.1%} | "
                f"{statistics.fmean(x['agent_answers'] for x in w) / hours:,.0f} + "
                f"{statistics.fmean(x['callback_dials'] for x in w) / hours:,.0f} |"
            )
        out.append("")
    return "\n".join(out)


def describe(p: SurgeParams, target: int, seeds: Sequence[int]) -> str:
    r = p.redial
    needs = ", ".join(f"{k} {v:.1%}" for k, v in p.needs.items())
    return (
        f"- target: {target:,} attempts a day in the plain arm; seeds {list(seeds)}\n"
        f"- AHT {p.aht_s:g} s (talk {p.talk_s:g} s exponential + wrap-up {p.wrapup_s:g} s); "
        f"patience {p.patience_s:g} s exponential; needs: {needs}; hourly profile of "
        f"`bench/stats_queries.py` (peak 8 % of the day at 09–10 h)\n"
        f"- redials (the retrial model of Hoffman & Harris 1986, EJOR 27:207–214, and Aguir, "
        f"Karaesmen, Akşin & Chauvet 2004, OR Spectrum 26:353–376, with a persistence that "
        f"wears off, ours): after the k-th failure one more attempt with "
        f"probability {r.first:g} × {r.decay:g}^(k−1), after an exponential delay of mean "
        f"{r.mean_delay_s / 60:g} min, at most {r.max_attempts} attempts; a citizen who never "
        f"gets through makes {r.expected_attempts():.1f} attempts on average (values ours: "
        f"the sources give the model, not HCMC's figures)\n"
        f"- hotline: information announcements enough for {1 - p.info_wants_agent:.0%} of "
        f"information callers; callbacks offered over {p.callback_threshold_s:g} s estimated "
        f"wait, {p.callback_attempts} dials {p.callback_retry_s:g} s apart ringing "
        f"{p.callback_ring_s:g} s, caps {p.callback_max_per_number}/number/day and "
        f"{p.callback_max_per_hour}/hour (the settings); {p.callback_accept:.0%} of offers "
        f"taken, {p.callback_answer:.0%} of dials answered (assumptions)\n"
    )


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="seeds 1..N (default 3)")
    ap.add_argument("--attempts", type=int, default=59_000, help="plain arm's attempts a day")
    ap.add_argument("--scenario", choices=sorted(SCENARIOS), action="append")
    ap.add_argument("--day-s", type=float, default=86_400.0, help="shorter days for tests")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args(argv)
    seeds = list(range(1, args.seeds + 1))
    scenarios = args.scenario or list(SCENARIOS)
    base = SurgeParams(day_s=args.day_s)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    started = time.monotonic()
    body = run(seeds, args.attempts, scenarios, base)
    wall = time.monotonic() - started
    when = datetime.now(UTC)
    text = (
        f"## {when:%Y-%m-%d %H:%M} UTC\n\n"
        f"- command: `python bench/surge.py {shlex.join(argv)}`; wall time {wall:.0f} s\n"
        f"- machine: {platform.node()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average before the run {load} (other work ran "
        f"at the same time)\n" + describe(base, args.attempts, seeds) + "\n" + body + "\n"
    )
    print(text)
    if not args.no_record:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        new = not args.results.exists()
        with args.results.open("a", encoding="utf-8") as f:
            if new:
                f.write(HEADER)
            f.write(text)
        print(f"recorded in {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
