"""What the dispatch domain needs from the PBX, and what it offers the phone and the API.

- ``TeamCaller``: calls a team's phone to read it an order (``dispatch.phone``). Unit tests
  pass a fake; the service passes the AMI-backed one.
- ``PhoneResults``: where the phone call's end lands: the incident service records an
  acceptance as the acknowledgment, and retries or escalates otherwise.
- ``DispatchPbx`` and ``PhoneChannel``: what ``dispatch.phone`` needs of Asterisk: an
  Originate (``pbx.client.AmiPbx``), and the answered team phone inside the FastAGI script
  (``pbx.agi_session.AgiSession`` satisfies it structurally). A member who hangs up makes
  any channel call raise; the phone module reports that as ``no_key``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = [
    "SYSTEM",
    "Actor",
    "DispatchError",
    "DispatchPbx",
    "IncidentNotFound",
    "IncidentReading",
    "LifecycleError",
    "NotAllowed",
    "PhoneChannel",
    "PhoneOrder",
    "PhoneResult",
    "PhoneResults",
    "QueuedCall",
    "TeamCaller",
    "UnknownPlace",
]


@dataclass(frozen=True)
class Actor:
    """Who asks for a change: an API user, a team's phone, or the hotline itself.

    ``label`` is what the incident's history keeps: ``user:<name>``, ``phone:<endpoint or
    number>``, ``system``.
    """

    label: str
    role: str | None = None  # the API user's role (agent, supervisor, team, admin)
    team_id: int | None = None  # the team a ``team`` user acts for
    agent_id: int | None = None  # the agent an ``agent`` user is
    user_id: int | None = None

    @property
    def privileged(self) -> bool:
        """Supervisors and admins may act for any team."""
        return self.role in ("supervisor", "admin")


SYSTEM = Actor("system")


class DispatchError(Exception):
    """Base of the dispatch domain's refusals; the API turns each into a clear 4xx."""


class IncidentNotFound(DispatchError, LookupError):
    """No incident with that id."""


class UnknownPlace(DispatchError, LookupError):
    """No place (commune, district...) with that code."""


class LifecycleError(DispatchError):
    """The incident cannot make that change from where it is (see dispatch/lifecycle.py)."""


class NotAllowed(DispatchError):
    """The caller may not do this to that incident (another team's, another agent's call)."""


class PhoneResult(StrEnum):
    """How a call to a team's phone ended."""

    ACCEPTED = "accepted"  # the member pressed 1
    REFUSED = "refused"  # the member pressed 9
    NO_KEY = "no_key"  # answered, heard the order, pressed nothing we take
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"  # could not be placed (unknown endpoint, no route, Asterisk down)


@dataclass(frozen=True)
class PhoneOrder:
    """One attempt to reach a team by phone about one incident."""

    incident_id: int
    team_id: int
    attempt: int  # 1-based, per team
    dial: str  # what Asterisk dials: "PJSIP/team-c25741", "PJSIP/0912345678@pstn-out"
    phone: str  # the endpoint or number, for people and for the incident's history


@dataclass(frozen=True)
class IncidentReading:
    """What is read to a team over the phone, in Vietnamese."""

    incident_id: int
    text: str


class TeamCaller(Protocol):
    async def call(self, order: PhoneOrder) -> None:
        """Place the call; its end arrives later through ``PhoneResults.phone_result``,
        exactly once, ``failed`` included when it could not even be placed.

        Should it raise all the same, the incident service counts a failed attempt.
        """
        ...


class PhoneResults(Protocol):
    async def phone_result(self, order: PhoneOrder, result: PhoneResult) -> None: ...

    async def reading(self, incident_id: int) -> IncidentReading | None:
        """The order's text, or None when the incident no longer waits for that team."""
        ...


class QueuedCall(Protocol):
    """Asterisk's word that it is placing a call (``pbx.client.OriginateReply``)."""

    @property
    def action_id(self) -> str:
        """What the call's outcome event (``pbx.events.OriginateResponse``) will carry."""
        ...


class DispatchPbx(Protocol):
    """What calling a team's phone asks of Asterisk (``pbx.client.AmiPbx``)."""

    async def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int = 1,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        ring_timeout_ms: int = 30000,
        account: str | None = None,
    ) -> QueuedCall:
        """Queue the call (Async Originate) and return Asterisk's reply, whose ``action_id``
        the later ``OriginateResponse`` event carries; the channel's events (``DialEnd``,
        ``Hangup``) carry ``account`` as its account code. Sent once, never retried; raises
        when Asterisk is unreachable or silent."""
        ...


class PhoneChannel(Protocol):
    """The team's answered phone, inside the FastAGI ``dispatch`` script."""

    @property
    def uniqueid(self) -> str: ...

    @property
    def env(self) -> dict[str, str]:
        """The ``agi_*`` variables; ``agi_arg_1`` is the order's token (extensions.conf)."""
        ...

    async def answer(self) -> None: ...

    async def stream_file(self, path: str, escape_digits: str = "") -> str | None:
        """Play ``path`` (no extension); the key in ``escape_digits`` that cut it short."""
        ...

    async def wait_for_digit(self, timeout_ms: int) -> str | None: ...

    async def get_variable(self, name: str) -> str | None: ...
