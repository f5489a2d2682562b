"""The AMI events benchmark's stream is valid AMI, and both measured paths digest all of it.

No timing is asserted: this checks what ``bench/ami_events.py`` feeds and counts.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.bench.loader import load_bench

bench = load_bench("ami_events.py")


@pytest.fixture
def stream() -> Any:
    return bench.generate(calls=3, min_events=None, queues=5, agents=2, seed=7)


def test_frames_are_crlf_key_value_blocks_with_a_blank_line_after_each(stream: Any) -> None:
    data: bytes = stream.data
    assert data.startswith(bench.BANNER)
    body = data.removeprefix(bench.BANNER)
    assert body.endswith(b"\r\n\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")  # no bare LF, no bare CR
    frames = body.split(b"\r\n\r\n")[:-1]
    assert len(frames) == stream.events
    names: list[str] = []
    for raw in frames:
        lines = raw.decode("utf-8").split("\r\n")  # whole frames are valid UTF-8
        assert all(": " in line and line.index(": ") > 0 for line in lines), lines
        assert [line.split(": ", 1)[0] for line in lines[:3]] == [
            "Event",
            "Privilege",
            "Timestamp",
        ]
        names.append(lines[0].split(": ", 1)[1])
    assert bench.Counter(names) == stream.mix


def test_each_call_has_its_own_uniqueids_and_a_vietnamese_caller(stream: Any) -> None:
    text = stream.data.decode("utf-8")
    frames = [f for f in text.split("\r\n\r\n") if f.startswith("Event: Newchannel")]
    uids = [
        line.split(": ", 1)[1]
        for f in frames
        for line in f.split("\r\n")
        if line.startswith("Uniqueid: ")
    ]
    assert len(uids) == 2 * stream.calls == len(set(uids))
    assert f"CallerIDName: {stream.sample_name}\r\n" in text
    assert any(ord(c) > 0x7F for c in stream.sample_name)


def test_the_mix_is_a_hotline_call(stream: Any) -> None:
    mix = stream.mix
    calls = stream.calls
    for name in ("UserEvent", "QueueCallerJoin", "AgentConnect", "AgentComplete"):
        assert mix[name] == calls
    assert mix["Newchannel"] == mix["Hangup"] == 2 * calls
    assert mix["QueueMemberStatus"] == 3 * 5 * calls  # 3 device states × 5 queues


async def test_both_paths_digest_every_event_even_in_tiny_reads(stream: Any) -> None:
    # 7-byte reads cut frames, separators and UTF-8 characters everywhere.
    chunks = bench.chunked(stream.data, 7)
    # check=True: every event reached the listeners, every call is tracked as answered with
    # its category and agent, the first caller's name survived intact; raises otherwise.
    run = await bench.service_run(chunks, stream, check=True)
    assert run.events == stream.events
    assert bench.bare_run(chunks, stream).events == stream.events
    for typed in (False, True):
        assert bench.framing_run(chunks, stream, typed=typed).events == run.events


def _member(event: str, queue: str, status: int, paused: bool, reason: str = "") -> str:
    headers = [
        ("Event", event),
        ("Privilege", "agent,all"),
        ("Timestamp", "1763800000.000000"),
        ("Queue", queue),
        ("MemberName", "agent01"),
        ("Interface", "PJSIP/agent01"),
        ("StateInterface", "PJSIP/agent01"),
        ("Membership", "dynamic"),
        ("Penalty", "0"),
        ("CallsTaken", "3"),
        ("InCall", "0"),
        ("Status", str(status)),
        ("Paused", "1" if paused else "0"),
        ("PausedReason", reason),
    ]
    return "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"


def _pauses(queues: list[str]) -> list[str]:
    """An agent paused, busy while paused, unpaused in one queue, removed from and added back
    to another, unpaused everywhere: each with the device-state reports app_queue sends; then
    paused and unpaused as status reports alone say it."""
    first, second = queues[0], queues[1]
    out = [_member("QueueMemberPause", q, 1, True, "họp") for q in queues]
    out += [_member("QueueMemberStatus", q, 2, True, "họp") for q in queues]
    out += [_member("QueueMemberPause", first, 2, False)]
    out += [
        _member("QueueMemberStatus", q, 1, q != first, "" if q == first else "họp") for q in queues
    ]
    out += [_member("QueueMemberRemoved", second, 1, True, "họp")]
    out += [
        _member("QueueMemberStatus", q, 6, q != first, "" if q == first else "họp")
        for q in queues
        if q != second
    ]
    out += [_member("QueueMemberAdded", second, 6, False)]
    out += [_member("QueueMemberPause", q, 6, False) for q in queues]
    out += [_member("QueueMemberStatus", q, 1, False) for q in queues]
    # Paused and unpaused said by the status reports alone, with no pause event around them.
    out += [_member("QueueMemberStatus", q, 2, True, "ăn trưa") for q in queues]
    out += [_member("QueueMemberStatus", q, 2, q == second) for q in queues]
    out += [_member("QueueMemberStatus", q, 1, False) for q in queues]
    # Paused in the first queue only, then a device-state change: the agent's paused flag is
    # that of the last queue reported, not the first.
    out += [_member("QueueMemberStatus", q, 1, q == first) for q in queues]
    out += [_member("QueueMemberStatus", q, 2, q == first) for q in queues]
    return out


async def test_the_listeners_compute_the_same_figures_from_what_they_name(stream: Any) -> None:
    """The warm-up's proof, on a stream with pauses, per-queue views and membership changes
    among the calls, in tiny reads: the same calls, members, waits, agent states and state
    changes whether the listeners take every event or the link drops what they do not name
    and repeated device states; and it does drop."""
    frames = _pauses(bench.queue_names(5))
    data: bytes = stream.data + "".join(frames).encode() + stream.data.removeprefix(bench.BANNER)
    mix = stream.mix + stream.mix + bench.Counter(f.split("\r\n", 1)[0][7:] for f in frames)
    calls = bench.Stream(data, stream.calls, sum(mix.values()), mix, 5, stream.sample_name)
    # The same calls twice: the second time the tracker already holds them (same uniqueids).
    every, named = await bench.same_figures(bench.chunked(data, 7), calls)
    assert every == calls.events
    assert named < every - mix["VarSet"]  # unnamed events and repeated states dropped


def test_the_filtered_stream_is_what_the_service_s_ami_user_receives(stream: Any) -> None:
    sent = bench.as_asterisk_sends(stream)
    assert bench.read_classes() == {"call", "agent", "user"}  # manager.conf.j2's read =
    assert set(sent.mix) <= set(bench.TYPED_EVENTS)
    assert not {"VarSet", "Newexten", "DialBegin"} & set(sent.mix)
    assert all(sent.mix[name] == stream.mix[name] for name in sent.mix)
    assert sent.data.count(b"\r\n\r\n") == sent.events == sum(sent.mix.values())
    run = bench.Run(events=1000, wall_s=2.0, cpu_s=0.5)
    assert (run.rate, run.cpu_rate, run.cpu_share) == (500.0, 2000.0, 0.25)
