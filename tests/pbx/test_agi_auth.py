"""Who FastAGI serves: only sessions with a valid proof from an allowed peer, within bounds.

The test plays both Asterisk (with the right keys) and a hostile local process (without).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from pbx.agi import FastAgiServer
from pbx.agi_auth import AgiAuth, AgiKeys, PeerFilter, agi_keys, agi_proof
from pbx.agi_session import AgiSession
from tests.pbx.helpers import wait_until
from tests.pbx.test_agi import Asterisk, Outcome, agi_env, close_clients, open_raw

SECRET = "per-instance-secret-for-tests"
NOW = 1_800_000_000.0

Handler = Callable[[AgiSession], Awaitable[None]]
__all__ = ["close_clients"]  # the autouse fixture that closes the test's clients


def proven_env(
    script: str = "ivr",
    *,
    keys: AgiKeys | None = None,
    uniqueid: str = "1700000000.1",
    at: float = NOW,
    route: str | None = None,
) -> dict[str, str]:
    """The environment our dialplan sends: the script's URL carries ``t`` and ``p``."""
    stamp = str(int(at))
    proof = agi_proof(keys or agi_keys(SECRET), route or script, uniqueid, stamp)
    return agi_env(f"{script}?t={stamp}&p={proof}", agi_uniqueid=uniqueid)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def guarded() -> AsyncIterator[Callable[..., Awaitable[FastAgiServer]]]:
    servers: list[FastAgiServer] = []

    async def start(routes: dict[str, Handler], **kw: object) -> FastAgiServer:
        kw.setdefault("auth", AgiAuth(SECRET, window_s=30, clock=Clock()))
        kw.setdefault("env_timeout", 0.5)
        server = FastAgiServer("127.0.0.1", 0, **kw)  # type: ignore[arg-type]
        for script, handler in routes.items():
            server.route(script, handler)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


async def answered(server: FastAgiServer, env: dict[str, str]) -> bool:
    """True if the server ran the handler (it sends ANSWER), False if it closed at once."""
    asterisk = await Asterisk.call(server.port, env)
    try:
        async with asyncio.timeout(5):
            line = await asterisk.reader.readline()
    except ConnectionResetError:  # closed before it read what we sent
        return False
    if line == b"ANSWER\n":
        await asterisk.reply("200 result=0")
        return True
    assert line == b"", line
    return False


async def answer(session: AgiSession) -> None:
    await session.answer()


# the proof -------------------------------------------------------------------------------------


def test_the_proof_is_the_dialplans_nested_sha1() -> None:
    """What extensions.conf computes: ${SHA1(${K_OUT}${SHA1(${K_IN}:ivr:UNIQUEID:EPOCH)})}."""
    import hashlib

    keys = agi_keys(SECRET)
    inner = hashlib.sha1(f"{keys.inner}:ivr:1.2:1800000000".encode()).hexdigest()
    expected = hashlib.sha1(f"{keys.outer}{inner}".encode()).hexdigest()
    assert agi_proof(keys, "ivr", "1.2", "1800000000") == expected
    assert SECRET not in keys.inner + keys.outer  # the dialplan never holds the secret


def test_no_secret_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="HOTLINE_AGI_SECRET"):
        AgiAuth("")


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        (agi_env("dispatch"), "no proof"),
        (agi_env("dispatch?t=1800000000"), "no proof"),
        (agi_env("dispatch?t=soon&p=ab"), "malformed"),
        (proven_env("dispatch", keys=agi_keys("another instance")), "wrong proof"),
        (proven_env("dispatch", route="ivr"), "wrong proof"),  # an ivr proof for dispatch
        (proven_env("dispatch", at=NOW - 31), "off by"),
        (proven_env("dispatch", at=NOW + 31), "off by"),
        ({**proven_env("dispatch"), "agi_uniqueid": "1700000000.2"}, "wrong proof"),
    ],
)
def test_sessions_without_a_valid_proof_are_refused(env: dict[str, str], reason: str) -> None:
    refusal = AgiAuth(SECRET, window_s=30, clock=Clock()).check("dispatch", env)
    assert refusal is not None and reason in refusal


def test_a_proof_is_accepted_once() -> None:
    auth = AgiAuth(SECRET, window_s=30, clock=Clock())
    env = proven_env("dispatch")
    assert auth.check("dispatch", env) is None
    assert auth.check("dispatch", env) == "proof used before (replay)"
    assert auth.check("dispatch", proven_env("dispatch", uniqueid="1700000000.9")) is None


# the server ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        agi_env("dispatch"),
        proven_env("dispatch", keys=agi_keys("guessed")),
        agi_env(f"dispatch?t={int(NOW)}&p={SECRET}"),
    ],
    ids=["without a proof", "with a wrong proof", "with the secret as proof"],
)
async def test_a_client_without_a_valid_proof_is_refused_and_logged(
    guarded: Callable[..., Awaitable[FastAgiServer]],
    caplog: pytest.LogCaptureFixture,
    env: dict[str, str],
) -> None:
    outcome = Outcome()
    server = await guarded({"dispatch": outcome.wrap(answer)})
    with caplog.at_level(logging.WARNING, logger="pbx.agi"):
        assert not await answered(server, env)
    assert not outcome.done.is_set()
    assert "refused script 'dispatch'" in caplog.text
    assert SECRET not in caplog.text and "p=" not in caplog.text
    assert server.refused == 1
    # Our own dialplan's session is served.
    assert await answered(server, proven_env("dispatch"))
    await outcome.wait()


async def test_a_replayed_session_is_refused(
    guarded: Callable[..., Awaitable[FastAgiServer]],
) -> None:
    server = await guarded({"ivr": answer})
    env = proven_env("ivr")
    assert await answered(server, env)
    assert not await answered(server, env)


async def test_idle_connections_are_bounded_and_cannot_starve_calls(
    guarded: Callable[..., Awaitable[FastAgiServer]],
) -> None:
    """20 bare connections against 4 handshake places: at most 4 are held, the oldest go
    first, and a real call is still served at once (long before env_timeout)."""
    server = await guarded({"ivr": answer}, max_handshakes=4, env_timeout=30.0)
    idle = [await open_raw(server.port) for _ in range(20)]
    await wait_until(lambda: server.refused >= 16, "the oldest idle connections to be closed")
    assert server.handshaking <= 4
    async with asyncio.timeout(5):
        assert await idle[0][0].read() == b""  # the first one was closed
    async with asyncio.timeout(5):
        assert await answered(server, proven_env("ivr"))
    assert server.handshaking <= 4


async def test_sessions_beyond_the_bound_are_refused(
    guarded: Callable[..., Awaitable[FastAgiServer]],
) -> None:
    release = asyncio.Event()

    async def hold(session: AgiSession) -> None:
        await session.answer()
        await release.wait()

    server = await guarded({"ivr": hold}, max_sessions=2)
    held = []
    for n in range(2):
        asterisk = await Asterisk.call(server.port, proven_env("ivr", uniqueid=f"1.{n}"))
        await asterisk.expect("ANSWER")
        await asterisk.reply("200 result=0")
        held.append(asterisk)
    third = await Asterisk.call(server.port, proven_env("ivr", uniqueid="1.3"))
    assert await third.closed_by_server()
    assert server.refused == 1
    release.set()
    for asterisk in held:
        assert await asterisk.closed_by_server()
    # Places are given back.
    assert await answered(server, proven_env("ivr", uniqueid="1.4"))


async def test_a_peer_outside_the_allowed_networks_is_refused(
    guarded: Callable[..., Awaitable[FastAgiServer]],
) -> None:
    server = await guarded({"ivr": answer}, peers=PeerFilter(["10.0.0.0/8"]))
    assert not await answered(server, proven_env("ivr"))
    assert server.refused == 1


def test_listening_beyond_loopback_needs_allow_remote() -> None:
    with pytest.raises(ValueError, match="HOTLINE_AGI_ALLOW_REMOTE"):
        FastAgiServer("0.0.0.0", 0, auth=AgiAuth(SECRET))
    FastAgiServer("0.0.0.0", 0, auth=AgiAuth(SECRET), allow_remote=True)
    FastAgiServer("::1", 0, auth=AgiAuth(SECRET))


def test_peer_filter() -> None:
    loopback = PeerFilter()
    assert loopback.allows(("127.0.0.1", 5000))
    assert loopback.allows(("::1", 5000, 0, 0))
    assert loopback.allows(("::ffff:127.0.0.1", 5000, 0, 0))
    assert not loopback.allows(("192.168.1.5", 5000))
    assert not loopback.allows(None)
