"""Least privilege on a real Asterisk: what the service's own AMI user and FastAGI port allow.

The manager user provisioning writes has no ``system``, ``config`` or ``command`` class, so
Originate may not run AGI, Exec or System on the Asterisk host, nor may the CLI be driven;
what the service does itself (Originate into the dialplan, hang up, list channels, manage
queue members) still works. FastAGI serves only sessions our dialplan proves. Calls through
the dialplan on both databases are covered by test_call_flow.py, test_ivr.py,
test_callbacks.py and test_dispatch_phone.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import stat
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from pbx.errors import AmiActionError
from pbx.events import TYPED_EVENTS, AmiEvent
from pbx.member_status import _IN_ORDER
from simulation.stack import Stack
from tests.pbx.helpers import wait_until

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.asterisk]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with Stack(state_dir=tmp_path_factory.mktemp("hotline"), agent_count=2) as stack:
        yield stack


def marker(stack: Stack) -> tuple[str, str]:
    """A file a shell command would create: (its path inside Asterisk's root, on the host)."""
    assert stack.asterisk is not None
    inner = f"{stack.asterisk.inst}/run/pwned-{secrets.token_hex(4)}"
    return inner, str(stack.asterisk.host_path(inner))


@pytest.mark.parametrize(
    ("application", "data"),
    [
        ("AGI", "/bin/touch {marker}"),
        ("EAGI", "/bin/touch {marker}"),
        ("Exec", "System(/bin/touch {marker})"),
        ("System", "/bin/touch {marker}"),
        ("TrySystem", "/bin/touch {marker}"),
        ("Queue", "medical,,,,,/bin/touch {marker}"),  # Queue's own AGI argument
        ("NoOp", "${{SHELL(/bin/touch {marker})}}"),
    ],
)
async def test_originate_of_shell_reaching_applications_is_refused(
    stack: Stack, application: str, data: str
) -> None:
    inner, host = marker(stack)
    with pytest.raises(AmiActionError, match="Originate Access Forbidden"):
        await stack.running.link.action(
            "Originate",
            {
                "Channel": "Local/600@agents",
                "Application": application,
                "Data": data.format(marker=inner),
                "Async": "false",
                "Timeout": "5000",
            },
        )
    await asyncio.sleep(0.5)
    assert not await asyncio.to_thread(os.path.exists, host)


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("Command", {"Command": "core show version"}),  # the CLI: class command
        ("GetConfig", {"Filename": "manager.conf"}),  # reads the AMI secret: class config
        ("UpdateConfig", {"SrcFilename": "extensions.conf", "DstFilename": "x.conf"}),
        ("Reload", {}),  # class system (and config)
        ("ModuleLoad", {"Module": "res_agi.so", "LoadType": "unload"}),
    ],
)
async def test_actions_beyond_the_services_needs_are_refused(
    stack: Stack, action: str, fields: dict[str, str]
) -> None:
    with pytest.raises(AmiActionError, match="Permission denied"):
        await stack.running.link.action(action, fields)


async def test_what_the_service_does_still_works(stack: Stack) -> None:
    """Originate into the dialplan (an application Asterisk allows), Hangup, CoreShowChannels,
    CoreStatus, QueueStatus, QueueAdd/QueueRemove: each of the service's own actions."""
    link = stack.running.link
    pbx = stack.running.pbx
    reply = await pbx.originate(
        "Local/600@agents", application="Wait", data="30", ring_timeout_ms=5000, run_async=False
    )
    assert reply.get("Response") == "Success"
    channels = await pbx.channels()
    echo = [c["Channel"] for c in channels if c["Channel"].startswith("Local/600@agents")]
    assert echo, channels
    for channel in echo:
        await pbx.hangup(channel)
    assert (await pbx.core_status()).get("Response") == "Success"
    await pbx.queue_add("medical", "PJSIP/agent01", member_name="agent01", penalty=0)
    await pbx.queue_pause("PJSIP/agent01", True, "break")
    members = (await pbx.queue_status("medical")).members
    assert any(m.get("Location") == "PJSIP/agent01" for m in members), members
    await pbx.queue_remove("medical", "PJSIP/agent01")
    await link.action("Ping")


async def test_asterisk_sends_the_service_only_the_typed_events(stack: Stack) -> None:
    """The AMI user's eventfilter lines (asterisk-conf/manager.conf.j2): DeviceStateChange,
    Newconnectedline, DialBegin... never reach the socket; the typed events do, and a queue
    member's report comes in the order ``pbx.member_status`` reads fastest."""
    seen: list[AmiEvent] = []
    stack.running.link.add_listener(seen.append)  # every event that arrives
    pbx = stack.running.pbx
    reply = await pbx.originate(
        "Local/600@agents", application="Wait", data="30", ring_timeout_ms=5000, run_async=False
    )
    assert reply.get("Response") == "Success"
    for channel in [c["Channel"] for c in await pbx.channels()]:
        if channel.startswith("Local/600@agents"):
            await pbx.hangup(channel)
    await pbx.queue_add("food", "PJSIP/agent02", member_name="agent02", penalty=0)
    await pbx.queue_remove("food", "PJSIP/agent02")
    await wait_until(
        lambda: {"Hangup", "QueueMemberRemoved"} <= {e.name for e in seen}, "the events", 10.0
    )
    names = {e.name for e in seen}
    assert {"Newchannel", "Hangup", "QueueMemberAdded"} <= names
    assert names <= set(TYPED_EVENTS), names - set(TYPED_EVENTS)
    added = next(e for e in seen if e.name == "QueueMemberAdded")
    raw = "".join(f"\r\n{key}: {value}" for key, value in added.headers.items()).encode()
    assert _IN_ORDER.search(raw) is not None, list(added.headers)


async def test_the_files_holding_secrets_are_not_world_readable(stack: Stack) -> None:
    assert stack.asterisk is not None
    etc = stack.asterisk.host_path(f"{stack.asterisk.inst}/etc")
    for name in ("manager.conf", "pjsip.conf", "extensions.conf"):
        assert stat.S_IMODE((etc / name).stat().st_mode) == 0o640, name
    manager = (etc / "manager.conf").read_text()
    assert "read = call,agent,user\n" in manager
    assert "write = call,agent,originate,reporting\n" in manager


async def test_a_fastagi_client_without_a_proof_is_refused(stack: Stack) -> None:
    """A local process playing Asterisk on the service's FastAGI port: closed unanswered."""
    hotline = stack.running
    refused = hotline.agi.refused
    reader, writer = await asyncio.open_connection("127.0.0.1", hotline.agi.port)
    env = {
        "agi_network": "yes",
        "agi_network_script": "dispatch",
        "agi_channel": "PJSIP/pstn-out-00000001",
        "agi_uniqueid": "1700000000.1",
        "agi_arg_1": "feedbeef",
    }
    writer.write("".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n")
    await writer.drain()
    async with asyncio.timeout(10):
        with contextlib.suppress(ConnectionResetError):
            assert await reader.read() == b""  # no GET VARIABLE, no ANSWER: nothing
    writer.close()
    with contextlib.suppress(ConnectionResetError):
        await writer.wait_closed()
    assert hotline.agi.refused == refused + 1
