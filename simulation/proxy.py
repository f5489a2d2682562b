"""A TCP proxy between the service and Asterisk's AMI port, that can break the link.

``cut()`` closes every connection on both sides, as a crashed switch or a killed Asterisk
manager session would. ``half_open()`` stops forwarding and stops reading without closing
anything: to both ends the connection still looks open, and only the service's heartbeat
can tell it is dead (a NAT or firewall that forgot the flow, a peer that froze). Connections
made after either keep working; half-open ones are closed when ``release_held()`` or
``close()`` is called.

Usage::

    proxy = TcpProxy("127.0.0.1", ami_port)
    await proxy.start()          # proxy.port: where the service connects instead
    ...
    proxy.half_open()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

__all__ = ["TcpProxy"]

log = logging.getLogger(__name__)

CHUNK = 65536


@dataclass(eq=False)
class _Pair:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    pumps: list[asyncio.Task[None]] = field(default_factory=list)

    def close(self) -> None:
        for pump in self.pumps:
            pump.cancel()
        for writer in (self.client, self.upstream):
            with contextlib.suppress(Exception):
                writer.transport.abort()


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.port = 0
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._live: set[_Pair] = set()
        self._held: set[_Pair] = set()

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, port)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def live(self) -> int:
        """Connections being forwarded now."""
        return len(self._live)

    @property
    def held(self) -> int:
        """Half-open connections kept open but dead."""
        return len(self._held)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError as exc:
            # Asterisk is down: the service sees a refused connection, as it would directly.
            log.info("proxy: upstream %s:%d refused: %s", self.target_host, self.target_port, exc)
            writer.transport.abort()
            return
        self.accepted += 1
        pair = _Pair(writer, up_writer)
        self._live.add(pair)
        pair.pumps = [
            asyncio.create_task(self._pump(reader, up_writer, pair)),
            asyncio.create_task(self._pump(up_reader, writer, pair)),
        ]

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pair: _Pair
    ) -> None:
        try:
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            return  # cut or frozen: whoever cancelled decides what happens to the sockets
        # One side closed: close the other, as a direct connection would show it.
        if pair in self._live:
            self._live.discard(pair)
            pair.close()

    def cut(self) -> int:
        """Close every live connection on both sides; how many were cut."""
        pairs, self._live = self._live, set()
        for pair in pairs:
            pair.close()
        return len(pairs)

    def half_open(self) -> int:
        """Stop forwarding and reading on every live connection, without closing it; how
        many were frozen. The kernel keeps accepting bytes until its buffers fill, but
        nothing reaches the other side and no FIN or RST is ever sent."""
        pairs, self._live = self._live, set()
        for pair in pairs:
            for pump in pair.pumps:
                pump.cancel()
            for w in (pair.client, pair.upstream):
                transport = w.transport
                if isinstance(transport, asyncio.ReadTransport):
                    transport.pause_reading()
            self._held.add(pair)
        return len(pairs)

    def release_held(self) -> None:
        """Close the half-open connections (both ends then see them end)."""
        held, self._held = self._held, set()
        for pair in held:
            pair.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.cut()
        self.release_held()
