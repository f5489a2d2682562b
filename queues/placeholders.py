"""The placeholder call that keeps a callback's place in Asterisk's queue.

The place is held by Asterisk, not by a timer here: a *placeholder* call
``Local/cb<id>@hotline-callback`` whose ;2 side enters the same queue as the caller would
have, with the same ``QUEUE_PRIO`` and the same penalty window (extensions.conf,
``[hotline-callback]``). app_queue orders it exactly as it orders callers on the line:
priority first, then place; it offers it to agents by the same penalties and rules. So a
callback never jumps ahead of a caller who waited longer, nor falls behind one who came
later, and it survives a restart of the service. The placeholder is never answered (it
rings, with no music) until app_queue bridges it to an agent; that answers its ;1 side,
which the Originate sends to ``[hotline-callback-dial]``: ``Dial(PJSIP/<number>@pstn-out)``
rings the citizen from 1022 while the agent hears the ringing.

Where a placeholder enters. ``Queue()``'s ``position`` argument (Asterisk 22:
``Queue(queue,options,URL,announceoverride,timeout,AGI,gosub,rule,position)``) is computed
each time from the callback's ``queued_since`` (when the caller would have joined, i.e.
when the offer began): 1 + the callers in the queue now who are ahead of it — those of
higher priority, and those of the same priority who arrived earlier (``QueueStatus``'s
``Wait`` is whole seconds, so one who may have arrived earlier counts as earlier; another
callback's placeholder counts by its own ``queued_since``). For a new callback that is the
back of its priority, where the caller would have been. For a retry, or a placeholder lost
to an Asterisk restart, it is usually the front of its priority, and that is fair: the
callback's turn already came (or it was already waiting) before anyone now in the queue
arrived, so every caller it passes has waited less than it. A caller who has waited longer
than the callback still stays ahead of it.

One place per callback. A placeholder not in its queue ``ORIGINATE_GRACE`` after its
Originate is due again; an extra one that turns up later, or one of a callback that is
over, is hung up. After a (re)connect, ``find()`` reads the placeholders Asterisk has
(``CoreShowChannels``) for the service to reconcile its callbacks with.

``Placeholders`` keeps which channel holds each callback's place and speaks to Asterisk
only through the ``queues.ports.CallbackPbx`` port; whether a callback needs a place is
``queues/callback_states.py``'s to say, and ``queues/callbacks.py`` asks.

Limits, known and accepted:

- one Asterisk per service: a second node's reconcile would take the first node's
  placeholders for lost;
- a re-made placeholder starts its queuerules.conf timer afresh, so its penalty window
  narrows to the district's agents again before it widens;
- a placeholder whose Originate outlives ``max_wait_s`` (12 h) is renewed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from queues.ports import CallbackPbx

__all__ = [
    "DIAL_CONTEXT",
    "ORIGINATE_GRACE",
    "PLACEHOLDER_CONTEXT",
    "Found",
    "Placeholders",
    "placeholder_id",
    "position",
]

log = logging.getLogger(__name__)

PLACEHOLDER_CONTEXT = "hotline-callback"
DIAL_CONTEXT = "hotline-callback-dial"
# "Local/cb12@hotline-callback-0000000a;2": callback 12's placeholder, its queue side.
_CHANNEL = re.compile(r"^Local/cb(?P<id>\d+)@hotline-callback-[0-9a-f]+;(?P<side>[12])$")
# A placeholder not in its queue this long after its Originate was sent is made again (an
# extra one that turns up later is hung up: never two places for one callback).
ORIGINATE_GRACE = timedelta(seconds=30)


def placeholder_id(channel: str) -> tuple[int, str] | None:
    """(callback id, side "1" or "2") of a placeholder's channel name, else None."""
    m = _CHANNEL.match(channel)
    return (int(m["id"]), m["side"]) if m else None


def position(
    priority: int,
    since: datetime,
    entries: Iterable[Mapping[str, str]],
    now: datetime,
    queued_since: Callable[[int], datetime | None],
) -> int:
    """Queue()'s position for a callback of ``priority`` whose caller would have joined
    at ``since``, among the callers ``entries`` (QueueStatus) waiting now: 1 + those
    ahead of it (see the module docstring). ``queued_since(id)``: another callback's, while
    it is pending."""
    ahead = 0
    for entry in entries:
        prio = int(_number(entry.get("Priority", "0")))
        if prio != priority:
            ahead += prio > priority
            continue
        found = placeholder_id(entry.get("Channel", ""))
        arrived = queued_since(found[0]) if found else None
        if arrived is None:
            # Wait is whole seconds: this caller arrived within the second before.
            wait = _number(entry.get("Wait", "0"))
            arrived = now - timedelta(seconds=wait + 1)
        ahead += arrived < since
    return ahead + 1


@dataclass(frozen=True)
class Found:
    """A callback's placeholder as Asterisk has it now: ``CoreShowChannels`` rows by side."""

    sides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def queue_channel(self) -> str | None:
        """The ;2 side, the one in the queue, if it is there."""
        side = self.sides.get("2")
        return None if side is None else side.get("Channel", "")

    @property
    def answered(self) -> bool:
        """An agent took it: its queue side is up."""
        side = self.sides.get("2")
        return side is not None and side.get("ChannelStateDesc", "").lower() == "up"

    @property
    def gone(self) -> bool:
        return not self.sides


class Placeholders:
    """The callbacks' placeholder channels: made, seen joining and leaving, hung up, found.

    ``queued_since(id)`` tells a pending callback's ``queued_since``, which orders its
    placeholder among the callers in the queue (``position``).
    """

    def __init__(
        self,
        pbx: CallbackPbx,
        *,
        queued_since: Callable[[int], datetime | None],
        max_wait_s: int = 12 * 3600,
    ) -> None:
        self.pbx = pbx
        self.max_wait_s = max_wait_s
        self._queued_since = queued_since
        self._channels: dict[int, str] = {}  # id -> its ;2 channel, while it exists
        self._originated: dict[int, datetime] = {}  # id -> when, until its ;2 joins a queue

    # -- what the service knows of them ------------------------------------------------

    def of(self, callback_id: int) -> str | None:
        """The channel holding the callback's place in its queue now, if any."""
        return self._channels.get(callback_id)

    def originating(self, callback_id: int) -> bool:
        """A placeholder was sent and has not joined its queue yet."""
        return callback_id in self._originated

    def joined(self, callback_id: int, channel: str, *, pending: bool) -> bool:
        """A placeholder's ;2 side joined its queue: True if it holds the callback's place;
        False if it is to be hung up (the callback is not ``pending`` any more, or another
        channel holds its place)."""
        self._originated.pop(callback_id, None)
        known = self._channels.get(callback_id)
        if not pending or (known is not None and known != channel):
            return False
        self._channels[callback_id] = channel
        return True

    def left(self, callback_id: int, channel: str) -> bool:
        """A ;2 channel hung up: True if it was the one holding the callback's place."""
        if self._channels.get(callback_id) != channel:
            return False
        del self._channels[callback_id]
        return True

    def adopt(self, callback_id: int, found: Found) -> None:
        """The placeholder Asterisk has holds the callback's place (after a reconnect)."""
        channel = found.queue_channel
        if channel is not None:
            self._channels[callback_id] = channel
            self._originated.pop(callback_id, None)

    def forget(self, callback_id: int) -> str | None:
        """The callback needs no place, or its placeholder is gone; return its channel."""
        self._originated.pop(callback_id, None)
        return self._channels.pop(callback_id, None)

    def overdue(self, now: datetime) -> list[int]:
        """The callbacks whose placeholder was sent over ``ORIGINATE_GRACE`` ago and never
        reached its queue: no longer waited for."""
        late = [
            callback_id
            for callback_id, sent in self._originated.items()
            if now - sent > ORIGINATE_GRACE and callback_id not in self._channels
        ]
        for callback_id in late:
            del self._originated[callback_id]
        return late

    # -- Asterisk ----------------------------------------------------------------------

    async def position_in(self, queue: str, priority: int, since: datetime, now: datetime) -> int:
        """Where a placeholder for a caller who joined at ``since`` enters ``queue`` now;
        raises when Asterisk does not say who waits there."""
        entries = await self.pbx.queue_entries(queue)
        return position(priority, since, entries, now, self._queued_since)

    async def make(
        self,
        callback_id: int,
        *,
        number: str,
        queue: str,
        priority: int,
        position: int,
        now: datetime,
    ) -> None:
        """Send the callback's placeholder into ``queue`` at ``position``; raises when
        Asterisk is unreachable or silent (nothing is then waited for)."""
        self._originated[callback_id] = now
        try:
            await self.pbx.originate(
                f"Local/cb{callback_id}@{PLACEHOLDER_CONTEXT}/n",
                context=DIAL_CONTEXT,
                exten="s",
                # What the agent's phone shows: whom the hotline is about to call back.
                caller_id=f'"Gọi lại {number}" <{number}>',
                variables={
                    "CB_ID": str(callback_id),
                    "CB_NUMBER": number,
                    "CB_QUEUE": queue,
                    "CB_PRIO": str(priority),
                    "CB_POSITION": str(position),
                },
                ring_timeout_ms=self.max_wait_s * 1000,
            )
        except Exception:
            self._originated.pop(callback_id, None)
            raise

    async def hang_up(self, channel: str) -> None:
        """Hang up a placeholder; a failure is logged, not raised (it may be gone)."""
        try:
            await self.pbx.hangup(channel)
        except Exception as exc:
            log.warning("could not hang up %s: %s", channel, exc)

    async def find(self) -> dict[int, Found]:
        """The placeholders Asterisk has now, by callback id."""
        sides: dict[int, dict[str, Mapping[str, str]]] = {}
        for channel in await self.pbx.channels():
            found = placeholder_id(channel.get("Channel", ""))
            if found is not None:
                sides.setdefault(found[0], {})[found[1]] = channel
        return {callback_id: Found(by_side) for callback_id, by_side in sides.items()}


def _number(raw: str) -> float:
    try:
        return float(raw or 0)
    except ValueError:
        return 0.0
