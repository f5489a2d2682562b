"""The roll call's state machine and counts (``conference.roll``)."""

from __future__ import annotations

import pytest

from conference.roll import FINAL, PointState, RollPoint, advance, bucket, tally
from pbx.conference_signals import SignalKind

S = PointState
K = SignalKind

# The whole table, written out: a row per state, a column per signal that can move a point.
# "." means ignored (advance → None); otherwise the first letters of the new state.
_COLUMNS = (
    K.RINGING, K.ANSWERED, K.PRESENT, K.ABSENT, K.JOINED, K.LEFT, K.HUNG_UP,
    K.BUSY, K.NO_ANSWER, K.FAILED,
)  # fmt: skip
_TABLE = """
            ringing answered present absent joined left   hung_up busy   no_ans failed
queued      .       .        .       .      .      .      .       .      .      .
dialling    RINGING ANSWERED PRESENT ABSENT JOINED .      .       FAILED FAILED FAILED
ringing     .       ANSWERED PRESENT ABSENT JOINED .      .       FAILED FAILED FAILED
answered    .       .        PRESENT ABSENT JOINED .      ABSENT  .      .      .
present     .       .        .       .      JOINED LEFT   LEFT    .      .      .
joined      .       .        .       .      .      LEFT   LEFT    .      .      .
left        .       .        .       .      .      .      .       .      .      .
absent      .       .        .       .      .      .      .       .      .      .
failed      .       .        .       .      .      .      .       .      .      .
"""
# Signals about the bridge, not the call: they never change a point's state.
_NEVER = (
    K.MUTED, K.UNMUTED, K.HAND, K.TALKING, K.SILENT, K.LINK_UP, K.LINK_DOWN, K.RECORDING,
    K.RECORDING_STOPPED, K.ENDED,
)  # fmt: skip


def _expected() -> dict[tuple[PointState, SignalKind], PointState | None]:
    rows = [line.split() for line in _TABLE.strip().splitlines()[1:]]
    table: dict[tuple[PointState, SignalKind], PointState | None] = {}
    for row in rows:
        state = PointState(row[0])
        for kind, cell in zip(_COLUMNS, row[1:], strict=True):
            table[state, kind] = None if cell == "." else PointState(cell.lower())
    return table


def test_the_table_covers_every_state_and_every_signal() -> None:
    # A new state or signal fails here until someone decides what it does.
    assert {s for s, _ in _expected()} == set(PointState)
    assert set(_COLUMNS) | set(_NEVER) == set(SignalKind)
    assert not set(_COLUMNS) & set(_NEVER)


@pytest.mark.parametrize(("state", "kind"), [(s, k) for s in PointState for k in _COLUMNS])
def test_advance_follows_the_table(state: PointState, kind: SignalKind) -> None:
    assert advance(state, kind) == _expected()[state, kind]


@pytest.mark.parametrize(("state", "kind"), [(s, k) for s in PointState for k in _NEVER])
def test_bridge_signals_never_move_a_point(state: PointState, kind: SignalKind) -> None:
    assert advance(state, kind) is None


def test_final_states_ignore_everything() -> None:
    assert {PointState.ABSENT, PointState.FAILED} == FINAL
    for state in FINAL:
        assert all(advance(state, k) is None for k in SignalKind)


def _run(kinds: list[SignalKind], start: PointState = S.DIALLING) -> PointState:
    state = start
    for kind in kinds:
        state = advance(state, kind) or state
    return state


@pytest.mark.parametrize(
    ("kinds", "final"),
    [
        ([K.RINGING, K.ANSWERED, K.PRESENT, K.JOINED, K.LEFT, K.HUNG_UP], S.LEFT),
        ([K.RINGING, K.ANSWERED, K.ABSENT, K.HUNG_UP], S.ABSENT),
        ([K.RINGING, K.ANSWERED, K.HUNG_UP], S.ABSENT),
        ([K.RINGING, K.HUNG_UP, K.BUSY], S.FAILED),  # Hangup before the OriginateResponse
        ([K.ANSWERED, K.PRESENT, K.JOINED], S.JOINED),  # a phone that never sent 180
        ([K.PRESENT, K.JOINED], S.JOINED),  # a leader: no "answered" in its dialplan
        ([K.ANSWERED, K.PRESENT, K.RINGING, K.ABSENT, K.JOINED], S.JOINED),  # late ones
    ],
)
def test_calls_as_the_pbx_reports_them(kinds: list[SignalKind], final: PointState) -> None:
    assert _run(kinds) == final


def test_buckets() -> None:
    expected = {
        "dialling": {S.QUEUED, S.DIALLING, S.RINGING, S.ANSWERED},
        "present": {S.PRESENT, S.JOINED},
        "absent": {S.ABSENT, S.FAILED},
        "left": {S.LEFT},
    }
    for name, states in expected.items():
        assert {s for s in PointState if bucket(s) == name} == states


def _counts(present: int = 0, absent: int = 0, dialling: int = 0, left: int = 0) -> dict[str, int]:
    return {
        "present": present,
        "absent": absent,
        "dialling": dialling,
        "left": left,
        "total": present + absent + dialling + left,
    }


def _commune(pid: int, state: PointState, d: int, c: int, p: int = 74) -> RollPoint:
    return RollPoint(pid, state, p, f"P{p}", d, f"D{d}", c, f"C{c}")


def test_tally_counts_every_level_sorted_by_code() -> None:
    points = [
        _commune(1, S.JOINED, 721, 25900),
        _commune(2, S.ABSENT, 721, 25800),
        _commune(3, S.RINGING, 718, 25700),
        _commune(4, S.FAILED, 721, 25900),
        _commune(5, S.LEFT, 760, 26700, p=79),
        # A district center: in its province and district, in no commune.
        RollPoint(6, S.PRESENT, 74, "P74", 721, "D721"),
        # A province center: in its province only.
        RollPoint(7, S.QUEUED, 74, "P74"),
        # A number: in the totals only.
        RollPoint(8, S.ANSWERED, None),
        # A leader: nowhere.
        RollPoint(9, S.JOINED, 74, "P74", 718, "D718", 25700, "C25700", is_leader=True),
    ]
    assert tally(points).as_dict() == {
        "totals": _counts(present=2, absent=2, dialling=3, left=1),
        "provinces": [
            {
                "code": 74,
                "name": "P74",
                **_counts(present=2, absent=2, dialling=2),
                "districts": [
                    {
                        "code": 718,
                        "name": "D718",
                        **_counts(dialling=1),
                        "communes": [{"code": 25700, "name": "C25700", **_counts(dialling=1)}],
                    },
                    {
                        "code": 721,
                        "name": "D721",
                        **_counts(present=2, absent=2),
                        "communes": [
                            {"code": 25800, "name": "C25800", **_counts(absent=1)},
                            {"code": 25900, "name": "C25900", **_counts(present=1, absent=1)},
                        ],
                    },
                ],
            },
            {
                "code": 79,
                "name": "P79",
                **_counts(left=1),
                "districts": [
                    {
                        "code": 760,
                        "name": "D760",
                        **_counts(left=1),
                        "communes": [{"code": 26700, "name": "C26700", **_counts(left=1)}],
                    }
                ],
            },
        ],
    }


def test_tally_of_nothing() -> None:
    assert tally([]).as_dict() == {"totals": _counts(), "provinces": []}
