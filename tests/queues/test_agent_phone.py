"""The FastAGI script ``agent``: feature codes from an agent's phone do what the console's
buttons do, through the same ``AgentService``, and say so; refusals change nothing; a forged
FastAGI session never reaches the script."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pbx.agi import FastAgiServer
from pbx.agi_auth import AgiAuth, agi_keys, agi_proof
from pbx.errors import AgiCommandError, AgiHangup
from provision.secrets import ensure_secrets
from queues.agent_phone import DONE_VARIABLE, AgentPhone, endpoint_of_channel
from queues.agent_prompts import AgentPrompts
from queues.agents import AgentService
from queues.feature_codes import prompt_texts
from store.db import Database
from store.models import Agent
from store.seed import ensure_agents
from tests.asterisk_unit import unit_asterisk, unit_config
from tests.pbx.test_agi import Asterisk, agi_env, close_clients
from tests.queues.test_agents import POLICY, FakePbx

__all__ = ["close_clients"]  # the autouse fixture that closes the test's FastAGI clients

REASONS = {"break": "Nghỉ giải lao", "meal": "Nghỉ ăn", "training": "Đào tạo"}
ME = "PJSIP/agent01"


class Spy(AgentService):
    """The real service, with the calls it got (method, agent, by) written down."""

    def __init__(self, db: Database, pbx: FakePbx) -> None:
        super().__init__(db, pbx, POLICY, REASONS)
        self.calls: list[tuple[str, int, str]] = []

    async def login(self, agent_id: int, *, by: str = "") -> None:
        self.calls.append(("login", agent_id, by))
        await super().login(agent_id, by=by)

    async def logout(self, agent_id: int, *, by: str = "") -> None:
        self.calls.append(("logout", agent_id, by))
        await super().logout(agent_id, by=by)

    async def pause(self, agent_id: int, reason: str, *, by: str = "") -> None:
        self.calls.append((f"pause {reason}", agent_id, by))
        await super().pause(agent_id, reason, by=by)

    async def unpause(self, agent_id: int, *, by: str = "") -> None:
        self.calls.append(("unpause", agent_id, by))
        await super().unpause(agent_id, by=by)


@dataclass
class Phone:
    """The agent's call as the script sees it. ``endpoint``: what CHANNEL(endpoint) gives
    (None: unset); ``prompt_fails``/``hangs_up``: what happens when the prompt plays."""

    code: str
    endpoint: str | None = "agent01"
    channel: str = "PJSIP/agent01-0000002a"
    prompt_fails: bool = False
    hangs_up: bool = False
    variables: dict[str, str] = field(default_factory=dict)
    heard: list[str] = field(default_factory=list)

    @property
    def uniqueid(self) -> str:
        return "1700000000.42"

    @property
    def env(self) -> dict[str, str]:
        return {"agi_arg_1": self.code, "agi_channel": self.channel}

    async def get_variable(self, name: str) -> str | None:
        assert name == "CHANNEL(endpoint)"
        return self.endpoint

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value

    async def stream_file(
        self, path: str, escape_digits: str = "", *, playing_s: float = 0.0
    ) -> str | None:
        assert escape_digits == "", "a confirmation is not cut short by a key"
        if self.hangs_up:
            raise AgiHangup("the caller hung up")
        if self.prompt_fails:
            raise AgiCommandError(f"AGI command failed on a live channel: {path!r}")
        self.heard.append(path.rsplit("/", 1)[1])
        return None


@dataclass
class Rig:
    db: Database
    pbx: FakePbx
    service: Spy
    phone: AgentPhone

    async def dial(self, code: str, **kw: object) -> Phone:
        call = Phone(code, **kw)  # type: ignore[arg-type]
        await self.phone.handle(call)
        return call

    async def agent(self, agent_id: int = 1) -> Agent:
        async with self.db.session() as s:
            agent = await s.get(Agent, agent_id)
        assert agent is not None
        return agent


def wav_names(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.wav")}


def voice(text: str, dest: Path) -> None:
    dest.write_bytes(b"RIFF" + text.encode())


@pytest.fixture
async def rig(db: Database, tmp_path: Path) -> Rig:
    await ensure_agents(db, 2)
    pbx = FakePbx()
    service = Spy(db, pbx)
    prompts = AgentPrompts(tmp_path, "/ast/agent", prompt_texts(REASONS), speak=voice)
    phone = AgentPhone(db, service, prompts)
    await phone.start()
    return Rig(db, pbx, service, phone)


# -- what each code does -------------------------------------------------------------------


async def test_star_11_logs_the_agent_in_as_the_rest_route_does(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        call = await rig.dial("*11")
    assert rig.service.calls == [("login", 1, "phone")]
    assert (await rig.agent()).logged_in
    assert {q for q, i in rig.pbx.members if i == ME} == set(POLICY.queue_names())
    assert call.heard == ["login"]
    assert call.variables == {DONE_VARIABLE: "login"}
    # The service's own log line, saying who asked.
    assert "agent agent01 logged in by phone" in caplog.text
    use = rig.phone.recent[-1]
    assert (use.endpoint, use.code, use.outcome, use.agent_id, use.played) == (
        "agent01",
        "*11",
        "login",
        1,
        True,
    )


async def test_pause_with_the_second_reason_then_resume_then_log_out(rig: Rig) -> None:
    await rig.dial("*11")
    call = await rig.dial("*22")
    assert call.heard == ["paused_2"]
    agent = await rig.agent()
    assert (agent.paused, agent.pause_reason) == (True, "meal")
    assert rig.pbx.paused == {ME: "meal"}
    call = await rig.dial("*3")
    assert call.heard == ["unpause"]
    assert not (await rig.agent()).paused and rig.pbx.paused == {}
    call = await rig.dial("*12")
    assert call.heard == ["logout"]
    assert not (await rig.agent()).logged_in
    assert not [m for m in rig.pbx.members if m[1] == ME]
    assert rig.service.calls == [
        ("login", 1, "phone"),
        ("pause meal", 1, "phone"),
        ("unpause", 1, "phone"),
        ("logout", 1, "phone"),
    ]


async def test_each_reason_has_its_digit(rig: Rig) -> None:
    await rig.dial("*11")
    for digit, reason in (("1", "break"), ("3", "training")):
        call = await rig.dial(f"*2{digit}")
        assert call.heard == [f"paused_{digit}"]
        assert (await rig.agent()).pause_reason == reason


async def test_reasons_become_data_and_a_retired_one_leaves_the_others_codes(
    rig: Rig, tmp_path: Path
) -> None:
    """The configured reasons fill the table at the first read; a supervisor retires
    "meal" and adds "meeting": *22 is refused, *23 is still training, *24 is the new one,
    and the phone's prompts say so."""
    from store.pause_reasons import add_pause_reason, update_pause_reason

    rig.service.on_pause_reasons_changed(rig.phone.reasons_changed)
    await rig.service.load_pause_reasons()
    await update_pause_reason(rig.db, "meal", label=None, retired=True, by="test")
    await add_pause_reason(rig.db, "meeting", "Họp giao ban", "test")
    await rig.service.load_pause_reasons()
    assert rig.service.pause_digits == {"1": "break", "3": "training", "4": "meeting"}

    await rig.dial("*11")
    assert (await rig.dial("*22")).heard == ["unknown_reason"]
    assert (await rig.dial("*23")).heard == ["paused_3"]
    assert (await rig.dial("*24")).heard == ["paused_4"]
    assert (await rig.agent()).pause_reason == "meeting"
    assert "paused_2" not in wav_names(tmp_path) and "paused_4" in wav_names(tmp_path)
    assert "Họp giao ban" in (tmp_path / "paused_4.wav").read_bytes().decode()


async def test_the_agent_is_the_calling_endpoint_not_another(rig: Rig) -> None:
    call = await rig.dial("*11", endpoint="agent02", channel="PJSIP/agent02-00000001")
    assert call.heard == ["login"]
    assert (await rig.agent(2)).logged_in and not (await rig.agent(1)).logged_in


async def test_without_channel_endpoint_the_channel_name_tells(rig: Rig) -> None:
    call = await rig.dial("*11", endpoint=None, channel="PJSIP/agent02-0000000b")
    assert call.heard == ["login"]
    assert (await rig.agent(2)).logged_in


def test_the_endpoint_of_a_channel_name() -> None:
    assert endpoint_of_channel("PJSIP/agent01-0000002a") == "agent01"
    assert endpoint_of_channel("PJSIP/team-c25741-00000003") == "team-c25741"
    assert endpoint_of_channel("Local/cb12@hotline-callback-00000001;1") == ""
    assert endpoint_of_channel("PJSIP/agent01") == ""
    assert endpoint_of_channel("") == ""


# -- refusals: a prompt, and nothing changed -----------------------------------------------


@pytest.mark.parametrize("code", ["*29", "*20", "*2"])
async def test_an_unknown_reason_digit_changes_nothing(rig: Rig, code: str) -> None:
    await rig.dial("*11")
    call = await rig.dial(code)
    assert call.heard == ["unknown_reason"]
    assert call.variables == {DONE_VARIABLE: "unknown_reason"}
    assert rig.service.calls == [("login", 1, "phone")]
    assert not (await rig.agent()).paused and rig.pbx.paused == {}


@pytest.mark.parametrize("code", ["*13", "*1", "*4", "", "*11" + "1" * 40, "*0912345678"])
async def test_an_unknown_code_changes_nothing(rig: Rig, code: str) -> None:
    call = await rig.dial(code)
    assert call.heard == ["unknown_code"]
    assert rig.service.calls == [] and rig.pbx.members == {}


@pytest.mark.parametrize("code", ["*21", "*3"])
async def test_pause_or_resume_while_logged_out_is_refused(rig: Rig, code: str) -> None:
    call = await rig.dial(code)
    assert call.heard == ["not_logged_in"]
    agent = await rig.agent()
    assert not agent.logged_in and not agent.paused
    assert rig.pbx.paused == {} and rig.pbx.members == {}


async def test_logging_out_twice_says_already_logged_out(rig: Rig) -> None:
    call = await rig.dial("*12")
    assert call.heard == ["already_logged_out"]
    assert rig.service.calls == []


@pytest.mark.parametrize(
    ("endpoint", "channel"),
    [
        ("pstn", "PJSIP/pstn-00000001"),
        ("team-c25741", "PJSIP/team-c25741-00000002"),
        ("", "PJSIP/agent-0000000c"),
        (None, "Local/x@y-00000001;2"),
    ],
)
async def test_a_phone_that_is_no_agents_is_refused(
    rig: Rig, endpoint: str | None, channel: str
) -> None:
    call = await rig.dial("*11", endpoint=endpoint, channel=channel)
    assert call.heard == ["not_an_agent"]
    assert rig.service.calls == [] and rig.pbx.members == {}


async def test_a_deactivated_agent_may_not_log_in(rig: Rig) -> None:
    async with rig.db.session() as s:
        agent = await s.get(Agent, 1)
        assert agent is not None
        agent.active = False
        await s.commit()
    call = await rig.dial("*11")
    assert call.heard == ["deactivated"]
    assert not (await rig.agent()).logged_in and rig.pbx.members == {}


async def test_asterisk_not_answering_is_said_and_nothing_is_recorded(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.pbx.fail_on = "operator"
    call = await rig.dial("*11")
    assert call.heard == ["failed"]
    assert call.variables == {DONE_VARIABLE: "failed"}
    assert not (await rig.agent()).logged_in
    assert rig.pbx.members == {}  # the service took back half a login
    assert "agent phone: login for agent01 failed" in caplog.text


async def test_the_database_not_answering_is_said(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.db.engine.dispose()
    broken = Database("sqlite+aiosqlite:////nonexistent/dir/hotline.db")
    rig.phone.db = broken
    try:
        call = await rig.dial("*11")
    finally:
        await broken.dispose()
    assert call.heard == ["failed"]
    assert rig.service.calls == []
    assert "could not look up endpoint 'agent01'" in caplog.text


# -- the prompt ----------------------------------------------------------------------------


async def test_a_prompt_that_does_not_play_leaves_the_action_done(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    call = await rig.dial("*11", prompt_fails=True)
    assert (await rig.agent()).logged_in
    # Set before the prompt: the dialplan does not tell the agent it failed.
    assert call.variables == {DONE_VARIABLE: "login"}
    assert "prompt login not played to agent01" in caplog.text
    assert not rig.phone.recent[-1].played


async def test_a_hang_up_during_the_prompt_ends_the_script_with_the_action_done(
    rig: Rig,
) -> None:
    with pytest.raises(AgiHangup):
        await rig.dial("*11", hangs_up=True)
    assert (await rig.agent()).logged_in


async def test_the_prompts_are_the_service_reasons(rig: Rig, tmp_path: Path) -> None:
    names = wav_names(tmp_path)
    assert {"login", "logout", "unpause", "paused_1", "paused_3", "failed"} <= names
    assert "paused_4" not in names
    assert (tmp_path / "paused_2.wav").read_bytes() == b"RIFF" + "Đã tạm nghỉ: Nghỉ ăn.".encode()


# -- forged FastAGI sessions: only our dialplan's proof reaches the script -----------------

SECRET = "agent-phone-test-secret"


@pytest.fixture
async def agi(rig: Rig) -> AsyncIterator[FastAgiServer]:
    server = FastAgiServer("127.0.0.1", 0, auth=AgiAuth(SECRET, window_s=30), env_timeout=0.5)
    server.route("agent", rig.phone.handle)
    await server.start()
    yield server
    await server.close()


def agent_env(query: str, code: str = "*11", uniqueid: str = "1700000000.9") -> Mapping[str, str]:
    return agi_env(
        f"agent{query}",
        agi_channel="PJSIP/agent01-00000009",
        agi_uniqueid=uniqueid,
        agi_context="agent-feature",
        agi_extension="s",
        agi_arg_1=code,
    )


def proven(script: str = "agent", secret: str = SECRET, uniqueid: str = "1700000000.9") -> str:
    """The query our dialplan appends: its time and proof for ``script`` on this call."""
    stamp = str(int(time.time()))
    return f"?t={stamp}&p={agi_proof(agi_keys(secret), script, uniqueid, stamp)}"


async def play_asterisk(server: FastAgiServer, env: Mapping[str, str]) -> list[str]:
    """Play Asterisk for one session: answer what the script asks; the commands it sent
    (none when the server closed the session at once)."""
    asterisk = await Asterisk.call(server.port, dict(env))
    commands: list[str] = []
    async with asyncio.timeout(5):
        while line := (await asterisk.reader.readline()).decode().strip():
            commands.append(line)
            if line == "GET VARIABLE CHANNEL(endpoint)":
                await asterisk.reply("200 result=1 (agent01)")
            else:
                await asterisk.reply("200 result=0 endpos=8000")
    return commands


async def test_our_dialplans_session_runs_the_script(rig: Rig, agi: FastAgiServer) -> None:
    """The control: with the proof the dialplan computes, *11 logs agent01 in."""
    commands = await play_asterisk(agi, agent_env(proven()))
    assert commands == [
        "GET VARIABLE CHANNEL(endpoint)",
        f'SET VARIABLE {DONE_VARIABLE} "login"',
        'STREAM FILE "/ast/agent/login" ""',
    ]
    assert (await rig.agent()).logged_in


@pytest.mark.parametrize(
    "forge",
    [
        lambda: "",
        lambda: f"?t={int(time.time())}&p=" + "0" * 40,
        lambda: proven(secret="another instance's secret"),
        lambda: proven("ivr"),
        lambda: proven("dispatch"),
        lambda: proven().replace(f"t={int(time.time())}", f"t={int(time.time()) - 3600}"),
    ],
    ids=["no proof", "garbage", "other keys", "the ivr's proof", "dispatch's", "an hour old"],
)
async def test_a_forged_session_does_nothing(
    rig: Rig, agi: FastAgiServer, forge: Callable[[], str], caplog: pytest.LogCaptureFixture
) -> None:
    """A local process playing Asterisk asks to log agent01 in: refused before the script
    runs, so nothing is looked up, changed or said."""
    assert await play_asterisk(agi, agent_env(forge())) == []
    assert rig.service.calls == [] and rig.pbx.members == {}
    assert not (await rig.agent()).logged_in
    assert rig.phone.recent == type(rig.phone.recent)()
    assert "FastAGI: refused script 'agent'" in caplog.text


async def test_a_replayed_session_does_nothing(rig: Rig, agi: FastAgiServer) -> None:
    """The proof of a real *11 seen in a log, sent again with *12: refused."""
    query = proven()
    await play_asterisk(agi, agent_env(query))
    assert (await rig.agent()).logged_in
    assert await play_asterisk(agi, agent_env(query, code="*12")) == []
    assert (await rig.agent()).logged_in
    assert [c[0] for c in rig.service.calls] == ["login"]


async def test_a_proof_for_another_call_does_nothing(rig: Rig, agi: FastAgiServer) -> None:
    assert await play_asterisk(agi, agent_env(proven(), uniqueid="1700000000.10")) == []
    assert rig.service.calls == []


# -- the dialplan --------------------------------------------------------------------------


def test_the_dialplan_hands_feature_codes_to_the_agent_script(tmp_path: Path) -> None:
    root = tmp_path / "root"
    secrets = ensure_secrets(tmp_path / "state", 1)
    ast = unit_asterisk(tmp_path)
    ast.render(unit_config(secrets))
    dialplan = (root / "var/lib/hotline1022/unit/etc/extensions.conf").read_text()
    assert "HOTLINE_AGENT_AGI = agi://127.0.0.1:14573/agent" in dialplan
    agents = dialplan.split("\n[agents]\n", 1)[1].split("\n[", 1)[0]
    for pattern in ("_*X", "_*X."):
        assert (
            f"exten => {pattern},1,Set(HOTLINE_FEATURE=${{EXTEN}})\n"
            " same => n,Goto(agent-feature,s,1)"
        ) in agents
    feature = dialplan.split("\n[agent-feature]\n", 1)[1].split("\n[", 1)[0]
    assert (
        "AGI(${HOTLINE_AGENT_AGI}?t=${HOTLINE_AGI_T}&p=${SHA1(${HOTLINE_AGI_KEY_OUT}"
        "${SHA1(${HOTLINE_AGI_KEY_IN}:agent:${UNIQUEID}:${HOTLINE_AGI_T})})},${HOTLINE_FEATURE})"
    ) in feature
    # Nothing set by the script: the dialplan says it failed, from the script's own file.
    assert f'GotoIf($["${{{DONE_VARIABLE}}}" != ""]?done)' in feature
    assert f"Playback({ast.prompts_dir}/agent/failed)" in feature
    # Citizens cannot dial a feature code: their context has none.
    citizens = dialplan.split("\n[citizens]\n", 1)[1].split("\n[", 1)[0]
    assert "exten => _*" not in citizens and "exten => *" not in citizens
