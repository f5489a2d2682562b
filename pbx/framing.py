"""AMI framing and action bookkeeping for one TCP connection, on panoramisk 1.4's AMIProtocol.

panoramisk supplies the message model (``Message.from_line``), the action model (``Action``,
its ActionID generator and wire format) and the ActionID routing of ``handle_message``. This
module replaces the parts that are defective in 1.4:

- frames are split on bytes and each whole frame decoded as UTF-8, so a caller name split
  across two TCP reads survives (defect 6);
- an action always says whether it is a list, and an ``Error`` reply always completes it
  (defect 2);
- every action waits with a deadline and leaves the pending map when it fires (defect 4);
- when the connection drops nothing is kept for replay: waiting callers get
  ``AmiNotConnected`` (defect 8). Events carrying one of our ActionIDs belong to that action's
  result (defect 9); everything else goes to ``on_event``.

It also does less than panoramisk: given a ``selector`` (the link's ``EventFanout``) that knows
what every listener wants, an event that no listener wants is dropped from its first line's
bytes, before it is decoded or split (never one that may answer a pending action, nor
Shutdown), and a ``QueueMemberStatus`` that only repeats, for another queue, a device state
already let through is dropped too (``pbx.member_status``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import unquote

from panoramisk import actions, ami_protocol, utils
from panoramisk.message import Message

from pbx.errors import AmiActionError, AmiActionTimeout, AmiNotConnected
from pbx.member_status import MemberStatusOnce

__all__ = ["AmiProtocol", "EventSelector", "FieldValue", "message_to_dict"]

log = logging.getLogger(__name__)

FieldValue = str | Sequence[str]
"""An action header value; a sequence repeats the header (``Variable: a=1``, ``Variable: b=2``)."""

_SEPARATOR = b"\r\n\r\n"
_BANNER = b"Asterisk Call Manager/"
_MAX_PENDING_BYTES = 4 * 1024 * 1024  # a frame this large is a broken peer, not a big event
_LINE_BREAK = re.compile(r"\r?\n")
_FAILED = frozenset({"error", "fail", "failure"})
_QUOTED = frozenset(k.lower() for k in Message.quoted_keys)
_EVENT = b"Event: "
_MEMBER_STATUS = b"queuememberstatus"
_MEMBER_EVENT = b"queuemember"  # added, removed, pause, penalty...: the members' state moves


class EventSelector(Protocol):
    """Which events anyone listens to, by name (``pbx.fanout.EventFanout``)."""

    @property
    def wanted(self) -> frozenset[bytes] | None:
        """The lowercased names of the events someone wants; None: every event."""
        ...


def message_to_dict(message: Any) -> dict[str, str]:
    """A panoramisk ``Message`` as a plain dict; repeated headers are joined with newlines."""
    out: dict[str, str] = {}
    for key, value in message.items():
        if key == "content" and not value:
            continue  # panoramisk stores the (usually empty) body under this key
        out[str(key)] = "\n".join(value) if isinstance(value, list) else str(value)
    return out


def _plain_event(text: str) -> dict[str, str] | None:
    """An event frame as a dict, the way ``message_to_dict(Message.from_line(...))`` makes
    it; None for what must take panoramisk's path: replies, events that carry an ActionID
    (they may belong to a pending list action), Shutdown."""
    if not text.startswith("Event: "):
        return None
    out: dict[str, str] = {}
    for line in _LINE_BREAK.split(text):
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        if key.lower() in _QUOTED:
            value = unquote(value).strip()
        out[key] = f"{out[key]}\n{value}" if key in out else value
    # Asterisk spells it "ActionID" on every event it sends.
    if "ActionID" in out or out.get("Event", "").lower() == "shutdown":
        return None
    return out


def _check_header(key: str, value: str) -> None:
    # A CR or LF inside a value would let caller-supplied text inject AMI headers.
    if not key or ":" in key or any(c in key + value for c in "\r\n"):
        raise ValueError(f"invalid AMI header {key!r}: {value!r}")


class _Action(actions.Action):  # type: ignore[misc]
    """An action with explicit completion: one reply, or a list ending in ``...Complete``.

    panoramisk guesses list-ness from the reply text, which hangs ``QueueAdd`` ("Added interface
    to queue" looks like a list), and never completes a list action answered with an Error.
    """

    def add_message(self, message: Any) -> bool:
        self.responses.append(message)
        if self.future.done():
            return True
        first_failed = str(self.responses[0].get("Response", "")).lower() in _FAILED
        if not self.as_list or first_failed or _ends_list(message):
            self.future.set_result(list(self.responses))
            return True
        return False


def _ends_list(message: Any) -> bool:
    return bool(
        str(message.get("EventList", "")).lower() == "complete"
        or str(message.get("Event", "")).endswith("Complete")
    )


class AmiProtocol(ami_protocol.AMIProtocol):  # type: ignore[misc]
    """One AMI connection: frames in, events out through ``on_event``, awaited actions.

    ``lost`` resolves once the connection is gone, whatever the cause; ``on_lost`` is then
    called once with a human-readable reason.
    """

    def __init__(
        self,
        on_event: Callable[[dict[str, str]], None],
        on_lost: Callable[[AmiProtocol, str], None],
        selector: EventSelector | None = None,
    ) -> None:
        super().__init__()
        self._on_event = on_event
        self._on_lost = on_lost
        self._selector = selector
        self.member_status = MemberStatusOnce()
        self._buffer = bytearray()
        self._banner_pending = True
        self._abort_reason = ""
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.log = log
        self.encoding = "utf-8"
        self.factory = self  # handle_message hands unclaimed events to factory.dispatch

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._banner_pending and not self._take_banner():
            return
        # One split in C for all the frames of this read; the last piece is an unfinished one.
        buffered = bytes(self._buffer)
        *frames, rest = buffered.split(_SEPARATOR)
        if frames:
            del self._buffer[: len(buffered) - len(rest)]
            for frame in frames:
                self._handle_frame(frame)
        if len(self._buffer) > _MAX_PENDING_BYTES:
            self.abort(f"no frame end within {_MAX_PENDING_BYTES} bytes")

    def connection_lost(self, exc: Any) -> None:
        if self.lost.done():
            return
        self.closed = True
        self._fail_pending()
        if isinstance(exc, Message):  # handle_message's way of reporting a Shutdown event
            reason = "Asterisk is shutting down"
            self.transport.close()
        else:
            reason = self._abort_reason or (str(exc) if exc else "closed by the peer")
        self.lost.set_result(None)
        self._on_lost(self, reason)

    # panoramisk hooks ------------------------------------------------------------------------

    def dispatch(self, message: Any) -> None:
        """Called by ``handle_message`` for events that no pending action claims."""
        self._on_event(message_to_dict(message))

    def close(self) -> None:
        """Close the connection. Unlike panoramisk, never queue pending actions for replay."""
        self._fail_pending()
        if not self.closed:
            self.closed = True
            self.transport.close()

    # ours --------------------------------------------------------------------------------------

    def abort(self, reason: str) -> None:
        """Drop the connection at once (a half-open peer will not answer a graceful close)."""
        self._abort_reason = reason
        self._fail_pending()
        self.closed = True
        self.transport.abort()

    @property
    def pending(self) -> int:
        """Actions waiting for an answer."""
        return len({id(action) for action in self.responses.values()})

    async def request(
        self,
        name: str,
        fields: Mapping[str, FieldValue],
        *,
        as_list: bool,
        within: float,
    ) -> list[dict[str, str]]:
        """Send action ``name`` and wait at most ``within`` s for its complete answer.

        Raises ``AmiNotConnected`` if the connection is (or goes) down, ``AmiActionTimeout``
        when the deadline passes (the action then leaves the pending map), and
        ``AmiActionError`` when Asterisk answers ``Response: Error``.
        """
        headers: dict[str, str | list[str]] = {"Action": name}
        for key, value in fields.items():
            values = [value] if isinstance(value, str) else list(value)
            for item in values:
                _check_header(key, item)
            if key.lower() in {"action", "actionid"}:
                raise ValueError(f"{key} is set by the link, not by the caller")
            headers[key] = values[0] if isinstance(value, str) else values
        _check_header("Action", name)
        if self.closed:
            raise AmiNotConnected(f"AMI connection closed; {name} was not sent")
        action = _Action(headers, as_list=as_list)
        self.responses[action.id] = action
        try:
            self.transport.write(str(action).encode("utf-8"))
            async with asyncio.timeout(within):
                replies: list[Any] = await action.future
        except TimeoutError:
            raise AmiActionTimeout(name, within) from None
        finally:
            self.responses.pop(action.id, None)
        result = [message_to_dict(reply) for reply in replies]
        if str(replies[0].get("Response", "")).lower() in _FAILED:
            raise AmiActionError(name, str(replies[0].get("Message", "")), result[0])
        return result

    def _take_banner(self) -> bool:
        end = self._buffer.find(b"\r\n")
        if end < 0:
            return False
        line = bytes(self._buffer[:end])
        if line.startswith(_BANNER):
            self.version = line[len(_BANNER) :].decode("ascii", "replace").strip()
            del self._buffer[: end + 2]
        self._banner_pending = False
        return True

    def _skip(self, frame: bytes, wanted: frozenset[bytes]) -> bool:
        """Whether the event ``frame`` can be dropped unread: nobody listens to it, or it
        repeats a member's device state (module docstring). Never one that may answer a
        pending action (it carries an ActionID), nor Shutdown."""
        end = frame.find(b"\n")
        name = (frame[len(_EVENT) : end] if end >= 0 else frame[len(_EVENT) :]).strip().lower()
        if name == _MEMBER_STATUS:
            if self.responses and b"ActionID" in frame:
                return False
            return name not in wanted or self.member_status.repeats(frame)
        if name.startswith(_MEMBER_EVENT):
            self.member_status.reset()
        if name in wanted or name == b"shutdown":
            return False
        return not (self.responses and b"ActionID" in frame)

    def _handle_frame(self, frame: bytes) -> None:
        selector = self._selector
        if selector is not None and frame.startswith(_EVENT):
            wanted = selector.wanted
            if wanted is not None and self._skip(frame, wanted):
                return
        text = frame.decode("utf-8", errors="replace").strip()
        if not text:
            return
        event = _plain_event(text)
        if event is not None:
            # The common case, most of the traffic: an event no action waits for. Straight
            # to a dict, without panoramisk's Message round trip (a third of the cost).
            self._on_event(event)
            return
        try:
            # Re-join with panoramisk's EOL so its parser is immune to bare-LF lines.
            message = Message.from_line(utils.EOL.join(_LINE_BREAK.split(text)))
            if message is not None:
                self.handle_message(message)
        except Exception:  # one malformed frame must not kill the connection
            log.exception("could not handle AMI frame %r", text[:200])

    def _fail_pending(self) -> None:
        pending = {id(action): action for action in self.responses.values()}.values()
        self.responses.clear()
        for action in pending:
            if not action.future.done():
                action.future.set_exception(
                    AmiNotConnected(
                        f"AMI connection lost while waiting for {action['Action']}; "
                        "it may or may not have run"
                    )
                )
