"""Benchmark: SIPp calls through a throwaway hotline on a real Asterisk.

Runs ``hotline1022 simulate`` with the given arguments, prints its output, and appends the
figures with the exact command, date and machine to ``bench/results/simulate.md``.

    python bench/simulate_calls.py --calls 300 --rate 5 --agents 20
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "simulate.md"


def _load(avg: tuple[float, float, float]) -> str:
    return ", ".join(f"{x:.2f}" for x in avg)


# The lines of ``hotline1022 simulate`` worth keeping beside the summary: the rate SIPp sent
# the INVITEs at and the rate Asterisk saw them arrive at ("rates:"), where the calls waited
# ("delays:"), which INVITE of a call got through ("intake:"), the CPU each part used
# ("CPU:"), and the counts ("placed").
DETAIL_PREFIXES = ("rates:", "delays:", "intake:", "CPU:", "placed ")


def reading(stdout: str) -> tuple[str, list[str]]:
    """The summary line (the last) and the detail lines of a run's output."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    summary = lines[-1] if lines else "(no summary)"
    return summary, [ln for ln in lines[:-1] if ln.startswith(DETAIL_PREFIXES)]


def main(argv: list[str]) -> int:
    exe = Path(sys.executable).with_name("hotline1022")
    cmd = [str(exe), "simulate", *argv]
    load_before = os.getloadavg()
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr[-3000:])
    summary, details = reading(proc.stdout)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    new = not RESULTS.exists()
    with RESULTS.open("a", encoding="utf-8") as f:
        if new:
            f.write("# hotline1022 simulate — recorded runs\n\n")
        f.write(
            f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
            f"- command: `hotline1022 simulate {shlex.join(argv)}` "
            f"(via `python bench/simulate_calls.py {shlex.join(argv)}`)\n"
            f"- machine: {platform.node()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}\n"
            f"- wall time: {elapsed:.1f} s, exit code {proc.returncode}\n"
            f"- load average (1, 5, 15 min) before: {_load(load_before)}; after: "
            f"{_load(load_after)}\n"
            + "".join(f"- {d}\n" for d in details)
            + f"\n```\n{summary}\n```\n\n"
        )
    print(f"load average (1, 5, 15 min) before: {_load(load_before)}; after: {_load(load_after)}")
    print(f"recorded in {RESULTS}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
