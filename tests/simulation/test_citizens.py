"""Scheduled citizens: each menu path is one pcap of RFC 4733 events, the keys spaced apart."""

from __future__ import annotations

import itertools
import struct
from xml.etree import ElementTree

import pytest

from simulation.agents import agent_scenario, feature_code_scenario
from simulation.citizens import peak_citizen_scenario
from simulation.sipp import PCAP_DIR, dtmf_sequence_pcap


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
