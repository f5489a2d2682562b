"""The wallboards-and-boards benchmark: its pairing of changes with the frames screens read,
and a tiny run end to end on a real Asterisk (``--short``: 2 wallboards, 2 incident boards,
at time scale 20, with the anchor run; 10 calls, not its 20). No timing is asserted."""

from __future__ import annotations

import argparse

import pytest

from live.hub import Audience, Viewer
from tests.bench.loader import load_bench

bench = load_bench("boards_load.py")
SUPERVISOR = Viewer("supervisor")
DISTRICT = Viewer("team", team_id=3, place_path="/1/5/")


def test_each_frame_pairs_with_its_change_and_a_change_not_read_is_missed() -> None:
    everyone = Audience(place_paths=("/1/5/77/",))  # supervisors, and the district's center
    staff_only = Audience()
    nobody = Audience(staff=frozenset())  # a pop: only its agent, who has no screen here
    published = {
        1: (9.0, everyone),  # before the window
        2: (10.0, everyone),
        3: (10.5, staff_only),
        4: (11.0, nobody),
        5: (20.0, everyone),  # after the window
    }
    screens = [
        bench.Arrivals("wallboard", SUPERVISOR, [1, 2, 3], [9.01, 10.02, 10.51]),
        bench.Arrivals("wallboard", SUPERVISOR, [2], [10.05]),  # never read 3
        bench.Arrivals("board", DISTRICT, [2, 99], [10.01, 10.9]),  # 99: never published
    ]
    d = bench.deliveries(published, screens, since=10.0, until=12.0)
    assert d.changes == 3
    assert d.by_kind["wallboard"] == pytest.approx([20.0, 10.0, 50.0])
    assert d.by_kind["board"] == pytest.approx([10.0])
    assert sorted(d.to_every) == pytest.approx([10.0, 50.0])  # change 2: its last screen
    assert d.expected == 2 + 2 + 1
    assert d.missed == 1
    assert d.unknown == 1


def test_simulate_gets_the_defaults_unless_given_and_short_ones_with_short() -> None:
    full = bench.sim_args(["--time-scale", "20"], short=False)
    assert full[0] == "simulate"
    assert full.count("--time-scale") == 1 and full[-2:] == ["--time-scale", "20"]
    assert full[full.index("--calls-per-hour") + 1] == "1500"
    short = bench.sim_args([], short=True)
    assert short[short.index("--duration") + 1] == "20calls"


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    assert bench.percentile(values, 95) == pytest.approx(95.05)
    assert bench.percentile([7.0], 95) == 7.0


@pytest.mark.asterisk
async def test_a_short_run_measures_every_screen_and_both_simulations() -> None:
    args = argparse.Namespace(
        short=True,
        no_anchor=False,
        wallboards=2,
        boards=2,
        incidents_per_hour=None,
        seed=1022,
    )
    # --short's peak hour, 10 of its 20 calls: the same arrival rate and screens, each of
    # the two runs ~15 s shorter; the seeded incidents still open in the first seconds.
    text, ok = await bench.run(
        args, ["--duration", "10calls"], ["--short", "--duration", "10calls"]
    )
    assert ok, text
    assert "| figure | no screen (anchor) | 2 wallboards + 2 boards |" in text
    assert "errors: none; REST reads refused: none" in text
    assert ", missed 0; frames of unknown changes 0" in text
    for figure in ("service CPU", "service RSS", "AMI event lag p95", "each wallboard"):
        assert figure in text
    assert "| each incident board | —" not in text  # the boards saw incidents
    assert "| calls placed / lost | 10 / 0 | 10 / 0 |" in text
