"""Scheduled citizens: each menu path is one pcap of RFC 4733 events, the keys spaced apart."""

from __future__ import annotations

import itertools
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

from simulation.agents import agent_scenario, feature_code_scenario
from simulation.citizens import (
    call_times,
    citizen_scenario,
    parse_call_times,
    peak_citizen_scenario,
    run_citizens,
)
from simulation.sipp import PCAP_DIR, dtmf_sequence_pcap, remove_run
from simulation.stack import free_udp_tcp_port


def test_each_path_is_one_pcap_with_the_keys_spaced_apart() -> None:
    if not (PCAP_DIR / "dtmf_2833_1.pcap").exists():
        pytest.skip("sip-tester's pcaps are not installed")
    data = dtmf_sequence_pcap("114", 1250).read_bytes()
    offset, records = 24, []
    while offset + 16 <= len(data):
        sec, usec, captured = struct.unpack_from("<III", data, offset)
        rtp = offset + 16 + 42
        records.append(
            (sec + usec / 1e6, data[rtp + 12], struct.unpack_from(">I", data, rtp + 4)[0])
        )
        offset += 16 + captured
    firsts = [records[0]] + [b for a, b in itertools.pairwise(records) if a[2] != b[2]]
    assert [event for _, event, _ in firsts] == [1, 1, 4]
    assert [round(t - firsts[0][0], 3) for t, _, _ in firsts] == [0, 1.25, 2.5]
    scenario = peak_citizen_scenario(
        [dtmf_sequence_pcap("3", 1250), dtmf_sequence_pcap("114", 1250)]
    )
    assert 'condexec="seq1"' in scenario and "gettimeofday" in scenario
    assert '<pause distribution="exponential" mean="18000"/>' in agent_scenario(
        18000, exponential=True
    )


def test_an_agent_phone_dials_a_feature_code_as_itself() -> None:
    """The first INVITE is challenged; only the second answers it, as the agent; the SDP
    sends the hotline's audio to the listening port, not to SIPp's."""
    xml = feature_code_scenario("agent01", "s3cret", "*22", 41234)
    root = ElementTree.fromstring(xml)
    sends = [e.text or "" for e in root.iter("send")]
    invites = [s for s in sends if s.lstrip().startswith("INVITE sip:*22@")]
    assert len(invites) == 2
    assert "[authentication" not in invites[0]
    assert "[authentication username=agent01 password=s3cret]\n" in invites[1]
    assert all("From: <sip:agent01@[remote_ip]>" in s and "m=audio 41234 " in s for s in invites)
    assert [r.get("response") or r.get("request") for r in root.iter("recv")] == [
        "100",
        "401",
        "100",
        "180",
        "183",
        "200",
        "BYE",
    ]


def test_each_call_logs_when_its_invite_left_and_its_200_ok_came_back() -> None:
    """Against SIPp's own answering UAS: 12 calls asked at 20/s are sent 50 ms apart (the
    rate SIPp really sent at, read from the calls' log), and each is answered after it left.
    SIPp comes with ``make test`` (``scripts/install-deps.sh``): no SIPp is a failure here."""
    uas_port = free_udp_tcp_port()
    workdir = Path(tempfile.mkdtemp(prefix="sipp-uas-"))
    uas = subprocess.Popen(
        ["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(uas_port), "-nostdin", "-nd"],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        numbers = [f"0912{i:06d}" for i in range(12)]
        proc = run_citizens(
            citizen_scenario("", hangup_after_ms=50),
            numbers,
            server_port=uas_port,
            local_port=free_udp_tcp_port(),
            media_port=free_udp_tcp_port(),
            rate=20,
        )
        assert proc.wait(30) == 0
        times = call_times(proc)
        remove_run(proc)
    finally:
        uas.terminate()
        uas.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)
    assert sorted(times) == numbers
    sent = sorted(t.sent for t in times.values())
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert 0.03 < sum(gaps) / len(gaps) < 0.07
    assert all(t.answered is not None and 0 <= (t.answer_s or 0) < 1 for t in times.values())


def test_call_times_pair_each_numbers_invite_with_its_200_ok() -> None:
    log = (
        "sent 0900000001 1796579592.000000 840935.000000\n"
        "sent 0900000002 1796579592.000000 940817.000000\n"
        "answered 0900000001 1796579593.000000 43481.000000\n"
        "late 0900000003 -12.0\n"
    )
    times = parse_call_times(log)
    assert set(times) == {"0900000001", "0900000002"}
    assert times["0900000001"].answer_s == pytest.approx(0.202546)
    assert times["0900000002"].answered is None and times["0900000002"].answer_s is None
