"""One Category: the stored value, the queue it waits in, its order and its Vietnamese label."""

from __future__ import annotations

from store.categories import CATEGORIES, DEFAULT_CATEGORY, Category


def test_every_category_names_its_queue_priority_and_label() -> None:
    assert [c.key for c in CATEGORIES] == ["medical", "food", "violation", "general"]
    assert [c.queue for c in CATEGORIES] == ["medical", "food", "violation", "operator"]
    assert Category.MEDICAL.priority == 10 and Category.FOOD.priority == 0
    # Heavier queues are served first by an agent who is in several.
    assert [c.weight for c in CATEGORIES] == sorted((c.weight for c in CATEGORIES), reverse=True)
    assert Category.MEDICAL.label_vi == "Cấp cứu y tế"
    assert DEFAULT_CATEGORY is Category.GENERAL and DEFAULT_CATEGORY.queue == "operator"


def test_a_category_is_its_stored_value() -> None:
    assert Category("food") is Category.FOOD
    assert Category.FOOD == "food" and f"{Category.FOOD}" == "food"
