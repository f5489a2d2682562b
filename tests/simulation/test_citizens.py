"""Scheduled citizens: each menu path is one pcap of RFC 4733 events, the keys spaced apart."""

from __future__ import annotations

import itertools
import struct

import pytest

from simulation.agents import agent_scenario
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
