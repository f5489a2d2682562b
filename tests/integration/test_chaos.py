"""``hotline1022 simulate --chaos`` on a real Asterisk, short: 20 calls while the service is
killed with SIGKILL and restarted, and its AMI link is cut and then left half-open. No call
may be lost, and each fault's rebuild time is printed."""

from __future__ import annotations

import re

import pytest

from cli.main import build_parser
from simulation.chaos import run_chaos
from simulation.chaos_spec import parse_spec

pytestmark = [pytest.mark.asterisk]


async def test_twenty_calls_through_a_kill_and_two_ami_faults_lose_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = "kill-service@3s,cut-ami@8s,cut-ami@13s+half-open"
    args = build_parser().parse_args(
        ["simulate", "--calls", "20", "--rate", "2", "--agents", "5", "--talk-ms", "1000",
         "--chaos", spec]
    )  # fmt: skip
    assert await run_chaos(args, parse_spec(spec)) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = out[-1]
    assert summary.startswith("offered=20 ")
    assert summary.endswith(" lost=0")
    rebuilt = re.search(r"rebuild_s=(\S+)", summary)
    assert rebuilt is not None
    times = dict(part.split(":") for part in rebuilt.group(1).split(","))
    assert set(times) == {"kill-service", "cut-ami", "cut-ami+half-open"}
    assert all(float(t) >= 0 for t in times.values())
    # The service really was a new process after the kill.
    assert any("service started 2 time(s)" in line for line in out)
