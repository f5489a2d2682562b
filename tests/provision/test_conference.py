"""The command conference's Asterisk configuration, rendered (no Asterisk needed)."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import pytest

from hotline1022.settings import Settings
from provision.instance import conference_music
from provision.secrets import ensure_secrets
from tests.asterisk_unit import unit_asterisk, unit_config


def render(tmp_path: Path, **conference: object) -> Path:
    root = tmp_path / "root"
    ast = unit_asterisk(tmp_path)
    secrets = ensure_secrets(tmp_path / "state", 2)
    ast.render(
        unit_config(
            secrets,
            **conference,
        )
    )
    return root / "var/lib/hotline1022/unit"


def test_confbridge_profiles_follow_the_settings(tmp_path: Path) -> None:
    inst = render(tmp_path, conference_mixing_interval_ms=20, conference_drop_silence=False)
    conf = (inst / "etc/confbridge.conf").read_text()
    for section in (
        "hotline_bridge",
        "hotline_point",
        "hotline_leader",
        "hotline_link_child",
        "hotline_link_root",
        "hotline_point_menu",
        "hotline_leader_menu",
    ):
        assert f"[{section}]" in conf, section
    assert "mixing_interval = 20" in conf
    assert "dsp_drop_silence = no" in conf
    assert "* = dialplan_exec(hotline-conf-hand,s,1)" in conf
    modules = (inst / "etc/modules.conf").read_text()
    assert "load = app_confbridge.so" in modules and "load = app_record.so" in modules
    assert (inst / "spool/conferences").is_dir()


def test_the_roll_call_asks_twice_with_the_key_timeout(tmp_path: Path) -> None:
    inst = render(tmp_path, conference_key_timeout_s=3)
    dialplan = (inst / "etc/extensions.conf").read_text()
    for context in ("point", "leader", "hand", "link", "trunk", "recorder", "record"):
        assert f"[hotline-conf-{context}]" in dialplan, context
    assert "Read(CONF_KEY,${CONF_ASK},1,,1,3)" in dialplan
    # "n" in a pattern is a digit class: the link's extension spells it as a set.
    assert "exten => _co[n]f-X!,1," in dialplan
    assert "GotoIf($[${CONF_TRY} < 2]?ask)" in dialplan
    assert (
        "ConfBridge(hotline-conf-${CONF_ID},hotline_bridge,hotline_point,hotline_point_menu)"
        in dialplan
    )


def test_the_link_endpoint_exists_only_with_its_password(tmp_path: Path) -> None:
    without = (render(tmp_path) / "etc/pjsip.conf").read_text()
    assert "[hotline-link]" not in without
    pjsip = (render(tmp_path, node_link_password="s3cret-link") / "etc/pjsip.conf").read_text()
    assert "password = s3cret-link" in pjsip
    assert "context = hotline-conf-trunk" in pjsip and "outbound_auth = hotline-link" in pjsip


def test_an_existing_secrets_file_gains_the_link_password(tmp_path: Path) -> None:
    first = ensure_secrets(tmp_path, 2)
    old = {k: v for k, v in first.items() if k != "node_link"}
    (tmp_path / "secrets.json").write_text(json.dumps(old))

    again = ensure_secrets(tmp_path, 2)

    assert len(again["node_link"]) >= 32
    assert again["ami_secret"] == first["ami_secret"]
    assert ensure_secrets(tmp_path, 2)["node_link"] == again["node_link"]


def test_the_waiting_music_is_quiet_8khz_audio(tmp_path: Path) -> None:
    path = tmp_path / "moh" / "conf-wait.wav"
    conference_music(path)
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        frames = w.readframes(w.getnframes())
    samples = memoryview(frames).cast("h")
    peak = max(abs(s) for s in samples)
    assert 0 < peak < 4000


@pytest.mark.parametrize("interval", [15, 100])
def test_a_mixing_interval_confbridge_does_not_know_is_refused(interval: int) -> None:
    with pytest.raises(ValueError, match="10, 20, 40 or 80"):
        Settings(conference_mixing_interval_ms=interval)


def test_a_node_with_a_missing_field_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match=r"conference_nodes\[0\]: no 'ami_host'"):
        Settings(conference_nodes=[{"name": "b", "ami_port": 5039}])
