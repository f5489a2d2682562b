"""The AMI link: one logged-in connection to Asterisk, kept alive, with awaited actions.

What it adds to panoramisk 1.4 (see ``../shared/notes/panoramisk-1.4.md``, beside the
repository):

- ``start()`` waits for the login answer and raises ``AmiAuthError`` on a bad secret (defect 3);
- its own heartbeat: a ``Ping`` every ``heartbeat_interval`` s that must be answered within
  ``heartbeat_timeout`` s, else the connection is dropped and rebuilt (defect 7);
- reconnection with exponential backoff; actions are never queued for replay, so during an
  outage ``action()`` raises ``AmiNotConnected`` at once (defect 8);
- every action has a deadline (defect 4), and events reach listeners through one queue so a
  failing listener cannot break the link (defect 5).

Usage::

    link = AmiLink(host="127.0.0.1", port=5038, username="hotline", secret=secret)
    link.add_listener(on_event)
    await link.start()
    replies = await link.action("QueueStatus", {"Queue": "q-medical"}, as_list=True)
    await link.close()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any

from pbx.errors import AmiActionError, AmiActionTimeout, AmiAuthError, AmiNotConnected, PbxError
from pbx.events import parse_event
from pbx.fanout import EventFanout, Listener
from pbx.framing import AmiProtocol, FieldValue

__all__ = ["AmiLink", "Backoff"]

log = logging.getLogger(__name__)

ConnectCallback = Callable[[], Awaitable[None]]


class Backoff:
    """Delays between reconnect attempts: minimum, doubling each time, capped at maximum."""

    def __init__(self, minimum: float, maximum: float) -> None:
        self._minimum = minimum
        self._maximum = max(minimum, maximum)
        self._next = minimum

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._maximum)
        return delay

    def reset(self) -> None:
        self._next = self._minimum


class AmiLink:
    """A self-healing, logged-in AMI connection (see the module docstring)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        secret: str,
        action_timeout: float = 5.0,
        login_timeout: float = 5.0,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: float = 3.0,
        reconnect_min: float = 0.5,
        reconnect_max: float = 10.0,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._secret = secret
        self._action_timeout = action_timeout
        self._login_timeout = login_timeout
        self._heartbeat_interval = heartbeat_interval
        self._heartbeat_timeout = heartbeat_timeout
        self._reconnect_min = reconnect_min
        self._reconnect_max = reconnect_max
        self._sleep = asyncio.sleep  # the supervisor's pause between attempts (tests watch it)
        self._protocol: AmiProtocol | None = None  # set only while logged in
        self._fanout = EventFanout()
        self._connect_callbacks: list[ConnectCallback] = []
        self._supervisor: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._closed = False
        self._last_error: str | None = None
        self._logins = 0
        self._since: float | None = None

    # public ----------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True once logged in, until the connection drops."""
        return self._protocol is not None and not self._protocol.closed

    def status(self) -> dict[str, object]:
        """Health of the link, for logs and the API's health endpoint."""
        return {
            "connected": self.connected,
            "host": self._host,
            "port": self._port,
            "last_error": self._last_error,
            "reconnects": max(self._logins - 1, 0),
            "since": self._since,
            "pending_actions": self._protocol.pending if self._protocol is not None else 0,
            "event_backlog": self._fanout.backlog,
        }

    def add_listener(self, callback: Listener, *, events: Iterable[str] | None = None) -> None:
        """Hand AMI events, parsed and in order, to ``callback`` (sync or async): those named
        in ``events`` (any case; ``pbx.events.event_names``), or every event.

        Once every listener has named its events, the link drops the others unread, and a
        ``QueueMemberStatus`` that only repeats, for another queue, a device state already
        delivered (``pbx.member_status``): a listener naming ``QueueMemberStatus`` gets each
        device-state change of a member at least once, and each change of a queue's own view
        of it (paused, reason), but not the same state once per queue.
        """
        self._fanout.add(callback, events)

    def add_connect_callback(self, cb: ConnectCallback) -> None:
        """Run ``cb`` after every successful (re)login, e.g. to reconcile queue state."""
        self._connect_callbacks.append(cb)

    async def start(self, *, wait: bool = True) -> None:
        """Connect and log in.

        Raises ``AmiAuthError`` when Asterisk refuses the credentials (nothing is retried).
        When Asterisk cannot be reached, raises ``AmiNotConnected`` -- unless ``wait`` is
        false, in which case the link keeps trying in the background with backoff. Either
        way the first attempt is made here, so this can take up to ``login_timeout`` s.

        Once started, every later loss is repaired in the background, a refused re-login
        included (a secret rotated on one side only is reported in ``status()`` and retried
        at the backoff pace until both sides agree again).
        """
        if self._started:
            raise RuntimeError("AmiLink.start() may be called only once")
        self._started = True
        self._fanout.start()
        try:
            await self._connect_once()
        except AmiNotConnected as exc:
            if wait:
                await self._abandon_start()
                raise
            self._last_error = str(exc)
            log.warning("%s; retrying in the background", exc)
        except BaseException:
            await self._abandon_start()
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name="ami-link-supervisor")

    async def close(self) -> None:
        """Stop reconnecting, close the connection and the event delivery task."""
        self._closed = True
        tasks = [t for t in (self._supervisor, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._supervisor = None
        protocol, self._protocol = self._protocol, None
        if protocol is not None:
            protocol.close()
            await _settle(protocol)
        await self._fanout.close()

    async def action(
        self,
        name: str,
        fields: Mapping[str, FieldValue] | None = None,
        *,
        as_list: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 -- the deadline must clear the pending map
    ) -> list[dict[str, str]]:
        """Send AMI action ``name`` and return its reply (and, for ``as_list``, the events up
        to the ``...Complete`` one) as plain dicts.

        ``as_list`` must be true exactly for list actions (QueueStatus, CoreShowChannels...).
        Raises ``AmiNotConnected`` when the link is down -- nothing is queued for later --
        ``AmiActionTimeout`` after ``timeout`` (default ``action_timeout``) seconds and
        ``AmiActionError`` on ``Response: Error``.
        """
        protocol = self._protocol
        if protocol is None or protocol.closed:
            raise AmiNotConnected(f"AMI link to {self._where} is down; {name} was not sent")
        return await protocol.request(
            name,
            fields or {},
            as_list=as_list,
            within=self._action_timeout if timeout is None else timeout,
        )

    # connection lifecycle --------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"{self._host}:{self._port}"

    async def _connect_once(self) -> None:
        """Open a connection and log in; on success it becomes the current connection."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._login_timeout):
                _, protocol = await loop.create_connection(
                    lambda: AmiProtocol(self._on_headers, self._on_lost, self._fanout),
                    self._host,
                    self._port,
                )
        except (OSError, TimeoutError) as exc:
            reason = str(exc) or "timed out"
            raise AmiNotConnected(f"cannot reach the AMI at {self._where}: {reason}") from None
        try:
            await protocol.request(
                "Login",
                {"Username": self._username, "Secret": self._secret, "Events": "on"},
                as_list=False,
                within=self._login_timeout,
            )
        except AmiActionError as exc:
            protocol.close()
            await _settle(protocol)
            raise AmiAuthError(
                f"AMI at {self._where} refused login for user {self._username!r}: "
                f"{exc.message or 'no reason given'} (check the AMI username and secret "
                "in the service settings and in Asterisk's manager.conf)"
            ) from None
        except AmiActionTimeout:
            protocol.abort("no answer to Login")
            await _settle(protocol)
            raise AmiNotConnected(
                f"AMI at {self._where} accepted the connection but did not answer Login "
                f"within {self._login_timeout:g} s"
            ) from None
        except AmiNotConnected:
            raise AmiNotConnected(
                f"AMI at {self._where} closed the connection during login"
            ) from None
        except BaseException:
            protocol.abort("login interrupted")
            raise
        self._protocol = protocol
        self._logins += 1
        self._since = time.time()
        self._last_error = None
        log.info(
            "AMI logged in to %s as %r (Asterisk AMI %s)",
            self._where,
            self._username,
            protocol.version,
        )
        self._spawn(self._run_connect_callbacks())

    async def _supervise(self) -> None:
        """Keep the link up for as long as it is open: heartbeat, then reconnect."""
        backoff = Backoff(self._reconnect_min, self._reconnect_max)
        while not self._closed:
            protocol = self._protocol
            if protocol is not None:
                await self._heartbeat(protocol)
                backoff.reset()
            delay = backoff.next_delay()
            await self._sleep(delay)
            try:
                await self._connect_once()
            except PbxError as exc:
                self._last_error = str(exc)
                level = logging.ERROR if isinstance(exc, AmiAuthError) else logging.WARNING
                log.log(level, "AMI reconnect failed: %s", exc)

    async def _heartbeat(self, protocol: AmiProtocol) -> None:
        """Ping until the connection is lost; a missed Pong drops it. Returns once it is gone."""
        while not protocol.lost.done():
            await asyncio.wait({protocol.lost}, timeout=self._heartbeat_interval)
            if protocol.lost.done():
                break
            try:
                await protocol.request("Ping", {}, as_list=False, within=self._heartbeat_timeout)
            except AmiActionTimeout:
                log.warning(
                    "AMI %s sent no Pong within %g s; dropping the connection",
                    self._where,
                    self._heartbeat_timeout,
                )
                protocol.abort(f"no Pong within {self._heartbeat_timeout:g} s")
            except AmiNotConnected:
                pass  # the connection is going; lost resolves next
            except AmiActionError as exc:
                log.warning("AMI Ping failed: %s", exc)
        await _settle(protocol)

    def _on_lost(self, protocol: AmiProtocol, reason: str) -> None:
        if protocol is not self._protocol:
            return  # a connection that never logged in, or one close() already let go
        self._protocol = None
        self._since = time.time()
        self._last_error = f"connection lost: {reason}"
        log.warning("AMI connection to %s lost: %s", self._where, reason)

    def _on_headers(self, headers: dict[str, str]) -> None:
        self._fanout.publish(parse_event(headers, time.time()))

    async def _run_connect_callbacks(self) -> None:
        for callback in list(self._connect_callbacks):
            try:
                await callback()
            except Exception:
                log.exception("AMI connect callback %r failed", callback)
        protocol = self._protocol
        if protocol is not None:
            # The callbacks may have rebuilt the listeners' state from a snapshot: let the
            # next member status through whatever was delivered before.
            protocol.member_status.reset()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _abandon_start(self) -> None:
        self._started = False
        await self._fanout.close()


async def _settle(protocol: AmiProtocol) -> None:
    """Wait (briefly) until the transport has really closed, so no socket outlives us."""
    await asyncio.wait({protocol.lost}, timeout=1.0)
