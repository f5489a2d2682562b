"""The callbacks' placeholder channels with a fake Asterisk and no database: their names,
where one enters its queue, one place per callback, and what a reconnect finds."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from queues.placeholders import (
    ORIGINATE_GRACE,
    Found,
    Placeholders,
    placeholder_id,
    position,
)
from tests.queues.fakes import FakePbx

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
NUMBER = "0903000002"


def placeholder(callback_id: int, n: int = 0, side: str = "2") -> str:
    return f"Local/cb{callback_id}@hotline-callback-{n:08x};{side}"


def test_placeholder_channel_names() -> None:
    assert placeholder_id("Local/cb12@hotline-callback-0000000a;2") == (12, "2")
    assert placeholder_id("Local/cb12@hotline-callback-0000000a;1") == (12, "1")
    assert placeholder_id("Local/cb12@hotline-callback/n") is None
    assert placeholder_id("PJSIP/pstn-out-00000001") is None


def test_position_counts_only_the_callers_ahead() -> None:
    since = T0 - timedelta(seconds=30)
    other = 9  # another callback, pending: its caller would have joined at T0
    queued_since = {other: T0}.get
    entries = [
        {"Channel": "PJSIP/a", "Priority": "20", "Wait": "1"},  # higher priority: ahead
        {"Channel": "PJSIP/b", "Priority": "0", "Wait": "50"},  # came earlier: ahead
        {"Channel": "PJSIP/c", "Priority": "0", "Wait": "30"},  # may have, within a second: ahead
        {"Channel": "PJSIP/d", "Priority": "0", "Wait": "10"},  # came later: behind
        {"Channel": "PJSIP/e", "Priority": "-1", "Wait": "90"},  # lower priority: behind
        # another callback's placeholder, just re-made (Wait 2) for a caller who came at T0:
        {"Channel": placeholder(other), "Priority": "0", "Wait": "2"},
    ]
    assert position(0, since, entries, T0, queued_since) == 4
    assert position(0, T0 + timedelta(seconds=1), entries, T0, queued_since) == 6
    assert position(20, since, entries, T0, queued_since) == 1
    assert position(0, since, [], T0, queued_since) == 1


def test_a_placeholder_of_a_callback_no_longer_pending_counts_by_its_wait() -> None:
    entries = [
        {"Channel": placeholder(9), "Priority": "0", "Wait": "2"},
        {"Channel": "PJSIP/x", "Priority": "zero", "Wait": "?"},  # unreadable: 0, just now
    ]
    assert position(0, T0 - timedelta(seconds=2), entries, T0, lambda _id: None) == 2
    assert position(0, T0 - timedelta(seconds=4), entries, T0, lambda _id: None) == 1


@pytest.fixture
def pbx() -> FakePbx:
    return FakePbx()


@pytest.fixture
def places(pbx: FakePbx) -> Placeholders:
    return Placeholders(pbx, queued_since=lambda _id: None)


async def make(places: Placeholders, callback_id: int = 3, now: datetime = T0) -> None:
    await places.make(
        callback_id, number=NUMBER, queue="violation", priority=10, position=2, now=now
    )


async def test_a_placeholder_enters_its_queue_with_the_callback_s_priority(
    pbx: FakePbx, places: Placeholders
) -> None:
    pbx.entries["violation"] = [{"Channel": "PJSIP/pstn-1", "Priority": "10", "Wait": "40"}]
    assert await places.position_in("violation", 10, T0 - timedelta(seconds=5), T0) == 2
    await make(places)
    assert pbx.originated == [
        {
            "channel": "Local/cb3@hotline-callback/n",
            "context": "hotline-callback-dial",
            "exten": "s",
            "caller_id": f'"Gọi lại {NUMBER}" <{NUMBER}>',
            "ring_timeout_ms": 12 * 3600 * 1000,
            "CB_ID": "3",
            "CB_NUMBER": NUMBER,
            "CB_QUEUE": "violation",
            "CB_PRIO": "10",
            "CB_POSITION": "2",
        }
    ]
    assert places.originating(3) and places.of(3) is None


async def test_one_that_asterisk_did_not_take_is_not_waited_for(
    pbx: FakePbx, places: Placeholders
) -> None:
    pbx.down = True
    with pytest.raises(ConnectionError):
        await make(places)
    assert not places.originating(3)
    assert places.overdue(T0 + timedelta(hours=1)) == []


async def test_one_that_never_joins_its_queue_is_overdue_once(places: Placeholders) -> None:
    await make(places, 3)
    await make(places, 4)
    assert places.joined(4, placeholder(4), pending=True)
    assert places.overdue(T0 + ORIGINATE_GRACE) == []  # not yet
    assert places.overdue(T0 + ORIGINATE_GRACE + timedelta(seconds=1)) == [3]
    assert places.overdue(T0 + timedelta(hours=1)) == []  # said once
    assert not places.originating(3) and not places.originating(4)


async def test_one_place_per_callback(places: Placeholders) -> None:
    await make(places)
    assert places.joined(3, placeholder(3, 0), pending=True)
    assert places.of(3) == placeholder(3, 0)
    assert places.joined(3, placeholder(3, 0), pending=True)  # the same one, told again
    assert not places.joined(3, placeholder(3, 7), pending=True)  # a second place: hang it up
    assert not places.left(3, placeholder(3, 7))  # the extra one going frees nothing
    assert places.of(3) == placeholder(3, 0)
    assert places.left(3, placeholder(3, 0))  # the place is lost
    assert places.of(3) is None and not places.left(3, placeholder(3, 0))
    assert not places.joined(5, placeholder(5), pending=False)  # over already: hang it up
    assert places.of(5) is None


async def test_forgetting_a_callback_gives_its_channel(places: Placeholders) -> None:
    await make(places)
    assert places.forget(3) is None and not places.originating(3)
    await make(places)
    places.joined(3, placeholder(3), pending=True)
    assert places.forget(3) == placeholder(3)
    assert places.of(3) is None


async def test_a_reconnect_finds_the_placeholders_asterisk_has(
    pbx: FakePbx, places: Placeholders
) -> None:
    pbx.live_channels = [
        {"Channel": placeholder(1), "ChannelStateDesc": "Ringing"},
        {"Channel": placeholder(1, side="1"), "ChannelStateDesc": "Down"},
        {"Channel": placeholder(2), "ChannelStateDesc": "Up"},
        {"Channel": placeholder(3, side="1"), "ChannelStateDesc": "Up"},
        {"Channel": "PJSIP/agent01-00000001", "ChannelStateDesc": "Up"},
    ]
    found = await places.find()
    assert sorted(found) == [1, 2, 3]
    assert (found[1].queue_channel, found[1].answered, found[1].gone) == (
        placeholder(1),
        False,
        False,
    )
    assert (found[2].queue_channel, found[2].answered) == (placeholder(2), True)
    assert (found[3].queue_channel, found[3].answered, found[3].gone) == (None, False, False)
    assert Found().gone and Found().queue_channel is None
    await make(places, 1)
    places.adopt(1, found[1])
    assert places.of(1) == placeholder(1) and not places.originating(1)
    places.adopt(3, found[3])  # no queue side: nothing to hold the place
    assert places.of(3) is None


class UnreachablePbx(FakePbx):
    async def hangup(self, channel: str) -> None:
        raise ConnectionError("AMI link is down")

    async def queue_entries(self, queue: str) -> list[dict[str, str]]:
        raise ConnectionError("AMI link is down")


async def test_a_hang_up_that_fails_is_said_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    places = Placeholders(UnreachablePbx(), queued_since=lambda _id: None)
    with caplog.at_level(logging.WARNING, logger="queues.placeholders"):
        await places.hang_up(placeholder(3))
    assert f"could not hang up {placeholder(3)}: AMI link is down" in caplog.text
    with pytest.raises(ConnectionError):
        await places.position_in("violation", 0, T0, T0)
