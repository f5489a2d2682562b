"""The surge day's parameters and its citizens, drawn before either arm runs.

Pure: no I/O, no clock. ``simulation.surge`` runs the day twice on what is drawn here.

**Citizens, not calls.** A citizen is one person with one need, arriving once in the day;
every call after the first is a redial (``RedialModel``). Arrival hours follow ``HOURLY``,
the project's share of the day's calls per hour of the Vietnam day (``bench/stats_queries.py``,
``bench/dispatch_day.py``); within the hour, uniformly.

**Needs** (``DEFAULT_NEEDS``): the shares of Bình Dương's 1022 by 8 Dec 2021 (domain notes:
226,530 calls, 45,849 emergencies = 20 %, 51,297 relief requests = 23 %); a third of the
medical calls life-threatening, as ``simulation.traffic`` assumes; violation reports 10 %
(an assumption: the notes give no share); information the remaining 47 %. The hotline's
self-service gain rests on that share and on ``info_wants_agent``.

**Redials** (``RedialModel``): the retrial model of the call-centre literature — a caller
who did not get through calls again with a probability, after a random (exponential) delay
(Hoffman & Harris 1986, "Estimation of a caller retrial rate for a telephone information
system", EJOR 27:207–214; Aguir, Karaesmen, Akşin & Chauvet 2004, "The impact of retrials on
call center performance", OR Spectrum 26:353–376; surveyed in Gans, Koole & Mandelbaum 2003,
"Telephone call centers: tutorial, review, and research prospects", M&SOM 5:79–141). Ours
adds one thing to that structure: the probability of one more try falls with each failed one
(persistence wears off), p_k = ``first`` × ``decay``^(k−1) after the k-th failure, up to
``max_attempts``. The values are ours, not the sources': a citizen without food in a lockdown
is persistent; the number of citizens is then calibrated so that the plain queue makes about
59,000 attempts (``bench/surge.py`` shows the calibration).

**Random draws.** Every random figure of a citizen's k-th attempt (patience, talk, whether
and when they redial, whether they answer a callback) comes from a generator seeded by
(seed, citizen, k), so both arms see the same draws for the same attempt, whatever the other
citizens did.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_NEEDS",
    "DISTRICTS",
    "HOURLY",
    "NEED_QUEUE",
    "AttemptDraws",
    "Citizen",
    "RedialModel",
    "SurgeParams",
    "citizens",
    "draws",
]

# Share of the day's calls per hour of the Vietnam day, 00h … 23h (bench/stats_queries.py).
HOURLY: tuple[float, ...] = (
    0.8, 0.5, 0.4, 0.4, 0.5, 1.0, 2.0, 4.0, 7.0, 8.0, 8.0, 7.0,
    6.0, 6.0, 7.0, 7.5, 7.0, 6.0, 5.0, 4.0, 3.0, 2.5, 2.0, 1.5,
)  # fmt: skip

DEFAULT_NEEDS: Mapping[str, float] = {
    "medical_critical": 0.20 / 3,
    "medical": 0.20 * 2 / 3,
    "food": 0.23,
    "violation": 0.10,
    "information": 0.47,
}

# Need -> (queue category, priority) of the default menu (ivr/menus/default.yaml): the
# life-threatening branch waits in the one ``emergency`` queue at priority 20, other medical
# at 10; information callers who want an agent after the announcements press 0: operator.
NEED_QUEUE: Mapping[str, tuple[str, int]] = {
    "medical_critical": ("emergency", 20),
    "medical": ("medical", 10),
    "food": ("food", 0),
    "violation": ("violation", 0),
    "information": ("operator", 0),
}

DISTRICTS = 9  # district-level units of the default menu (Bình Dương); 0 = none given
DAY_S = 86_400.0


@dataclass(frozen=True)
class RedialModel:
    """After the k-th failed attempt (k ≥ 1) the citizen tries again with probability
    ``first × decay^(k−1)`` after an exponential delay of mean ``mean_delay_s``; never more
    than ``max_attempts`` attempts in all."""

    first: float = 0.85
    decay: float = 0.93
    mean_delay_s: float = 600.0
    max_attempts: int = 30

    def __post_init__(self) -> None:
        if not (0 <= self.first <= 1 and 0 <= self.decay <= 1):
            raise ValueError("redial probabilities must be in [0, 1]")
        if self.mean_delay_s <= 0 or self.max_attempts < 1:
            raise ValueError("the redial delay must be positive and attempts at least 1")

    def probability(self, failures: int) -> float:
        """Of one more attempt after ``failures`` failed ones."""
        if failures < 1:
            raise ValueError("a redial follows a failed attempt")
        if failures >= self.max_attempts:
            return 0.0
        return self.first * self.decay ** (failures - 1)

    def expected_attempts(self) -> float:
        """Attempts of a citizen who never gets through: 1 + p1 + p1·p2 + …"""
        total, survive = 1.0, 1.0
        for k in range(1, self.max_attempts):
            survive *= self.probability(k)
            total += survive
        return total


@dataclass(frozen=True)
class SurgeParams:
    """One surge day. Seconds unless named otherwise."""

    citizens: int = 17_000
    agents_by_hour: tuple[int, ...] = (25,) * 24
    talk_s: float = 170.0  # exponential mean; + wrap-up = AHT 180 s (domain notes)
    wrapup_s: float = 10.0  # HOTLINE_WRAPUP_S
    patience_s: float = 60.0  # exponential mean (domain notes' Erlang A example)
    needs: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_NEEDS))
    hourly: Sequence[float] = HOURLY
    redial: RedialModel = RedialModel()
    # The hotline arm: information announcements answer this share of the information
    # callers; the rest press 0 for the operator (an assumption; GET /ivr/stats measures it).
    info_wants_agent: float = 0.25
    # Callbacks: the settings' values (hotline1022/settings.py) …
    callback_threshold_s: float = 120.0
    callback_attempts: int = 3
    callback_retry_s: float = 120.0
    callback_ring_s: float = 30.0
    callback_max_per_number: int = 3
    callback_max_per_hour: int = 300
    # What the offer's estimated wait counts ahead: "service" = the service's rule
    # (queues/wait_estimate.py: the callers of the caller's category and of heavier queues);
    # "own-queue" = the callers of the caller's own (district) queue only, the rule the
    # service had before (kept to show what the change does).
    offer_ahead: str = "service"
    # … and the citizens' behaviour (assumptions): who takes an offer, who answers.
    callback_accept: float = 0.8
    callback_answer: float = 0.8
    day_s: float = DAY_S

    def __post_init__(self) -> None:
        if len(self.agents_by_hour) != 24 or min(self.agents_by_hour) < 0:
            raise ValueError("agents_by_hour needs 24 counts of 0 or more")
        if len(self.hourly) != 24 or sum(self.hourly) <= 0:
            raise ValueError("hourly needs 24 non-negative shares")
        if self.offer_ahead not in ("service", "own-queue"):
            raise ValueError(f"offer_ahead is service or own-queue, got {self.offer_ahead!r}")
        unknown = set(self.needs) - set(NEED_QUEUE)
        if unknown:
            raise ValueError(f"unknown needs: {sorted(unknown)}")

    @property
    def aht_s(self) -> float:
        return self.talk_s + self.wrapup_s

    def agents_at(self, t: float) -> int:
        """Agents on duty at ``t`` (hours are 24ths of ``day_s``: a test's day may be short)."""
        return self.agents_by_hour[max(0, min(23, int(t * 24 // self.day_s)))]


@dataclass(frozen=True)
class Citizen:
    id: int
    arrives_s: float
    need: str
    district: int  # 0: none given
    number: str  # a Vietnamese mobile number: the callback rules check it

    @property
    def queue(self) -> str:
        category, _ = NEED_QUEUE[self.need]
        # the menu asks a district on the medical and food branches only
        if category not in ("medical", "food") or self.district == 0:
            return category
        return f"{category}-{self.district}"

    @property
    def priority(self) -> int:
        return NEED_QUEUE[self.need][1]


@dataclass(frozen=True)
class AttemptDraws:
    """The random figures of one citizen's k-th attempt, the same in both arms."""

    patience_s: float
    talk_s: float
    redial_u: float
    redial_delay_s: float
    info_u: float  # < info_wants_agent: wants an agent after the announcements
    accept_u: float  # < callback_accept: takes a callback offer
    answer_us: tuple[float, ...]  # one per callback attempt: < callback_answer answers


def draws(seed: int, citizen: int, attempt: int, params: SurgeParams) -> AttemptDraws:
    rng = random.Random(f"{seed}/{citizen}/{attempt}")
    return AttemptDraws(
        patience_s=rng.expovariate(1 / params.patience_s),
        talk_s=rng.expovariate(1 / params.talk_s),
        redial_u=rng.random(),
        redial_delay_s=rng.expovariate(1 / params.redial.mean_delay_s),
        info_u=rng.random(),
        accept_u=rng.random(),
        answer_us=tuple(rng.random() for _ in range(max(1, params.callback_attempts))),
    )


def citizens(params: SurgeParams, seed: int) -> list[Citizen]:
    """The day's citizens, by arrival time."""
    rng = random.Random(seed)
    hours = list(range(24))
    needs = list(params.needs)
    weights = [params.needs[n] for n in needs]
    out = []
    for i in range(params.citizens):
        hour = rng.choices(hours, params.hourly)[0]
        at = (hour + rng.random()) * 3600 * params.day_s / DAY_S
        need = rng.choices(needs, weights)[0]
        district = rng.randrange(DISTRICTS + 1)
        number = f"09{i:08d}"  # one number per citizen: a redial comes from the same
        out.append(Citizen(i, at, need, district, number))
    out.sort(key=lambda c: (c.arrives_s, c.id))
    return out
