"""The plan of a peak-hour run, decided before it starts: the load, the agents (given, or
what ``stats.staffing`` recommends), the targets, the time scale and the Poisson schedule of
every call (``simulation.traffic``). ``add_arguments`` gives ``hotline1022 simulate`` its
peak-mode options; ``plan_from_args`` checks them.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

from ivr.menu_file import DEFAULT_MENU, load_menu
from simulation.traffic import (
    PEAK_MIX,
    Schedule,
    TimeScale,
    menu_routes,
    parse_duration,
    schedule,
)
from stats.staffing import Target, agents_for_targets, parse_targets

__all__ = ["DEFAULT_TARGETS", "PeakPlan", "add_arguments", "plan_from_args"]

DEFAULT_TARGETS = "90:15,95:20"


@dataclass(frozen=True)
class PeakPlan:
    """Everything a peak run does, decided before it starts. Unscaled unless named wall."""

    calls_per_hour: float
    aht_s: float
    wrapup_s: int
    agents: int
    agents_auto: bool
    max_occupancy: float | None
    patience_s: float | None
    targets: tuple[Target, ...]
    scale: TimeScale
    warmup_s: float
    cooldown_s: float
    seed: int
    schedule: Schedule

    @property
    def talk_s(self) -> float:
        """Mean talk time: AHT is talk + wrap-up."""
        return self.aht_s - self.wrapup_s

    @property
    def talk_wall_ms(self) -> int:
        return round(self.scale.wall(self.talk_s) * 1000)

    @property
    def wrapup_wall_s(self) -> int:
        return round(self.scale.wall(self.wrapup_s))

    @property
    def wall_s(self) -> float:
        """How long the schedule lasts on the run's clock."""
        return self.scale.wall(self.schedule.span_s)

    def describe(self) -> str:
        s = self.scale
        who = (
            f"{self.agents} agents (staffing's pooled Erlang C recommendation for "
            f"{', '.join(t.label for t in self.targets)}, occupancy cap "
            f"{'none' if self.max_occupancy is None else f'{self.max_occupancy:.0%}'})"
            if self.agents_auto
            else f"{self.agents} agents"
        )
        lines = [
            f"Peak: {self.calls_per_hour:g} calls/h, AHT {self.aht_s:g} s (talk "
            f"{self.talk_s:g} s exponential + wrap-up {self.wrapup_s} s), {who}; patience "
            f"{'none' if self.patience_s is None else f'{self.patience_s:g} s exponential'}.",
            f"Schedule: {len(self.schedule.arrivals)} Poisson arrivals over "
            f"{self.schedule.span_s / 60:.1f} min (warm-up {self.warmup_s / 60:g} min, "
            f"measured {len(self.schedule.measured)} calls in "
            f"{(self.schedule.window[1] - self.schedule.window[0]) / 60:.1f} min, cool-down "
            f"{self.cooldown_s / 60:g} min), seed {self.seed}.",
            f"Time scale {s.factor:g}: {s.rate(self.calls_per_hour):.3f} calls/s, mean talk "
            f"{s.wall(self.talk_s):.2f} s, wrap-up {self.wrapup_wall_s} s, SL thresholds "
            + ", ".join(f"{s.wall(t.seconds):.2f} s" for t in self.targets)
            + f"; the schedule takes {self.wall_s / 60:.1f} min on the clock.",
        ]
        return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The peak-mode options of ``hotline1022 simulate``."""
    g = p.add_argument_group("peak mode (Poisson arrivals; chosen by --calls-per-hour)")
    g.add_argument("--calls-per-hour", type=float, default=None, help="offered calls per hour")
    g.add_argument(
        "--duration",
        default="60m",
        help="measured window: simulated minutes (60, 60m) or calls (1500calls); default 60m",
    )
    g.add_argument("--aht", type=float, default=180.0, help="average handle time, seconds")
    g.add_argument(
        "--wrapup", type=int, default=0, help="wrap-up seconds after each call (part of AHT)"
    )
    g.add_argument(
        "--patience", type=float, default=None, help="mean caller patience, seconds (Erlang A)"
    )
    g.add_argument(
        "--time-scale", type=float, default=1.0, help="divide every duration by this factor"
    )
    g.add_argument("--warmup", type=float, default=0.0, help="minutes before the measured window")
    g.add_argument("--cooldown", type=float, default=0.0, help="minutes after it")
    g.add_argument(
        "--targets", default=DEFAULT_TARGETS, help=f"PERCENT:SECONDS,… (default {DEFAULT_TARGETS})"
    )
    g.add_argument(
        "--max-occupancy",
        type=float,
        default=None,
        help="occupancy cap for --agents auto (default: none, targets only)",
    )
    g.add_argument(
        "--seed", type=int, default=1022, help="of the arrivals, paths, patience and talk times"
    )
    g.add_argument("--json", type=Path, default=None, help="also write the figures here")


def plan_from_args(args: argparse.Namespace) -> PeakPlan:
    """The plan, or ValueError saying which option is wrong."""
    if not args.calls_per_hour > 0:
        raise ValueError(f"--calls-per-hour must be more than 0, got {args.calls_per_hour:g}")
    if not args.aht > 0:
        raise ValueError(f"--aht must be more than 0, got {args.aht:g}")
    scale = TimeScale(args.time_scale)
    if not 0 <= args.wrapup < args.aht:
        raise ValueError(f"--wrapup must be 0 or more and less than --aht, got {args.wrapup}")
    if not math.isclose(scale.wall(args.wrapup), round(scale.wall(args.wrapup)), abs_tol=1e-9):
        raise ValueError(
            f"--wrapup {args.wrapup} s at time scale {scale.factor:g} is "
            f"{scale.wall(args.wrapup):g} s: Asterisk's wrapuptime takes whole seconds"
        )
    if args.patience is not None and not args.patience > 0:
        raise ValueError(f"--patience must be more than 0, got {args.patience:g}")
    if args.warmup < 0 or args.cooldown < 0:
        raise ValueError("--warmup and --cooldown must be 0 or more")
    if args.max_occupancy is not None and not 0 < args.max_occupancy <= 1:
        raise ValueError(f"--max-occupancy must be in (0, 1], got {args.max_occupancy:g}")
    targets = parse_targets(args.targets)
    measure_s, measure_calls = parse_duration(args.duration)
    agents_arg = str(args.agents)
    auto = agents_arg == "auto"
    agents = (
        agents_for_targets(targets, args.calls_per_hour, args.aht, max_occupancy=args.max_occupancy)
        if auto
        else int(agents_arg)
    )
    menu = load_menu(DEFAULT_MENU)
    districts = sorted(menu.districts.units) if menu.districts is not None else []
    plan = schedule(
        args.calls_per_hour,
        menu_routes(menu),
        districts,
        mix=PEAK_MIX,
        warmup_s=args.warmup * 60,
        measure_s=measure_s,
        measure_calls=measure_calls,
        cooldown_s=args.cooldown * 60,
        patience_s=args.patience,
        seed=args.seed,
    )
    if not plan.measured:
        raise ValueError("no call arrives in the measured window: lengthen --duration")
    return PeakPlan(
        calls_per_hour=args.calls_per_hour,
        aht_s=args.aht,
        wrapup_s=args.wrapup,
        agents=agents,
        agents_auto=auto,
        max_occupancy=args.max_occupancy,
        patience_s=args.patience,
        targets=targets,
        scale=scale,
        warmup_s=args.warmup * 60,
        cooldown_s=args.cooldown * 60,
        seed=args.seed,
        schedule=plan,
    )
