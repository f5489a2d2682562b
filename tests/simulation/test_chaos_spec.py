"""The ``--chaos`` SPEC: every fault kind, its arguments, and clear errors."""

from __future__ import annotations

import pytest

from simulation.chaos_spec import ChaosSpecError, Fault, FaultKind, parse_duration, parse_spec


def test_every_fault_kind_in_time_order() -> None:
    faults = parse_spec(
        "stop-db@120s/60s,kill-service@20s,restart-asterisk@1m,"
        "cut-ami@90+half-open,cut-ami@80s,agi-flood@200s/500"
    )
    assert faults == [
        Fault(FaultKind.KILL_SERVICE, 20.0),
        Fault(FaultKind.RESTART_ASTERISK, 60.0),
        Fault(FaultKind.CUT_AMI, 80.0),
        Fault(FaultKind.CUT_AMI, 90.0, half_open=True),
        Fault(FaultKind.STOP_DB, 120.0, duration_s=60.0),
        Fault(FaultKind.AGI_FLOOD, 200.0, duration_s=30.0, connections=500),
    ]
    assert [f.label for f in faults][2:4] == ["cut-ami", "cut-ami+half-open"]


def test_defaults_and_explicit_durations() -> None:
    assert parse_spec("stop-db@10s")[0].duration_s == 60.0
    assert parse_spec("agi-flood@5s/10/1m30s")[0] == Fault(
        FaultKind.AGI_FLOOD, 5.0, duration_s=90.0, connections=10
    )


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90.0), ("90s", 90.0), ("1.5m", 90.0), ("1m30s", 90.0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("", "comma-separated"),
        ("kill-service@20s,", "comma-separated"),
        ("reboot@20s", "unknown fault 'reboot'"),
        ("kill-service", "say when"),
        ("kill-service@soon", "not a duration"),
        ("kill-service@20s/5", "takes no /argument"),
        ("stop-db@20s+half-open", "only cut-ami takes an option"),
        ("cut-ami@20s+closed", "only cut-ami takes an option"),
        ("agi-flood@20s", "CONNECTIONS"),
        ("agi-flood@20s/lots", "CONNECTIONS"),
        ("agi-flood@20s/0", "between 1 and"),
        ("stop-db@20s/0s", "down for some time"),
        ("stop-db@20s/1s/2s", "stop-db@AT/DURATION"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, says: str) -> None:
    with pytest.raises(ChaosSpecError, match=says):
        parse_spec(spec)
