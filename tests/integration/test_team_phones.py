"""The default teams' phones on a real Asterisk: every endpoint is loaded, and a SIPp phone
registers as a commune's team with the password from the secrets (no service needed)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline1022.settings import Settings
from provision.asterisk import Asterisk
from provision.instance import provision
from provision.secrets import team_phone_password
from simulation.agents import SippAgent
from simulation.ports import asterisk_rtp_range, next_media_port
from simulation.sipp import SippError
from simulation.stack import free_port, free_udp_tcp_port

pytestmark = pytest.mark.asterisk


@pytest.fixture(scope="module")
def asterisk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Asterisk, Settings]]:
    rtp_start, rtp_end = asterisk_rtp_range()
    settings = Settings(
        state_dir=tmp_path_factory.mktemp("teams"),
        ami_port=free_port(),
        sip_port=free_udp_tcp_port(),
        agi_port=free_port(),
        agent_count=2,
        rtp_start=rtp_start,
        rtp_end=rtp_end,
        callback_host=f"127.0.0.1:{free_udp_tcp_port()}",
    )
    ast = provision(settings, f"teams{random.randrange(1 << 20):05x}")
    try:
        yield ast, settings
    finally:
        ast.remove()


def test_every_team_phone_is_an_endpoint(asterisk: tuple[Asterisk, Settings]) -> None:
    ast, _ = asterisk

    listing = ast.cli("pjsip show endpoints")

    names = set(re.findall(r"Endpoint:\s+((?:team|center)-[a-z]\d+)", listing))
    assert len(names) == 111
    assert {"team-c25741", "team-d718", "center-d718", "team-p74", "center-p74"} <= names
    detail = ast.cli("pjsip show endpoint team-c25741")
    assert re.search(r"context\s*:\s*teams", detail)


def test_a_sipp_team_phone_registers_with_its_password(
    asterisk: tuple[Asterisk, Settings], tmp_path: Path
) -> None:
    ast, settings = asterisk
    password = team_phone_password(settings.secrets, "team-c25741")

    phone = SippAgent(
        "team-c25741",
        password,
        settings.sip_port,
        free_udp_tcp_port(),
        next_media_port(),
        workdir=tmp_path,
    )
    phone.register()

    assert "team-c25741/sip:" in ast.cli("pjsip show contacts")

    wrong = SippAgent(
        "team-d718",
        password,  # another team's password
        settings.sip_port,
        free_udp_tcp_port(),
        next_media_port(),
        workdir=tmp_path / "wrong",
    )
    (tmp_path / "wrong").mkdir()
    with pytest.raises(SippError, match="team-d718 could not register"):
        wrong.register(timeout=5)
