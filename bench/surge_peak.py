"""Benchmark: the surge simulation's peak on the real Asterisk, beside the simulation.

Simulates the surge day (``simulation.surge``, scenario ``round-the-clock``: 25 agents), takes
the calls each arm put in a queue from ``--start`` for ``--minutes`` (after ``--warmup``
minutes that fill the queue), and places exactly those calls — same seconds, same
patiences, the need's path in the default menu — through a throwaway hotline on a real
Asterisk with 25 SIPp agents (``simulation.peak.run_peak`` with the plan of
``simulation.surge_peak.replay_plan``), at ``--time-scale``. Prints and appends to
``bench/results/surge.md`` the simulation's figures for those calls beside the measured ones.

    python bench/surge_peak.py --citizens 21263            # 09:00-09:30, scale 10
    python bench/surge_peak.py --arm plain --minutes 10

Callback offers are turned off in the stack for the replay (the simulation's callback dials
are not placed), and the information callers the announcements served are not placed:
``simulation/surge_peak.py`` lists what the replay does not carry.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simulation.peak import run_peak
from simulation.surge import HOTLINE, PLAIN, run_arm
from simulation.surge_model import SurgeParams, citizens
from simulation.surge_peak import des_figures, replay_plan

RESULTS = Path(__file__).resolve().parent / "results" / "surge.md"
ROWS = (
    ("calls that reached a queue", "reached_queue", "{:,.0f}"),
    ("answered", "answered", "{:,.0f}"),
    ("abandoned", "abandoned", "{:,.0f}"),
    ("abandon rate (after 5 s)", "abandon_rate", "{:.1%}"),
    ("SL 15 s", "sl_15s", "{:.1%}"),
    ("ASA s", "asa_s", "{:.1f}"),
)


def _cell(fmt: str, v: Any) -> str:
    return "—" if v is None else fmt.format(v)


def measured_figures(data: dict[str, Any]) -> dict[str, Any]:
    m = data["measured"]
    return {
        "reached_queue": m["reached_queue"],
        "answered": m["answered"],
        "abandoned": m["abandoned_queue"],
        "abandon_rate": m["abandon_rate"],
        "sl_15s": m["service_levels"].get("90%/15s"),
        "asa_s": m["asa_s"],
    }


def table(arm: str, des: dict[str, Any], real: dict[str, Any] | None, fifo: Any) -> str:
    head = f"| {arm}: figure (unscaled) | simulation | real Asterisk | FIFO replay of the run |"
    rows = [head, "|---|---|---|---|"]
    for label, key, fmt in ROWS:
        r = "—" if real is None else _cell(fmt, real.get(key))
        f = "—" if fifo is None else _cell(fmt, fifo.get(key))
        rows.append(f"| {label} | {_cell(fmt, des.get(key))} | {r} | {f} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--citizens", type=int, default=21_263, help="bench/surge.py's calibration")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=float, default=9.0, help="hour of the day")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--time-scale", type=float, default=10.0)
    ap.add_argument("--arm", choices=(PLAIN, HOTLINE), action="append")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    params = replace(SurgeParams(), citizens=args.citizens)
    people = citizens(params, args.seed)
    start_s = args.start * 3600
    end_s = start_s + args.minutes * 60
    sections = []
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    for arm in args.arm or [PLAIN, HOTLINE]:
        result = run_arm(arm, people, params, args.seed)
        plan = replay_plan(
            result,
            people,
            params,
            args.seed,
            start_s=start_s,
            end_s=end_s,
            warmup_s=args.warmup * 60,
            scale=args.time_scale,
            agents=params.agents_at(start_s),
        )
        print(plan.describe(), flush=True)
        des = des_figures(result, start_s, end_s)
        began = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "peak.json"
            ns = argparse.Namespace(database_url="", json=out)
            rc = asyncio.run(run_peak(ns, plan=plan, settings={"callback_threshold_s": -1}))
            data = json.loads(out.read_text()) if out.exists() else None
        wall = time.monotonic() - began
        real = measured_figures(data) if data else None
        fifo = None
        if data and data.get("replayed"):
            r = data["replayed"]
            fifo = {
                "reached_queue": r.get("reached_queue"),
                "answered": r.get("answered"),
                "abandoned": r.get("abandoned_queue"),
                "abandon_rate": r.get("abandon_rate"),
                "sl_15s": r.get("service_levels", {}).get("90%/15s"),
                "asa_s": r.get("asa_s"),
            }
        lost = "—" if data is None else data.get("lost")
        em = des["emergency_within_15s"]
        sections.append(
            f"#### Arm `{arm}`: {plan.schedule.window[1] - plan.schedule.window[0]:.0f} s "
            f"measured, {len(plan.schedule.arrivals)} calls placed (exit {rc}, lost {lost}, "
            f"wall {wall / 60:.1f} min)\n\n"
            + table(arm, des, real, fifo)
            + (f"\n\nSimulation: emergencies answered within 15 s {em:.1%}." if em else "")
        )
        print(sections[-1], flush=True)  # each arm's table as soon as it is measured
    text = (
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — real Asterisk, peak "
        f"{args.start:g} h + {args.minutes:g} min, time scale {args.time_scale:g}\n\n"
        f"- command: `python bench/surge_peak.py {shlex.join(argv)}`\n"
        f"- machine: {platform.node()}, {os.cpu_count()} cores; load average before the run "
        f"{load} (other work ran at the same time)\n"
        f"- {args.citizens:,} citizens, seed {args.seed}; callback offers off in the stack; "
        "waits from queue entry; app_queue re-checks a waiting caller once a second of the "
        f"clock = {args.time_scale:g} s unscaled\n\n" + "\n\n".join(sections) + "\n\n"
    )
    print(text)
    with args.results.open("a", encoding="utf-8") as f:
        f.write(text)
    print(f"recorded in {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
