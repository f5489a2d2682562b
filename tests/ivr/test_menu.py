"""The typed menu (``ivr/menu.py``) stands without its file: built by hand, it answers the
questions its readers ask of it."""

from __future__ import annotations

from pathlib import Path

from ivr.menu import District, Districts, HangupNode, Menu, menu_districts


def _menu(districts: Districts | None) -> Menu:
    bye = HangupNode("bye", 1, None)
    return Menu(Path("hand.yaml"), "bye", {"bye": bye}, {"bye": "Tạm biệt."}, districts)


def test_menu_districts_are_the_units_codes_sorted() -> None:
    units = {"1": District("1", 724, "Dĩ An"), "2": District("2", 718, "Thủ Dầu Một")}
    districts = Districts("ask", "before", "after", 30, units)
    assert menu_districts(_menu(districts)) == (718, 724)
    assert districts.by_code(718) == units["2"]
    assert units["2"].prompt == "district_718"


def test_a_menu_without_districts_gives_none() -> None:
    assert menu_districts(_menu(None)) == ()
    assert _menu(None).prompt_names() == {"bye"}
