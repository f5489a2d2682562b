"""The roll call: a point's state, how a signal from the PBX moves it, and the count of who is
there per province, district and commune.

Pure: no I/O, no clock. ``conference.service`` keeps every point's state in the database and
asks ``advance`` what a ``PointSignal`` does to it; the roll it shows is ``tally`` of its points.

>>> advance(PointState.RINGING, SignalKind.ANSWERED)
<PointState.ANSWERED: 'answered'>
>>> advance(PointState.PRESENT, SignalKind.RINGING) is None  # late: ignored
True
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from pbx.conference_signals import SignalKind

__all__ = [
    "FINAL",
    "Bucket",
    "Counts",
    "PlaceRoll",
    "PointState",
    "Roll",
    "RollPoint",
    "advance",
    "bucket",
    "tally",
]


class PointState(enum.StrEnum):
    """Where one point's call stands, in the order a call that goes well passes them."""

    QUEUED = "queued"  # waits for its turn to be dialled (again, after a retry)
    DIALLING = "dialling"  # the service asked the PBX to call
    RINGING = "ringing"  # the phone rings
    ANSWERED = "answered"  # picked up: hears the title and "press 1"
    PRESENT = "present"  # pressed 1
    JOINED = "joined"  # in the bridge (muted)
    LEFT = "left"  # was there, is gone (left the bridge or hung up)
    ABSENT = "absent"  # answered but never pressed 1 (or hung up before)
    FAILED = "failed"  # busy, no answer or could not be placed, and no retry is left


# States no signal moves any more: only the service leaves them (a retry or a redial puts the
# point back to QUEUED with one more attempt).
FINAL = frozenset({PointState.ABSENT, PointState.FAILED})

_S = PointState
_K = SignalKind

# Every (state, signal) that moves a point; anything else is ignored (``advance`` → None).
# The signals of one call come in order per node, but one can be missing (a phone that never
# sends 180 Ringing; a leader, whose dialplan says "present" without "answered"), so a later
# step is accepted from any earlier state of the same call. A signal of an earlier step after
# a later one is late and ignored: a RINGING after PRESENT says nothing new.
_PRE_ANSWER = (_S.DIALLING, _S.RINGING)
_TRANSITIONS: dict[tuple[PointState, SignalKind], PointState] = {
    (_S.DIALLING, _K.RINGING): _S.RINGING,
    **{(s, _K.ANSWERED): _S.ANSWERED for s in _PRE_ANSWER},
    **{(s, _K.PRESENT): _S.PRESENT for s in (*_PRE_ANSWER, _S.ANSWERED)},
    **{(s, _K.JOINED): _S.JOINED for s in (*_PRE_ANSWER, _S.ANSWERED, _S.PRESENT)},
    **{(s, _K.ABSENT): _S.ABSENT for s in (*_PRE_ANSWER, _S.ANSWERED)},
    # Answered, then hung up before pressing 1: absent (the service records why: hung_up).
    (_S.ANSWERED, _K.HUNG_UP): _S.ABSENT,
    # Pressed 1 (perhaps joined), then gone.
    **{(s, k): _S.LEFT for s in (_S.PRESENT, _S.JOINED) for k in (_K.LEFT, _K.HUNG_UP)},
    # The call could not be made: the OriginateResponse says why. A HUNG_UP before the answer
    # is not among these on purpose: the channel's Hangup comes before the OriginateResponse
    # that says busy or no answer, and that reason decides the retry (``should_retry``).
    **{(s, k): _S.FAILED for s in _PRE_ANSWER for k in (_K.BUSY, _K.NO_ANSWER, _K.FAILED)},
}


def advance(state: PointState, kind: SignalKind) -> PointState | None:
    """The state a point in ``state`` moves to on a signal ``kind``, or None to ignore it.

    Ignored: signals about the bridge rather than the call (mute, talking, hand, recording,
    link, end: the service keeps those apart from the state), late signals (RINGING after
    PRESENT), anything for a QUEUED point (its call, if any, was an earlier attempt's) and
    anything for a final state (ABSENT, FAILED, LEFT). The service should drop a signal whose
    attempt is not the point's current one before asking.
    """
    return _TRANSITIONS.get((state, kind))


Bucket = Literal["present", "absent", "dialling", "left"]

_BUCKETS: dict[PointState, Bucket] = {
    _S.QUEUED: "dialling",
    _S.DIALLING: "dialling",
    _S.RINGING: "dialling",
    _S.ANSWERED: "dialling",  # still being asked: not present yet, not absent either
    _S.PRESENT: "present",
    _S.JOINED: "present",
    _S.LEFT: "left",
    _S.ABSENT: "absent",
    _S.FAILED: "absent",
}


def bucket(state: PointState) -> Bucket:
    """The column of the roll a point in ``state`` counts in."""
    return _BUCKETS[state]


@dataclass(frozen=True)
class RollPoint:
    """A point as the roll sees it: its state and its place.

    A point chosen by place has its province, district and commune; a district or province
    center has no commune (or no district either); a point chosen by number has no place at
    all and counts in the totals only.
    """

    point_id: int
    state: PointState
    province_code: int | None
    province_name: str | None = None
    district_code: int | None = None
    district_name: str | None = None
    commune_code: int | None = None
    commune_name: str | None = None
    is_leader: bool = False


@dataclass
class Counts:
    present: int = 0
    absent: int = 0
    dialling: int = 0
    left: int = 0

    @property
    def total(self) -> int:
        return self.present + self.absent + self.dialling + self.left

    def add(self, state: PointState) -> None:
        b = bucket(state)
        setattr(self, b, getattr(self, b) + 1)

    def as_dict(self) -> dict[str, int]:
        return {
            "present": self.present,
            "absent": self.absent,
            "dialling": self.dialling,
            "left": self.left,
            "total": self.total,
        }


@dataclass
class PlaceRoll:
    """The counts of one province, district or commune, and of its places below."""

    code: int
    name: str
    counts: Counts = field(default_factory=Counts)
    children: dict[int, PlaceRoll] = field(default_factory=dict)

    def child(self, code: int, name: str | None) -> PlaceRoll:
        if code not in self.children:
            self.children[code] = PlaceRoll(code, name or "")
        return self.children[code]

    def sorted_children(self) -> list[PlaceRoll]:
        return [self.children[c] for c in sorted(self.children)]


_CHILD_KEYS = ("districts", "communes")


def _place_dict(place: PlaceRoll, depth: int) -> dict[str, object]:
    out: dict[str, object] = {"code": place.code, "name": place.name, **place.counts.as_dict()}
    if depth < len(_CHILD_KEYS):
        out[_CHILD_KEYS[depth]] = [_place_dict(c, depth + 1) for c in place.sorted_children()]
    return out


@dataclass
class Roll:
    """Who is there: totals, and per province → district → commune, each sorted by code."""

    totals: Counts = field(default_factory=Counts)
    provinces: dict[int, PlaceRoll] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """``{"totals": {present, absent, dialling, left, total}, "provinces": [{code, name,
        counts…, "districts": [{code, name, counts…, "communes": [{code, name, counts…}]}]}]}``
        """
        return {
            "totals": self.totals.as_dict(),
            "provinces": [_place_dict(self.provinces[c], 0) for c in sorted(self.provinces)],
        }


def tally(points: Iterable[RollPoint]) -> Roll:
    """Count the points (not the leaders) at every level of place they have.

    A place's counts include every point under it, so a district center counts in its
    province and its district but in no commune, and a province's counts may exceed the sum
    of its districts'. A point with no province (a number) counts in the totals only.
    """
    roll = Roll()
    for p in points:
        if p.is_leader:
            continue
        roll.totals.add(p.state)
        if p.province_code is None:
            continue
        if p.province_code not in roll.provinces:
            roll.provinces[p.province_code] = PlaceRoll(p.province_code, p.province_name or "")
        place = roll.provinces[p.province_code]
        place.counts.add(p.state)
        for code, name in ((p.district_code, p.district_name), (p.commune_code, p.commune_name)):
            if code is None:
                break
            place = place.child(code, name)
            place.counts.add(p.state)
    return roll
