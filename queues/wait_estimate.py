"""The estimated wait of a caller about to join a queue: the one rule the callback offer,
the supervisors' screens and the surge simulation (``simulation/surge.py``) all use.

Pure: counts in, seconds out; ``queues.live.LiveQueues`` feeds it from AMI events, the
simulation from its own queue.

Who is ahead. Every logged-in agent is a member of every queue (``queues/routing.py``), so a
caller joining ``food-724`` competes for the same agents with the callers of every other food
queue (``food``, ``food-725``, …: widening offers them to any agent with the skill after
seconds) and, before them, with the callers of every heavier queue (``weight``: emergency,
medical), whom app_queue gives a free agent first. Callers of lighter queues are not ahead
(nor, for the emergency queue, the other medical callers). So::

    ahead = callers waiting in the queues of the caller's category and weight
            + callers waiting in heavier queues
    wait  = max(0, ahead + 1 − free) × AHT / able        (None when able = 0)

A queue the layout does not know counts its own callers only. Before this rule the offer
counted the caller's own queue alone: in a surge the category as a whole was swamped
(hundreds waiting across ten district queues) while each district queue held too few
callers to reach the threshold, and callbacks were almost never offered on the medical and
food branches. On a normal day nothing changes: the offer still needs, with 25 agents and the
default 120-s threshold at an AHT of 180 s, 17 or more callers ahead and no agent free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["QueueLayout", "callers_ahead", "estimated_wait_s"]


@dataclass(frozen=True)
class QueueLayout:
    """Each queue's category and weight (``queues.routing.QueueSpec``)."""

    category: Mapping[str, str]
    weight: Mapping[str, int]

    def competing(self, queue: str) -> frozenset[str]:
        """The queues whose waiting callers are ahead of one joining ``queue`` (itself
        included)."""
        if queue not in self.category:
            return frozenset((queue,))
        category, weight = self.category[queue], self.weight.get(queue, 0)
        return frozenset(
            q
            for q, c in self.category.items()
            if q == queue
            or self.weight.get(q, 0) > weight
            or (c == category and self.weight.get(q, 0) == weight)
        )


def callers_ahead(queue: str, waiting: Mapping[str, int], layout: QueueLayout) -> int:
    """Callers ahead of one joining ``queue`` now, given the callers ``waiting`` per queue."""
    return sum(waiting.get(q, 0) for q in layout.competing(queue))


def estimated_wait_s(*, ahead: int, free: int, able: int, aht_s: float) -> float | None:
    """The first ``free`` callers are answered at once; every further one waits, on average,
    for one of ``able`` agents to finish a call of ``aht_s``. None when nobody can answer."""
    if able <= 0:
        return None
    return max(0, ahead + 1 - free) * aht_s / able
