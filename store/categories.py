"""The call categories of the 1022 hotline: one vocabulary for the menu, the queues, the
records and the statistics.

A category is what the citizen calls about, as the IVR classifies it (stored as its value,
``"medical"``), and the app_queue queue it waits in. The menu file decides which caller gets
which category and priority; this table is what Asterisk's queues are made from. A queue's
``weight`` makes an agent who is in several queues take the heavier queue's caller first:
medical emergencies first. ``priority`` is what a caller gets when the dialplan routes
without the menu (the FastAGI fallback).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["CATEGORIES", "DEFAULT_CATEGORY", "Category"]


class Category(StrEnum):
    """What the citizen calls about, as classified by the IVR."""

    MEDICAL = "medical"
    FOOD = "food"
    VIOLATION = "violation"
    GENERAL = "general"

    @property
    def key(self) -> str:
        """The category's name as stored and as the menu file writes it."""
        return self.value

    @property
    def queue(self) -> str:
        """The app_queue queue (or the prefix of its per-district queues)."""
        return _QUEUEING[self].queue

    @property
    def priority(self) -> int:
        return _QUEUEING[self].priority

    @property
    def weight(self) -> int:
        return _QUEUEING[self].weight

    @property
    def label_vi(self) -> str:
        return _QUEUEING[self].label_vi


@dataclass(frozen=True)
class _Queueing:
    queue: str
    priority: int
    weight: int
    label_vi: str


_QUEUEING = {
    Category.MEDICAL: _Queueing("medical", 10, 10, "Cấp cứu y tế"),
    Category.FOOD: _Queueing("food", 0, 5, "Hỗ trợ lương thực, nhu yếu phẩm"),
    Category.VIOLATION: _Queueing("violation", 0, 3, "Phản ánh vi phạm"),
    Category.GENERAL: _Queueing("operator", 0, 1, "Tổng đài viên"),
}

CATEGORIES: tuple[Category, ...] = tuple(Category)

DEFAULT_CATEGORY = Category.GENERAL
