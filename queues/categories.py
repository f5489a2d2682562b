"""The call categories of the 1022 hotline and the app_queue queue each one waits in.

The menu file decides which caller gets which category and priority; this table is what
Asterisk's queues are made from. A queue's ``weight`` makes an agent who is in several
queues take the heavier queue's caller first: medical emergencies first. ``priority`` is
what a caller gets when the dialplan routes without the menu (the FastAGI fallback).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATEGORIES", "DEFAULT_CATEGORY", "Category"]


@dataclass(frozen=True)
class Category:
    key: str
    queue: str
    priority: int
    weight: int
    label_vi: str


CATEGORIES: tuple[Category, ...] = (
    Category("medical", "medical", 10, 10, "Cấp cứu y tế"),
    Category("food", "food", 0, 5, "Hỗ trợ lương thực, nhu yếu phẩm"),
    Category("violation", "violation", 0, 3, "Phản ánh vi phạm"),
    Category("general", "operator", 0, 1, "Tổng đài viên"),
)

DEFAULT_CATEGORY = CATEGORIES[-1]
