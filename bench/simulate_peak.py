"""Benchmark (a): the peak hour of a 15,000-call day through a throwaway hotline.

Runs ``hotline1022 simulate`` in peak mode — 1,500 calls/h (10 % of the day), Poisson
arrivals on the default menu's paths, exponential talk of mean 180 s, as many agents as
``staffing`` recommends for 90 % in 15 s and 95 % in 20 s (Erlang C, no occupancy cap: 86),
15 min of warm-up before the measured hour and 2 min after — prints what it printed, and
appends the figures with the command, date, machine and CPU to
``bench/results/simulate_peak.md``, beside Erlang C's (and, with ``--patience``, Erlang A's)
predictions for the same load and agent count.

    python bench/simulate_peak.py                    # real time: ~80 min
    python bench/simulate_peak.py --time-scale 10    # ~9 min; waits quantised to 10 s

Extra arguments go to ``hotline1022 simulate`` and override the defaults above.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "simulate_peak.md"

DEFAULTS = {
    "--calls-per-hour": "1500",
    "--aht": "180",
    "--agents": "auto",
    "--duration": "60m",
    "--warmup": "15",
    "--cooldown": "2",
    "--time-scale": "1",
    "--targets": "90:15,95:20",
}

HEADER = """# Benchmark (a): the peak hour of a 15,000-call day — `hotline1022 simulate` vs Erlang

Each run below was appended by `python bench/simulate_peak.py` with the exact command; what it
printed is quoted as it was.

"""


def _args(argv: list[str]) -> list[str]:
    given = {a.split("=", 1)[0] for a in argv if a.startswith("--")}
    out: list[str] = []
    for flag, value in DEFAULTS.items():
        if flag not in given:
            out += [flag, value]
    return out + argv


def _pct(v: Any) -> str:
    return "—" if v is None else f"{v:.1%}"


def _sec(v: Any) -> str:
    return "—" if v is None else f"{v:.1f}"


def section(
    argv: list[str], data: dict[str, Any], stdout: str, rc: int, wall: float, load: str
) -> str:
    p, m, cpu = data["plan"], data["measured"], data["cpu"]
    w = p["wall"]
    # The FIFO replay has the measured figures' shape; shown as a column beside the models.
    r = data.get("replayed")
    preds = (
        [{**r, "model": "FIFO replay", "p_wait": r["waited_share"], "aht_s": None}] if r else []
    ) + data["predictions"]
    head = "| figure (unscaled) | measured | " + " | ".join(x["model"] for x in preds) + " |"
    rule = "|---" * (2 + len(preds)) + "|"
    rows = []
    for i, label in enumerate(p["targets"]):
        ci = f" ±{m['service_level_ci']:.1%}" if i == 0 and m["service_level_ci"] else ""
        rows.append(
            f"| SL {label} | {_pct(m['service_levels'][label])}{ci} | "
            + " | ".join(_pct(x["service_levels"][label]) for x in preds)
            + " |"
        )
    asa_ci = f" ±{m['asa_ci']:.1f}" if m["asa_ci"] else ""
    rows.append(
        f"| ASA s | {_sec(m['asa_s'])}{asa_ci} | "
        + " | ".join(_sec(x["asa_s"]) for x in preds)
        + " |"
    )
    rows.append(
        f"| waited > 1 s (model: P(wait)) | {_pct(m['waited_share'])} | "
        + " | ".join(_pct(x["p_wait"]) for x in preds)
        + " |"
    )
    rows.append(
        f"| abandon rate (after 5 s) | {_pct(m['abandon_rate'])} | "
        + " | ".join(_pct(x["abandon_rate"]) for x in preds)
        + " |"
    )
    rows.append(
        f"| occupancy | {_pct(m['occupancy'])} | "
        + " | ".join(_pct(x["occupancy"]) for x in preds)
        + " |"
    )
    aht = None if m["talk_mean_s"] is None else m["talk_mean_s"] + p["wrapup_s"]
    rows.append(
        f"| load: calls/h, AHT s | {m['calls_per_hour']:.0f}, {_sec(aht)} | "
        + " | ".join(f"{x['calls_per_hour']:.0f}, {_sec(x['aht_s'] or aht)}" for x in preds)
        + " |"
    )
    groups = ", ".join(f"{k} {v:.2f}" for k, v in cpu["groups_cores"].items())
    summary = next(
        (ln for ln in reversed(stdout.splitlines()) if ln.startswith("offered=")), "(none)"
    )
    quoted = "\n".join(
        ln
        for ln in stdout.splitlines()
        if ln.strip() and " INFO " not in ln and not ln.startswith("callbacks;")
    )
    scale = p["time_scale"]
    cap = "none" if p["max_occupancy"] is None else f"{p['max_occupancy']:.0%}"
    who = f"staffing's recommendation, occupancy cap {cap}" if p["agents_auto"] else "given"
    return f"""## {data["started_at"]} — time scale {scale:g}

- command: `hotline1022 simulate {shlex.join(_args(argv))}` (via
  `python bench/simulate_peak.py {shlex.join(argv)}`), exit code {rc}, wall time
  {wall / 60:.1f} min
- machine: {data["machine"]["node"]}, {data["machine"]["cores"]} cores, Python
  {data["machine"]["python"]}; load average before the run {load}
- CPU during the schedule: machine {cpu["machine_mean"]:.0%} busy on average (p95
  {cpu["machine_p95"]:.0%}); in cores: {groups}, **others {cpu["others_cores"]:.2f}** (other
  engineers' tests on the shared machine); the service handled Asterisk's AMI events
  {data["event_lag_p95_s"] * 1000:.0f} ms after they were stamped (p95, max
  {data["event_lag_max_s"] * 1000:.0f} ms)
- unscaled: {p["calls_per_hour"]:g} calls/h, AHT {p["aht_s"]:g} s (talk {p["talk_s"]:g} s
  exponential, wrap-up {p["wrapup_s"]} s), {p["agents"]} agents
  ({who}),
  patience {"none" if p["patience_s"] is None else f"{p['patience_s']:g} s exponential"},
  targets {", ".join(p["targets"])}; {p["scheduled_calls"]} Poisson arrivals (seed
  {p["seed"]}): warm-up {p["warmup_s"] / 60:g} min, measured window
  {(p["measured_window_s"][1] - p["measured_window_s"][0]) / 60:.1f} min, cool-down
  {p["cooldown_s"] / 60:g} min
- on the clock (÷ {scale:g}): {w["calls_per_s"]:.3f} calls/s, mean talk {w["talk_ms"] / 1000:g} s,
  wrap-up {w["wrapup_s"]} s, SL thresholds {", ".join(f"{t:g} s" for t in w["sl_thresholds_s"])},
  schedule {w["schedule_s"] / 60:.1f} min; app_queue re-checks a waiting caller once a second
  of the clock = {scale:g} s unscaled
- calls: placed {data["placed"]} ({data["late_calls"]} dialled late, latest by
  {data["latest_ms"]:.0f} ms), Asterisk's CDR {data["asterisk_saw"]}, service records
  {data["service_recorded"]}, **lost {data["lost"]}**; measured window: offered {m["offered"]},
  reached a queue {m["reached_queue"]}, answered {m["answered"]}, abandoned
  {m["abandoned_queue"]} ({m["short_abandons"]} within 5 s), left in the IVR
  {m["abandoned_ivr"]}; longest wait {_sec(m["max_wait_s"])} s, p95 {_sec(m["p95_wait_s"])} s;
  {m["waited"]} callers waited, {m["on_the_second"]} of them were answered within 100 ms
  after a whole second of the clock; agents double-booked {m["double_booked"]}

{head}
{rule}
{chr(10).join(rows)}

± = 95 % half-width from 6 batch means over the measured window. "FIFO replay" = these very
calls (queue entry times, talk times, patiences) through an ideal pooled first-come-first-served
queue of the same agents: measured − replay is Asterisk's doing, replay − Erlang the luck of
one hour. "as offered" = Erlang for the arrival rate and mean talk this run actually drew
(talk cut at the end counted as censored).

```
{summary}
```

<details><summary>what the command printed</summary>

```
{quoted}
```
</details>

"""


def main(argv: list[str]) -> int:
    exe = Path(sys.executable).with_name("hotline1022")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "peak.json"
        cmd = [str(exe), "simulate", *_args(argv), "--json", str(out)]
        started = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.monotonic() - started
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr[-3000:])
        if not out.exists():
            print("no figures: the simulation did not finish", file=sys.stderr)
            return proc.returncode or 1
        data = json.loads(out.read_text())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    new = not RESULTS.exists()
    with RESULTS.open("a", encoding="utf-8") as f:
        if new:
            f.write(HEADER)
        f.write(section(argv, data, proc.stdout + proc.stderr, proc.returncode, wall, load))
    print(f"recorded in {RESULTS} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores)")
    print(f"machine: {platform.node()}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
