"""Benchmark: calls through a throwaway hotline while every kind of fault hits it.

Runs ``hotline1022 simulate --chaos`` (on a private PostgreSQL server, which the ``stop-db``
fault really stops) and appends the command, the per-fault rebuild times and the summary
line to ``bench/results/chaos.md``. The default: 300 calls at 1 a second with 20 agents, and
every fault kind once during the five minutes::

    python bench/chaos.py
    python bench/chaos.py --calls 600 --rate 2 --chaos kill-service@30s,...
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "chaos.md"

DEFAULT_SPEC = (
    "kill-service@20s,restart-asterisk@55s,cut-ami@85s,cut-ami@105s+half-open,"
    "stop-db@130s/60s,agi-flood@215s/500/30s"
)


def commit() -> str:
    """The commit the run is on (``+dirty`` with uncommitted changes)."""
    root = Path(__file__).resolve().parent.parent
    git = ["git", "-C", str(root)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True)
    name = head.stdout.strip() or "unknown"
    return f"{name}+dirty" if dirty.stdout.strip() else name


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rate", type=float, default=1.0)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--chaos", default=DEFAULT_SPEC)
    parser.add_argument("--note", default="", help="what code this run is on, for the record")
    args = parser.parse_args(argv)
    sim = [
        "simulate",
        "--calls",
        str(args.calls),
        "--rate",
        str(args.rate),
        "--agents",
        str(args.agents),
        "--chaos",
        args.chaos,
    ]
    exe = Path(sys.executable).with_name("hotline1022")
    started = time.monotonic()
    proc = subprocess.run([str(exe), *sim], capture_output=True, text=True)
    elapsed = time.monotonic() - started
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr[-5000:])
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    summary = lines[-1] if lines else "(no summary)"
    shown = ("service up", "placed ", "fault ", "records dated", "misdated", "routes by")
    detail = [ln for ln in lines if ln.lstrip().startswith((*shown, "off-path", "lost "))]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    new = not RESULTS.exists()
    with RESULTS.open("a", encoding="utf-8") as f:
        if new:
            f.write(
                "# hotline1022 simulate --chaos — recorded runs\n\n"
                "Each run: the service as a child process (`hotline1022 serve`), its AMI link "
                "through a proxy that cuts it or leaves it half-open, a private PostgreSQL "
                "server that `stop-db` stops with `pg_ctl stop -m fast`. `rebuild_s`: seconds "
                "from each fault's end (restart, reconnect, database back, flood gone) until "
                "`GET /health` says the service is ready again. `lost`: calls in Asterisk's "
                "CDR without a complete record in the service's database.\n\n"
            )
        f.write(
            f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
            f"- command: `hotline1022 {shlex.join(sim)}` "
            f"(via `python bench/chaos.py {shlex.join(argv)}`)\n"
            f"- machine: {platform.node()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}\n"
            f"- code: {commit()}{' — ' + args.note if args.note else ''}\n"
            f"- wall time: {elapsed:.1f} s, exit code {proc.returncode}\n"
            + "".join(f"{'  ' if ln.startswith(' ') else ''}- {ln.strip()}\n" for ln in detail)
            + f"\n```\n{summary}\n```\n\n"
        )
    print(f"recorded in {RESULTS}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
