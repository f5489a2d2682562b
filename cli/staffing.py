"""``hotline1022 staffing``: agents needed at the peak hour of a forecast day.

    hotline1022 staffing --calls-per-day 15000 --targets 90:15,95:20 --patience-s 60

Prints, per category of the mix and for one pooled queue, the calls per hour, AHT, load,
recommended agents (Erlang C, every target met, occupancy capped), the predicted service
level of each target, ASA and occupancy; with ``--patience-s`` also Erlang A's abandonment
for that many agents. ``GET /staffing`` answers the same from the API.
"""

from __future__ import annotations

import argparse
import sys

from stats.staffing import (
    DEFAULT_MIX,
    StaffingRow,
    Target,
    forecast_demands,
    parse_mix,
    parse_targets,
    plan,
)
from store.categories import CATEGORIES

__all__ = ["add_parser", "format_table"]

EXIT_USAGE = 2


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``staffing``; it sets ``func(args) -> exit code``."""
    p = subparsers.add_parser(
        "staffing",
        help="agents needed at the peak hour of a forecast (Erlang C / Erlang A)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("--calls-per-day", type=float, required=True, help="forecast, e.g. 15000")
    p.add_argument(
        "--peak-share", type=float, default=0.10, help="share of the day in the peak hour"
    )
    p.add_argument(
        "--mix",
        default=",".join(f"{k}:{v:g}" for k, v in DEFAULT_MIX.items()),
        help="category shares summing to 1 (default: %(default)s)",
    )
    p.add_argument(
        "--targets", default="80:20", help="PERCENT:SECONDS,… all to be met (default: 80:20)"
    )
    p.add_argument("--aht-s", type=float, default=180.0, help="average handle time, seconds")
    p.add_argument(
        "--max-occupancy", type=float, default=0.85, help="occupancy cap (default: 0.85)"
    )
    p.add_argument(
        "--patience-s", type=float, default=None, help="mean caller patience: adds Erlang A"
    )
    p.set_defaults(func=_staffing)


def _staffing(args: argparse.Namespace) -> int:
    try:
        targets = parse_targets(args.targets)
        mix = parse_mix(args.mix, known=[c.key for c in CATEGORIES])
        if not 0 < args.max_occupancy <= 1:
            raise ValueError(f"--max-occupancy must be in (0, 1], got {args.max_occupancy:g}")
        if args.patience_s is not None and not args.patience_s > 0:
            raise ValueError(f"--patience-s must be more than 0, got {args.patience_s:g}")
        if not args.aht_s > 0:
            raise ValueError(f"--aht-s must be more than 0, got {args.aht_s:g}")
        demands = forecast_demands(
            args.calls_per_day, peak_share=args.peak_share, mix=mix, aht_s=args.aht_s
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    rows, totals = plan(
        demands, targets, max_occupancy=args.max_occupancy, patience_s=args.patience_s
    )
    print(
        f"Peak hour: {args.peak_share:.0%} of {args.calls_per_day:,.0f} calls/day; "
        f"targets {', '.join(t.label for t in targets)}; occupancy ≤ {args.max_occupancy:.0%}"
    )
    print(format_table([*rows, *totals], targets, patience=args.patience_s is not None))
    for total in totals:
        print(
            f"Dedicated queues need {total.dedicated_agents} agents in total; "
            f"one pooled queue {total.agents}."
        )
    return 0


def format_table(rows: list[StaffingRow], targets: tuple[Target, ...], *, patience: bool) -> str:
    """A fixed-width table, one line per row."""
    head = ["category", "hour", "calls/h", "AHT s", "load Erl", "agents"]
    head += [f"SL {t.label}" for t in targets] + ["ASA s", "occupancy"]
    if patience:
        head += ["P(abandon)", "abandon>5s"]
    lines = [head]
    for row in rows:
        c, d = row.erlang_c, row.demand
        cells = [
            d.category,
            "peak" if d.hour is None else f"{d.hour:02d}h",
            f"{d.calls_per_hour:,.1f}",
            f"{d.aht_s:.0f}",
            f"{c.load_erlangs:.2f}",
            str(row.agents),
        ]
        cells += [f"{sl:.1%}" for _, sl in c.service_levels]
        cells += [f"{c.asa_s:.1f}", f"{c.occupancy:.1%}"]
        if patience and row.erlang_a is not None:
            cells += [f"{row.erlang_a.p_abandon:.1%}", f"{row.erlang_a.abandon_rate:.1%}"]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )
