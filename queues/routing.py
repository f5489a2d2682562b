"""The routing policy: which app_queue queue a call waits in, and at which penalty each agent
is a member of it.

Asterisk's app_queue does the waiting and the ringing; this module decides the layout.

Queues. Each category has one queue per district-level unit (``food-724``) and one for
callers without a district (``food``); the operator queue is not split. Life-threatening
medical calls (priority ≥ ``urgent_priority``) wait in one ``emergency`` queue, whatever the
district: the nearest team is the dispatcher's business, the first free medical agent the
caller's.

Penalties. Every logged-in agent is a member of every queue, at a penalty that says how
well they fit it (lower is better; app_queue offers a call to a free lower-penalty member
before any higher one):

========================================  ============================
agent                                      penalty
========================================  ============================
has the skill, same district (or the       0 + (5 − proficiency): 0..4
queue has none)
has the skill, no home district            5 + (5 − proficiency): 5..9
(the province's own pool)
has the skill, another district            10 + (5 − proficiency): 10..14
lacks the skill                            20
========================================  ============================

Widening. A caller first may be offered only to penalties ≤ 9 (the district's own
agents, then the province pool); after ``district_wait_s`` to ≤ 19 (anyone with the skill); after
``skill_wait_s`` to ≤ 29 (any logged-in agent). The emergency queue widens to anyone after
``urgent_anyone_wait_s``. These are ``queuerules.conf`` rules; the caller keeps their
place while the window widens.

Order. Within a queue callers go by priority (``QUEUE_PRIO``: life-threatening 20, other
medical 10, the rest 0), then by arrival. Between queues, an agent free for several goes to
the heavier queue when its callers outnumber its free agents (queue ``weight``: emergency
100, medical 10, food 5, violation 3, operator 1).

``policy_table()`` gives this as rows for ``GET /routing``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from store.categories import CATEGORIES

__all__ = [
    "MAX_PROFICIENCY",
    "SKILL_ALIASES",
    "QueueSpec",
    "RoutingPolicy",
    "normalise_skill",
]

MAX_PROFICIENCY = 5
TIER = 10  # penalty distance between the tiers
NO_SKILL_PENALTY = 2 * TIER
EMERGENCY_QUEUE = "emergency"
EMERGENCY_WEIGHT = 100

# Skills are the call categories; the names a supervisor may also use for them.
SKILL_ALIASES = {"aid": "food", "information": "general", "info": "general"}


def normalise_skill(name: str) -> str:
    """``aid`` -> ``food``; raises ``ValueError`` for a name that is no category."""
    key = SKILL_ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in {c.key for c in CATEGORIES}:
        known = ", ".join([c.key for c in CATEGORIES] + sorted(SKILL_ALIASES))
        raise ValueError(f"unknown skill {name!r} (one of: {known})")
    return key


@dataclass(frozen=True)
class QueueSpec:
    """One app_queue queue of the layout."""

    name: str
    category: str
    district: int | None
    weight: int
    rule: str
    urgent: bool = False


@dataclass(frozen=True)
class RoutingPolicy:
    districts: tuple[int, ...] = ()
    district_wait_s: int = 30
    skill_wait_s: int = 90
    urgent_priority: int = 20
    urgent_anyone_wait_s: int = 10

    def __post_init__(self) -> None:
        if not 0 <= self.district_wait_s <= self.skill_wait_s:
            raise ValueError("district_wait_s must be between 0 and skill_wait_s")
        if self.urgent_anyone_wait_s < 0:
            raise ValueError("urgent_anyone_wait_s must not be negative")

    # -- layout ------------------------------------------------------------------------

    def queues(self) -> list[QueueSpec]:
        specs = [
            QueueSpec(EMERGENCY_QUEUE, "medical", None, EMERGENCY_WEIGHT, "urgent", urgent=True)
        ]
        for c in CATEGORIES:
            specs.append(QueueSpec(c.queue, c.key, None, c.weight, "widen"))
            if c.key == "general":
                continue  # the operator takes anyone; no district split
            specs.extend(
                QueueSpec(f"{c.queue}-{d}", c.key, d, c.weight, "widen") for d in self.districts
            )
        return specs

    def queue_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.queues())

    def rules(self) -> dict[str, list[tuple[int, int]]]:
        """queuerules.conf: rule name -> [(seconds waited, max penalty from then)]."""
        last = NO_SKILL_PENALTY + TIER - 1
        return {
            "widen": [
                (0, TIER - 1),
                (self.district_wait_s, 2 * TIER - 1),
                (self.skill_wait_s, last),
            ],
            "urgent": [(0, TIER - 1), (self.urgent_anyone_wait_s, last)],
        }

    @property
    def initial_max_penalty(self) -> int:
        return TIER - 1

    def queue_for(self, base_queue: str, district: int | None, priority: int) -> str:
        """The queue a caller the menu sent to ``base_queue`` waits in."""
        category = next((c for c in CATEGORIES if c.queue == base_queue), None)
        if category is None:
            return base_queue  # not one of ours: leave it to the dialplan
        if category.key == "medical" and priority >= self.urgent_priority:
            return EMERGENCY_QUEUE
        if category.key == "general" or district not in self.districts:
            return base_queue
        return f"{base_queue}-{district}"

    # -- membership --------------------------------------------------------------------

    @staticmethod
    def penalty(spec: QueueSpec, skills: Mapping[str, int], home: int | None) -> int:
        level = skills.get(spec.category, 0)
        if level <= 0:
            return NO_SKILL_PENALTY
        base = MAX_PROFICIENCY - min(level, MAX_PROFICIENCY)
        if spec.district is None or spec.district == home:
            return base
        if home is None:
            return TIER // 2 + base
        return TIER + base

    def memberships(self, skills: Mapping[str, int], home: int | None) -> dict[str, int]:
        """Queue -> penalty for an agent with these skills and home district."""
        return {s.name: self.penalty(s, skills, home) for s in self.queues()}

    # -- for people --------------------------------------------------------------------

    def policy_table(self, district_names: Mapping[int, str] | None = None) -> dict[str, object]:
        names = district_names or {}
        labels = {c.key: c.label_vi for c in CATEGORIES}

        def describe(spec: QueueSpec) -> str:
            if spec.urgent:
                return "Cấp cứu nguy kịch (ưu tiên cao nhất) — life-threatening medical"
            where = f" — {names.get(spec.district, spec.district)}" if spec.district else ""
            return f"{labels[spec.category]}{where}"

        return {
            "queues": [
                {
                    "queue": s.name,
                    "category": s.category,
                    "district": s.district,
                    "weight": s.weight,
                    "rule": s.rule,
                    "description": describe(s),
                }
                for s in self.queues()
            ],
            "penalties": [
                {
                    "agent": "has the skill, same district (or the queue has none)",
                    "vi": "Có kỹ năng, cùng quận/huyện",
                    "penalty": "0 + (5 - proficiency): 0..4",
                },
                {
                    "agent": "has the skill, no home district (province pool)",
                    "vi": "Có kỹ năng, không thuộc quận/huyện nào",
                    "penalty": "5 + (5 - proficiency): 5..9",
                },
                {
                    "agent": "has the skill, another district",
                    "vi": "Có kỹ năng, quận/huyện khác",
                    "penalty": "10 + (5 - proficiency): 10..14",
                },
                {"agent": "lacks the skill", "vi": "Không có kỹ năng", "penalty": "20"},
            ],
            "rules": {
                name: [{"after_s": t, "max_penalty": p} for t, p in steps]
                for name, steps in self.rules().items()
            },
            "priorities": {
                "urgent_priority": self.urgent_priority,
                "note": (
                    "Within a queue: priority first (life-threatening 20, other medical 10,"
                    " others 0), then arrival. Between queues: the heavier queue when its"
                    " callers outnumber its free agents."
                ),
            },
        }


def districts_of(codes: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(codes)))
