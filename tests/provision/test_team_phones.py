"""The default teams' phones in Asterisk: secrets kept across runs, endpoints in pjsip.conf."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cli.main import main
from dispatch.teams import province_team_specs
from hotline1022.settings import Settings
from provision.asterisk import AsteriskError
from provision.instance import default_team_phones, team_phone_config
from provision.secrets import ensure_secrets, team_phone_password
from tests.asterisk_unit import unit_asterisk, unit_config


def provisioned_secrets(state: Path) -> dict[str, object]:
    specs = default_team_phones(Settings(province_code=74))
    return ensure_secrets(state, 20, team_endpoints=[s.endpoint for s in specs])


def render(tmp_path: Path) -> tuple[str, dict[str, object]]:
    root = tmp_path / "root"
    ast = unit_asterisk(tmp_path)
    secrets = provisioned_secrets(tmp_path / "state")
    agents = secrets["agents"]
    phones = secrets["phones"]
    assert isinstance(agents, dict) and isinstance(phones, dict)
    ast.render(
        unit_config(
            secrets,
            agents=[{"endpoint": ep, "password": pw, "name": ep} for ep, pw in agents.items()],
            phones=[{"endpoint": ep, "password": pw} for ep, pw in phones.items()],
            team_phones=team_phone_config(default_team_phones(Settings(province_code=74)), secrets),
        )
    )
    return (root / "var/lib/hotline1022/unit/etc/pjsip.conf").read_text(), secrets


def section(conf: str, header: str) -> str:
    """The lines of the first section with this header, up to the next one."""
    match = re.search(rf"^{re.escape(header)}\n(.*?)(?=^\[|\Z)", conf, re.M | re.S)
    assert match is not None, f"no {header} in pjsip.conf"
    return match.group(1)


def test_every_default_team_phone_is_an_endpoint_with_its_password(tmp_path: Path) -> None:
    conf, secrets = render(tmp_path)

    assert conf.count("type = auth") == 20 + 5 + 111
    assert conf.count("context = teams") == 111
    endpoint = section(conf, "[team-c25741](endpoint-common)")
    assert "context = teams" in endpoint
    assert "auth = team-c25741" in endpoint and "aors = team-c25741" in endpoint
    assert 'callerid = "Tổ phản ứng nhanh phường Hiệp Thành" <team-c25741>' in endpoint
    password = team_phone_password(secrets, "team-c25741")
    assert len(password) >= 16
    auth = section(conf, "[team-c25741]")
    assert "type = auth" in auth and "username = team-c25741" in auth
    assert f"password = {password}" in auth
    assert "[team-c25741](aor-common)" in conf
    for name in ("center-p74", "team-p74", "center-d718", "team-d726", "team-c25741"):
        assert f"[{name}](endpoint-common)" in conf
        assert f"password = {team_phone_password(secrets, name)}" in conf


def test_team_passwords_are_generated_once_and_kept(tmp_path: Path) -> None:
    first = provisioned_secrets(tmp_path)
    again = provisioned_secrets(tmp_path)

    teams = first["teams"]
    assert isinstance(teams, dict)
    assert set(teams) == {s.endpoint for s in province_team_specs(74)}
    assert again["teams"] == teams
    assert len(set(teams.values())) == 111  # each its own
    on_disk = json.loads((tmp_path / "secrets.json").read_text())
    assert on_disk["teams"] == teams
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0

    # Another province adds its phones; the first one's stay as they were.
    ensure_secrets(tmp_path, 20, team_endpoints=[s.endpoint for s in province_team_specs(77)])
    kept = json.loads((tmp_path / "secrets.json").read_text())["teams"]
    assert {ep: kept[ep] for ep in teams} == teams
    assert "team-c26506" in kept  # Phường 1, Vũng Tàu


def test_password_of_an_unknown_team_phone_says_what_to_do(tmp_path: Path) -> None:
    secrets = provisioned_secrets(tmp_path)

    with pytest.raises(KeyError, match=r"no team phone 'team-c1'.*hotline1022 asterisk provision"):
        team_phone_password(secrets, "team-c1")
    with pytest.raises(KeyError, match="no team phone"):
        team_phone_password({}, "team-c25741")


def test_an_unknown_province_stops_provisioning_with_one_line() -> None:
    with pytest.raises(AsteriskError, match="HOTLINE_PROVINCE_CODE: unknown province code 99"):
        default_team_phones(Settings(province_code=99))


def test_info_names_how_many_team_phones_and_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = provisioned_secrets(tmp_path)
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path))

    assert main(["info", "--show-passwords"]) == 0

    out = capsys.readouterr().out
    password = team_phone_password(secrets, "team-c25741")
    assert "Team phones (111, one per team; see 'hotline1022 teams list'), e.g.:\n" in out
    assert f"  user team-c25741 password {password}\n" in out
    # The SIP accounts come before the pages' sign-in users (agent1, supervisor).
    sip, _, sign_in = out.partition("Sign in to the pages")
    assert sip.count(" password ") == 5 + 5 + 1  # 5 agents, 5 test phones, 1 team phone
    assert sign_in.count(" password ") == 2
