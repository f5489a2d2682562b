"""Freezing the start-up heap: what existed is frozen, what comes later is still collected,
and thawing gives everything back to the collector."""

from __future__ import annotations

import gc
import weakref

from hotline1022.heap import freeze_startup_heap, thaw_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the garbage collector frees it


def test_freeze_keeps_later_garbage_collectable() -> None:
    before = _Node()
    try:
        frozen = freeze_startup_heap()
        assert frozen > 0
        assert gc.get_freeze_count() == frozen
        later = _Node()
        ref = weakref.ref(later)
        del later
        gc.collect()
        assert ref() is None  # made after the freeze: collected as before

        old = weakref.ref(before)
        del before
        gc.collect()
        assert old() is not None  # frozen: the collector does not walk it
    finally:
        thaw_heap()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert old() is None  # thawed: collected again
