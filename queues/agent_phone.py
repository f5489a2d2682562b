"""The agent's phone as a remote control: feature codes handled by the FastAGI script ``agent``.

An agent without a screen at hand dials ``*11`` (log in to the queues), ``*12`` (log out),
``*2N`` (pause with the N-th reason) or ``*3`` (resume) from their softphone. The dialplan
(``[agents]`` in extensions.conf) answers and hands the call to this script with the code
dialled; the script

1. finds the agent by the calling phone's PJSIP endpoint (``CHANNEL(endpoint)``, else the
   channel's name), read from the channel itself, never from what the caller sent;
2. parses the code (``queues.feature_codes``);
3. calls the same ``AgentService`` method the REST routes (and the console's buttons) call,
   so the state, Asterisk's queue members, the events and the log are the same;
4. sets ``HOTLINE_AGENT_DONE`` to the outcome and plays its short Vietnamese prompt
   (``queues.agent_prompts``), then the dialplan hangs up.

A phone that is no agent's, a code or reason digit that means nothing, a pause or resume while
logged out, a logout while logged out and an error (Asterisk or the database not answering)
each get a prompt that says so, and nothing is changed. If the script cannot run at all
(FastAGI down), ``HOTLINE_AGENT_DONE`` stays empty and the dialplan plays the ``failed``
prompt itself.

FastAGI serves only sessions that carry our dialplan's proof for the script ``agent``
(``pbx.agi_auth``, checked by the server before this handler runs, as for ``ivr`` and
``dispatch``): a forged session never reaches ``handle``.
"""

from __future__ import annotations

import functools
import logging
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import select

from ivr import prompts as speech
from pbx.errors import AgiHangup
from queues.agent_prompts import AgentPrompts
from queues.feature_codes import (
    FeatureAction,
    Refusal,
    parse_feature_code,
    paused_prompt,
    prompt_texts,
)
from queues.ports import AgentControl, AgentNotFound, AgentStateError, UnknownPauseReason
from store.db import Database
from store.models import Agent

__all__ = ["AGI_SCRIPT", "DONE_VARIABLE", "AgentChannel", "AgentPhone", "PhoneUse"]

log = logging.getLogger(__name__)

AGI_SCRIPT = "agent"
DONE_VARIABLE = "HOTLINE_AGENT_DONE"
MAX_CODE_CHARS = 32
# Who made a change, in the agent service's log line.
BY = "phone"


class AgentChannel(Protocol):
    """The agent's call inside the FastAGI ``agent`` script (``pbx.agi.AgiSession``)."""

    @property
    def uniqueid(self) -> str: ...

    @property
    def channel(self) -> str:
        """The channel's name, e.g. ``PJSIP/agent01-0000002a``."""
        ...

    @property
    def env(self) -> dict[str, str]:
        """The ``agi_*`` variables; ``agi_arg_1`` is the code dialled (extensions.conf)."""
        ...

    async def get_variable(self, name: str) -> str | None: ...

    async def set_variable(self, name: str, value: str) -> None: ...

    async def stream_file(
        self, path: str, escape_digits: str = "", *, playing_s: float = 0.0
    ) -> str | None: ...


@dataclass
class PhoneUse:
    """One feature code dialled, for logs and tests."""

    at: datetime
    endpoint: str
    code: str
    outcome: str  # the prompt's name: "login", "paused_2", "not_logged_in"...
    agent_id: int | None = None
    played: bool = False


def endpoint_of_channel(name: str) -> str:
    """``PJSIP/agent01-0000002a`` → ``agent01``; "" for another technology."""
    tech, _, rest = name.partition("/")
    if tech.upper() != "PJSIP" or "-" not in rest:
        return ""
    return rest.rsplit("-", 1)[0]


class AgentPhone:
    """Handles the ``agent`` FastAGI script (see the module docstring)."""

    def __init__(
        self, db: Database, agents: AgentControl, prompts: AgentPrompts, *, history: int = 100
    ) -> None:
        self.db = db
        self.agents = agents
        self.prompts = prompts
        self.recent: deque[PhoneUse] = deque(maxlen=history)

    @classmethod
    def speaking_into(
        cls,
        db: Database,
        agents: AgentControl,
        host_dir: Path,
        asterisk_dir: str,
        *,
        speak_timeout_s: float = speech.SPEAK_TIMEOUT_S,
    ) -> AgentPhone:
        """The service's wiring: prompts for ``agents``' pause reasons, spoken by espeak-ng
        into ``host_dir`` (``asterisk_dir`` as Asterisk sees it)."""
        texts = prompt_texts(agents.pause_reasons, agents.pause_digits)
        speak = functools.partial(speech.speak, timeout_s=speak_timeout_s)
        return cls(db, agents, AgentPrompts(host_dir, asterisk_dir, texts, speak=speak))

    async def reasons_changed(self) -> None:
        """The pause reasons changed: speak the prompts that name them again."""
        self.prompts.texts = prompt_texts(self.agents.pause_reasons, self.agents.pause_digits)
        await self.start()

    async def start(self) -> None:
        """Make the prompts' sound files (a prompt that cannot be made is logged only)."""
        failed = await self.prompts.prepare()
        if failed:
            log.warning("agent phone: %d prompt(s) play silence: %s", len(failed), failed)

    async def handle(self, channel: AgentChannel) -> None:
        """FastAGI script ``agent``: do what the code asks and say what was done."""
        # Whatever the phone sent after "*" (extensions.conf): bounded for the log; no code
        # that long is valid anyway.
        code = channel.env.get("agi_arg_1", "")[:MAX_CODE_CHARS]
        endpoint = await self._endpoint(channel)
        use = PhoneUse(datetime.now(UTC), endpoint, code, "")
        self.recent.append(use)
        use.outcome = await self._run(use)
        log.info(
            "agent phone: %s dialled %s on %s: %s",
            endpoint or "?",
            code,
            channel.channel,
            use.outcome,
        )
        # Before the prompt: the dialplan must not say "failed" once the action is done.
        await channel.set_variable(DONE_VARIABLE, use.outcome)
        try:
            await channel.stream_file(
                self.prompts.path(use.outcome), "", playing_s=self.prompts.seconds(use.outcome)
            )
        except AgiHangup:
            raise  # the agent hung up during the prompt: a normal end
        except Exception as exc:
            log.warning("agent phone: prompt %s not played to %s: %s", use.outcome, endpoint, exc)
            return
        use.played = True

    async def _endpoint(self, channel: AgentChannel) -> str:
        try:
            endpoint = await channel.get_variable("CHANNEL(endpoint)")
        except AgiHangup:
            raise
        except Exception as exc:
            log.debug("agent phone: CHANNEL(endpoint) unreadable on %s: %s", channel.channel, exc)
            endpoint = None
        return endpoint or endpoint_of_channel(channel.channel)

    async def _run(self, use: PhoneUse) -> str:
        """Do what ``use.code`` asks; return the outcome (the prompt to play)."""
        digits = self.agents.pause_digits
        feature = parse_feature_code(use.code, digits)
        try:
            agent = await self._agent(use.endpoint)
        except Exception:
            log.exception("agent phone: could not look up endpoint %r", use.endpoint)
            return Refusal.FAILED.value
        if agent is None:
            return Refusal.NOT_AN_AGENT.value
        agent_id, logged_in = agent
        use.agent_id = agent_id
        if feature.refusal is not None:
            return feature.refusal.value
        try:
            if feature.action is FeatureAction.LOGIN:
                await self.agents.login(agent_id, by=BY)
            elif feature.action is FeatureAction.LOGOUT:
                if not logged_in:
                    return Refusal.ALREADY_LOGGED_OUT.value
                await self.agents.logout(agent_id, by=BY)
            elif feature.action is FeatureAction.PAUSE:
                assert feature.reason is not None
                await self.agents.pause(agent_id, feature.reason, by=BY)
                digit = next(d for d, code in digits.items() if code == feature.reason)
                return paused_prompt(int(digit))
            else:
                await self.agents.unpause(agent_id, by=BY)
        except AgentNotFound:
            return Refusal.NOT_AN_AGENT.value
        except UnknownPauseReason:
            return Refusal.UNKNOWN_REASON.value
        except AgentStateError:
            if feature.action is FeatureAction.LOGIN:
                return Refusal.DEACTIVATED.value
            return Refusal.NOT_LOGGED_IN.value
        except Exception:
            # PbxUnavailable (nothing was changed), an AMI error or the database.
            log.exception(
                "agent phone: %s for %s failed",
                feature.action.value if feature.action else use.code,
                use.endpoint,
            )
            return Refusal.FAILED.value
        assert feature.action is not None
        return feature.action.value

    async def _agent(self, endpoint: str) -> tuple[int, bool] | None:
        """(id, logged in) of the agent on ``endpoint``, or None when it is no agent's."""
        if not endpoint:
            return None
        async with self.db.session() as s:
            row = (
                await s.execute(select(Agent.id, Agent.logged_in).where(Agent.endpoint == endpoint))
            ).first()
        return None if row is None else (row.id, row.logged_in)
