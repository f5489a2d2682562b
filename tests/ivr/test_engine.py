"""The menu engine on the default 1022 menu, with a scripted channel (no Asterisk); the
real-Asterisk tests in tests/integration/test_ivr.py drive the same paths with SIPp."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from ivr.engine import MenuEngine
from ivr.menu_file import DEFAULT_MENU, load_menu
from ivr.ports import IvrStep

MENU = load_menu(DEFAULT_MENU)


class Hangup(Exception):
    pass


class ScriptedChannel:
    """``answers``: what the caller does at each GET DATA: a key, "" (nothing: timeout) or
    None (hangs up). ``during``: prompt name -> key pressed while it plays."""

    def __init__(
        self,
        answers: Sequence[str | None],
        during: dict[str, str] | None = None,
        caller: str = "0901234567",
    ) -> None:
        self.answers = list(answers)
        self.during = during or {}
        self.env = {"agi_uniqueid": "1.0", "agi_callerid": caller}
        self.asked: list[str] = []
        self.played: list[str] = []
        self.variables: dict[str, str] = {}

    @property
    def uniqueid(self) -> str:
        return "1.0"

    async def get_data(
        self, path: str, timeout_ms: int = 5000, max_digits: int = 1
    ) -> tuple[str, bool]:
        self.asked.append(path.rsplit("/", 1)[1])
        if not self.answers:
            raise Hangup()
        key = self.answers.pop(0)
        if key is None:
            raise Hangup()
        return key, key == ""

    async def stream_file(self, path: str, escape_digits: str = "") -> str | None:
        name = path.rsplit("/", 1)[1]
        self.played.append(name)
        key = self.during.get(name)
        return key if key and key in escape_digits else None

    async def set_variable(self, name: str, value: str) -> None:
        self.variables[name] = value


class Recorder:
    def __init__(self) -> None:
        self.steps: list[IvrStep] = []

    def ivr_step(self, uniqueid: str, step: IvrStep) -> None:
        self.steps.append(step)

    def kinds(self) -> list[tuple[str, str, str | None]]:
        return [(s.node, s.kind, s.key) for s in self.steps if s.kind != "enter"]


class History:
    def __init__(self, district: int | None = None) -> None:
        self.district = district
        self.asked: list[tuple[str, int]] = []

    async def last_district(self, caller_number: str, within_days: int) -> int | None:
        self.asked.append((caller_number, within_days))
        return self.district


async def run(ch: ScriptedChannel, history: History | None = None) -> Recorder:
    rec = Recorder()
    engine = MenuEngine(lambda: MENU, "/p", rec, history or History())
    await engine.handle(ch)
    return rec


async def test_life_threatening_medical_call_with_district() -> None:
    ch = ScriptedChannel(["1", "1", "4"])
    rec = await run(ch)
    assert ch.variables == {
        "HOTLINE_CATEGORY": "medical",
        "HOTLINE_PRIO": "20",
        "HOTLINE_CHOICE": "114",
        "HOTLINE_ROUTE": "ivr",
        "HOTLINE_DISTRICT": "721",
        "HOTLINE_QUEUE": "medical",
    }
    assert list(ch.variables)[-1] == "HOTLINE_QUEUE"  # last: a cut session falls back
    assert ch.asked == ["welcome", "medical_severity", "district_menu"]
    assert ("critical_district", "district", "721") in rec.kinds()
    assert rec.steps[-1].kind == "queue"


@pytest.mark.parametrize(
    ("keys", "queue", "category", "prio", "district"),
    [
        (["1", "2", "9"], "medical", "medical", "10", "726"),
        (["2", "7"], "food", "food", "0", "724"),
        (["3"], "violation", "violation", "0", ""),
        (["0"], "operator", "general", "0", ""),
    ],
)
async def test_every_first_level_branch(
    keys: list[str], queue: str, category: str, prio: str, district: str
) -> None:
    ch = ScriptedChannel(keys)
    await run(ch)
    assert (ch.variables["HOTLINE_QUEUE"], ch.variables["HOTLINE_CATEGORY"]) == (queue, category)
    assert (ch.variables["HOTLINE_PRIO"], ch.variables["HOTLINE_DISTRICT"]) == (prio, district)
    assert ch.variables["HOTLINE_ROUTE"] == "ivr"


async def test_no_input_is_retried_then_the_default() -> None:
    ch = ScriptedChannel(["", "", ""])
    rec = await run(ch)
    assert ch.asked == ["welcome"] * 3
    assert ch.played.count("no_input") == 3
    assert ch.variables["HOTLINE_QUEUE"] == "operator"
    assert ch.variables["HOTLINE_ROUTE"] == "default"
    assert [k for _, k, _ in rec.kinds()] == ["timeout"] * 3 + ["exhausted", "queue"]


async def test_invalid_key_then_a_valid_one() -> None:
    ch = ScriptedChannel(["8", "#", "3"])
    rec = await run(ch)
    assert ch.played[:2] == ["invalid", "invalid"]
    assert ("welcome", "invalid", "8") in rec.kinds() and ("welcome", "invalid", "#") in rec.kinds()
    assert ch.variables["HOTLINE_QUEUE"] == "violation"
    assert ch.variables["HOTLINE_ROUTE"] == "ivr"


async def test_star_goes_back_and_at_the_top_says_so() -> None:
    ch = ScriptedChannel(["*", "4", "*", "2", "*", "2", "5"])
    rec = await run(ch)
    assert ch.played[0] == "back_unavailable"
    assert ch.asked == [
        "welcome",
        "welcome",
        "info_menu",
        "welcome",
        "district_menu",
        "welcome",
        "district_menu",
    ]
    assert ch.variables["HOTLINE_CHOICE"] == "4*2*25"
    assert ch.variables["HOTLINE_DISTRICT"] == "722"
    assert ("info", "back", "*") in rec.kinds() and ("aid_district", "back", "*") in rec.kinds()


async def test_returning_caller_confirms_last_district_with_one_key() -> None:
    history = History(district=725)
    ch = ScriptedChannel(["2", "1"])
    rec = await run(ch, history)
    assert history.asked == [("0901234567", 30)]
    assert ch.played[:2] == ["district_confirm_before", "district_725"]
    assert ch.asked == ["welcome", "district_confirm_after"]
    assert ch.variables["HOTLINE_DISTRICT"] == "725"
    assert ("aid_district", "confirm", "725") in rec.kinds()


async def test_returning_caller_may_choose_another_district() -> None:
    ch = ScriptedChannel(["1", "2", "2", "3"])
    await run(ch, History(district=718))
    assert ch.asked == ["welcome", "medical_severity", "district_confirm_after", "district_menu"]
    assert ch.variables["HOTLINE_DISTRICT"] == "720"


async def test_anonymous_caller_is_not_looked_up() -> None:
    history = History(district=718)
    ch = ScriptedChannel(["2", "1"], caller="unknown")
    await run(ch, history)
    assert history.asked == [] and ch.variables["HOTLINE_DISTRICT"] == "718"


async def test_information_heard_then_an_agent() -> None:
    ch = ScriptedChannel(["4", "1", "0"])
    rec = await run(ch)
    assert "info_cases" in ch.played
    assert ("info_cases", "heard", None) in rec.kinds()
    assert ch.variables["HOTLINE_QUEUE"] == "operator"


async def test_a_key_during_an_announcement_interrupts_it_and_answers_the_next_menu() -> None:
    ch = ScriptedChannel(["4", "2"], during={"info_symptoms": "0"})
    rec = await run(ch)
    assert ch.asked == ["welcome", "info_menu"]  # info_after never had to ask
    assert ("info_symptoms", "heard", None) not in rec.kinds()
    assert ch.variables["HOTLINE_QUEUE"] == "operator"


async def test_information_then_silence_is_self_service_and_goodbye() -> None:
    ch = ScriptedChannel(["4", "3", "", "", ""])
    rec = await run(ch)
    assert ch.played[-1] == "goodbye"
    assert ch.variables == {"HOTLINE_DONE": "hangup"}
    assert rec.steps[-1].kind == "hangup"


async def test_hangup_in_a_sub_menu_propagates_and_sets_nothing() -> None:
    ch = ScriptedChannel(["1", None])
    with pytest.raises(Hangup):
        await run(ch)
    assert ch.variables == {}


async def test_caller_history_is_looked_up_before_the_first_prompt() -> None:
    """Asterisk drops keys pressed between two AGI commands: the look-up must not sit
    between the key that leads to the district menu and the district menu itself."""
    order: list[str] = []

    class SlowHistory(History):
        async def last_district(self, caller_number: str, within_days: int) -> int | None:
            order.append("lookup started")
            await asyncio.sleep(0.01)
            order.append("lookup done")
            return 724

    class Channel(ScriptedChannel):
        async def get_data(
            self, path: str, timeout_ms: int = 5000, max_digits: int = 1
        ) -> tuple[str, bool]:
            order.append(path.rsplit("/", 1)[1])
            await asyncio.sleep(0.02)  # the prompt plays
            return await super().get_data(path, timeout_ms, max_digits)

    ch = Channel(["2", "1"])
    await run(ch, SlowHistory())
    # It ran while the welcome prompt played, and was done before the district question.
    assert order[:3] == ["welcome", "lookup started", "lookup done"]
    assert order[3] == "district_confirm_after"
    assert ch.variables["HOTLINE_DISTRICT"] == "724"
