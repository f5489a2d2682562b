"""Typed, awaited AMI actions for the domain, on top of an ``AmiLink``.

``AmiPbx`` satisfies ``queues.ports.QueuePbx`` and ``queues.ports.CallbackPbx``:
``queue_add``/``queue_remove`` and ``hangup`` are idempotent (Asterisk's "Already there" /
"Not there" / "No such channel" count as success) and report an unreachable or silent
Asterisk as ``PbxUnavailable`` (``pbx.errors``; the ports name it as what the PBX raises).
After a timeout the change may or may not have happened; since these calls
are idempotent, calling again is safe.

``originate`` is never retried by this layer (a retried Originate rings a phone twice): on
``AmiNotConnected`` or ``AmiActionTimeout`` the caller decides.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from pbx.ami import AmiLink
from pbx.errors import AmiActionError, AmiActionTimeout, AmiNotConnected, PbxUnavailable
from pbx.events import Headers
from pbx.framing import FieldValue

__all__ = ["AmiPbx", "OriginateReply", "QueueStatusResult", "once_loaded"]

_T = TypeVar("_T")


class OriginateReply(Headers):
    """Asterisk's reply to an asynchronous Originate: the call is queued, and its outcome
    will come as an ``OriginateResponse`` event carrying this ``action_id``."""

    @property
    def action_id(self) -> str:
        return self.get("ActionID", "")


@dataclass(frozen=True)
class QueueStatusResult:
    """``QueueStatus`` split by event: ``QueueParams``, ``QueueMember`` and ``QueueEntry``."""

    params: list[dict[str, str]] = field(default_factory=list)
    members: list[dict[str, str]] = field(default_factory=list)
    entries: list[dict[str, str]] = field(default_factory=list)


class AmiPbx:
    """The service's AMI actions, awaited and typed."""

    def __init__(self, link: AmiLink) -> None:
        self._link = link

    @property
    def link(self) -> AmiLink:
        return self._link

    async def queue_add(
        self, queue: str, interface: str, member_name: str, penalty: int = 0
    ) -> None:
        """Add ``interface`` to ``queue`` (already a member counts as success)."""
        fields = {
            "Queue": queue,
            "Interface": interface,
            "MemberName": member_name,
            "Penalty": str(penalty),
        }
        try:
            await _domain_unavailable(self._link.action("QueueAdd", fields, as_list=False))
        except AmiActionError as exc:
            if "already there" not in exc.message.lower():
                raise

    async def queue_remove(self, queue: str, interface: str) -> None:
        """Remove ``interface`` from ``queue`` (not a member counts as success)."""
        fields = {"Queue": queue, "Interface": interface}
        try:
            await _domain_unavailable(self._link.action("QueueRemove", fields, as_list=False))
        except AmiActionError as exc:
            if "not there" not in exc.message.lower():
                raise

    async def queue_penalty(self, queue: str, interface: str, penalty: int) -> None:
        """Set the member's penalty in ``queue`` (takes effect for the next offer)."""
        fields = {"Queue": queue, "Interface": interface, "Penalty": str(penalty)}
        await _domain_unavailable(self._link.action("QueuePenalty", fields, as_list=False))

    async def queue_pause(self, interface: str, paused: bool, reason: str = "") -> None:
        """Pause or unpause ``interface`` in every queue it is a member of."""
        fields = {"Interface": interface, "Paused": "true" if paused else "false"}
        if reason:
            fields["Reason"] = reason
        await _domain_unavailable(self._link.action("QueuePause", fields, as_list=False))

    async def queue_status(self, queue: str | None = None) -> QueueStatusResult:
        """Live state of one queue, or of all queues when ``queue`` is None."""
        fields = {"Queue": queue} if queue else {}
        replies = await self._link.action("QueueStatus", fields, as_list=True)
        result = QueueStatusResult()
        buckets = {
            "queueparams": result.params,
            "queuemember": result.members,
            "queueentry": result.entries,
        }
        for reply in replies[1:]:
            bucket = buckets.get(_event_name(reply))
            if bucket is not None:
                bucket.append(reply)
        return result

    async def queue_entries(self, queue: str) -> list[dict[str, str]]:
        """The callers waiting in ``queue`` now (``QueueEntry``: Channel, Position, Wait,
        Priority...), for ``queues.ports.CallbackPbx``."""
        return (await _domain_unavailable(self.queue_status(queue))).entries

    async def channels(self) -> list[dict[str, str]]:
        """Every channel Asterisk has now: ``CoreShowChannels``' ``CoreShowChannel`` events
        (Channel, ChannelStateDesc, Application...)."""
        replies = await _domain_unavailable(self._link.action("CoreShowChannels", {}, as_list=True))
        return [r for r in replies[1:] if _event_name(r) == "coreshowchannel"]

    async def hangup(self, channel: str) -> None:
        """Hang up ``channel``; a channel that is gone already counts as success."""
        try:
            await _domain_unavailable(
                self._link.action("Hangup", {"Channel": channel}, as_list=False)
            )
        except AmiActionError as exc:
            if "no such channel" not in exc.message.lower():
                raise

    async def core_status(self) -> dict[str, str]:
        """Asterisk's ``CoreStatus`` reply (startup/reload time, current calls...)."""
        return (await self._link.action("CoreStatus"))[0]

    async def ping(self) -> None:
        """One AMI round trip."""
        await self._link.action("Ping")

    async def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int = 1,
        application: str | None = None,
        data: str | None = None,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        ring_timeout_ms: int = 30000,
        account: str | None = None,
        run_async: bool = True,
        action_timeout: float | None = None,
    ) -> OriginateReply:
        """Originate a call from ``channel`` to ``context,exten,priority`` or ``application``.

        Sent once and never retried. With ``run_async`` (the default) the reply only says the
        call was queued; the outcome arrives later as an ``OriginateResponse`` event, to the
        link's listeners, carrying the returned reply's ``action_id``.
        """
        if (application is None) == (context is None or exten is None):
            raise ValueError("originate needs either context and exten, or application")
        fields: dict[str, FieldValue] = {
            "Channel": channel,
            "Timeout": str(ring_timeout_ms),
            "Async": "true" if run_async else "false",
        }
        if application is not None:
            fields["Application"] = application
            if data is not None:
                fields["Data"] = data
        else:
            fields.update({"Context": str(context), "Exten": str(exten), "Priority": str(priority)})
        if caller_id is not None:
            fields["CallerID"] = caller_id
        if account is not None:
            fields["Account"] = account
        if variables:
            fields["Variable"] = [f"{key}={value}" for key, value in variables.items()]
        if action_timeout is None and not run_async:
            # A synchronous Originate answers only once the call is answered or has failed.
            action_timeout = ring_timeout_ms / 1000 + 5.0
        replies = await self._link.action(
            "Originate", fields, as_list=False, timeout=action_timeout
        )
        return OriginateReply(replies[0])


async def once_loaded(
    action: Callable[[], Awaitable[_T]], *, within_s: float = 30.0, every_s: float = 0.5
) -> _T:
    """``await action()``, again while Asterisk does not know the action yet.

    Asterisk takes AMI logins while it is still loading its modules; until app_queue is
    loaded, ``QueueStatus`` answers "Invalid/unknown command". Right after an Asterisk
    restart the link's connect callbacks meet exactly that.
    """
    deadline = time.monotonic() + within_s
    while True:
        try:
            return await action()
        except AmiActionError as exc:
            if "unknown command" not in exc.message.lower() or time.monotonic() > deadline:
                raise
        await asyncio.sleep(every_s)


async def _domain_unavailable(call: Awaitable[_T]) -> _T:
    """Await ``call``, reporting a down or silent Asterisk as the domain's exception."""
    try:
        return await call
    except (AmiNotConnected, AmiActionTimeout) as exc:
        raise PbxUnavailable(str(exc)) from exc


def _event_name(reply: Mapping[str, str]) -> str:
    for key, value in reply.items():
        if key.lower() == "event":
            return value.lower()
    return ""
