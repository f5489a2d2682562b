"""What the peak-mode tests share: the default targets and the command line of a peak run."""

from __future__ import annotations

import argparse

from cli.main import build_parser
from stats.staffing import Target

TARGETS = (Target(0.90, 15), Target(0.95, 20))


def peak_args(*argv: str) -> argparse.Namespace:
    """``hotline1022 simulate --calls-per-hour 1500`` and ``argv``, parsed."""
    return build_parser().parse_args(["simulate", "--calls-per-hour", "1500", *argv])
