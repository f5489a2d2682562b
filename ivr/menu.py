"""The IVR menu as typed nodes: what the engine runs, the dialplan compiler renders and the
traffic model walks.

A ``Menu`` is plain data, built once by ``load_menu()`` (``ivr/menu_file.py``) from a checked
menu file. It lives apart from the loader so that its readers depend on the menu alone, not
on the YAML it was written in nor on the checks it passed.

    first = menu.nodes[menu.start]
    if isinstance(first, MenuNode):
        target = first.keys.get("1")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "AnnouncementNode",
    "District",
    "DistrictNode",
    "Districts",
    "HangupNode",
    "Menu",
    "MenuNode",
    "Node",
    "QueueNode",
    "menu_districts",
]


@dataclass(frozen=True)
class MenuNode:
    """Play ``prompt`` and wait for one of ``keys`` (digit -> node id)."""

    id: str
    line: int
    prompt: str
    keys: dict[str, str]
    timeout_ms: int
    retries: int  # attempts after the first, on invalid or no input
    on_exhausted: str  # where the caller goes when the retries are used up
    invalid_prompt: str
    timeout_prompt: str


@dataclass(frozen=True)
class DistrictNode:
    """Learn the caller's district-level unit (see ``Districts``), then go to ``next``."""

    id: str
    line: int
    next: str


@dataclass(frozen=True)
class AnnouncementNode:
    id: str
    line: int
    prompt: str
    next: str


@dataclass(frozen=True)
class QueueNode:
    """An exit: the call waits in ``queue`` for an agent."""

    id: str
    line: int
    category: str
    queue: str
    priority: int
    prompt: str | None


@dataclass(frozen=True)
class HangupNode:
    """An exit: play ``prompt`` if any, then hang up."""

    id: str
    line: int
    prompt: str | None


Node = MenuNode | DistrictNode | AnnouncementNode | QueueNode | HangupNode


@dataclass(frozen=True)
class District:
    key: str
    code: int  # the unit's administrative code, e.g. 718 for Thủ Dầu Một
    name: str

    @property
    def prompt(self) -> str:
        """The generated prompt that says the unit's name (its text is ``name``)."""
        return f"district_{self.code}"


@dataclass(frozen=True)
class Districts:
    """How a district node asks: ``prompt`` lists the units; a returning caller hears
    ``confirm_before`` + last time's unit + ``confirm_after`` instead."""

    prompt: str
    confirm_before: str
    confirm_after: str
    remember_days: int
    units: dict[str, District]  # key "1".."9"

    def by_code(self, code: int) -> District | None:
        return next((u for u in self.units.values() if u.code == code), None)


def menu_districts(menu: Menu) -> tuple[int, ...]:
    """The district codes a menu can give a caller, sorted."""
    if menu.districts is None:
        return ()
    return tuple(sorted(u.code for u in menu.districts.units.values()))


@dataclass(frozen=True)
class Menu:
    source: Path
    start: str
    nodes: dict[str, Node]
    prompts: dict[str, str]  # name -> text, the generated district_<code> prompts included
    districts: Districts | None

    def prompt_names(self) -> set[str]:
        """Every prompt the menu may play: each one needs a sound file."""
        return set(self.prompts)
