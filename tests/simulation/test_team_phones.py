"""The SIPp team phone's scenario and what it tells of its calls (no SIPp run here; the
real-Asterisk test is tests/integration/test_dispatch_phone.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from simulation.sipp import SippError
from simulation.team_phones import SippTeamPhone, TeamPhoneCall, team_phone_scenario


def _steps(xml: str) -> list[ET.Element]:
    return list(ET.fromstring(xml))


def test_an_answering_phone_listens_then_presses_its_keys_in_turn() -> None:
    xml = team_phone_scenario(keys="21", answer_after_ms=800, first_key_after_ms=2000)
    steps = _steps(xml)
    waits = [s for s in steps if s.tag == "recv" and s.get("request") == "BYE"]
    # Before each key a BYE may end the call; after the last, the BYE is awaited.
    assert [(w.get("timeout"), w.get("ontimeout"), w.get("next")) for w in waits] == [
        ("2000", "key0", "bye"),
        ("3000", "key1", "bye"),
        ("120000", "nobye", None),
    ]
    plays = [e.get("play_pcap_audio", "") for e in ET.fromstring(xml).iter("exec")]
    assert [Path(p).name for p in plays] == ["dtmf_2_0.pcap", "dtmf_1_1.pcap"]
    assert '<pause milliseconds="800"/>' in xml and "SIP/2.0 200 OK" in xml
    assert steps[-1].tag == "Reference" and steps[-1].get("variables") == "uri,cs,cseq"


def test_a_busy_phone_answers_486_and_one_that_never_answers_waits_for_the_cancel() -> None:
    busy = team_phone_scenario(busy=True)
    assert "486 Busy Here" in busy and "200 OK" not in busy
    silent = team_phone_scenario(answer_after_ms=None)
    assert "CANCEL" in silent and "487 Request Terminated" in silent
    assert "CSeq: [$cseq] INVITE" in silent  # the 487 answers the INVITE, not the CANCEL
    assert _steps(silent)[-1].get("variables") == "uri,cs"


def test_a_negative_answer_delay_is_refused() -> None:
    with pytest.raises(SippError):
        team_phone_scenario(answer_after_ms=-1)


def test_calls_are_read_from_the_log_per_call(tmp_path: Path) -> None:
    phone = SippTeamPhone(5090, 40000, workdir=tmp_path)
    (tmp_path / "team_123_logs.log").write_text(
        "team-phone 1 0913000001 called\n"
        "team-phone 1 0913000001 answered\n"
        "team-phone 2 0913000002 called\n"
        "team-phone 1 0913000001 key 2\n"
        "team-phone 2 0913000002 busy\n"
        "something else entirely\n"
        "team-phone 1 0913000001 key 1\n"
        "team-phone 1 0913000001 bye\n"
    )
    assert phone.calls() == [
        TeamPhoneCall("0913000001", ("called", "answered", "key 2", "key 1", "bye")),
        TeamPhoneCall("0913000002", ("called", "busy")),
    ]
    first, second = phone.calls()
    assert (first.keys, first.outcome, second.keys, second.outcome) == ("21", "bye", "", "busy")
    assert phone.called() == ["0913000001", "0913000002"]
