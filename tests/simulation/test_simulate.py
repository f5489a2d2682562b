"""Constant-rate runs: Asterisk's CDR against the service's records, the summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulation.citizens import CallTimes
from simulation.simulate import (
    answered_after,
    arrival_rate,
    asterisk_arrivals,
    asterisk_calls,
    asterisk_starts,
    percentile,
    sent_rate,
    split_calls,
    summarize,
    timing,
    udp_drops,
)
from simulation.sipp import failure_counts, stat_counter
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
    assert s.unreached == 0 and s.line().endswith(" unreached=0")


def test_calls_placed_that_asterisk_never_saw_are_unreached_not_silently_fine() -> None:
    # 600 placed, Asterisk saw 9 (it had no RTP port for the rest): none is "lost" by the
    # service, but 591 never got through.
    seen = {f"{i}.0" for i in range(9)}
    calls = [Call(uniqueid=u, status="answered", complete=True, wait_s=0.1) for u in seen]
    s = summarize(600, calls, seen)
    assert (s.lost, s.unreached) == (0, 591)
    assert s.line().endswith(" unreached=591")


def test_split_and_percentiles() -> None:
    assert split_calls(300) == [("124", 90), ("27", 90), ("3", 90), ("", 30)]
    assert sum(n for _, n in split_calls(7)) == 7
    assert percentile([], 50) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


def test_arrivals_are_each_calls_first_cdr_start_and_the_rate_spans_whole_seconds(
    tmp_path: Path,
) -> None:
    def row(uid: str, start: str, exten: str = "1022") -> str:
        return (
            f'"","0901","{exten}","citizens","","PJSIP/pstn-1","","Queue","medical",'
            f'"{start}","","{start}","1","0","NO ANSWER","DOCUMENTATION","{uid}",""\n'
        )

    cdr = tmp_path / "Master.csv"
    cdr.write_text(
        row("1.0", "2026-11-22 03:00:00")
        + row("2.0", "2026-11-22 03:00:01")
        # the same call's second CDR (a later queue attempt): not a new arrival
        + row("1.0", "2026-11-22 03:00:04")
        + row("3.0", "2026-11-22 03:00:03")
        + row("9.0", "2026-11-22 03:00:09", exten="600")
    )
    arrivals = asterisk_arrivals(cdr)
    assert [a.second for a in arrivals] == [0, 1, 3]
    # three calls from 03:00:00 to 03:00:03: four whole seconds
    assert arrival_rate(arrivals) == 0.75
    assert arrival_rate(arrivals[:1]) == 0.0
    assert asterisk_arrivals(tmp_path / "missing.csv") == []


def test_a_failed_sipp_runs_counters_say_why_its_calls_failed() -> None:
    header = (
        "StartTime;CurrentCall;SuccessfulCall(C);FailedCall(P);FailedCall(C);"
        "FailedMaxUDPRetrans(P);FailedMaxUDPRetrans(C);FailedUnexpectedMessage(C);"
        "FailedTimeoutOnRecv(C);Retransmissions(C)"
    )
    early = "2026-12-06\t14:39:50;10;0;0;0;0;0;0;0;0"
    last = "2026-12-06\t14:49:50;0;570;1;30;0;6;24;0;9"
    assert failure_counts("\n".join([header, early, last, ""])) == {
        "FailedCall": 30,
        "FailedMaxUDPRetrans": 6,
        "FailedUnexpectedMessage": 24,
    }
    assert failure_counts(header) == {}


def test_retransmissions_are_read_from_the_last_statistics_line() -> None:
    header = "StartTime;CurrentCall;Retransmissions(P);Retransmissions(C)"
    lines = [header, "t0;10;3;3", "t1;0;2;1773", ""]
    assert stat_counter("\n".join(lines), "Retransmissions") == 1773
    assert stat_counter(header, "Retransmissions") == 0
    assert stat_counter("\n".join(lines), "FailedCall") == 0


def test_timing_tells_sipp_sending_late_from_asterisk_taking_calls_in_late(
    tmp_path: Path,
) -> None:
    """SIPp sent 4 calls 0.1 s apart (10/s); Asterisk's CDR starts them 0, 0, 2 and 5 s
    after the first second: it took them in late, not SIPp."""

    def row(number: str, uid: str, start: str) -> str:
        return (
            f'"","{number}","1022","citizens","","PJSIP/pstn-1","","Queue","medical",'
            f'"{start}","","{start}","1","0","NO ANSWER","DOCUMENTATION","{uid}",""\n'
        )

    cdr = tmp_path / "Master.csv"
    cdr.write_text(
        row("0901", "1.0", "2026-12-06 18:00:00")
        + row("0902", "2.0", "2026-12-06 18:00:00")
        + row("0903", "3.0", "2026-12-06 18:00:02")
        + row("0904", "4.0", "2026-12-06 18:00:05")
    )
    starts = asterisk_starts(cdr, by=1)
    assert sorted(starts) == ["0901", "0902", "0903", "0904"]
    t0 = starts["0901"].timestamp()  # 18:00:00 UTC: the CDR is in GMT
    assert t0 % 60 == 0 and starts["0901"].hour == 18
    times = {
        n: CallTimes(n, t0 + 0.1 * i, t0 + 0.1 * i + 0.05 if i < 3 else None)
        for i, n in enumerate(["0901", "0902", "0903", "0904"])
    }
    assert sent_rate([t.sent for t in times.values()]) == pytest.approx(10.0)
    t = timing(10.0, times, starts, retransmissions=7, sip_socket_drops=3)
    assert (t.sent, t.arrived) == (4, 4)
    assert t.sent_per_s == pytest.approx(10.0)
    assert t.arrived_per_s == pytest.approx(4 / 6)
    assert t.intake_max_s == pytest.approx(5.5 - 0.3)
    assert (t.unanswered, t.answer_max_s) == (1, pytest.approx(0.05))
    rates, delays, intake = t.lines()
    assert "SIPp sent 4 INVITEs over 0.3 s: 10.0/s" in rates and "arrive over 6 s" in rates
    # three 200 OKs, 0.1 s apart
    assert t.answered_per_s == pytest.approx(10.0)
    assert rates.endswith("answered (200 OK at SIPp) over 0.2 s: 10.0/s")
    assert "1 never answered" in delays and "retransmissions 7" in delays
    assert intake.startswith("intake: 200 OK") and "3 before 0.5 s, 0 before 1.5 s" in intake
    assert intake.endswith("(receive buffer full): 3")
    assert sent_rate([1.0]) == 0.0 and sent_rate([]) == 0.0


def test_answers_are_counted_by_the_invite_retransmission_they_followed() -> None:
    # 0.2 s: the first INVITE; 0.9: after the 1st retransmission (0.5 s); 16.1: the 5th.
    assert answered_after([0.2, 0.3, 0.9, 16.1, 40.0]) == [2, 1, 0, 0, 0, 2]
    assert answered_after([]) == [0] * 6


def test_drops_are_read_for_the_socket_bound_to_the_port(tmp_path: Path) -> None:
    table = tmp_path / "udp"
    head = (
        "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
        "  timeout inode ref pointer drops\n"
    )
    row = (
        "  {sl}: 0100007F:{port:04X} 00000000:0000 07 00000000:00000000 00:00000000 00000000"
        "  1000        0 {inode} 2 0000000000000000 {drops}\n"
    )
    table.write_text(
        head
        + row.format(sl=1, port=5060, inode=11, drops=0)
        + row.format(sl=2, port=25060, inode=12, drops=417)
    )
    assert udp_drops(25060, str(table)) == 417
    assert udp_drops(5060, str(table)) == 0
    assert udp_drops(5061, str(table)) is None
    assert udp_drops(5060, str(tmp_path / "missing")) is None
