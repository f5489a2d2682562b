"""``hotline1022 simulate`` in peak mode on a real Asterisk, at a tiny scale: 20 Poisson
calls on the default menu's paths, 3 agents, every duration divided by 20, callers with a
patience. The figures must add up and no call may be lost; nothing here is about speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import build_parser
from simulation.peak import run_peak

pytestmark = [pytest.mark.asterisk]


async def test_a_tiny_peak_hour_loses_no_call_and_its_figures_add_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "peak.json"
    args = build_parser().parse_args(
        [
            "simulate",
            "--calls-per-hour", "120",
            "--aht", "60",
            "--agents", "3",
            "--time-scale", "20",
            "--duration", "20calls",
            "--patience", "40",
            "--json", str(out),
        ]
    )  # fmt: skip
    assert await run_peak(args) == 0
    result = json.loads(out.read_text())
    m = result["measured"]
    assert result["lost"] == 0
    assert result["placed"] == result["asterisk_saw"] == result["service_recorded"] == 20
    assert m["offered"] == m["recorded"] == m["reached_queue"] == 20
    assert m["answered"] + m["abandoned_queue"] == 20
    assert m["abandoned_ivr"] == m["other"] == 0
    # Only the simulated patience hangs a waiting caller up.
    assert m["abandoned_queue"] <= result["gave_up"]
    assert m["double_booked"] == 0
    assert 0 <= m["asa_s"] <= m["max_wait_s"]
    for level in m["service_levels"].values():
        assert 0 <= level <= 1
    assert 0 < m["occupancy"] <= 1
    models = [p["model"] for p in result["predictions"]]
    assert models[:2] == ["Erlang C, nominal", "Erlang A, nominal"]
    assert result["summary"] == capsys.readouterr().out.strip().splitlines()[-1]
