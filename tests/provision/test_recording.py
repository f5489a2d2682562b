"""Recording and supervisors' phones in the rendered Asterisk configuration (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbx.paths import AsteriskPaths, BadRecordingsDir
from provision.secrets import ensure_secrets, supervisor_endpoint, supervisor_password
from tests.asterisk_unit import unit_asterisk, unit_config


def render(tmp_path: Path, *, enabled: bool = True, recordings_dir: str = "") -> Path:
    root = tmp_path / "root"
    ast = unit_asterisk(tmp_path)
    ast.recordings_dir = recordings_dir
    secrets = ensure_secrets(tmp_path / "state", 2, supervisor_count=3)
    ast.render(
        unit_config(
            secrets,
            recording_enabled=enabled,
            supervisors=[
                {"endpoint": ep, "password": pw, "name": f"Giám sát {ep}"}
                for ep, pw in secrets["supervisors"].items()
            ],
        )
    )
    return root / "var/lib/hotline1022/unit/etc"


def test_every_answered_leg_is_recorded_into_the_recordings_dir(tmp_path: Path) -> None:
    etc = render(tmp_path)
    ext = (etc / "extensions.conf").read_text()
    rec_dir = "/var/lib/hotline1022/unit/spool/recordings"
    assert (tmp_path / "root" / rec_dir.lstrip("/")).is_dir()
    assert "Gosub(hotline-record,s,1(calls,call,${UNIQUEID}))" in ext
    assert "Gosub(hotline-record,s,1(callbacks,callback,${ARG1}))" in ext
    assert (
        "Gosub(hotline-record,s,1(dispatch,dispatch,${DISPATCH_ORDER},${DISPATCH_INCIDENT}))" in ext
    )
    # The template's conditions leave no blank line inside a context (tests read contexts
    # line by line, people too).
    assert "\n\n same =>" not in ext
    # Before the menu, whose first read answers the call (MixMonitor records from then on).
    citizens = ext[ext.index("[citizens]") : ext.index("exten => 1023")]
    lines = [line.strip() for line in citizens.splitlines() if line.strip()]
    record = next(i for i, x in enumerate(lines) if x.startswith("same => n,Gosub(hotline-rec"))
    agi = next(i for i, x in enumerate(lines) if x.startswith("same => n,AGI("))
    assert record < agi
    assert (
        f"MixMonitor({rec_dir}/${{HOTLINE_REC_NAME}}.part.wav,i(HOTLINE_MIXMON),/bin/mv "
        f"{rec_dir}/${{HOTLINE_REC_NAME}}.part.wav {rec_dir}/${{HOTLINE_REC_NAME}}.wav)" in ext
    )
    assert "UserEvent(HotlineRecording,Kind: ${ARG2},Ref: ${ARG3}," in ext
    # A conference's recording (pbx/conference.py): its name relative to the recordings dir.
    offset = len(rec_dir) + 1
    assert f"Kind: conference,Ref: ${{CONF_ID}},File: ${{CONF_RECFILE:{offset}}})" in ext
    modules = (etc / "modules.conf").read_text()
    assert "load = app_mixmonitor.so" in modules and "load = app_chanspy.so" in modules


def test_recording_off_leaves_no_mixmonitor(tmp_path: Path) -> None:
    ext = (render(tmp_path, enabled=False) / "extensions.conf").read_text()
    assert "n,Gosub(hotline-record" not in ext and "recording_enabled off" in ext
    assert "\n\n same =>" not in ext


def test_a_recordings_dir_of_its_own(tmp_path: Path) -> None:
    ext = (render(tmp_path, recordings_dir="/srv/rec/") / "extensions.conf").read_text()
    assert "MixMonitor(/srv/rec/${HOTLINE_REC_NAME}.part.wav" in ext
    assert (tmp_path / "root/srv/rec").is_dir()


@pytest.mark.parametrize("bad", ["relative/dir", "/", "/srv/a b", "/srv/x;rm -rf", "/srv/../etc"])
def test_a_recordings_dir_the_dialplan_cannot_take_is_refused(bad: str) -> None:
    with pytest.raises(BadRecordingsDir):
        AsteriskPaths("unit", None, recordings_dir=bad)


def test_supervisors_phones_are_endpoints_with_their_own_passwords(tmp_path: Path) -> None:
    etc = render(tmp_path)
    pjsip = (etc / "pjsip.conf").read_text()
    secrets = ensure_secrets(tmp_path / "state", 2, supervisor_count=3)
    for i in (1, 2, 3):
        ep = supervisor_endpoint(i)
        assert f"[{ep}](endpoint-common)\ncontext = supervisors" in pjsip
        assert f"password = {supervisor_password(secrets, ep)}" in pjsip
    assert "sup04" not in pjsip
    with pytest.raises(KeyError, match="sup09"):
        supervisor_password(secrets, "sup09")
    ext = (etc / "extensions.conf").read_text()
    spy = ext[ext.index("[hotline-spy]") :]
    assert (
        "exten => listen,1,Answer()\n"
        ' same => n,ExecIf($["${CHANNEL_EXISTS(${SPY_TARGET})}" != "1"]?Hangup())\n'
        " same => n,ChanSpy(${SPY_TARGET},qEX)"
    ) in spy
    assert "ChanSpy(${SPY_TARGET},qEXw)" in spy and "ChanSpy(${SPY_TARGET},qEXB)" in spy
    for key, mode in (("4", "listen"), ("5", "whisper"), ("6", "barge")):
        assert f"exten => {key},1,Goto({mode},1)" in spy
    # Passwords are kept across provisionings; more phones only add.
    again = ensure_secrets(tmp_path / "state", 2, supervisor_count=4)
    assert again["supervisors"]["sup01"] == secrets["supervisors"]["sup01"]
    assert "sup04" in again["supervisors"]
