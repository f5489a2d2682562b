"""Agents' device state once per device, not once per queue: which ``QueueMemberStatus`` frames
repeat what the listeners already know.

app_queue reports a member's device-state change once in every queue the member is in (40
queues: 40 events, three times a call). Each carries the queue's own view of the member --
``Queue``, ``Paused``, ``PausedReason`` (and counters no listener reads) -- and the device's
``Status``, the same in every queue. A frame *repeats* when, for its (queue, member), the
queue's own fields are those of the last frame let through for that (queue, member), and the
device's status, paused flag and reason are those of the last frame let through for that
device. Such a frame changes nothing a listener keeps (``queues.live.LiveQueues`` keeps the
status per device, ``queues.agent_state.AgentStates`` the paused flag per agent), so the link
drops it from its bytes, before it is decoded.

Any other ``QueueMember*`` event (added, removed, paused, penalty...) makes the listeners'
state move on without this cache: it forgets everything, and the next frames pass again.
"""

from __future__ import annotations

import re

__all__ = ["MemberStatusOnce"]

_FIELDS = re.compile(
    rb"^(Queue|MemberName|Interface|StateInterface|Status|Paused|PausedReason): ?([^\r\n]*)",
    re.MULTILINE,
)

# The same fields in the order app_queue writes them (queue_member_blob_create): one search
# instead of a scan of every line; a frame in another order takes _FIELDS.
_IN_ORDER = re.compile(
    rb"\r\nQueue: ([^\r\n]*)\r\nMemberName: ([^\r\n]*)\r\nInterface: ([^\r\n]*)"
    rb"\r\nStateInterface: ([^\r\n]*)\r\n(?:[^\r\n]*\r\n)*?"
    rb"Status: ([^\r\n]*)\r\nPaused: ([^\r\n]*)\r\nPausedReason: ([^\r\n]*)"
)


class MemberStatusOnce:
    """Tells the ``QueueMemberStatus`` frames that repeat what was let through (module doc)."""

    __slots__ = ("_devices", "_members")

    def __init__(self) -> None:
        # device -> (status, paused, reason); (queue, name, interface) -> (device, paused, reason)
        self._devices: dict[bytes, tuple[bytes, bytes, bytes]] = {}
        self._members: dict[tuple[bytes, bytes, bytes], tuple[bytes, bytes, bytes]] = {}

    def reset(self) -> None:
        """Forget everything: the next frame of each (queue, member) passes."""
        self._devices.clear()
        self._members.clear()

    def repeats(self, frame: bytes) -> bool:
        """True if ``frame`` (one QueueMemberStatus event's bytes) tells nothing new; else
        remember it as the last one let through and return False."""
        found = _IN_ORDER.search(frame)
        if found is not None:
            queue, name, interface, device, status, paused, reason = found.groups()
        else:
            get = dict(_FIELDS.findall(frame)).get
            queue, name, interface = (
                get(b"Queue", b""),
                get(b"MemberName", b""),
                get(b"Interface", b""),
            )
            device, status = get(b"StateInterface", b""), get(b"Status", b"")
            paused, reason = get(b"Paused", b""), get(b"PausedReason", b"")
        device = device or interface or name
        key = (queue, name, interface)
        seen = (device, paused, reason)
        state = (status, paused, reason)
        if self._members.get(key) == seen and self._devices.get(device) == state:
            return True
        self._members[key] = seen
        self._devices[device] = state
        return False
