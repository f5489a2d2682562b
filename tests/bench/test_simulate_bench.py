"""bench/simulate_calls.py keeps the lines that tell SIPp's sending from Asterisk's intake."""

from __future__ import annotations

from tests.bench.loader import load_bench


def test_the_record_keeps_the_rates_delays_cpu_and_counts_beside_the_summary() -> None:
    bench = load_bench("simulate_calls.py")
    out = "\n".join(
        [
            "2026-12-06 18:00:00,000 INFO queues.agents: agent agent01 logged in",
            "rates: asked 20.0/s; SIPp sent 600 INVITEs over 29.8 s: 20.1/s; Asterisk saw ...",
            "delays: INVITE sent to Asterisk's CDR start (+-0.5 s) p50 1.0 s ...",
            "intake: 200 OK (INVITE retransmitted at 0.5, ...) 550 before 0.5 s, ...",
            "CPU: machine 100% busy ...",
            "placed 600 calls in 88.3 s at 20.0/s, 60 agents (1 SIPp processes); ...",
            "offered=600 answered=600 abandoned=0 lost=0 p50_wait_s=1.00 p95_wait_s=2.00 "
            "unreached=0",
            "",
        ]
    )
    summary, details = bench.reading(out)
    assert summary.startswith("offered=600") and summary.endswith("unreached=0")
    assert [d.split()[0] for d in details] == ["rates:", "delays:", "intake:", "CPU:", "placed"]
    assert bench.reading("") == ("(no summary)", [])
