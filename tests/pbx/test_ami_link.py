"""AmiLink against the fake AMI on loopback: login, actions, events, heartbeat, reconnect."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from pbx.ami import AmiLink, Backoff
from pbx.errors import AmiActionError, AmiActionTimeout, AmiAuthError, AmiNotConnected
from pbx.events import AmiEvent, ChannelEvent, FullyBooted, Newchannel, event_names
from tests.pbx.conftest import MakeLink
from tests.pbx.fake_ami import FakeAmi, frame
from tests.pbx.helpers import Recorder, wait_until

NAME = "Nguyễn Thị Hằng"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Logins:
    """A connect callback counting successful (re)logins."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> None:
        self.count += 1


# login ---------------------------------------------------------------------------------------


async def test_start_logs_in(ami: FakeAmi, make_link: MakeLink) -> None:
    link = make_link()
    logins = Logins()
    link.add_connect_callback(logins)
    assert not link.connected
    await link.start()
    assert link.connected
    assert ami.login_attempts == 1
    await wait_until(lambda: logins.count == 1, "the connect callback")
    status = link.status()
    assert status["connected"] is True
    assert (status["host"], status["port"], status["reconnects"]) == ("127.0.0.1", ami.port, 0)
    assert status["last_error"] is None and isinstance(status["since"], float)


async def test_bad_secret_raises_a_clear_auth_error(ami: FakeAmi, make_link: MakeLink) -> None:
    """Defect 3: the login answer is awaited and checked; no retry loop follows."""
    link = make_link(secret="wrong-secret-123", reconnect_min=0.01)
    with pytest.raises(AmiAuthError) as caught:
        await link.start()
    message = str(caught.value)
    assert f"127.0.0.1:{ami.port}" in message
    assert "'hotline'" in message
    assert "Authentication failed" in message
    assert "wrong-secret-123" not in message + repr(caught.value)
    assert not link.connected
    await asyncio.sleep(0.2)  # a retry loop would have logged in again many times by now
    assert ami.login_attempts == 1


async def test_bad_secret_also_raises_when_not_waiting(ami: FakeAmi, make_link: MakeLink) -> None:
    link = make_link(secret="nope", reconnect_min=0.01)
    with pytest.raises(AmiAuthError):
        await link.start(wait=False)
    await asyncio.sleep(0.2)
    assert ami.login_attempts == 1


async def test_unreachable_asterisk_raises_not_connected(make_link: MakeLink) -> None:
    link = make_link(port=free_port())
    with pytest.raises(AmiNotConnected, match=r"cannot reach the AMI at 127\.0\.0\.1"):
        await link.start()
    assert not link.connected


async def test_start_without_waiting_keeps_trying_until_asterisk_is_up(
    make_link: MakeLink,
) -> None:
    late = FakeAmi()
    port = free_port()
    link = make_link(port=port)
    logins = Logins()
    link.add_connect_callback(logins)
    await link.start(wait=False)
    assert not link.connected
    await wait_until(lambda: "cannot reach" in str(link.status()["last_error"]), "a failed try")
    await late.start(port=port)
    try:
        await wait_until(lambda: link.connected, "the background login")
        await wait_until(lambda: logins.count == 1, "the connect callback")
        assert link.status()["reconnects"] == 0  # the first login is not a reconnect
    finally:
        await link.close()
        await late.stop()


async def test_silent_login_is_not_connected(ami: FakeAmi, make_link: MakeLink) -> None:
    ami.ignore.add("login")
    link = make_link(login_timeout=0.2)
    with pytest.raises(AmiNotConnected, match="did not answer Login"):
        await link.start()


# actions -------------------------------------------------------------------------------------


async def test_action_returns_plain_dicts(link: AmiLink) -> None:
    (reply,) = await link.action("Ping")
    assert reply["Response"] == "Success"
    assert reply["Ping"] == "Pong"
    assert type(reply) is dict


async def test_action_error_carries_asterisk_text(link: AmiLink) -> None:
    with pytest.raises(AmiActionError, match="No such queue") as caught:
        await link.action("QueueAdd", {"Queue": "nope", "Interface": "PJSIP/101"})
    assert caught.value.action == "QueueAdd"
    assert caught.value.message == "Unable to add interface to queue: No such queue"


async def test_action_timeout_names_the_action_and_clears_the_pending_map(
    ami: FakeAmi, link: AmiLink
) -> None:
    """Defect 4."""
    ami.ignore.add("corestatus")
    with pytest.raises(AmiActionTimeout, match="CoreStatus") as caught:
        await link.action("CoreStatus", timeout=0.2)
    assert caught.value.action == "CoreStatus"
    assert link.status()["pending_actions"] == 0
    assert link.connected
    assert (await link.action("Ping"))[0]["Ping"] == "Pong"


async def test_list_action_collects_up_to_complete(ami: FakeAmi, link: AmiLink) -> None:
    """Defect 9: QueueMember events with our ActionID come back in the action's result."""
    seen = Recorder()
    link.add_listener(seen)
    ami.queues["q-medical"]["PJSIP/agent101"] = "Trần Văn Bình"
    replies = await link.action("QueueStatus", {"Queue": "q-medical"}, as_list=True)
    kinds = [r.get("Event", "") for r in replies]
    assert kinds == ["", "QueueParams", "QueueMember", "QueueEntry", "QueueStatusComplete"]
    assert replies[2]["Name"] == "Trần Văn Bình"
    await link.action("Ping")  # anything in flight has reached the listener by now
    assert "QueueMember" not in seen.names()


# events --------------------------------------------------------------------------------------


async def test_events_reach_listeners_typed_and_in_order(ami: FakeAmi, link: AmiLink) -> None:
    seen = Recorder()
    link.add_listener(seen)
    await ami.send(
        b"".join(
            frame({"Event": "Newchannel", "Uniqueid": f"1.{i}", "CallerIDName": NAME})
            for i in range(20)
        )
    )
    await wait_until(lambda: seen.names().count("Newchannel") == 20, "20 events")
    channels = [e for e in seen.items if isinstance(e, Newchannel)]
    assert [e.uniqueid for e in channels] == [f"1.{i}" for i in range(20)]
    assert all(isinstance(e, AmiEvent) and e.received_at > 0 for e in seen.items)


async def test_fully_booted_after_login_reaches_listeners(make_link: MakeLink) -> None:
    link = make_link()
    seen = Recorder()
    link.add_listener(seen)
    await link.start()
    await wait_until(lambda: any(isinstance(e, FullyBooted) for e in seen.items), "FullyBooted")


async def test_failing_listener_is_isolated(
    ami: FakeAmi, link: AmiLink, caplog: pytest.LogCaptureFixture
) -> None:
    """Defect 5: a raising listener is logged; the link and the other listeners go on."""

    def broken(event: AmiEvent) -> None:
        raise RuntimeError("listener bug")

    async def broken_async(event: AmiEvent) -> None:
        raise ValueError("async listener bug")

    seen = Recorder()
    link.add_listener(broken)
    link.add_listener(broken_async)
    link.add_listener(seen)
    with caplog.at_level(logging.ERROR, logger="pbx.fanout"):
        await ami.send(b"".join(frame({"Event": "Newstate", "Seq": str(i)}) for i in range(3)))
        await wait_until(lambda: len(seen.items) >= 3, "three events despite the broken ones")
        assert link.connected
        await ami.send(frame({"Event": "Hangup", "Cause": "16"}))
        await wait_until(lambda: "Hangup" in seen.names(), "a later event")
    assert [e.get("Seq") for e in seen.items[:3] if isinstance(e, AmiEvent)] == ["0", "1", "2"]
    assert "listener bug" in caplog.text and "async listener bug" in caplog.text
    assert (await link.action("Ping"))[0]["Ping"] == "Pong"


async def test_listeners_get_the_events_they_name_and_the_link_drops_the_rest(
    ami: FakeAmi, link: AmiLink
) -> None:
    channels, hangups = Recorder(), Recorder()
    link.add_listener(channels, events=event_names(ChannelEvent))
    link.add_listener(hangups, events=["HANGUP"])
    await ami.send(
        frame({"Event": "VarSet", "Variable": "X"})  # nobody names it: dropped unread
        + frame({"Event": "Newchannel", "Uniqueid": "1.1"})
        + frame({"Event": "Hangup", "Uniqueid": "1.1"})
    )
    await wait_until(lambda: "Hangup" in channels.names(), "the Hangup")
    await link.action("Ping")
    assert channels.names() == ["Newchannel", "Hangup"]
    assert hangups.names() == ["Hangup"]


async def test_caller_name_split_across_reads_survives(ami: FakeAmi, link: AmiLink) -> None:
    """Defect 6, over a real socket: the frame is cut inside the 'ễ' of Nguyễn."""
    seen = Recorder()
    link.add_listener(seen)
    data = frame({"Event": "Newchannel", "Uniqueid": "1.1", "CallerIDName": NAME})
    cut = data.index("ễ".encode()) + 1
    await ami.send(data, splits=[cut])
    await wait_until(lambda: "Newchannel" in seen.names(), "the split event")
    (event,) = seen.items
    assert isinstance(event, Newchannel)
    assert event.caller_id_name == NAME


# heartbeat and reconnect ---------------------------------------------------------------------


async def test_heartbeat_drops_a_silent_peer_and_reconnects(
    ami: FakeAmi, make_link: MakeLink
) -> None:
    """Defect 7: a half-open connection is noticed by a missed Pong."""
    link = make_link(heartbeat_interval=0.1, heartbeat_timeout=0.2)
    logins = Logins()
    link.add_connect_callback(logins)
    await link.start()
    await wait_until(lambda: ami.count("Ping") >= 1, "a heartbeat Ping")
    ami.go_silent()
    await wait_until(lambda: logins.count == 2, "a reconnect after the missed Pong")
    assert ami.closed_by_client == 1  # the link hung up on the silent peer itself
    assert link.connected
    assert link.status()["reconnects"] == 1
    assert (await link.action("Ping"))[0]["Ping"] == "Pong"


async def test_reconnects_after_the_server_drops_the_connection(
    ami: FakeAmi, make_link: MakeLink
) -> None:
    link = make_link()
    logins = Logins()
    seen = Recorder()
    link.add_connect_callback(logins)
    link.add_listener(seen)
    await link.start()
    await ami.drop()
    await wait_until(lambda: logins.count == 2, "a reconnect")
    assert link.connected and link.status()["reconnects"] == 1
    await ami.send(frame({"Event": "Hangup", "Cause": "16"}))
    await wait_until(lambda: "Hangup" in seen.names(), "events on the new connection")


async def test_reconnect_backs_off_exponentially_while_asterisk_is_down(
    ami: FakeAmi, make_link: MakeLink, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = make_link(reconnect_min=0.01, reconnect_max=0.04)
    delays: list[float] = []

    async def recording_sleep(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0.01)

    monkeypatch.setattr(link, "_sleep", recording_sleep)
    await link.start()
    await ami.stop_listening()
    await ami.drop()
    await wait_until(lambda: len(delays) >= 5, "five reconnect attempts")
    assert delays[:5] == [0.01, 0.02, 0.04, 0.04, 0.04]
    assert "cannot reach" in str(link.status()["last_error"])
    with pytest.raises(AmiNotConnected, match="is down"):
        await link.action("Ping")
    await ami.start(port=ami.port)
    await wait_until(lambda: link.connected, "the reconnect once Asterisk is back")


async def test_asterisk_shutdown_event_reconnects(ami: FakeAmi, make_link: MakeLink) -> None:
    link = make_link()
    logins = Logins()
    seen = Recorder()
    link.add_connect_callback(logins)
    link.add_listener(seen)
    await link.start()
    await ami.send(frame({"Event": "Shutdown", "Shutdown": "Cleanly", "Restart": "True"}))
    await wait_until(lambda: "Shutdown" in seen.names(), "the Shutdown event")
    await wait_until(lambda: logins.count == 2, "a reconnect after the shutdown")
    assert link.connected


async def test_refused_relogin_keeps_retrying(ami: FakeAmi, make_link: MakeLink) -> None:
    """After a good start, a changed secret is reported and retried, not fatal."""
    link = make_link()
    await link.start()
    good = ami.secret
    ami.secret = "rotated"
    await ami.drop()
    await wait_until(lambda: "refused login" in str(link.status()["last_error"]), "a refusal")
    assert good not in str(link.status()["last_error"])
    ami.secret = good
    await wait_until(lambda: link.connected, "the login once the secret matches again")


def test_backoff_doubles_and_caps_and_resets() -> None:
    backoff = Backoff(0.5, 10.0)
    assert [backoff.next_delay() for _ in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]
    backoff.reset()
    assert backoff.next_delay() == 0.5


async def test_actions_are_never_replayed_after_reconnect(
    ami: FakeAmi, make_link: MakeLink
) -> None:
    """Defect 8: an Originate in flight when the link drops fails; it is not sent again."""
    link = make_link()
    logins = Logins()
    link.add_connect_callback(logins)
    await link.start()
    ami.ignore.add("originate")
    originate = asyncio.create_task(
        link.action("Originate", {"Channel": "PJSIP/agent101", "Exten": "1022"}, timeout=5.0)
    )
    await wait_until(lambda: ami.count("Originate") == 1, "the Originate to reach Asterisk")
    await ami.stop_listening()
    await ami.drop()
    with pytest.raises(AmiNotConnected, match="may or may not have run"):
        await originate
    with pytest.raises(AmiNotConnected):  # during the outage: refused at once, not queued
        await link.action("QueueAdd", {"Queue": "q-medical", "Interface": "PJSIP/agent102"})
    ami.ignore.clear()
    await ami.start(port=ami.port)
    await wait_until(lambda: logins.count == 2, "the reconnect")
    await link.action("Ping")  # after FullyBooted, when panoramisk would have replayed
    assert ami.count("Originate") == 1
    assert ami.count("QueueAdd") == 0


async def test_close_stops_everything(ami: FakeAmi, make_link: MakeLink) -> None:
    link = make_link(heartbeat_interval=0.05)
    await link.start()
    await link.close()
    assert not link.connected
    with pytest.raises(AmiNotConnected):
        await link.action("Ping")
    await wait_until(lambda: ami.closed_by_client == 1, "the server to see the close")
    attempts = ami.login_attempts
    await asyncio.sleep(0.2)  # a leftover supervisor would reconnect by now
    assert ami.login_attempts == attempts
