"""Bring an Asterisk instance to the state the service expects: secrets, prompts, config.

Shared by ``hotline1022 asterisk start`` (``make asterisk``) and the test fixtures, so the
tests run the same provisioning a newcomer's ``make run`` does.
"""

from __future__ import annotations

import math
import struct
import wave
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dispatch.ports import UnknownPlace
from dispatch.teams import TeamSpec, province_team_specs
from hotline1022.settings import Settings
from ivr import prompts
from ivr.dialplan import compile_menu
from ivr.menu import menu_districts
from ivr.menu_file import load_menu
from ivr.prompts import RECORDED_PROMPTS
from pbx.paths import BadRecordingsDir
from provision.asterisk import Asterisk, AsteriskConfig
from provision.errors import AsteriskError
from provision.secrets import ensure_secrets, supervisor_endpoint
from store.seed import agent_endpoint, agent_name

__all__ = ["conference_music", "default_team_phones", "provision", "team_phone_config"]


def default_team_phones(settings: Settings) -> list[TeamSpec]:
    """The default teams of ``settings.province_code``, from vietnam-provinces (no database):
    one PJSIP endpoint each, named as the database's default teams' phones are."""
    try:
        return province_team_specs(settings.province_code)
    except UnknownPlace as exc:
        raise AsteriskError(f"HOTLINE_PROVINCE_CODE: {exc}") from None


def team_phone_config(specs: list[TeamSpec], secrets: Mapping[str, Any]) -> list[dict[str, str]]:
    """What pjsip.conf.j2 renders for each team phone: endpoint, password, caller name."""
    return [
        {"endpoint": s.endpoint, "password": secrets["teams"][s.endpoint], "name": s.name}
        for s in specs
    ]


def conference_music(path: Path) -> None:
    """The soft tune conference points hear while they wait for a leader (8 kHz mono WAV):
    a slow arpeggio, quiet (about -26 dBFS), so it is never taken for the meeting's audio."""
    if path.exists():
        return
    rate, note_s, amplitude = 8000, 0.5, 1600
    notes = (261.63, 329.63, 392.0, 523.25, 392.0, 329.63)  # C E G C' G E
    frames = bytearray()
    for freq in notes * 2:
        n = int(rate * note_s)
        for i in range(n):
            fade = min(1.0, i / 400, (n - i) / 400)  # no clicks between notes
            sample = amplitude * fade * math.sin(2 * math.pi * freq * i / rate)
            frames += struct.pack("<h", int(sample))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    tmp.replace(path)


def provision(settings: Settings, instance: str = "main", *, start: bool = True) -> Asterisk:
    """Locate (or build) Asterisk, render this instance's config, optionally (re)start it."""
    teams = default_team_phones(settings)
    data = ensure_secrets(
        settings.state_dir,
        settings.agent_count,
        team_endpoints=[t.endpoint for t in teams],
        supervisor_count=settings.supervisor_phone_count,
    )
    prompt_dir = settings.state_dir / "prompts"
    # The menu's prompts; the service re-makes announcements a supervisor changed.
    menu = load_menu(settings.menu_file)
    prompts.generate(prompt_dir, menu.prompts, RECORDED_PROMPTS)
    moh_dir = settings.state_dir / "moh" / "conference"
    conference_music(moh_dir / "conf-wait.wav")
    ast = Asterisk.locate(instance)
    try:
        ast.recordings_dir = settings.recordings_dir
    except BadRecordingsDir as exc:
        raise AsteriskError(f"HOTLINE_RECORDINGS_DIR: {exc}") from None
    routing = settings.routing(menu_districts(menu))
    agents = [
        {
            "endpoint": agent_endpoint(i),
            "password": data["agents"][agent_endpoint(i)],
            "name": agent_name(i),
        }
        for i in range(1, settings.agent_count + 1)
    ]
    phones = [{"endpoint": ep, "password": pw} for ep, pw in sorted(data["phones"].items())]
    supervisors = [
        {
            "endpoint": supervisor_endpoint(i),
            "password": data["supervisors"][supervisor_endpoint(i)],
            "name": f"Giám sát {i:02d}",
        }
        for i in range(1, settings.supervisor_phone_count + 1)
    ]
    ast.render(
        AsteriskConfig(
            ami_port=settings.ami_port,
            ami_username=settings.ami_username,
            ami_secret=settings.effective_ami_secret or data["ami_secret"],
            sip_port=settings.sip_port,
            agi_host=settings.agi_host,
            agi_port=settings.agi_port,
            agi_secret=settings.effective_agi_secret or data["agi_secret"],
            agents=agents,
            phones=phones,
            team_phones=team_phone_config(teams, data),
            prompts_src=prompt_dir,
            rtp_start=settings.rtp_start,
            rtp_end=settings.rtp_end,
            wrapup_s=settings.wrapup_s,
            routing=routing,
            callback_endpoint=settings.callback_endpoint,
            callback_host=settings.callback_host,
            callback_ring_s=settings.callback_ring_s,
            conference_mixing_interval_ms=settings.conference_mixing_interval_ms,
            conference_drop_silence=settings.conference_drop_silence,
            conference_key_timeout_s=settings.conference_key_timeout_s,
            node_link_password=str(data["node_link"]),
            moh_src=moh_dir,
            recording_enabled=settings.recording_enabled,
            supervisors=supervisors,
            # The same menu as plain dialplan, for exten 1023 (bench/ivr_agi_vs_dialplan.py).
            extra_files={
                "extensions_menu.conf": compile_menu(menu, ast.prompts_dir, route=routing.queue_for)
            },
        )
    )
    if start:
        ast.start()
    return ast
