"""Feature codes from an agent's phone on a real Asterisk: a SIPp agent registers and dials
*11, *22, *3 and *12; each call is answered, hears its prompt as RTP, and leaves the agent as
the console's buttons would (REST, Asterisk's QueueStatus, the live state from AMI events)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from queues.agent_phone import PhoneUse
from simulation.agents import dial_feature_code
from simulation.stack import free_udp_tcp_port
from tests.integration.conftest import Live

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.asterisk]

AGENT = "agent01"
ME = f"PJSIP/{AGENT}"
# µ-law bytes of silence (and the next step either side): a prompt is mostly not these.
QUIET = {0xFF, 0x7F, 0xFE, 0x7E}


@dataclass
class Ear(asyncio.DatagramProtocol):
    """Where the phone's SDP sends Asterisk's RTP: counts packets and loud payload bytes."""

    packets: int = 0
    loud: int = 0
    sources: set[object] = field(default_factory=set)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) <= 12 or data[1] & 0x7F != 0:  # not PCMU (a DTMF event, say)
            return
        self.packets += 1
        self.loud += sum(1 for b in data[12:] if b not in QUIET)
        self.sources.add(addr)


@contextlib.asynccontextmanager
async def listening() -> AsyncIterator[tuple[Ear, int]]:
    port = free_udp_tcp_port()
    loop = asyncio.get_running_loop()
    transport, ear = await loop.create_datagram_endpoint(Ear, local_addr=("127.0.0.1", port))
    try:
        yield ear, port
    finally:
        transport.close()


async def dial(live: Live, code: str) -> tuple[Ear, PhoneUse | None]:
    """agent01's phone dials ``code`` and listens until the hotline hangs up: what it heard,
    and the agent script's record of the call (None if the script never ran)."""
    phone = live.stack.running.agent_phone
    before = phone.recent[-1] if phone.recent else None
    password = live.stack.settings.secrets["agents"][AGENT]
    async with listening() as (ear, rtp_port):
        await asyncio.to_thread(
            dial_feature_code,
            AGENT,
            password,
            code,
            server_port=live.stack.settings.sip_port,
            local_port=free_udp_tcp_port(),
            media_port=live.stack.next_media_port(),
            rtp_port=rtp_port,
        )
        await asyncio.sleep(0.2)  # the last packets on their way
    use = phone.recent[-1] if phone.recent and phone.recent[-1] is not before else None
    return ear, use


def heard_a_prompt(ear: Ear) -> None:
    # espeak-ng's shortest prompt here lasts about a second: 50 packets of 20 ms.
    assert ear.packets >= 25, f"only {ear.packets} RTP packets"
    assert ear.loud >= 2000, f"only {ear.loud} loud bytes in {ear.packets} packets: silence?"


async def members(live: Live) -> dict[str, dict[str, str]]:
    """agent01's QueueMember entries in Asterisk's QueueStatus, by queue."""
    status = await live.stack.running.pbx.queue_status()
    return {m["Queue"]: m for m in status.members if m.get("Location") == ME}


async def rest_agent(live: Live) -> dict[str, object]:
    resp = await live.api.get("/agents")
    assert resp.status_code == 200, resp.text
    return next(a for a in resp.json() if a["endpoint"] == AGENT)


async def until(live: Live, check: Callable[[], bool], what: str) -> None:
    await live.stack.wait_for(check, 10, what)


def live_state(live: Live) -> tuple[str, str | None]:
    agents = live.stack.running.agent_states.agents
    state = agents.get(AGENT)
    return ("logged_out", None) if state is None else (state.state, state.reason)


async def test_log_in_pause_resume_and_log_out_from_the_phone(live: Live) -> None:
    await live.stack.start_agents(1, login=False)  # agent01's phone registers
    assert not (await rest_agent(live))["logged_in"]
    queues = set(live.stack.running.routing.queue_names())

    ear, use = await dial(live, "*11")
    heard_a_prompt(ear)
    assert use is not None and (use.outcome, use.played, use.agent_id) == ("login", True, 1)
    agent = await rest_agent(live)
    assert agent["logged_in"] is True and agent["paused"] is False
    assert set(await members(live)) == queues
    await until(live, lambda: live_state(live) == ("idle", None), "agent01 idle")
    login_at = agent["logged_in_at"]

    ear, use = await dial(live, "*22")  # the second reason of the defaults: meal
    heard_a_prompt(ear)
    assert use is not None and (use.outcome, use.played) == ("paused_2", True)
    agent = await rest_agent(live)
    assert (agent["paused"], agent["pause_reason"]) == (True, "meal")
    assert agent["logged_in_at"] == login_at
    shown = await members(live)
    assert set(shown) == queues
    assert {(m["Paused"], m.get("PausedReason")) for m in shown.values()} == {("1", "meal")}
    await until(live, lambda: live_state(live) == ("paused", "meal"), "agent01 paused, meal")

    ear, use = await dial(live, "*3")
    heard_a_prompt(ear)
    assert use is not None and (use.outcome, use.played) == ("unpause", True)
    agent = await rest_agent(live)
    assert (agent["paused"], agent["pause_reason"]) == (False, None)
    assert {m["Paused"] for m in (await members(live)).values()} == {"0"}
    await until(live, lambda: live_state(live) == ("idle", None), "agent01 idle again")

    ear, use = await dial(live, "*12")
    heard_a_prompt(ear)
    assert use is not None and (use.outcome, use.played) == ("logout", True)
    assert (await rest_agent(live))["logged_in"] is False
    assert await members(live) == {}
    await until(live, lambda: live_state(live)[0] == "logged_out", "agent01 logged out")


async def test_refusals_are_said_and_change_nothing(live: Live) -> None:
    """Logged out now: a pause is refused, so is a reason digit with no reason, and a code
    that means nothing; each call still hears why."""
    for code, outcome in (
        ("*21", "not_logged_in"),
        ("*29", "unknown_reason"),
        ("*7", "unknown_code"),
        ("*12", "already_logged_out"),
    ):
        ear, use = await dial(live, code)
        heard_a_prompt(ear)
        assert use is not None and (use.outcome, use.played) == (outcome, True), code
    agent = await rest_agent(live)
    assert (agent["logged_in"], agent["paused"]) == (False, False)
    assert await members(live) == {}


async def test_with_fastagi_down_the_dialplan_says_it_was_not_done(live: Live) -> None:
    agi = live.stack.running.agi
    await agi.close()
    try:
        ear, use = await dial(live, "*11")
    finally:
        await agi.start()
    assert use is None  # the script never ran
    heard_a_prompt(ear)  # the "failed" prompt, from the dialplan
    assert (await rest_agent(live))["logged_in"] is False
    assert await members(live) == {}
    # And with it back, the same code works.
    ear, use = await dial(live, "*11")
    assert use is not None and use.outcome == "login"
    assert (await rest_agent(live))["logged_in"] is True
