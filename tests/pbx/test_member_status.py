"""Which QueueMemberStatus frames repeat what the link already passed on (pbx.member_status)."""

from __future__ import annotations

from pbx.member_status import MemberStatusOnce
from tests.pbx.fake_ami import frame


def qms(
    queue: str,
    status: int,
    *,
    agent: str = "agent01",
    paused: str = "0",
    reason: str = "",
    calls: int = 0,
    shuffled: bool = False,
) -> bytes:
    """A QueueMemberStatus as app_queue writes it (its order), or with its headers reversed."""
    headers = [
        ("Queue", queue),
        ("MemberName", agent),
        ("Interface", f"PJSIP/{agent}"),
        ("StateInterface", f"PJSIP/{agent}"),
        ("Membership", "dynamic"),
        ("Penalty", "10" if queue.endswith("1") else "0"),  # differs from queue to queue
        ("CallsTaken", str(calls)),
        ("InCall", "0"),
        ("Status", str(status)),
        ("Paused", paused),
        ("PausedReason", reason),
        ("Ringinuse", "0"),
    ]
    if shuffled:
        headers.reverse()
    return frame([("Event", "QueueMemberStatus"), ("Privilege", "agent,all"), *headers])[:-4]


def test_a_device_state_passes_once_then_repeats_in_the_other_queues() -> None:
    once = MemberStatusOnce()
    # The first time each queue is seen, it passes: the listeners learn the membership.
    assert [once.repeats(qms(q, 1)) for q in ("q1", "q2", "q3")] == [False] * 3
    # A device-state change: the first queue's frame passes, the others repeat it.
    assert [once.repeats(qms(q, 6, calls=5)) for q in ("q1", "q2", "q3")] == [
        False,
        True,
        True,
    ]
    assert [once.repeats(qms(q, 2)) for q in ("q1", "q2", "q3")] == [False, True, True]
    # Another agent's device is its own.
    assert once.repeats(qms("q2", 2, agent="agent02")) is False


def test_a_queue_s_own_view_passes_and_forgetting_lets_everything_pass() -> None:
    once = MemberStatusOnce()
    for q in ("q1", "q2"):
        once.repeats(qms(q, 1))
    # Paused in one queue only: that queue's view changed, it passes.
    assert once.repeats(qms("q2", 1, paused="1", reason="họp")) is False
    # Back to q1's view (not paused): the device's last view was paused, so it passes too.
    assert once.repeats(qms("q1", 1)) is False
    assert once.repeats(qms("q1", 1)) is True
    once.reset()  # e.g. a QueueMemberPause went by
    assert once.repeats(qms("q1", 1)) is False


def test_headers_in_another_order_give_the_same_answers() -> None:
    for shuffled in (False, True):
        once = MemberStatusOnce()
        answers = [
            once.repeats(qms(q, s, shuffled=shuffled)) for s in (1, 6, 6, 2) for q in ("q1", "q2")
        ]
        assert answers == [False, False, False, True, True, True, False, True]
