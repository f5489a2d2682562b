"""``hotline1022 simulate``: SIPp calls through a throwaway hotline, at a constant rate
(``simulation.simulate``) or as a peak hour compared with Erlang (``simulation.peak``,
chosen by ``--calls-per-hour``)."""

from __future__ import annotations

import argparse
import asyncio

__all__ = ["add_parser", "agents_arg"]


def agents_arg(text: str) -> str:
    """``--agents``: a positive number, or ``auto`` (peak mode: staffing's recommendation)."""
    if text != "auto" and not (text.isdigit() and int(text) > 0):
        raise argparse.ArgumentTypeError(f"a number of agents or 'auto', got {text!r}")
    return text


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from simulation.peak_plan import add_arguments as add_peak_arguments

    p = subparsers.add_parser(
        "simulate",
        help="place SIPp calls through a throwaway hotline",
        description="Constant-rate calls (--calls, --rate, --talk-ms), or a peak hour with "
        "Poisson arrivals compared with Erlang C/A (--calls-per-hour and the peak options).",
    )
    p.add_argument("--calls", type=int, default=100)
    p.add_argument("--rate", type=float, default=2.0, help="calls per second")
    p.add_argument(
        "--agents",
        type=agents_arg,
        default="10",
        help="SIPp agents; 'auto' (peak mode): what staffing recommends for --targets",
    )
    p.add_argument("--talk-ms", type=int, default=2000, help="each answered call's talk time")
    p.add_argument("--database-url", default="", help="default: SQLite in a temporary dir")
    p.add_argument(
        "--sipp-per-agent",
        action="store_true",
        help="constant rate: one SIPp process per agent, not one for all (to compare)",
    )
    p.add_argument(
        "--chaos",
        metavar="SPEC",
        default=None,
        help="faults during the run, e.g. kill-service@20s,restart-asterisk@60s,"
        "cut-ami@90s+half-open,stop-db@120s/60s,agi-flood@200s/500 (see simulation.chaos_spec)",
    )
    p.add_argument("--chaos-logs", metavar="DIR", default=None, help="keep the service's logs")
    add_peak_arguments(p)
    p.set_defaults(func=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    if args.calls_per_hour is not None:
        if args.chaos is not None:
            print("error: --chaos runs with constant-rate calls, not with --calls-per-hour")
            return 2
        from simulation.peak import run_peak

        return asyncio.run(run_peak(args))
    if args.agents == "auto":
        print("error: --agents auto needs --calls-per-hour (peak mode)")
        return 2
    if args.chaos is not None:
        from simulation.chaos import run_chaos
        from simulation.chaos_spec import ChaosSpecError, parse_spec

        try:
            faults = parse_spec(args.chaos)
        except ChaosSpecError as exc:
            print(f"error: --chaos {exc}")
            return 2
        return asyncio.run(run_chaos(args, faults))
    from simulation.simulate import run

    return asyncio.run(run(args))
