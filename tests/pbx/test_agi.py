"""FastAGI server and sessions, with the test playing Asterisk over loopback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, ClassVar

import pytest

from pbx.agi import FastAgiServer
from pbx.agi_session import AgiResult, AgiSession, parse_agi_result
from pbx.errors import AgiCommandError, AgiHangup
from tests.pbx.helpers import wait_until

Handler = Callable[[AgiSession], Awaitable[None]]


def agi_env(script: str = "ivr", **extra: str) -> dict[str, str]:
    """The environment Asterisk 22 sends for ``AGI(agi://127.0.0.1:4573/<script>,...)``."""
    env = {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_request": f"agi://127.0.0.1:4573/{script}",
        "agi_channel": "PJSIP/citizen-00000001",
        "agi_language": "vi",
        "agi_type": "PJSIP",
        "agi_uniqueid": "1700000000.1",
        "agi_version": "22.1.0",
        "agi_callerid": "0912345678",
        "agi_calleridname": "Nguyễn Thị Hằng",
        "agi_callingpres": "0",
        "agi_callingani2": "0",
        "agi_callington": "0",
        "agi_callingtns": "0",
        "agi_dnid": "1022",
        "agi_rdnis": "unknown",
        "agi_context": "hotline-in",
        "agi_extension": "1022",
        "agi_priority": "2",
        "agi_enhanced": "0.0",
        "agi_accountcode": "",
        "agi_threadid": "140000000000000",
    }
    env.update(extra)
    return env


class Asterisk:
    """The Asterisk side of one FastAGI connection."""

    opened: ClassVar[list[asyncio.StreamWriter]] = []

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.opened.append(writer)

    @classmethod
    async def call(cls, port: int, env: dict[str, str] | None = None) -> Asterisk:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        lines = "".join(f"{k}: {v}\n" for k, v in (env or agi_env()).items())
        writer.write(lines.encode() + b"\n")
        return cls(reader, writer)

    async def expect(self, command: str) -> None:
        async with asyncio.timeout(5):
            line = (await self.reader.readline()).decode()
        assert line == command + "\n"

    async def reply(self, *lines: str) -> None:
        self.writer.write("".join(line + "\n" for line in lines).encode())
        await self.writer.drain()

    async def closed_by_server(self) -> bool:
        async with asyncio.timeout(5):
            return await self.reader.read() == b""

    async def hang_up(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def open_raw(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A bare TCP client (a port scanner, a health check); closed at teardown."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    Asterisk.opened.append(writer)
    return reader, writer


@pytest.fixture(autouse=True)
async def close_clients() -> AsyncIterator[None]:
    yield
    writers, Asterisk.opened[:] = list(Asterisk.opened), []
    for writer in writers:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[FastAgiServer]]]:
    servers: list[FastAgiServer] = []

    async def start(routes: dict[str, Handler], env_timeout: float = 0.3) -> FastAgiServer:
        server = FastAgiServer("127.0.0.1", 0, auth=None, env_timeout=env_timeout)
        for script, handler in routes.items():
            server.route(script, handler)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


class Outcome:
    """What a handler saw: its session, its result, or the exception that ended it."""

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.session: AgiSession | None = None
        self.value: object = None
        self.error: BaseException | None = None

    def wrap(self, body: Callable[[AgiSession], Awaitable[object]]) -> Handler:
        async def handler(session: AgiSession) -> None:
            self.session = session
            try:
                self.value = await body(session)
            except BaseException as exc:
                self.error = exc
                raise
            finally:
                self.done.set()

        return handler

    async def wait(self) -> None:
        async with asyncio.timeout(5):
            await self.done.wait()


# the server ----------------------------------------------------------------------------------


async def test_session_runs_commands(serve: Callable[..., Awaitable[FastAgiServer]]) -> None:
    async def ivr(session: AgiSession) -> str | None:
        await session.answer()
        await session.set_variable("HOTLINE_QUEUE", 'q-medical "x"')
        return await session.get_variable("CALLERID(name)")

    outcome = Outcome()
    server = await serve({"/ivr": outcome.wrap(ivr)})
    assert server.port > 0
    asterisk = await Asterisk.call(server.port, agi_env(agi_arg_1="vi", agi_arg_2="retry"))
    await asterisk.expect("ANSWER")
    await asterisk.reply("200 result=0")
    await asterisk.expect('SET VARIABLE HOTLINE_QUEUE "q-medical \\"x\\""')
    await asterisk.reply("200 result=1")
    await asterisk.expect("GET VARIABLE CALLERID(name)")
    await asterisk.reply("200 result=1 (Nguyễn Thị (Hằng))")
    await outcome.wait()
    assert outcome.value == "Nguyễn Thị (Hằng)"
    assert outcome.session is not None
    assert outcome.session.uniqueid == "1700000000.1"
    assert outcome.session.env["agi_calleridname"] == "Nguyễn Thị Hằng"
    assert outcome.session.args == ["vi", "retry"]
    assert await asterisk.closed_by_server()
    await wait_until(lambda: server.active_sessions == 0, "the session to end")


class ThreadedServer:
    """A FastAgiServer on its own event loop in a daemon thread.

    If a peer freezes that loop (defect 1), the test's own loop keeps running, so the test
    fails on its timeouts instead of hanging the whole run.
    """

    def __init__(self, server: FastAgiServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def run(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=5)

    def __enter__(self) -> FastAgiServer:
        self.thread.start()
        self.run(self.server.start())
        return self.server

    def __exit__(self, *exc_info: object) -> None:
        self.run(self.server.close())  # raises TimeoutError if the loop is frozen
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


async def test_port_scans_and_silent_peers_do_not_stop_the_server() -> None:
    """Defect 1: 100 connect-and-close, a silent peer, a half environment; calls still work."""

    async def ivr(session: AgiSession) -> None:
        await session.answer()

    server = FastAgiServer("127.0.0.1", 0, auth=None, env_timeout=1.0)
    server.route("ivr", ivr)
    with ThreadedServer(server):
        for _ in range(100):
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.close()
            await writer.wait_closed()
        silent_reader, _ = await open_raw(server.port)
        half = await open_raw(server.port)
        half[1].write(b"agi_network: yes\nagi_network_script: ivr\n")

        # While the silent peers are still connected, a real call is served.
        asterisk = await Asterisk.call(server.port)
        await asterisk.expect("ANSWER")
        await asterisk.reply("200 result=0")
        assert await asterisk.closed_by_server()

        # The silent ones are closed once env_timeout passes.
        async with asyncio.timeout(5):
            assert await silent_reader.read() == b""
            assert await half[0].read() == b""
        await wait_until(lambda: server.active_sessions == 0, "every connection to end")


async def test_incomplete_environment_times_out_without_calling_the_handler(
    serve: Callable[..., Awaitable[FastAgiServer]], caplog: pytest.LogCaptureFixture
) -> None:
    called = Outcome()

    async def ivr(session: AgiSession) -> None:
        return None

    server = await serve({"ivr": called.wrap(ivr)}, env_timeout=0.2)
    reader, writer = await open_raw(server.port)
    with caplog.at_level(logging.WARNING, logger="pbx.agi"):
        writer.write(b"agi_network: yes\nagi_network_script: ivr\nagi_channel: PJSIP/x\n")
        async with asyncio.timeout(5):
            assert await reader.read() == b""
    assert "no complete environment" in caplog.text
    assert not called.done.is_set()


async def test_unknown_script_is_logged_and_closed(
    serve: Callable[..., Awaitable[FastAgiServer]], caplog: pytest.LogCaptureFixture
) -> None:
    async def ivr(session: AgiSession) -> None:
        raise AssertionError("not this one")

    server = await serve({"ivr": ivr})
    with caplog.at_level(logging.ERROR, logger="pbx.agi"):
        asterisk = await Asterisk.call(server.port, agi_env("nope?x=1"))
        assert await asterisk.closed_by_server()  # nothing sent, not even HANGUP
    assert "no handler for script 'nope?x=1'" in caplog.text


async def test_route_ignores_query_and_slashes(
    serve: Callable[..., Awaitable[FastAgiServer]],
) -> None:
    outcome = Outcome()

    async def ivr(session: AgiSession) -> None:
        return None

    server = await serve({"/ivr/main/": outcome.wrap(ivr)})
    asterisk = await Asterisk.call(server.port, agi_env("ivr/main?lang=vi"))
    await outcome.wait()
    assert await asterisk.closed_by_server()


async def test_handler_exception_is_logged_and_the_socket_closed(
    serve: Callable[..., Awaitable[FastAgiServer]], caplog: pytest.LogCaptureFixture
) -> None:
    async def ivr(session: AgiSession) -> None:
        raise RuntimeError("menu bug")

    server = await serve({"ivr": ivr})
    with caplog.at_level(logging.ERROR, logger="pbx.agi"):
        asterisk = await Asterisk.call(server.port)
        assert await asterisk.closed_by_server()
    assert "menu bug" in caplog.text and "falls back" in caplog.text
    # The server keeps serving.
    second = await Asterisk.call(server.port)
    assert await second.closed_by_server()


async def test_close_cancels_running_handlers(
    serve: Callable[..., Awaitable[FastAgiServer]],
) -> None:
    outcome = Outcome()

    async def ivr(session: AgiSession) -> None:
        await session.wait_for_digit(60000)  # Asterisk (the test) never answers

    server = await serve({"ivr": outcome.wrap(ivr)})
    asterisk = await Asterisk.call(server.port)
    await asterisk.expect("WAIT FOR DIGIT 60000")
    assert server.active_sessions == 1
    await server.close()
    assert isinstance(outcome.error, asyncio.CancelledError)
    assert server.active_sessions == 0
    assert await asterisk.closed_by_server()


# hang-ups (defect 11) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ending",
    ["HANGUP line", "511 answer", "socket closed"],
)
async def test_hangup_mid_command_raises_agi_hangup(
    serve: Callable[..., Awaitable[FastAgiServer]], ending: str
) -> None:
    outcome = Outcome()

    async def ivr(session: AgiSession) -> None:
        await session.stream_file("hotline/welcome")

    server = await serve({"ivr": outcome.wrap(ivr)})
    asterisk = await Asterisk.call(server.port)
    await asterisk.expect('STREAM FILE "hotline/welcome" "0123456789*#"')
    if ending == "HANGUP line":
        await asterisk.reply("HANGUP")
    elif ending == "511 answer":
        await asterisk.reply("511 Command Not Permitted on a dead channel or intercepted channel")
    else:
        await asterisk.hang_up()
    await outcome.wait()
    assert isinstance(outcome.error, AgiHangup)
    assert outcome.session is not None and outcome.session.hung_up
    with pytest.raises(AgiHangup, match="already gone"):
        await outcome.session.answer()


async def test_command_on_a_socket_closed_before_sending_raises_agi_hangup(
    serve: Callable[..., Awaitable[FastAgiServer]],
) -> None:
    """panoramisk raised ValueError here; the IVR sees a hang-up."""
    peer_gone = asyncio.Event()
    outcome = Outcome()

    async def ivr(session: AgiSession) -> None:
        await peer_gone.wait()
        for _ in range(3):  # the first write may still "succeed" into the kernel buffer
            await session.answer()

    server = await serve({"ivr": outcome.wrap(ivr)})
    asterisk = await Asterisk.call(server.port)
    await wait_until(lambda: outcome.session is not None, "the handler to start")
    await asterisk.hang_up()
    peer_gone.set()
    await outcome.wait()
    assert isinstance(outcome.error, AgiHangup)


async def test_failed_command_on_live_channel_is_a_command_error(
    serve: Callable[..., Awaitable[FastAgiServer]],
) -> None:
    """result=-1 on a live channel (a missing prompt) is not mistaken for a hang-up."""
    outcome = Outcome()

    async def ivr(session: AgiSession) -> None:
        await session.stream_file("hotline/missing")

    server = await serve({"ivr": outcome.wrap(ivr)})
    asterisk = await Asterisk.call(server.port)
    await asterisk.expect('STREAM FILE "hotline/missing" "0123456789*#"')
    await asterisk.reply("200 result=-1 endpos=0")
    await asterisk.expect("CHANNEL STATUS")
    await asterisk.reply("200 result=6")
    await outcome.wait()
    assert isinstance(outcome.error, AgiCommandError)


async def test_failed_command_on_dead_channel_is_a_hangup(
    serve: Callable[..., Awaitable[FastAgiServer]],
) -> None:
    outcome = Outcome()

    async def ivr(session: AgiSession) -> None:
        await session.get_data("hotline/menu", 3000, 1)

    server = await serve({"ivr": outcome.wrap(ivr)})
    asterisk = await Asterisk.call(server.port)
    await asterisk.expect('GET DATA "hotline/menu" 3000 1')
    await asterisk.reply("200 result=-1")
    await asterisk.expect("CHANNEL STATUS")
    await asterisk.reply("HANGUP")
    await outcome.wait()
    assert isinstance(outcome.error, AgiHangup)


# digits and the (timeout) marker -------------------------------------------------------------


@pytest.mark.parametrize(
    "answer,expected",
    [
        ("200 result= (timeout)", ("", True)),
        ("200 result=12 (timeout)", ("12", True)),
        ("200 result=3", ("3", False)),
        ("200 result=", ("", False)),
    ],
)
async def test_get_data_keeps_the_timeout_marker(
    serve: Callable[..., Awaitable[FastAgiServer]], answer: str, expected: tuple[str, bool]
) -> None:
    outcome = Outcome()

    async def ivr(session: AgiSession) -> tuple[str, bool]:
        return await session.get_data("hotline/menu", timeout_ms=4000, max_digits=2)

    server = await serve({"ivr": outcome.wrap(ivr)})
    asterisk = await Asterisk.call(server.port)
    await asterisk.expect('GET DATA "hotline/menu" 4000 2')
    await asterisk.reply(answer)
    await outcome.wait()
    assert outcome.value == expected


async def test_digits_from_stream_file_and_wait_for_digit(
    serve: Callable[..., Awaitable[FastAgiServer]],
) -> None:
    outcome = Outcome()

    async def ivr(session: AgiSession) -> list[str | None]:
        return [
            await session.stream_file("hotline/welcome", escape_digits="12"),
            await session.stream_file("hotline/welcome", escape_digits=""),
            await session.wait_for_digit(3000),
            await session.wait_for_digit(3000),
        ]

    server = await serve({"ivr": outcome.wrap(ivr)})
    asterisk = await Asterisk.call(server.port)
    await asterisk.expect('STREAM FILE "hotline/welcome" "12"')
    await asterisk.reply("100 result=0 Trying...", "200 result=50 endpos=8000")
    await asterisk.expect('STREAM FILE "hotline/welcome" ""')
    await asterisk.reply("200 result=0 endpos=16000")
    await asterisk.expect("WAIT FOR DIGIT 3000")
    await asterisk.reply("200 result=35")
    await asterisk.expect("WAIT FOR DIGIT 3000")
    await asterisk.reply("200 result=0")
    await outcome.wait()
    assert outcome.value == ["2", None, "#", None]


async def test_usage_error_and_invalid_command(
    serve: Callable[..., Awaitable[FastAgiServer]],
) -> None:
    outcome = Outcome()

    async def ivr(session: AgiSession) -> list[AgiResult]:
        results = [await session.command("GET DATA"), await session.command("FROB")]
        with pytest.raises(AgiCommandError, match="rejected"):
            await session.verbose("hello")
        return results

    server = await serve({"ivr": outcome.wrap(ivr)})
    asterisk = await Asterisk.call(server.port)
    await asterisk.expect("GET DATA")
    await asterisk.reply(
        "520-Invalid command syntax.  Proper usage follows:",
        " Usage: GET DATA <file to be streamed> [timeout] [maxdigits]",
        "520 End of proper usage.",
    )
    await asterisk.expect("FROB")
    await asterisk.reply("510 Invalid or unknown command")
    await asterisk.expect('VERBOSE "hello" 1')
    await asterisk.reply("510 Invalid or unknown command")
    await outcome.wait()
    assert outcome.error is None
    assert isinstance(outcome.value, list)
    usage, invalid = outcome.value
    assert usage.code == 520 and "Usage: GET DATA" in usage.data
    assert invalid.code == 510


async def test_silent_asterisk_times_the_command_out(
    serve: Callable[..., Awaitable[FastAgiServer]],
) -> None:
    outcome = Outcome()

    async def ivr(session: AgiSession) -> None:
        await session.command("ANSWER", timeout=0.2)

    server = await serve({"ivr": outcome.wrap(ivr)})
    asterisk = await Asterisk.call(server.port)
    await asterisk.expect("ANSWER")
    await outcome.wait()
    assert isinstance(outcome.error, AgiCommandError)
    assert "no answer to ANSWER" in str(outcome.error)
    assert await asterisk.closed_by_server()


async def test_line_breaks_cannot_inject_commands() -> None:
    session = AgiSession({}, asyncio.StreamReader(), None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        await session.command("ANSWER\nHANGUP")
    with pytest.raises(ValueError):
        await session.set_variable("X", "a\nHANGUP")
    with pytest.raises(ValueError):
        await session.set_variable("X Y", "a")


@pytest.mark.parametrize(
    "line,code,result,data,timed_out,extra",
    [
        ("200 result=0", 200, "0", "", False, ""),
        ("200 result= (timeout)", 200, "", "timeout", True, ""),
        ("200 result=1 (timeout) endpos=1234", 200, "1", "timeout", True, "endpos=1234"),
        ("200 result=0 endpos=8000", 200, "0", "", False, "endpos=8000"),
        ("200 result=1 (some (nested) value)", 200, "1", "some (nested) value", False, ""),
        ("510 Invalid or unknown command", 510, "", "Invalid or unknown command", False, ""),
        ("garbage", 0, "", "", False, ""),
    ],
)
def test_parse_agi_result(
    line: str, code: int, result: str, data: str, timed_out: bool, extra: str
) -> None:
    parsed = parse_agi_result(line)
    assert (parsed.code, parsed.result, parsed.data, parsed.timed_out, parsed.extra) == (
        code,
        result,
        data,
        timed_out,
        extra,
    )
