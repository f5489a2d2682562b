from __future__ import annotations

import pytest

from ivr.menu import FirstMenu, MenuConfig


class Hangup(Exception):
    pass


class FakeChannel:
    """Answers GET DATA from a script of (digits, timed_out); records what was played/set."""

    def __init__(self, answers: list[tuple[str, bool]]) -> None:
        self.answers = list(answers)
        self.played: list[str] = []
        self.variables: list[tuple[str, str]] = []

    @property
    def uniqueid(self) -> str:
        return "1.0"

    async def get_data(
        self, path: str, timeout_ms: int = 5000, max_digits: int = 1
    ) -> tuple[str, bool]:
        self.played.append(path.rsplit("/", 1)[-1])
        if not self.answers:
            raise Hangup()
        return self.answers.pop(0)

    async def stream_file(self, path: str, escape_digits: str = "") -> str | None:
        self.played.append(path.rsplit("/", 1)[-1])
        return None

    async def set_variable(self, name: str, value: str) -> None:
        self.variables.append((name, value))


MENU = FirstMenu(MenuConfig(prompts_dir="/p", attempts=3))


@pytest.mark.parametrize(
    ("digit", "category", "queue", "prio"),
    [
        ("1", "medical", "medical", "10"),
        ("2", "food", "food", "0"),
        ("3", "violation", "violation", "0"),
    ],
)
async def test_each_key_chooses_its_queue(digit: str, category: str, queue: str, prio: str) -> None:
    ch = FakeChannel([(digit, False)])
    await MENU.handle(ch)
    assert dict(ch.variables) == {
        "HOTLINE_CATEGORY": category,
        "HOTLINE_PRIO": prio,
        "HOTLINE_CHOICE": digit,
        "HOTLINE_ROUTE": "ivr",
        "HOTLINE_QUEUE": queue,
    }
    # The queue goes last: a session cut before it leaves the dialplan's fallback in charge.
    assert ch.variables[-1][0] == "HOTLINE_QUEUE"
    assert ch.played == ["menu", f"chosen_{category}"]


async def test_invalid_then_no_input_then_valid() -> None:
    ch = FakeChannel([("7", False), ("", True), ("2", False)])
    outcome = await MENU.run(ch)
    assert outcome.category.key == "food" and outcome.route == "ivr"
    assert ch.played == ["menu", "invalid", "menu", "no_input", "menu", "chosen_food"]


async def test_star_and_hash_are_invalid() -> None:
    ch = FakeChannel([("*", False), ("", False), ("", True)])
    outcome = await MENU.run(ch)
    assert outcome.route == "default"
    assert ch.played[:4] == ["menu", "invalid", "menu", "invalid"]


async def test_no_input_three_times_goes_to_the_default() -> None:
    ch = FakeChannel([("", True)] * 3)
    await MENU.handle(ch)
    assert dict(ch.variables)["HOTLINE_ROUTE"] == "default"
    assert dict(ch.variables)["HOTLINE_QUEUE"] == "operator"
    assert dict(ch.variables)["HOTLINE_CHOICE"] == ""
    assert ch.played[-1] == "default"


async def test_hangup_propagates_and_sets_nothing() -> None:
    ch = FakeChannel([])
    with pytest.raises(Hangup):
        await MENU.handle(ch)
    assert ch.variables == []
