"""The call categories of the 1022 hotline and the app_queue queue each one waits in.

A category's ``priority`` becomes ``QUEUE_PRIO`` (callers with a higher value are answered
first within a queue) and its ``weight`` the queue weight (an agent in several queues takes
the heavier queue's caller first). Medical emergencies go first on both counts.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATEGORIES", "DEFAULT_CATEGORY", "Category", "by_digit", "by_key"]


@dataclass(frozen=True)
class Category:
    key: str
    queue: str
    digit: str | None
    priority: int
    weight: int
    label_vi: str
    label_en: str


CATEGORIES: tuple[Category, ...] = (
    Category("medical", "medical", "1", 10, 10, "Cấp cứu y tế", "medical emergency"),
    Category("food", "food", "2", 0, 5, "Hỗ trợ lương thực, nhu yếu phẩm", "food and essentials"),
    Category("violation", "violation", "3", 0, 3, "Phản ánh vi phạm", "violation report"),
    Category("general", "operator", None, 0, 1, "Tổng đài viên", "general"),
)

DEFAULT_CATEGORY = CATEGORIES[-1]


def by_digit(digit: str) -> Category | None:
    return next((c for c in CATEGORIES if c.digit == digit), None)


def by_key(key: str) -> Category:
    for c in CATEGORIES:
        if c.key == key:
            return c
    raise KeyError(key)
