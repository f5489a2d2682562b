"""The surge day as a discrete-event simulation, in two arms on the same citizens.

Pure: no I/O, no clock; ``run_arm`` is deterministic for a seed. ``bench/surge.py`` runs it.

**Plain queue** (``PLAIN``): one FIFO queue, no self-service, no callbacks, no priority.
Every attempt joins the queue with its patience (exponential); an agent takes the longest
waiting caller; a caller whose patience runs out leaves, and redials or not
(``surge_model.RedialModel``).

**The hotline as configured** (``HOTLINE``), by the project's rules:

- *information announcements* (menu key 4): the recorded announcements answer an
  information caller by themselves unless they want an agent (``info_wants_agent``: they
  press 0 and join the operator queue);
- *emergency priority*: callers wait by priority (life-threatening 20, other medical 10,
  others 0; ``ivr/menus/default.yaml``), then by arrival — one order over every queue, as
  every agent is in every queue (``queues/routing.py``; penalties and the queues' weights are
  left out: all agents have every skill);
- *callbacks that keep the place* (``queues/callbacks.py``): just before joining, the
  estimated wait is computed by the service's own rule (``queues.wait_estimate``: the
  callers waiting in the queues of the caller's category and in heavier queues, on the
  routing's layout with nine districts) and compared with the threshold, and the offer is
  decided by ``queues.callback_states.offer`` with the
  numbering plan (``queues.callback_limits.NumberPlan``) and the caps
  (``queues.callback_limits.CallbackCaps``: 3 per number a day, 300 an hour), the settings'
  values. A caller who takes it hangs up; a placeholder waits at their place (their
  arrival, their priority) and never gives up. When an agent takes it the citizen's phone
  rings: answered → talk; not answered (the agent spends the ring time) → again after the
  retry delay at the same place, up to the attempts; then failed, and the citizen redials
  as after any failure;
- *repeat callers counted once*: figures count citizens; a citizen whose callback is
  pending does not call again (the IVR would tell them it is pending and keep their place:
  they take no new place either way).

Left out in both arms: the IVR's own seconds before the queue (waits run from queue entry,
as the service measures them), busy lines (every attempt reaches the IVR), agents'
breaks. The day ends at 24:00: whoever waits, has a callback pending or a redial still to
make then is *unserved at the end of the day* (still trying), apart from those who gave up.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

from queues import callback_states as rules
from queues.callback_limits import CallbackCaps, NumberPlan
from queues.routing import RoutingPolicy
from queues.wait_estimate import QueueLayout, callers_ahead, estimated_wait_s
from simulation.surge_model import DISTRICTS, AttemptDraws, Citizen, SurgeParams, draws

__all__ = ["ARMS", "HOTLINE", "PLAIN", "ArmResult", "run_arm", "window"]

PLAIN = "plain"
HOTLINE = "hotline"
ARMS = (PLAIN, HOTLINE)
EMERGENCY_SL_S = 15.0
_EPOCH = datetime(2021, 7, 23, tzinfo=UTC)  # a day of the HCMC surge: the caps need a date

_ATTEMPT, _ABANDON, _DONE, _CALLBACK_DUE, _SHIFT = range(5)
# The service's queues for the simulation's districts 1..9: categories and weights.
_SPECS = RoutingPolicy(districts=tuple(range(1, DISTRICTS + 1))).queues()
_LAYOUT = QueueLayout({q.name: q.category for q in _SPECS}, {q.name: q.weight for q in _SPECS})


@dataclass
class _Entry:
    """One place in the queue: a caller on the line, or a callback's placeholder."""

    citizen: Citizen
    attempt: int  # of the call that made it
    d: AttemptDraws
    queue: str
    priority: int
    place_s: float  # orders the queue: arrival of the call that made it
    joined_s: float  # when this entry joined (the wait runs from here)
    placeholder: bool = False
    callback_tries: int = 0
    alive: bool = True


@dataclass(frozen=True)
class Attempt:
    """One attempt or callback dial, as the figures need it."""

    citizen: int
    at_s: float
    emergency: bool
    outcome: str  # answered, abandoned, announcement, callback (offer taken)
    attempt: int = 1  # the citizen's k-th attempt
    wait_s: float | None = None  # in the queue, until answered or gone


@dataclass
class ArmResult:
    arm: str
    citizens: int
    attempts: int = 0  # calls citizens made (redials included)
    queued: int = 0  # of them, joined a queue on the line
    answered: int = 0  # calls an agent answered (callbacks not included)
    abandoned: int = 0  # left the queue before an agent
    short_abandoned: int = 0  # of them within 5 s
    announcements: int = 0  # calls the information announcements answered
    callbacks_requested: int = 0
    callbacks_completed: int = 0
    callbacks_failed: int = 0
    callback_dials: int = 0
    callback_offers_refused: int = 0
    served: int = 0  # unique citizens served, by any way
    served_by: Counter[str] = field(default_factory=Counter)
    gave_up: int = 0  # unserved citizens who stopped trying
    still_trying: int = 0  # unserved at 24:00 with a place, a callback or a redial to come
    emergency_citizens: int = 0
    emergency_within_15s: int = 0  # emergency citizens answered within 15 s of a queue entry
    emergency_served: int = 0
    emergency_calls_queued: int = 0
    emergency_calls_within_15s: int = 0
    waits_answered: list[float] = field(default_factory=list)
    log: list[Attempt] = field(default_factory=list)
    busy_s: float = 0.0
    # When an agent took a caller on the line ("answered") or a callback's placeholder
    # ("dial"): the agents' work by the hour, callbacks included.
    agent_starts: list[tuple[float, str]] = field(default_factory=list)

    @property
    def unserved(self) -> int:
        return self.citizens - self.served

    @property
    def answered_share(self) -> float:
        """Calls answered by an agent / attempts (HCMC's "5.11 % taken")."""
        return self.answered / self.attempts if self.attempts else 0.0

    @property
    def abandon_rate(self) -> float:
        """Abandoned after 5 s / calls that joined a queue (the hotline's definition)."""
        return (self.abandoned - self.short_abandoned) / self.queued if self.queued else 0.0

    @property
    def asa_s(self) -> float:
        w = self.waits_answered
        return sum(w) / len(w) if w else 0.0


def run_arm(arm: str, people: Sequence[Citizen], params: SurgeParams, seed: int) -> ArmResult:
    """One arm of the day for these citizens."""
    if arm not in ARMS:
        raise ValueError(f"unknown arm {arm!r}")
    return _Day(arm, people, params, seed).run()


def window(result: ArmResult, start_s: float, end_s: float) -> dict[str, float]:
    """Per-attempt figures of the attempts arriving in [start_s, end_s), and what agents
    started in it."""
    inside = [a for a in result.log if start_s <= a.at_s < end_s]
    outcomes = Counter(a.outcome for a in inside)
    calls = len(inside)
    started = Counter(kind for t, kind in result.agent_starts if start_s <= t < end_s)
    return {
        "agent_answers": started["answered"],  # agents took a caller on the line then
        "callback_dials": started["dial"],  # agents took a callback's placeholder then
        "attempts": calls,
        "answered": outcomes["answered"],
        "abandoned": outcomes["abandoned"],
        "announcement": outcomes["announcement"],
        "callback": outcomes["callback"],
        "answered_share": outcomes["answered"] / calls if calls else 0.0,
    }


class _Day:
    def __init__(self, arm: str, people: Sequence[Citizen], params: SurgeParams, seed: int) -> None:
        self.arm, self.p, self.seed = arm, params, seed
        self.hotline = arm == HOTLINE
        self.people = list(people)
        self.r = ArmResult(arm, len(self.people))
        self.events: list[tuple[float, int, int, object]] = []
        self.seq = 0
        self.waiting: list[tuple[int, float, int, _Entry]] = []
        self.waiting_in: Counter[str] = Counter()  # by queue
        self.waiting_at: Counter[int] = Counter()  # by priority
        self.busy = 0
        self.served: set[int] = set()
        self.pending: set[int] = set()  # citizens with a callback pending
        self.plan = NumberPlan()
        self.caps = CallbackCaps(
            per_number=params.callback_max_per_number,
            number_window=timedelta(days=1),
            per_hour=params.callback_max_per_hour,
        )
        self.gave_up: set[int] = set()
        self.emergency_fast: set[int] = set()

    # -- the event loop --------------------------------------------------------------

    def _at(self, t: float, kind: int, data: object) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, data))

    def run(self) -> ArmResult:
        for c in self.people:
            self._at(c.arrives_s, _ATTEMPT, (c, 1))
        for h in range(1, 24):
            self._at(h * 3600 * self.p.day_s / 86_400, _SHIFT, None)
        while self.events and self.events[0][0] < self.p.day_s:
            t, _, kind, data = heapq.heappop(self.events)
            if kind == _ATTEMPT:
                c, k = cast(tuple[Citizen, int], data)
                self._attempt(t, c, k)
            elif kind == _ABANDON:
                self._abandon(t, cast(_Entry, data))
            elif kind == _DONE:
                self.busy -= 1
            elif kind == _CALLBACK_DUE:
                self._join(t, cast(_Entry, data))
            self._dispatch(t)
        return self._close()

    def _close(self) -> ArmResult:
        r = self.r
        r.served = len(self.served)
        r.gave_up = len(self.gave_up - self.served)
        r.still_trying = r.citizens - r.served - r.gave_up
        emergencies = [c.id for c in self.people if c.need == "medical_critical"]
        r.emergency_citizens = len(emergencies)
        r.emergency_served = sum(1 for i in emergencies if i in self.served)
        r.emergency_within_15s = len(self.emergency_fast)
        return r

    # -- a citizen calls ---------------------------------------------------------------

    def _attempt(self, t: float, c: Citizen, k: int) -> None:
        r, p = self.r, self.p
        r.attempts += 1
        d = draws(self.seed, c.id, k, p)
        emergency = c.need == "medical_critical"
        queue, priority = c.queue, c.priority
        if self.hotline and c.need == "information":
            first = d if k == 1 else draws(self.seed, c.id, 1, p)
            if first.info_u >= p.info_wants_agent:  # the announcements were enough
                r.announcements += 1
                self._serve(c, "announcement")
                r.log.append(Attempt(c.id, t, emergency, "announcement", k))
                return
        if not self.hotline:
            queue, priority = "plain", 0
        entry = _Entry(c, k, d, queue, priority, place_s=t, joined_s=t)
        if self.hotline and self._callback(t, entry):
            r.log.append(Attempt(c.id, t, emergency, "callback", k))
            return
        r.queued += 1
        if emergency:
            r.emergency_calls_queued += 1
        self._join(t, entry)
        self._at(t + d.patience_s, _ABANDON, entry)

    def _callback(self, t: float, e: _Entry) -> bool:
        """Offers a callback when the rules say so; True when the caller took it."""
        p = self.p
        able = p.agents_at(t)
        free = max(0, able - self.busy)
        if p.offer_ahead == "own-queue":
            ahead = self.waiting_in[e.queue]
        else:
            ahead = callers_ahead(e.queue, self.waiting_in, _LAYOUT)
        wait = estimated_wait_s(ahead=ahead, free=free, able=able, aht_s=p.aht_s)
        now = _EPOCH + timedelta(seconds=t)
        offer = rules.offer(
            e.queue,
            e.citizen.number,
            pending=e.citizen.id in self.pending,
            wait_s=wait,
            threshold_s=p.callback_threshold_s,
            never_in=("emergency",),
            allowed=self.plan.allows,
            cap=self.caps.reached(e.citizen.number, now),
        )
        if offer is None:
            return False
        if offer.refused is not None:
            self.r.callback_offers_refused += 1
            return False
        if e.d.accept_u >= p.callback_accept:
            return False
        self.caps.add(e.citizen.number, now)
        self.r.callbacks_requested += 1
        self.pending.add(e.citizen.id)
        e.placeholder = True
        self._join(t, e)
        return True

    def _join(self, t: float, e: _Entry) -> None:
        e.alive, e.joined_s = True, t
        self.seq += 1
        heapq.heappush(self.waiting, (-e.priority, e.place_s, self.seq, e))
        self.waiting_in[e.queue] += 1
        self.waiting_at[e.priority] += 1

    def _leave(self, e: _Entry) -> None:
        e.alive = False
        self.waiting_in[e.queue] -= 1
        self.waiting_at[e.priority] -= 1

    def _abandon(self, t: float, e: _Entry) -> None:
        if not e.alive or e.placeholder:
            return
        self._leave(e)
        r = self.r
        r.abandoned += 1
        if t - e.joined_s < 5:
            r.short_abandoned += 1
        r.log.append(
            Attempt(
                e.citizen.id,
                e.place_s,
                e.citizen.need == "medical_critical",
                "abandoned",
                e.attempt,
                t - e.joined_s,
            )
        )
        self._failed(t, e.citizen, e.attempt, e.d)

    def _failed(self, t: float, c: Citizen, k: int, d: AttemptDraws) -> None:
        """The citizen did not get through on attempt k: redials, or gives up."""
        if d.redial_u < self.p.redial.probability(k):
            self._at(t + d.redial_delay_s, _ATTEMPT, (c, k + 1))
        else:
            self.gave_up.add(c.id)

    def _serve(self, c: Citizen, how: str) -> None:
        if c.id not in self.served:
            self.served.add(c.id)
            self.r.served_by[how] += 1

    # -- agents ------------------------------------------------------------------------

    def _dispatch(self, t: float) -> None:
        while self.waiting and self.busy < self.p.agents_at(t):
            *_, e = heapq.heappop(self.waiting)
            if not e.alive:
                continue
            self._leave(e)
            self.busy += 1
            self.r.agent_starts.append((t, "dial" if e.placeholder else "answered"))
            if e.placeholder:
                self._dial(t, e)
            else:
                self._answer(t, e)

    def _answer(self, t: float, e: _Entry) -> None:
        r, c = self.r, e.citizen
        wait = t - e.joined_s
        r.answered += 1
        r.waits_answered.append(wait)
        emergency = c.need == "medical_critical"
        if emergency and wait <= EMERGENCY_SL_S:
            r.emergency_calls_within_15s += 1
            self.emergency_fast.add(c.id)
        r.log.append(Attempt(c.id, e.place_s, emergency, "answered", e.attempt, wait))
        self._serve(c, "agent")
        self._hold(t, e.d.talk_s + self.p.wrapup_s)

    def _dial(self, t: float, e: _Entry) -> None:
        """An agent took a callback's placeholder: the citizen's phone rings."""
        r, p, c = self.r, self.p, e.citizen
        r.callback_dials += 1
        if e.d.answer_us[e.callback_tries] < p.callback_answer:
            r.callbacks_completed += 1
            self.pending.discard(c.id)
            self._serve(c, "callback")
            self._hold(t, e.d.talk_s + p.wrapup_s)
            return
        self._hold(t, p.callback_ring_s)
        e.callback_tries += 1
        if e.callback_tries < p.callback_attempts:
            self._at(t + p.callback_retry_s, _CALLBACK_DUE, e)
            return
        r.callbacks_failed += 1
        self.pending.discard(c.id)
        self._failed(t, c, e.attempt, e.d)

    def _hold(self, t: float, seconds: float) -> None:
        self.r.busy_s += seconds
        self._at(t + seconds, _DONE, None)
