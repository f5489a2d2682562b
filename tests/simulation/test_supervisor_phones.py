"""The SIPp actors of issue 15: a citizen whose voice is a pcap played after the keys, and a
supervisor's phone (a registered endpoint whose audio may go to a meter)."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest

from simulation.citizens import citizen_scenario
from simulation.supervisor_phones import SippSupervisorPhone
from simulation.team_phones import team_phone_scenario


def test_a_citizen_speaks_after_pressing_the_keys(tmp_path: Path) -> None:
    voice = tmp_path / "tone.pcap"
    scenario = citizen_scenario("", voice=voice)
    ElementTree.fromstring(scenario)  # well-formed
    assert f'play_pcap_audio="{voice}"' in scenario
    assert "play_pcap_audio" not in citizen_scenario("")


def test_a_supervisors_phone_registers_and_its_audio_may_go_to_a_meter() -> None:
    with pytest.raises(ValueError, match="registers"):
        SippSupervisorPhone(local_port=5999, media_port=24000)
    phone = SippSupervisorPhone(
        local_port=5999,
        media_port=24000,
        endpoint="sup01",
        password="pw",
        server_port=5060,
        keys="5",
    )
    assert (phone.keys, phone.wait_for_bye_ms) == ("5", 3_600_000)
    phone.stop()  # never started: removes its work directory
    scenario = team_phone_scenario(keys="", port_offset=-120)
    ElementTree.fromstring(scenario)
    assert "m=audio [media_port-120] RTP/AVP 0 101" in scenario
    assert "m=audio [media_port] RTP/AVP" in team_phone_scenario(keys="")
