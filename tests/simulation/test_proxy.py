"""The AMI proxy of chaos runs: forwards, cuts both sides, or leaves the line half-open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from simulation.proxy import TcpProxy

WRITERS: list[asyncio.StreamWriter] = []


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    WRITERS.append(writer)
    try:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.transport.abort()


@pytest_asyncio.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    p = TcpProxy("127.0.0.1", server.sockets[0].getsockname()[1])
    await p.start()
    yield p
    await p.close()
    for writer in WRITERS:
        writer.transport.abort()
    WRITERS.clear()
    server.close()
    await server.wait_closed()
    await asyncio.sleep(0.05)


async def _roundtrip(port: int, text: bytes) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    WRITERS.append(writer)
    writer.write(text)
    assert await asyncio.wait_for(reader.readexactly(len(text)), 2) == text
    return reader, writer


async def test_forwards_both_ways(proxy: TcpProxy) -> None:
    _, writer = await _roundtrip(proxy.port, b"Action: Ping\r\n\r\n")
    assert proxy.live == 1
    writer.close()


async def test_cut_closes_the_clients_end(proxy: TcpProxy) -> None:
    reader, _ = await _roundtrip(proxy.port, b"ping")
    assert proxy.cut() == 1
    # The client sees the end of the stream at once (EOF or reset).
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        await asyncio.wait_for(reader.readexactly(1), 2)
    # A new connection works.
    _, writer = await _roundtrip(proxy.port, b"again")
    writer.close()


async def test_half_open_neither_answers_nor_closes(proxy: TcpProxy) -> None:
    reader, writer = await _roundtrip(proxy.port, b"ping")
    assert proxy.half_open() == 1
    writer.write(b"anyone?")
    await writer.drain()
    # Nothing comes back, and the connection is not closed either: only a timeout tells.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.5)
    assert not reader.at_eof()
    assert proxy.held == 1 and proxy.live == 0
    # The service reconnects: the new connection is forwarded.
    _, writer2 = await _roundtrip(proxy.port, b"back")
    writer2.close()
    proxy.release_held()
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        await asyncio.wait_for(reader.readexactly(1), 2)


async def test_refused_upstream_closes_the_client() -> None:
    p = TcpProxy("127.0.0.1", 1)  # nothing listens on port 1
    await p.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", p.port)
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        await asyncio.wait_for(reader.readexactly(1), 2)
    writer.transport.abort()
    await p.close()
    await asyncio.sleep(0.05)
