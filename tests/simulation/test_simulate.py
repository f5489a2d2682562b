"""Constant-rate runs: Asterisk's CDR against the service's records, the summary."""

from __future__ import annotations

from pathlib import Path

from simulation.simulate import asterisk_calls, percentile, split_calls, summarize
from store.models import Call


def test_cdr_rows_for_1022_are_the_calls_asterisk_saw(tmp_path: Path) -> None:
    cdr = tmp_path / "Master.csv"
    cdr.write_text(
        '"","0901","1022","citizens","""An"" <0901>","PJSIP/pstn-1","PJSIP/agent01-2",'
        '"Queue","medical","2026-11-22 03:00:00","2026-11-22 03:00:01",'
        '"2026-11-22 03:00:05","5","4","ANSWERED","DOCUMENTATION","1.0",""\n'
        '"","0901","1022","citizens","","PJSIP/pstn-1","","Queue","medical",'
        '"2026-11-22 03:00:00","","2026-11-22 03:00:05","5","0","NO ANSWER",'
        '"DOCUMENTATION","1.0",""\n'
        '"","agent01","600","agents","","PJSIP/agent01-3","","Echo","",'
        '"2026-11-22 03:00:00","","2026-11-22 03:00:05","5","0","ANSWERED",'
        '"DOCUMENTATION","9.0",""\n'
    )
    assert asterisk_calls(cdr) == {"1.0"}
    assert asterisk_calls(tmp_path / "missing.csv") == set()


def test_lost_counts_calls_without_a_complete_record() -> None:
    calls = [
        Call(uniqueid="1.0", status="answered", complete=True, wait_s=2.0),
        Call(uniqueid="2.0", status="queued", complete=False, wait_s=None),
        Call(uniqueid="3.0", status="abandoned_ivr", complete=True),
    ]
    s = summarize(4, calls, {"1.0", "2.0", "3.0", "4.0"})
    assert (s.offered, s.answered, s.abandoned, s.lost) == (4, 1, 1, 2)
    assert s.line().startswith("offered=4 answered=1 abandoned=1 lost=2 p50_wait_s=2.00")


def test_split_and_percentiles() -> None:
    assert split_calls(300) == [("1", 90), ("2", 90), ("3", 90), ("", 30)]
    assert sum(n for _, n in split_calls(7)) == 7
    assert percentile([], 50) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
