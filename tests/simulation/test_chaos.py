"""Chaos runs, the pure parts: the summary line, when the service counts as rebuilt, the
environment the child service gets, and the CLI's refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.main import main
from hotline1022.settings import Settings
from pbx.cdr import CdrCall
from simulation.chaos import (
    FaultResult,
    chaos_line,
    fault_during,
    misdated,
    off_path,
    routes_line,
)
from simulation.chaos_spec import Fault, FaultKind
from simulation.service_proc import health_ready, settings_env
from simulation.simulate import Summary
from store.models import Call

NOW = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)


def test_summary_line_names_each_fault_and_ends_with_lost() -> None:
    summary = Summary(
        offered=300, answered=290, abandoned=4, lost=0, p50_wait_s=0.5, p95_wait_s=3.25
    )
    results = [
        FaultResult(Fault(FaultKind.KILL_SERVICE, 20), NOW, 3.14),
        FaultResult(Fault(FaultKind.CUT_AMI, 90, half_open=True), NOW, 7.0),
        FaultResult(Fault(FaultKind.STOP_DB, 120, duration_s=60), NOW, None),
    ]
    line = chaos_line(summary, results)
    assert line == (
        "offered=300 answered=290 abandoned=4 p50_wait_s=0.50 p95_wait_s=3.25 "
        "rebuild_s=kill-service:3.1,cut-ami+half-open:7.0,stop-db:timeout lost=0"
    )
    assert line.endswith("lost=0")


def _health(**ami: object) -> dict[str, object]:
    return {"status": "ok", "ami": {"connected": True, **ami}, "database": {"ok": True}}


def test_ready_needs_200_ami_and_database() -> None:
    assert health_ready(200, _health())
    assert not health_ready(503, _health())
    assert not health_ready(0, {})
    assert not health_ready(200, _health(connected=False))
    assert not health_ready(200, {**_health(), "database": {"ok": False}})


def test_ready_waits_for_a_reported_rebuild_to_be_over() -> None:
    assert not health_ready(200, _health(rebuild={"state": "running", "duration_s": None}))
    assert health_ready(200, _health(rebuild={"state": "done", "duration_s": 1.2}))


def test_child_gets_every_setting_and_the_proxy_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(state_dir=tmp_path, ami_port=5038, wrapup_s=0)
    env = settings_env(settings, ami_port=6000)
    assert env["HOTLINE_AMI_PORT"] == "6000"
    assert env["HOTLINE_STATE_DIR"] == str(tmp_path.resolve())
    assert env["HOTLINE_WRAPUP_S"] == "0"
    assert json.loads(env["HOTLINE_PAUSE_REASONS"]) == settings.pause_reasons
    # Read back the way ``hotline1022 serve`` reads them.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    again = Settings()
    assert again.ami_port == 6000 and again.sl_thresholds == settings.sl_thresholds


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--chaos", "reboot@5s"], "unknown fault 'reboot'"),
        (["--chaos", "kill-service@5s", "--calls-per-hour", "100"], "constant-rate"),
        (["--chaos", "stop-db@5s", "--database-url", "postgresql+asyncpg://x/y"], "private"),
    ],
)
def test_cli_refuses_what_it_cannot_run(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", *argv]) == 2
    assert says in capsys.readouterr().out


def test_records_that_arrive_later_than_asterisk_saw_the_call_are_misdated() -> None:
    start = datetime(2026, 12, 5, 22, 2, 10, tzinfo=UTC)
    cdr = [
        CdrCall("a", "0901", "", start, None, None, "Queue"),
        CdrCall("b", "0902", "", start, None, None, "Queue"),
        CdrCall("c", "0903", "", start, None, None, "Queue"),
    ]
    calls = [
        Call(uniqueid="a", arrived_at=start.replace(second=11)),
        Call(uniqueid="b", arrived_at=start.replace(minute=3, second=26, tzinfo=None)),
        Call(uniqueid="d", arrived_at=start),
    ]
    assert misdated(calls, cdr) == {"b": 76.0}


def test_routes_show_callers_whose_menu_was_lost() -> None:
    keys_of = {"0901": "1", "0902": "1", "0903": "1", "0904": ""}
    calls = [
        Call(caller_number="0901", queue="medical", status="answered"),
        Call(caller_number="0902", queue="medical", status="answered"),
        Call(caller_number="0903", queue="operator", status="answered"),
        Call(caller_number="0904", queue=None, status="abandoned_ivr"),
        Call(caller_number="0999", queue="food", status="answered"),
    ]
    assert routes_line(calls, keys_of) == "->(abandoned_ivr):1 1>medical:2,operator:1"
    assert [c.caller_number for c in off_path(calls, keys_of)] == ["0903"]


def test_a_lost_call_names_the_fault_it_met() -> None:
    results = [
        FaultResult(Fault(FaultKind.KILL_SERVICE, 20), NOW, 1.0),
        FaultResult(Fault(FaultKind.CUT_AMI, 50), NOW.replace(second=50), 1.0),
    ]

    def call(start_s: int, end_s: int) -> CdrCall:
        return CdrCall(
            "u", "0901", "", NOW.replace(second=start_s), NOW.replace(second=end_s), None, ""
        )

    assert fault_during(call(10, 30), results) == ", during kill-service"
    assert fault_during(call(40, 55), results) == ", during cut-ami"
    assert fault_during(call(0, 0), results) == ", during kill-service"
    assert fault_during(CdrCall("u", "", "", NOW.replace(minute=59), None, None, ""), []) == (
        ", during no fault"
    )
