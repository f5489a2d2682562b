"""The publishing seam: where the domain's changes enter the event stream.

``Bus.publish(type, data, audience)`` never blocks and never raises: the change goes to this
process's hub at once. ``InProcessBus`` stops there (SQLite: one process; tests).
``PostgresBus`` also sends it with PostgreSQL ``NOTIFY`` on one channel and ``LISTEN``s there
on a dedicated connection, so that a change another process publishes (the CLI, a second
node on the same database) reaches this process's viewers too; its own notifications it
skips (they reached its hub directly). Ids are always given by the hub that receives.

A notification's payload must stay under PostgreSQL's 8000 bytes. A larger change is trimmed
(the longest lists in its data lose items from their end, and ``"truncated": true`` says so)
and logged; one that still does not fit is not sent to the other processes (logged as an
error), and their viewers see it at their next snapshot.

When the listening connection drops, the bus reconnects with backoff; what other processes
published meanwhile is lost, so on reconnecting every viewer here is told to resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Mapping
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped]

from live.hub import Audience, EventHub

__all__ = [
    "CHANNEL",
    "MAX_PAYLOAD",
    "Bus",
    "InProcessBus",
    "PostgresBus",
    "audience_from_json",
    "audience_to_json",
    "notification",
]

log = logging.getLogger(__name__)

CHANNEL = "hotline1022_events"
# PostgreSQL refuses a NOTIFY payload of 8000 bytes or more.
MAX_PAYLOAD = 7999


class Bus(Protocol):
    """Where sources publish: ``publish`` returns at once."""

    hub: EventHub

    def publish(self, event_type: str, data: Mapping[str, Any], audience: Audience) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class InProcessBus:
    """Changes reach this process's hub only."""

    def __init__(self, hub: EventHub) -> None:
        self.hub = hub

    def publish(self, event_type: str, data: Mapping[str, Any], audience: Audience) -> None:
        self.hub.publish(event_type, data, audience)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


def audience_to_json(a: Audience) -> dict[str, Any]:
    return {
        "staff": sorted(a.staff),
        "agents": a.agents,
        "agent_ids": sorted(a.agent_ids),
        "team_ids": sorted(a.team_ids),
        "place_paths": list(a.place_paths),
    }


def audience_from_json(raw: Mapping[str, Any]) -> Audience:
    return Audience(
        staff=frozenset(str(r) for r in raw.get("staff", ())),
        agents=bool(raw.get("agents", False)),
        agent_ids=frozenset(int(i) for i in raw.get("agent_ids", ())),
        team_ids=frozenset(int(i) for i in raw.get("team_ids", ())),
        place_paths=tuple(str(p) for p in raw.get("place_paths", ())),
    )


def _encode(message: Mapping[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)


def notification(
    origin: str, event_type: str, data: Mapping[str, Any], audience: Audience
) -> str | None:
    """The NOTIFY payload for a change: trimmed to fit if needed, None if it cannot."""
    message: dict[str, Any] = {
        "o": origin,
        "t": event_type,
        "a": audience_to_json(audience),
        "d": dict(data),
    }
    payload = _encode(message)
    if len(payload.encode()) <= MAX_PAYLOAD:
        return payload
    trimmed = _trim(dict(data), MAX_PAYLOAD - (len(payload.encode()) - len(_encode(data).encode())))
    if trimmed is None:
        log.error(
            "event %s (%d bytes) is too large for NOTIFY: other processes' viewers get it at "
            "their next snapshot",
            event_type,
            len(payload.encode()),
        )
        return None
    message["d"] = trimmed
    log.warning("event %s trimmed to fit NOTIFY's 8000 bytes", event_type)
    return _encode(message)


def _trim(data: dict[str, Any], room: int) -> dict[str, Any] | None:
    """Drop items from the end of the longest lists of ``data`` until it fits ``room``."""
    data["truncated"] = True
    while len(_encode(data).encode()) > room:
        lists = [(len(v), k) for k, v in data.items() if isinstance(v, list) and v]
        if not lists:
            return None
        _, key = max(lists)
        data[key] = data[key][: len(data[key]) // 2]
    return data


class PostgresBus:
    """Publishes to this hub and, through ``NOTIFY``, to every other process's; ``LISTEN``s
    for theirs. ``dsn``: a plain PostgreSQL DSN (``postgresql://…``, not SQLAlchemy's)."""

    def __init__(
        self,
        hub: EventHub,
        dsn: str,
        *,
        channel: str = CHANNEL,
        backoff_s: tuple[float, float] = (0.2, 10.0),
        check_s: float = 5.0,
        outbox: int = 10_000,
    ) -> None:
        self.hub = hub
        self.dsn = dsn
        self.channel = channel
        self.origin = secrets.token_hex(6)
        self.backoff_s = backoff_s
        self.check_s = check_s
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=outbox)
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: Any = None
        self._dropped = asyncio.Event()
        self.listening = asyncio.Event()
        self.connects = 0  # listening connections made (a reconnect counts)
        self.received = 0  # notifications from other processes handed to the hub
        self.unsent = 0  # changes the other processes could not be told of

    def publish(self, event_type: str, data: Mapping[str, Any], audience: Audience) -> None:
        self.hub.publish(event_type, data, audience)
        payload = notification(self.origin, event_type, data, audience)
        if payload is None:
            self.unsent += 1
            return
        try:
            self._outbox.put_nowait(payload)
        except asyncio.QueueFull:
            self.unsent += 1
            log.error("event bus outbox full: other processes miss a %s event", event_type)

    async def start(self) -> None:
        """Start listening and sending in the background (a database that is down is
        retried with backoff; the local hub works meanwhile)."""
        self._tasks = [
            asyncio.create_task(self._listen(), name="event-bus-listen"),
            asyncio.create_task(self._send(), name="event-bus-send"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._close_listener()

    async def _close_listener(self) -> None:
        conn, self._listener = self._listener, None
        self.listening.clear()
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    # -- listening ----------------------------------------------------------------------

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            message = json.loads(payload)
            if message.get("o") == self.origin:
                return
            audience = audience_from_json(message["a"])
            event_type, data = str(message["t"]), message["d"]
        except (ValueError, KeyError, TypeError):
            log.warning("event bus: a notification that is not an event was ignored")
            return
        self.received += 1
        self.hub.publish(event_type, data, audience)

    def _on_terminate(self, _conn: Any) -> None:
        self._dropped.set()

    async def _listen(self) -> None:
        delay = self.backoff_s[0]
        while True:
            try:
                conn = await asyncpg.connect(self.dsn, timeout=10)
            except Exception as exc:  # down, refused, timed out: tried again
                log.warning("event bus: cannot listen (%s); again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_s[1])
                continue
            self._listener = conn
            self._dropped.clear()
            conn.add_termination_listener(self._on_terminate)
            try:
                await conn.add_listener(self.channel, self._on_notify)
            except Exception as exc:  # down, refused, timed out: tried again
                log.warning("event bus: LISTEN failed (%s)", exc)
                await self._close_listener()
                await asyncio.sleep(delay)
                continue
            self.connects += 1
            if self.connects > 1:
                # What other processes published while we did not listen is lost.
                self.hub.resync_all("Mất kết nối tới cơ sở dữ liệu / event bus reconnected")
                log.warning("event bus: listening again")
            delay = self.backoff_s[0]
            self.listening.set()
            while not self._dropped.is_set() and not conn.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._dropped.wait(), self.check_s)
                if not self._dropped.is_set():
                    try:  # a dead peer that sent no FIN is noticed here
                        await asyncio.wait_for(conn.execute("SELECT 1"), self.check_s)
                    except Exception:  # dropped, or in a state the driver gives up on
                        break
            log.warning("event bus: the listening connection dropped; reconnecting")
            await self._close_listener()

    # -- sending ------------------------------------------------------------------------

    async def _send(self) -> None:
        conn: Any = None
        delay = self.backoff_s[0]
        try:
            while True:
                payload = await self._outbox.get()
                while True:
                    try:
                        if conn is None or conn.is_closed():
                            conn = await asyncpg.connect(self.dsn, timeout=10)
                        await conn.execute("SELECT pg_notify($1, $2)", self.channel, payload)
                        delay = self.backoff_s[0]
                        break
                    except Exception as exc:  # whatever the driver raises: the sender lives on
                        log.warning("event bus: NOTIFY failed (%r); again in %.1f s", exc, delay)
                        if conn is not None:
                            conn.terminate()
                        conn = None
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, self.backoff_s[1])
        finally:
            if conn is not None:
                conn.terminate()
