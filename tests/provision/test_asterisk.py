"""The rendered Asterisk configuration (no Asterisk needed: templates into a fake root)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pbx.events import TYPED_EVENTS
from provision.asterisk import Asterisk, AsteriskError
from provision.secrets import ensure_secrets
from tests.asterisk_unit import unit_asterisk, unit_config


def render(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    ast = unit_asterisk(tmp_path)
    secrets = ensure_secrets(tmp_path / "state", 20)
    ast.render(
        unit_config(
            secrets,
            agents=[
                {"endpoint": ep, "password": pw, "name": ep} for ep, pw in secrets["agents"].items()
            ],
            phones=[{"endpoint": ep, "password": pw} for ep, pw in secrets["phones"].items()],
        )
    )
    return root / "var/lib/hotline1022/unit/etc"


def test_ami_and_sip_listen_on_loopback_only_with_the_generated_secret(tmp_path: Path) -> None:
    etc = render(tmp_path)
    manager = (etc / "manager.conf").read_text()
    secret = ensure_secrets(tmp_path / "state", 20)["ami_secret"]
    assert "bindaddr = 127.0.0.1" in manager and "port = 15038" in manager
    assert f"secret = {secret}" in manager and len(secret) >= 24
    pjsip = (etc / "pjsip.conf").read_text()
    assert "bind = 127.0.0.1:15060" in pjsip
    assert pjsip.count("type = auth") == 25  # 20 agents, 5 test phones
    assert "agi://127.0.0.1:14573/ivr" in (etc / "extensions.conf").read_text()
    for q in ("[medical]", "[food]", "[violation]", "[operator]"):
        assert q in (etc / "queues.conf").read_text()


def test_secrets_are_generated_once_and_private(tmp_path: Path) -> None:
    first = ensure_secrets(tmp_path, 20)
    again = ensure_secrets(tmp_path, 22)
    assert again["ami_secret"] == first["ami_secret"]
    assert again["agents"]["agent20"] == first["agents"]["agent20"]
    assert "agent22" in again["agents"]
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0


def test_bad_instance_name_is_refused() -> None:
    with pytest.raises(AsteriskError):
        Asterisk("../etc", None)


def test_callbacks_have_their_dialplan_and_the_way_out_to_citizens(tmp_path: Path) -> None:
    etc = render(tmp_path)
    pjsip = (etc / "pjsip.conf").read_text()
    assert "[pstn-out](endpoint-common)" in pjsip and "contact = sip:127.0.0.1:5090" in pjsip
    dialplan = (etc / "extensions.conf").read_text()
    assert "[hotline-callback]" in dialplan and "[hotline-callback-dial]" in dialplan
    # The placeholder waits exactly as a caller does: same priority and penalty window.
    assert "Set(QUEUE_PRIO=${CB_PRIO})" in dialplan
    assert dialplan.count("Set(QUEUE_MAX_PENALTY=9)") == 2
    assert "Queue(${CB_QUEUE},r,,,,,,,${CB_POSITION})" in dialplan
    assert "Dial(PJSIP/${CB_NUMBER}@pstn-out,30,U(hotline-callback-answered^${CB_ID}))" in dialplan
    assert "callback_confirm" in dialplan


def test_files_holding_secrets_are_private_and_ami_is_least_privilege(tmp_path: Path) -> None:
    etc = render(tmp_path)
    for name in ("manager.conf", "pjsip.conf", "extensions.conf"):
        assert (etc / name).stat().st_mode & 0o777 == 0o640, name
    manager = (etc / "manager.conf").read_text()
    assert "read = call,agent,user\n" in manager
    assert "write = call,agent,originate,reporting\n" in manager
    # Asked only for the events the service has a type for, one include filter each.
    filters = re.findall(r"^eventfilter\(action\(include\),name\((\w+)\)\) =$", manager, re.M)
    assert filters == list(TYPED_EVENTS) and "QueueMemberStatus" in filters
    assert "eventfilter=" not in manager  # no legacy regex filter: a regex runs on every event
    # The dialplan holds keys derived from the FastAGI secret, never the secret itself.
    secrets = ensure_secrets(tmp_path / "state", 20)
    dialplan = (etc / "extensions.conf").read_text()
    assert "HOTLINE_AGI_KEY_IN = " in dialplan and secrets["agi_secret"] not in dialplan
    assert dialplan.count("&p=${SHA1(${HOTLINE_AGI_KEY_OUT}") == 3  # ivr, dispatch, agent
    assert "load = func_sha1.so" in (etc / "modules.conf").read_text()


# The module that registers each dialplan function the templates use. A function missing
# here fails the test below: find its module (``module show like func_``) and load it.
FUNCTION_MODULES = {
    "CALLERID": "func_callerid.so",
    "CHANNEL": "func_channel.so",
    "CHANNEL_EXISTS": "func_channel.so",
    "CUT": "func_cut.so",
    "FIELDNUM": "func_strings.so",
    "FILTER": "func_strings.so",
    "GLOBAL": "func_global.so",
    "IF": "func_logic.so",
    "SHA1": "func_sha1.so",
    "STRFTIME": "func_strings.so",
}


def test_every_dialplan_function_used_is_loaded(tmp_path: Path) -> None:
    """modules.conf loads nothing by default (autoload = no): a function whose module is not
    listed is "not registered" on every call that reaches it, and evaluates to nothing (the
    menus' key reader ran so, without CUT, until 2026-12-06)."""
    etc = render(tmp_path)
    modules = (etc / "modules.conf").read_text()
    used: set[str] = set()
    for conf in etc.glob("extensions*.conf"):
        text = conf.read_text()
        used |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\(", text))
        used |= set(re.findall(r"Set\(([A-Z][A-Z0-9_]*)\(", text))
    assert "CUT" in used and "SHA1" in used
    unknown = used - set(FUNCTION_MODULES)
    assert not unknown, f"which module registers {sorted(unknown)}?"
    missing = {
        f: FUNCTION_MODULES[f] for f in used if f"load = {FUNCTION_MODULES[f]}" not in modules
    }
    assert not missing, f"functions used but not loaded: {missing}"


def test_an_ami_backlog_does_not_make_asterisk_ignore_new_calls(tmp_path: Path) -> None:
    """With the default trigger ("global") PJSIP ignores every new INVITE while any task
    queue of Asterisk's is past its high-water mark, AMI's event queue included: at 20 calls/s
    citizens' INVITEs went unanswered until a retransmission 16 s later, or for good
    (bench/results/simulate.md, 2026-12-06 18:xx). Only PJSIP's own queues may refuse calls."""
    pjsip = (render(tmp_path) / "pjsip.conf").read_text()
    section = pjsip[pjsip.index("[global]") : pjsip.index("[transport-udp]")]
    assert "\ntaskprocessor_overload_trigger = pjsip_only\n" in section
