"""FastAGI server: Asterisk connects per call, sends its ``agi_*`` environment, then obeys
commands the routed handler sends (``ANSWER`` → ``200 result=0``...).

Replaces panoramisk 1.4's ``fast_agi.Application``, whose header loop spins forever at EOF and
freezes the event loop when a client connects and closes without sending the environment
(defect 1: health checks, port scans). Here the environment is read line by line under a
deadline (``env_timeout``); EOF, a timeout or garbage just closes that connection.

Routing is on ``agi_network_script``, the path of ``agi://host:port/<script>?<query>``.
A connection for an unknown script is logged and closed; a handler that raises is logged and
its socket closed. In both cases Asterisk sets ``AGISTATUS=SUCCESS`` (it only reports FAILURE
when it cannot reach this server at all), so the dialplan must not rely on AGISTATUS alone: it
falls back to the general queue when the IVR left its result variable empty (``HOTLINE_QUEUE``
in ``asterisk-conf/extensions.conf.j2``), which covers the server being down, an unknown
script and a crashed handler alike. A caller hanging up (``AgiHangup``) is a normal ending.

Usage::

    server = FastAgiServer("127.0.0.1", 4573)
    server.route("ivr", ivr_handler)        # async def ivr_handler(session: AgiSession)
    await server.start()
    ...
    await server.close()                    # cancels running handlers
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from pbx.agi_session import AgiResult, AgiSession, parse_agi_result
from pbx.errors import AgiHangup

__all__ = ["AgiHandler", "AgiResult", "AgiSession", "FastAgiServer", "parse_agi_result"]

log = logging.getLogger(__name__)

AgiHandler = Callable[[AgiSession], Awaitable[None]]

_MAX_ENV_LINES = 512  # Asterisk sends ~25 plus the arguments


def _script_key(script: str) -> str:
    """``/ivr/main?lang=vi`` → ``ivr/main``: the route a request or a registration names."""
    return script.split("?", 1)[0].strip().strip("/")


class FastAgiServer:
    """Serves FastAGI connections from Asterisk, one task per call."""

    def __init__(self, host: str, port: int, *, env_timeout: float = 5.0) -> None:
        self._host = host
        self._port = port
        self._env_timeout = env_timeout
        self._routes: dict[str, AgiHandler] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[object]] = set()

    @property
    def port(self) -> int:
        """The bound port (the real one once started with port 0)."""
        return self._port

    @property
    def active_sessions(self) -> int:
        """Connections being served right now (reading the environment or in a handler)."""
        return len(self._tasks)

    def route(self, script: str, handler: AgiHandler) -> None:
        """Run ``handler`` for calls to ``agi://host:port/<script>``."""
        key = _script_key(script)
        if key in self._routes:
            raise ValueError(f"FastAGI script {key!r} already has a handler")
        self._routes[key] = handler

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("FastAgiServer already started")
        self._server = await asyncio.start_server(self._serve, self._host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]
        log.info("FastAGI listening on %s:%d", self._host, self._port)

    async def close(self) -> None:
        """Stop listening and cancel running sessions (their sockets are closed)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        peer = writer.get_extra_info("peername")
        try:
            env = await self._read_env(reader, peer)
            if env is not None:
                await self._dispatch(AgiSession(env, reader, writer), peer)
        except asyncio.CancelledError:
            if self._server is not None:
                raise
            # Cancelled by close(): end normally. Python 3.11's stream server asks a
            # cancelled connection task for its exception and logs the CancelledError.
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_env(self, reader: asyncio.StreamReader, peer: object) -> dict[str, str] | None:
        """The ``agi_*`` variables up to the blank line, or None when the peer never sends
        them completely (EOF, timeout, oversized)."""
        env: dict[str, str] = {}
        try:
            async with asyncio.timeout(self._env_timeout):
                for _ in range(_MAX_ENV_LINES):
                    raw = await reader.readline()
                    if not raw.endswith(b"\n"):
                        log.debug("FastAGI peer %s closed before sending its environment", peer)
                        return None
                    line = raw.decode("utf-8", errors="replace").strip()
                    if not line:
                        return env
                    key, sep, value = line.partition(":")
                    if sep:
                        env[key.strip()] = value.strip()
        except TimeoutError:
            log.warning(
                "FastAGI peer %s sent no complete environment within %g s; closing",
                peer,
                self._env_timeout,
            )
            return None
        except (OSError, ValueError) as exc:
            log.warning("FastAGI peer %s: unreadable environment (%r); closing", peer, exc)
            return None
        log.warning("FastAGI peer %s sent over %d environment lines; closing", peer, _MAX_ENV_LINES)
        return None

    async def _dispatch(self, session: AgiSession, peer: object) -> None:
        script = session.env.get("agi_network_script", "")
        handler = self._routes.get(_script_key(script))
        if handler is None:
            log.error(
                "FastAGI: no handler for script %r (channel %s, from %s); closing so the "
                "dialplan falls back",
                script,
                session.channel,
                peer,
            )
            return
        try:
            await handler(session)
        except AgiHangup as exc:
            log.info("FastAGI %s on %s ended by hang-up: %s", script, session.channel, exc)
        except Exception:
            log.exception(
                "FastAGI handler for %r failed on %s (uniqueid %s); closing the socket so the "
                "dialplan falls back",
                script,
                session.channel,
                session.uniqueid,
            )
