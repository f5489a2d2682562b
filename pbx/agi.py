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

Only the Asterisk this hotline provisioned is served (``pbx.agi_auth``): a connection from an
address outside ``peers`` is closed at once, and a session whose environment lacks a valid
proof for its script is closed before any handler sees it. The server binds loopback unless
``allow_remote``. Two bounds keep a flood of connections from starving real calls: at most
``max_handshakes`` connections may be reading their environment (a new one evicts the oldest:
Asterisk sends its environment at once, a bare connection that sends nothing is the one to
go) and each within ``env_timeout``; at most ``max_sessions`` sessions run handlers (more are
refused: the dialplan falls back). Refusals are logged without the proof, at most once every
``_REFUSAL_LOG_EVERY_S`` seconds with a count of those not logged.

Usage::

    server = FastAgiServer("127.0.0.1", 4573, auth=AgiAuth(secret))
    server.route("ivr", ivr_handler)        # async def ivr_handler(session: AgiSession)
    await server.start()
    ...
    await server.close()                    # cancels running handlers
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from pbx.agi_auth import AgiAuth, PeerFilter, is_loopback
from pbx.agi_session import AgiResult, AgiSession, parse_agi_result
from pbx.errors import AgiHangup

__all__ = ["AgiHandler", "AgiResult", "AgiSession", "FastAgiServer", "parse_agi_result"]

log = logging.getLogger(__name__)

AgiHandler = Callable[[AgiSession], Awaitable[None]]

_MAX_ENV_LINES = 512  # Asterisk sends ~25 plus the arguments
_REFUSAL_LOG_EVERY_S = 10.0


class _RefusalLog:
    """Logs refused connections without flooding the log when they come by thousands."""

    def __init__(self) -> None:
        self._last = -_REFUSAL_LOG_EVERY_S
        self._quiet = 0
        self.count = 0

    def __call__(self, msg: str, *args: object) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self._last < _REFUSAL_LOG_EVERY_S:
            self._quiet += 1
            return
        if self._quiet:
            msg += f" ({self._quiet} more refused since the last report)"
        self._last, self._quiet = now, 0
        log.warning(msg, *args)


def _script_key(script: str) -> str:
    """``/ivr/main?lang=vi`` → ``ivr/main``: the route a request or a registration names."""
    return script.split("?", 1)[0].strip().strip("/")


class FastAgiServer:
    """Serves FastAGI connections from Asterisk, one task per call."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        auth: AgiAuth | None,
        env_timeout: float = 5.0,
        max_sessions: int = 2000,
        max_handshakes: int = 256,
        peers: PeerFilter | None = None,
        allow_remote: bool = False,
    ) -> None:
        """``auth=None`` serves without proofs: only for tests of the protocol itself."""
        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"FastAGI would listen on {host!r}, not a loopback address: set "
                "HOTLINE_AGI_ALLOW_REMOTE=true and HOTLINE_AGI_ALLOWED_PEERS to the Asterisk "
                "host(s) to serve a remote Asterisk"
            )
        if max_sessions < 1 or max_handshakes < 1:
            raise ValueError("FastAGI session bounds must be at least 1")
        self._host = host
        self._port = port
        self._auth = auth
        self._env_timeout = env_timeout
        self._max_sessions = max_sessions
        self._max_handshakes = max_handshakes
        self._peers = peers or PeerFilter()
        self._routes: dict[str, AgiHandler] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        # Connections still reading their environment, oldest first, and sessions in handlers.
        self._handshakes: dict[asyncio.Task[object], None] = {}
        self._sessions = 0
        self._refused = _RefusalLog()
        self._evicted: set[asyncio.Task[object]] = set()

    @property
    def port(self) -> int:
        """The bound port (the real one once started with port 0)."""
        return self._port

    @property
    def active_sessions(self) -> int:
        """Connections being served right now (reading the environment or in a handler)."""
        return len(self._tasks)

    @property
    def handshaking(self) -> int:
        """Connections still reading their environment."""
        return len(self._handshakes)

    @property
    def refused(self) -> int:
        """Connections refused since the start (peer, proof, bounds)."""
        return self._refused.count

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
        peer = writer.get_extra_info("peername")
        if task is not None:
            self._tasks.add(task)
        in_handler = False
        try:
            if not self._peers.allows(peer):
                self._refused("FastAGI: refused a connection from %s (not an allowed peer)", peer)
                return
            env = await self._handshake(task, reader, peer)
            if env is None:
                return
            script = _script_key(env.get("agi_network_script", ""))
            if self._auth is not None:
                refusal = self._auth.check(script, env)
                if refusal is not None:
                    self._refused(
                        "FastAGI: refused script %r from %s (channel %s, uniqueid %s): %s",
                        script,
                        peer,
                        env.get("agi_channel", ""),
                        env.get("agi_uniqueid", ""),
                        refusal,
                    )
                    return
            if self._sessions >= self._max_sessions:
                self._refused(
                    "FastAGI: refused script %r from %s: %d sessions already (the dialplan "
                    "falls back)",
                    script,
                    peer,
                    self._sessions,
                )
                return
            self._sessions += 1
            in_handler = True
            await self._dispatch(AgiSession(env, reader, writer), peer)
        except asyncio.CancelledError:
            if self._server is not None and task not in self._evicted:
                raise
            # Cancelled by close() or evicted: end normally. Python 3.11's stream server asks
            # a cancelled connection task for its exception and logs the CancelledError.
        finally:
            if in_handler:
                self._sessions -= 1
            if task is not None:
                self._tasks.discard(task)
                self._handshakes.pop(task, None)
                self._evicted.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _handshake(
        self, task: asyncio.Task[object] | None, reader: asyncio.StreamReader, peer: object
    ) -> dict[str, str] | None:
        """The environment, read while holding one of the ``max_handshakes`` places; a new
        connection takes the place of the oldest when they are all held."""
        if task is not None:
            while len(self._handshakes) >= self._max_handshakes:
                oldest = next(iter(self._handshakes))
                del self._handshakes[oldest]
                self._evicted.add(oldest)
                oldest.cancel()
                self._refused(
                    "FastAGI: %d connections sent no environment yet; closed the oldest to "
                    "serve %s",
                    self._max_handshakes,
                    peer,
                )
            self._handshakes[task] = None
        try:
            return await self._read_env(reader, peer)
        finally:
            if task is not None:
                self._handshakes.pop(task, None)

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
            self._refused(
                "FastAGI peer %s sent no complete environment within %g s; closing",
                peer,
                self._env_timeout,
            )
            return None
        except (OSError, ValueError) as exc:
            self._refused("FastAGI peer %s: unreadable environment (%r); closing", peer, exc)
            return None
        self._refused(
            "FastAGI peer %s sent over %d environment lines; closing", peer, _MAX_ENV_LINES
        )
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
