"""bench/surge.py on a tiny day: it runs, records, and its figures are the simulation's."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from simulation.surge import HOTLINE, PLAIN, run_arm
from simulation.surge_model import SurgeParams, citizens
from tests.bench.loader import load_bench


def test_surge_bench_records_the_simulations_figures(tmp_path: Path) -> None:
    bench = load_bench("surge.py")
    out = tmp_path / "surge.md"
    argv = ["--seeds", "1", "--attempts", "300", "--scenario", "shifts", "--day-s", "7200"]
    assert bench.main([*argv, "--results", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# The surge") and "python bench/surge.py --seeds 1" in text
    used = re.search(r"used ([\d,]+)\.", text)
    assert used is not None
    n = int(used.group(1).replace(",", ""))
    params = replace(SurgeParams(day_s=7200), agents_by_hour=bench.SCENARIOS["shifts"], citizens=n)
    people = citizens(params, 1)
    plain, hot = (run_arm(arm, people, params, 1) for arm in (PLAIN, HOTLINE))
    row = next(ln for ln in text.splitlines() if ln.startswith("| served |"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    assert cells[:2] == [f"{plain.served:,}", f"{hot.served:,}"]
    ratio = next(ln for ln in text.splitlines() if "citizens served ÷ plain" in ln)
    assert f"{hot.served / plain.served:.2f}×" in ratio


def test_surge_peak_tables_the_measured_figures_beside_the_simulations() -> None:
    bench = load_bench("surge_peak.py")
    data = {
        "measured": {
            "reached_queue": 100,
            "answered": 40,
            "abandoned_queue": 60,
            "abandon_rate": 0.5,
            "service_levels": {"90%/15s": 0.25},
            "asa_s": 33.0,
        }
    }
    real = bench.measured_figures(data)
    des = {"reached_queue": 100, "answered": 42, "abandoned": 58, "abandon_rate": 0.48}
    text = bench.table("plain", des, real, None)
    assert "| answered | 42 | 40 | — |" in text
    assert "| abandon rate (after 5 s) | 48.0% | 50.0% | — |" in text
    assert "| SL 15 s | — | 25.0% | — |" in text
