"""Keep the objects made at start-up out of Python's full garbage collections.

A service process holds a few hundred thousand long-lived objects after start-up (modules,
FastAPI's routes and models, SQLAlchemy's tables and compiled statements). CPython's full
(generation 2) collection walks all of them, and an answer that builds thousands of objects
(a year of queue statistics by day: 1,460 rows) sets one off every few requests: measured
at 85–140 ms of a 20 ms answer (``bench/results/stats.md``, 2026-12-06). ``gc.freeze()``
moves the survivors of a collection to a generation the collector never walks, so the full
collections that follow only walk what came after; those objects live as long as the
process anyway. Nothing else changes: objects made later are collected as before.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_heap", "thaw_heap"]


def freeze_startup_heap() -> int:
    """Collect what start-up left as garbage, then freeze the rest; the objects frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def thaw_heap() -> None:
    """Give the frozen objects back to the collector (a stopped service's can be garbage).

    ``gc.freeze`` is process-wide: a process running one service (``hotline1022 run``) thaws
    at its end. A process that runs several services in turn (the tests) thaws them all at
    each stop, which costs the others nothing but the full collections' walk over their
    start-up objects again until their next freeze."""
    gc.unfreeze()
