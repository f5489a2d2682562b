"""The IVR bench's verdicts come from what it counted: a step passes or fails on its own
figures, and the sustained rates and their ratio come from the steps that passed.

No Asterisk and no timing here: ``bench/ivr_agi_vs_dialplan.py`` itself drives the calls.
"""

from __future__ import annotations

from typing import Any

from tests.bench.loader import load_bench

bench = load_bench("ivr_agi_vs_dialplan.py")


def step(mode: str, rate: float, *, routed: int, placed: int = 100, p95: float = 4.9) -> Any:
    s = bench.Step(mode=mode, offered=rate, placed=placed, routed=routed, p95=p95)
    s.achieved = rate
    return s


def test_a_step_fails_on_keys_lost_slow_routing_or_a_rate_asterisk_did_not_see() -> None:
    ok = step("agi", 60, routed=100)
    bench.judge(ok, base_p95=4.85)
    assert ok.passed and ok.why == "pass"
    lost = step("agi", 60, routed=98)  # two calls whose key was lost: not routed
    bench.judge(lost, base_p95=4.85)
    assert not lost.passed and lost.failed == 2 and "routed 98.0 %" in lost.why
    slow = step("agi", 60, routed=100, p95=7.0)
    bench.judge(slow, base_p95=4.85)
    assert not slow.passed and "p95" in slow.why
    unseen = step("dialplan", 65, routed=100)
    unseen.achieved = 60.0
    bench.judge(unseen, base_p95=4.85)
    assert not unseen.passed and "Asterisk saw 60.0/s" in unseen.why


def test_sustained_rates_and_their_ratio_come_from_the_passing_steps() -> None:
    steps = []
    for rate, agi_routed in ((40, 100), (50, 100), (60, 97)):
        for mode, routed in (("agi", agi_routed), ("dialplan", 100)):
            s = step(mode, rate, routed=routed)
            bench.judge(s, base_p95=4.85)
            steps.append(s)
    agi = bench.sustained(steps, "agi", 60)
    dialplan = bench.sustained(steps, "dialplan", 60)
    assert agi[:2] == (50, False) and dialplan[:2] == (60, True)
    assert bench.share_text(agi, dialplan) == "≤ 0.83 (the dialplan reached the ceiling)"
    assert bench.ratio_text(agi, dialplan) == "≥ 1.20 (dialplan reached the ceiling)"


def test_both_modes_at_the_ceiling_say_so() -> None:
    steps = [step(m, r, routed=100) for r in (30, 65) for m in ("agi", "dialplan")]
    for s in steps:
        bench.judge(s, base_p95=4.85)
    agi, dialplan = bench.sustained(steps, "agi", 65), bench.sustained(steps, "dialplan", 65)
    text = bench.share_text(agi, dialplan)
    assert text.startswith("1.00 at 65 calls/s") and "ceiling capped both" in text
