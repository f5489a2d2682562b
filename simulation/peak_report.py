"""What a peak-hour run found, beside what the models predict for it: the result, the Erlang
predictions for the nominal and for the drawn load, the comparison table and the JSON record.
The figures themselves are computed in ``simulation.peak_figures``.
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from simulation.cpu import CpuSummary
from simulation.peak_figures import CallFacts, Measured, Predicted, as_dict, by_label, predict
from simulation.peak_plan import PeakPlan
from store.models import Call

__all__ = ["PeakResult", "call_facts", "format_report", "p95", "predictions"]


@dataclass(frozen=True)
class PeakResult:
    plan: PeakPlan
    measured: Measured
    replayed: Measured  # the same calls through an ideal pooled FIFO queue
    predictions: tuple[Predicted, ...]
    placed: int
    asterisk_saw: int
    service_recorded: int
    lost: int
    late: Mapping[str, float]
    sipp_exit: int | None
    gave_up: int
    cpu: CpuSummary
    max_event_backlog: int
    event_lag_p95_s: float
    event_lag_max_s: float
    wall_s: float
    started_at: str

    def summary_line(self) -> str:
        m = self.measured
        levels = " ".join(f"sl_{t.seconds:g}s={v:.3f}" for t, v in m.service_levels)
        return (
            f"offered={m.offered} answered={m.answered} abandoned={m.abandoned_queue} "
            f"lost={self.lost} {levels} asa_s={m.asa_s:.2f} max_wait_s={m.max_wait_s:.1f}"
        )

    def to_json(self) -> dict[str, Any]:
        p = self.plan
        return {
            "started_at": self.started_at,
            "machine": {
                "node": platform.node(),
                "cores": os.cpu_count(),
                "python": platform.python_version(),
            },
            "plan": {
                "calls_per_hour": p.calls_per_hour,
                "aht_s": p.aht_s,
                "talk_s": p.talk_s,
                "wrapup_s": p.wrapup_s,
                "agents": p.agents,
                "agents_auto": p.agents_auto,
                "max_occupancy": p.max_occupancy,
                "patience_s": p.patience_s,
                "targets": [t.label for t in p.targets],
                "time_scale": p.scale.factor,
                "warmup_s": p.warmup_s,
                "cooldown_s": p.cooldown_s,
                "seed": p.seed,
                "scheduled_calls": len(p.schedule.arrivals),
                "measured_window_s": list(p.schedule.window),
                "wall": {
                    "calls_per_s": p.scale.rate(p.calls_per_hour),
                    "talk_ms": p.talk_wall_ms,
                    "wrapup_s": p.wrapup_wall_s,
                    "patience_s": None if p.patience_s is None else p.scale.wall(p.patience_s),
                    "sl_thresholds_s": [p.scale.wall(t.seconds) for t in p.targets],
                    "schedule_s": p.wall_s,
                },
            },
            "measured": as_dict(self.measured),
            "replayed": as_dict(self.replayed),
            "predictions": [as_dict(x) for x in self.predictions],
            "placed": self.placed,
            "asterisk_saw": self.asterisk_saw,
            "service_recorded": self.service_recorded,
            "lost": self.lost,
            "late_calls": len(self.late),
            "latest_ms": max(self.late.values(), default=0.0),
            "sipp_exit": self.sipp_exit,
            "gave_up": self.gave_up,
            "cpu": asdict(self.cpu),
            "max_event_backlog": self.max_event_backlog,
            "event_lag_p95_s": self.event_lag_p95_s,
            "event_lag_max_s": self.event_lag_max_s,
            "wall_s": self.wall_s,
            "summary": self.summary_line(),
        }


def p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def call_facts(call: Call) -> CallFacts:
    def unix(at: datetime | None) -> float | None:
        if at is None:
            return None
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()

    return CallFacts(
        number=call.caller_number,
        status=call.status,
        queue_entered_at=unix(call.queue_entered_at),
        answered_at=unix(call.answered_at),
        ended_at=unix(call.ended_at),
        wait_s=call.wait_s,
        talk_s=call.talk_s,
        complete=call.complete,
        agent=call.agent_endpoint,
    )


def predictions(plan: PeakPlan, measured: Measured) -> tuple[Predicted, ...]:
    """Erlang C (and A, with a patience) for the nominal load, and for the load the run
    actually offered (its arrival rate and talk times, which a finite run draws around
    the nominal ones)."""
    out = [predict("Erlang C, nominal", plan.agents, plan.calls_per_hour, plan.aht_s, plan.targets)]
    if plan.patience_s is not None:
        out.append(
            predict(
                "Erlang A, nominal",
                plan.agents,
                plan.calls_per_hour,
                plan.aht_s,
                plan.targets,
                plan.patience_s,
            )
        )
    if measured.talk_mean_s is not None and measured.calls_per_hour > 0:
        aht = measured.talk_mean_s + plan.wrapup_s
        out.append(
            predict(
                "Erlang C, as offered",
                plan.agents,
                measured.calls_per_hour,
                aht,
                plan.targets,
            )
        )
        if plan.patience_s is not None:
            out.append(
                predict(
                    "Erlang A, as offered",
                    plan.agents,
                    measured.calls_per_hour,
                    aht,
                    plan.targets,
                    plan.patience_s,
                )
            )
    return tuple(out)


def format_report(result: PeakResult) -> str:
    """The comparison table, measured beside each model."""
    m, r = result.measured, result.replayed
    rows: list[tuple[str, str, list[str]]] = []

    def pct(v: float | None) -> str:
        return "—" if v is None or not math.isfinite(v) else f"{v:.1%}"

    def sec(v: float | None) -> str:
        return "—" if v is None or not math.isfinite(v) else f"{v:.1f}"

    def ci(v: float | None, as_pct: bool) -> str:
        if v is None:
            return ""
        return f" ±{v:.1%}" if as_pct else f" ±{v:.1f}"

    preds = result.predictions
    for i, (t, v) in enumerate(m.service_levels):
        rows.append(
            (
                f"SL {t.label}",
                pct(v) + (ci(m.service_level_ci, True) if i == 0 else ""),
                [
                    pct(by_label(r.service_levels).get(t.label)),
                    *[pct(by_label(p.service_levels).get(t.label)) for p in preds],
                ],
            )
        )
    rows.append(
        (
            "ASA s",
            sec(m.asa_s) + ci(m.asa_ci, False),
            [sec(r.asa_s), *[sec(p.asa_s) for p in preds]],
        )
    )
    rows.append(
        (
            "waited > 1 s / P(wait)",
            pct(m.waited_share),
            [pct(r.waited_share), *[pct(p.p_wait) for p in preds]],
        )
    )
    rows.append(
        (
            "abandon rate (> 5 s)",
            pct(m.abandon_rate),
            [pct(r.abandon_rate), *[pct(p.abandon_rate) for p in preds]],
        )
    )
    rows.append(
        ("occupancy", pct(m.occupancy), [pct(r.occupancy), *[pct(p.occupancy) for p in preds]])
    )
    rows.append(
        (
            "calls/h",
            f"{m.calls_per_hour:.0f}",
            [f"{r.calls_per_hour:.0f}", *[f"{p.calls_per_hour:.0f}" for p in preds]],
        )
    )
    aht = None if m.talk_mean_s is None else m.talk_mean_s + result.plan.wrapup_s
    rows.append(("AHT s", sec(aht), [sec(aht), *[sec(p.aht_s) for p in preds]]))
    head = ["figure", "measured", "FIFO replay", *[p.model for p in preds]]
    table = [head, *[[name, measured, *cells] for name, measured, cells in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in table
    )
