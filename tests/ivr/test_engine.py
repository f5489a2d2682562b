"""The menu engine on the default 1022 menu, with a scripted channel (no Asterisk); the
real-Asterisk tests in tests/integration/test_ivr.py drive the same paths with SIPp."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest

from ivr.engine import MenuEngine
from ivr.menu_file import DEFAULT_MENU, load_menu
from ivr.ports import CallbackOffer, CallbackRefusal, CallbackRequest, IvrStep, PendingCallback
from ivr.prompts import BUILTIN_PROMPTS

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
        self.playing: dict[str, float] = {}  # prompt -> how long the engine said it plays
        self.commands: list[list[str]] = []  # read_menus: the prompts of each call's asks
        self.agi_commands = 0  # the commands that read keys (get_data, read_menus)
        self.set_commands = 0  # set_variables calls
        self._reading_menus = False
        self.gone = False

    @property
    def uniqueid(self) -> str:
        return "1.0"

    async def get_data(
        self, path: str, timeout_ms: int = 5000, max_digits: int = 1, *, playing_s: float = 0.0
    ) -> tuple[str, bool]:
        if self.gone:
            raise Hangup()
        self.asked.append(path.rsplit("/", 1)[1])
        self.agi_commands += not self._reading_menus
        self.playing[self.asked[-1]] = playing_s
        if not self.answers:
            raise Hangup()
        key = self.answers.pop(0)
        if key is None:
            raise Hangup()
        return key, key == ""

    async def read_menus(
        self,
        asks: Sequence[tuple[str, int, Mapping[str, int]]],
        *,
        max_reads: int = 16,
        playing_s: float = 0.0,
    ) -> list[tuple[str, bool]]:
        """As the dialplan's [hotline-ivr-read]: read on while a key leads to another ask."""
        if self.gone:
            raise Hangup()
        self.commands.append([a[0].rsplit("/", 1)[1] for a in asks])
        self.agi_commands += 1
        reads: list[tuple[str, bool]] = []
        at = 0
        self._reading_menus = True
        try:
            while True:
                path, timeout_ms, then = asks[at]
                try:
                    reads.append(await self.get_data(path, timeout_ms, playing_s=playing_s))
                except Hangup:
                    # As AgiSession: the keys read before the hang-up, then every command
                    # raises.
                    if not reads:
                        raise
                    self.gone = True
                    return reads
                key, timed_out = reads[-1]
                if timed_out or key not in then or len(reads) >= max_reads:
                    return reads
                at = then[key]
        finally:
            self._reading_menus = False

    async def stream_file(
        self, path: str, escape_digits: str = "", *, playing_s: float = 0.0
    ) -> str | None:
        if self.gone:
            raise Hangup()
        name = path.rsplit("/", 1)[1]
        self.played.append(name)
        self.playing[name] = playing_s
        key = self.during.get(name)
        return key if key and key in escape_digits else None

    async def set_variable(self, name: str, value: str) -> None:
        if self.gone:
            raise Hangup()
        self.variables[name] = value

    async def set_variables(self, pairs: Sequence[tuple[str, str]]) -> None:
        if self.gone:
            raise Hangup()
        self.set_commands += 1
        self.variables.update(pairs)


class Recorder:
    def __init__(self) -> None:
        self.steps: list[IvrStep] = []

    def ivr_step(self, uniqueid: str, step: IvrStep) -> None:
        self.steps.append(step)

    def kinds(self) -> list[tuple[str, str, str | None]]:
        return [(s.node, s.kind, s.key) for s in self.steps if s.kind != "enter"]


class History:
    """``in_memory``: ``recall`` knows the answer at once (else only the look-up does)."""

    def __init__(self, district: int | None = None, *, in_memory: bool = False) -> None:
        self.district = district
        self.in_memory = in_memory
        self.asked: list[tuple[str, int]] = []
        self.recalled: list[tuple[str, int]] = []

    def recall(self, caller_number: str, within_days: int) -> tuple[bool, int | None]:
        self.recalled.append((caller_number, within_days))
        return (True, self.district) if self.in_memory else (False, None)

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
    assert ch.set_commands == 1  # the route in one command
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
            self, path: str, timeout_ms: int = 5000, max_digits: int = 1, *, playing_s: float = 0.0
        ) -> tuple[str, bool]:
            order.append(path.rsplit("/", 1)[1])
            await asyncio.sleep(0.02)  # the prompt plays
            return await super().get_data(path, timeout_ms, max_digits)

    ch = Channel(["2", "1"])
    await run(ch, SlowHistory())
    # Done before the welcome menu is read: whether "2" leads straight to the district menu
    # (read in the same command) or to the confirmation depends on it. CallHistory bounds
    # the wait (HOTLINE_IVR_HISTORY_WAIT_MS).
    assert order[:3] == ["lookup started", "lookup done", "welcome"]
    assert order[3] == "district_confirm_after"
    assert ch.variables["HOTLINE_DISTRICT"] == "724"


@pytest.mark.parametrize("district", [None, 724])
async def test_history_known_in_memory_sends_the_first_read_at_once(district: int | None) -> None:
    """A caller whose last district memory knows: no look-up, no wait; the first command
    is the whole read-ahead (the district menu in it when there is no district to
    confirm), sent before the loop runs anything else."""
    order: list[str] = []

    class Memory(History):
        async def last_district(self, caller_number: str, within_days: int) -> int | None:
            raise AssertionError("memory knew: the database is not asked")

    class Channel(ScriptedChannel):
        async def read_menus(
            self,
            asks: Sequence[tuple[str, int, Mapping[str, int]]],
            *,
            max_reads: int,
            playing_s: float = 0.0,
        ) -> list[tuple[str, bool]]:
            order.append("read")
            return await super().read_menus(asks, max_reads=max_reads, playing_s=playing_s)

    async def other_work() -> None:
        order.append("other work")

    ch = Channel(["2", "1"] if district else ["2", "7"])
    history = Memory(district, in_memory=True)
    engine = MenuEngine(lambda: MENU, "/p", Recorder(), history)
    other = asyncio.get_running_loop().create_task(other_work())
    await engine.handle(ch)
    await other
    assert order[0] == "read"  # not after a turn of the loop
    assert ch.commands[0][0] == "welcome"
    # Read ahead with the welcome menu when there is no district to confirm.
    assert ("district_menu" in ch.commands[0]) is (district is None)
    # The confirmation is asked on its own (a prompt plays before it).
    assert ch.asked[-1] == ("district_menu" if district is None else "district_confirm_after")
    assert history.recalled == [("0901234567", 30)]
    assert ch.variables["HOTLINE_DISTRICT"] == str(district or 724)


class Desk:
    """``CallbackDesk``: offers when told to, remembers requests."""

    def __init__(
        self,
        wait_s: float | None = 400.0,
        *,
        offer: bool = True,
        pending: PendingCallback | None = None,
        fails: bool = False,
        refused: CallbackRefusal | None = None,
    ) -> None:
        self.refused = refused
        self.wait_s = wait_s
        self.offers = offer
        self.pending_callback = pending
        self.fails = fails
        self.asked: list[tuple[str, str]] = []
        self.requests: list[CallbackRequest] = []

    def offer(self, queue: str, caller_number: str) -> CallbackOffer | None:
        self.asked.append((queue, caller_number))
        return CallbackOffer(self.wait_s, self.refused) if self.offers else None

    def pending(self, caller_number: str) -> PendingCallback | None:
        return self.pending_callback

    async def request(self, request: CallbackRequest) -> bool:
        if self.fails:
            raise OSError("database is down")
        self.requests.append(request)
        return True


async def run_with(ch: ScriptedChannel, desk: Desk) -> Recorder:
    rec = Recorder()
    route = {("food", 724): "food-724"}
    engine = MenuEngine(
        lambda: MENU,
        "/p",
        rec,
        History(),
        route=lambda queue, district, _prio: route.get((queue, district or 0), queue),
        callbacks=desk,
    )
    await engine.handle(ch)
    return rec


async def test_a_long_wait_offers_a_callback_and_1_takes_it() -> None:
    desk = Desk(wait_s=400.0)
    ch = ScriptedChannel(["2", "7", "1"])
    before = datetime.now(UTC)
    rec = await run_with(ch, desk)
    assert desk.asked == [("food-724", "0901234567")]
    assert ch.asked[-1] == "callback_offer_5"  # more than 5 minutes
    [request] = desk.requests
    assert (request.call_uniqueid, request.caller_number) == ("1.0", "0901234567")
    assert (request.queue, request.category, request.priority, request.district) == (
        "food-724",
        "food",
        0,
        724,
    )
    assert before <= request.since <= datetime.now(UTC)
    assert ch.variables["HOTLINE_DONE"] == "callback"
    assert ch.variables["HOTLINE_QUEUE"] == "food-724"
    assert list(ch.variables)[-1] == "HOTLINE_QUEUE"  # still last
    assert rec.kinds()[-3:] == [
        ("food", "queue", None),
        ("food", "offer", None),
        ("food", "callback", "1"),
    ]


@pytest.mark.parametrize("answer", ["", "2", "*"])
async def test_any_other_key_or_none_keeps_the_caller_on_the_line(answer: str) -> None:
    desk = Desk(wait_s=None)
    ch = ScriptedChannel(["3", answer])
    rec = await run_with(ch, desk)
    assert ch.asked[-1] == "callback_offer_busy"  # no estimate: "the agents are busy"
    assert desk.requests == []
    assert "HOTLINE_DONE" not in ch.variables and ch.variables["HOTLINE_QUEUE"] == "violation"
    assert ("violation", "callback", "1") not in rec.kinds()


async def test_no_offer_when_the_desk_says_the_wait_is_short() -> None:
    ch = ScriptedChannel(["3"])
    await run_with(ch, Desk(offer=False))
    assert ch.asked == ["welcome"] and ch.variables["HOTLINE_QUEUE"] == "violation"


async def test_withheld_numbers_are_not_offered_a_callback() -> None:
    desk = Desk()
    ch = ScriptedChannel(["3"], caller="unknown")
    await run_with(ch, desk)
    assert desk.asked == [] and ch.variables["HOTLINE_QUEUE"] == "violation"


@pytest.mark.parametrize(
    ("refused", "prompt"),
    [
        (CallbackRefusal.NUMBER, "callback_refused_number"),
        (CallbackRefusal.LIMIT, "callback_refused_limit"),
    ],
)
async def test_a_refused_callback_is_explained_in_vietnamese_and_the_caller_holds(
    refused: CallbackRefusal, prompt: str
) -> None:
    desk = Desk(refused=refused)
    ch = ScriptedChannel(["3", "1"])
    await run_with(ch, desk)
    assert ch.played[-1] == prompt and prompt in BUILTIN_PROMPTS
    assert not any(name.startswith("callback_offer") for name in ch.asked)
    assert desk.requests == [] and "HOTLINE_DONE" not in ch.variables
    assert ch.variables["HOTLINE_QUEUE"] == "violation"


async def test_a_callback_that_cannot_be_recorded_leaves_the_caller_holding() -> None:
    ch = ScriptedChannel(["3", "1"])
    await run_with(ch, Desk(fails=True))
    assert "HOTLINE_DONE" not in ch.variables and ch.variables["HOTLINE_QUEUE"] == "violation"


PENDING = PendingCallback("0.9", "food", "food-724", 0, 724)


async def test_a_caller_with_a_callback_pending_keeps_it_with_1() -> None:
    desk = Desk(pending=PENDING)
    ch = ScriptedChannel(["1"])
    rec = await run_with(ch, desk)
    assert ch.asked == ["callback_repeat"]
    assert ch.variables["HOTLINE_DONE"] == "callback"
    assert (ch.variables["HOTLINE_QUEUE"], ch.variables["HOTLINE_DISTRICT"]) == ("food-724", "724")
    assert rec.kinds() == [("welcome", "repeat", None), ("welcome", "callback", "1")]
    assert desk.requests == []


async def test_a_caller_with_a_callback_pending_may_go_on_to_the_menu() -> None:
    desk = Desk(pending=PENDING, offer=False)  # the desk offers none to a pending number
    ch = ScriptedChannel(["2", "3"])  # "2" only means "go on": the menu asks afresh
    await run_with(ch, desk)
    assert ch.asked == ["callback_repeat", "welcome"]
    assert "HOTLINE_DONE" not in ch.variables and ch.variables["HOTLINE_QUEUE"] == "violation"


async def test_the_engine_says_how_long_each_prompt_plays() -> None:
    # "4", "2": the symptoms announcement, 3 minutes long; then silence: goodbye.
    ch = ScriptedChannel(["4", "2", "", "", ""])
    seconds = {"welcome": 12.5, "info_menu": 9.0, "info_symptoms": 180.0}
    engine = MenuEngine(lambda: MENU, "/p", Recorder(), History(), prompt_seconds=seconds.get)
    await engine.handle(ch)
    assert ch.playing["info_symptoms"] == 180.0  # the AGI wait covers the whole of it
    # Read together in one command (welcome, then info_menu): the wait covers both.
    assert ch.commands[0][0] == "welcome" and "info_menu" in ch.commands[0]
    assert ch.playing["welcome"] >= 12.5 + 9.0 and ch.playing["info_menu"] >= 9.0


async def test_a_menu_is_read_with_the_menus_its_keys_lead_to() -> None:
    # "27" in one command: Asterisk plays the district menu as soon as "2" is read, so a
    # "7" typed ahead is never pressed while no command runs (res_agi would drop it).
    ch = ScriptedChannel(["2", "7"])
    rec = await run(ch)
    assert len(ch.commands) == 1 and ch.commands[0][0] == "welcome"
    assert "district_menu" in ch.commands[0]
    assert ch.asked == ["welcome", "district_menu"]
    assert ch.variables["HOTLINE_CHOICE"] == "27" and ch.variables["HOTLINE_DISTRICT"] == "724"
    # The journal is the one of two menus read one by one.
    one_by_one = OneMenuPerCommand(["2", "7"])
    alone = await run(one_by_one)
    assert (ch.agi_commands, one_by_one.agi_commands) == (1, 2)
    assert [(s.node, s.kind, s.key) for s in rec.steps] == [
        (s.node, s.kind, s.key) for s in alone.steps
    ]
    assert ch.variables == one_by_one.variables


class OneMenuPerCommand(ScriptedChannel):
    """Reads one menu per command: the engine as it was before reading ahead."""

    async def read_menus(
        self,
        asks: Sequence[tuple[str, int, Mapping[str, int]]],
        *,
        max_reads: int = 16,
        playing_s: float = 0.0,
    ) -> list[tuple[str, bool]]:
        return await super().read_menus(asks, max_reads=1, playing_s=playing_s)


@pytest.mark.parametrize(
    "answers",
    [
        ["1", "1", "4"],
        ["1", "2", "9"],
        ["2", "*", "*", "4", "2"],
        ["5", "", "2", "#", "8"],
        ["4", "1", "9", "", "0"],
        ["0"],
        ["", "", ""],
        ["2", None],
        ["1", "1", None],
    ],
)
async def test_reading_ahead_keeps_every_path_journal_and_outcome(answers: list[str]) -> None:
    ahead, alone = ScriptedChannel(answers), OneMenuPerCommand(answers)
    rec_ahead, rec_alone = await run_to_end(ahead), await run_to_end(alone)
    assert [(s.node, s.kind, s.key) for s in rec_ahead.steps] == [
        (s.node, s.kind, s.key) for s in rec_alone.steps
    ]
    assert (ahead.asked, ahead.played, ahead.variables) == (
        alone.asked,
        alone.played,
        alone.variables,
    )
    assert ahead.agi_commands <= alone.agi_commands


async def run_to_end(ch: ScriptedChannel) -> Recorder:
    """``run``, through a hang-up (the caller's answers ran out)."""
    rec = Recorder()
    engine = MenuEngine(lambda: MENU, "/p", rec, History())
    with contextlib.suppress(Hangup):
        await engine.handle(ch)
    return rec


async def test_three_menus_deep_in_one_command() -> None:
    ch = ScriptedChannel(["1", "1", "4"])
    await run(ch)
    assert len(ch.commands) == 1
    assert ch.variables["HOTLINE_CHOICE"] == "114"


async def test_a_returning_caller_is_asked_to_confirm_before_any_district_is_read() -> None:
    # Their last district is confirmed first (a prompt, then a key): not read ahead.
    ch = ScriptedChannel(["2", "1"])
    await run(ch, History(district=724))
    assert "district_menu" not in ch.commands[0]
    assert ch.played[:2] == ["district_confirm_before", "district_724"]
    assert ch.variables["HOTLINE_DISTRICT"] == "724"


async def test_a_read_ahead_that_ends_on_a_wrong_key_or_silence_goes_on_as_before() -> None:
    ch = ScriptedChannel(["2", "#", "", "7"])
    rec = await run(ch)
    assert ch.asked == ["welcome", "district_menu", "district_menu", "district_menu"]
    assert ch.played[:2] == ["invalid", "no_input"]
    assert ("aid_district", "invalid", "#") in rec.kinds()
    assert ("aid_district", "timeout", None) in rec.kinds()
    assert ch.variables["HOTLINE_DISTRICT"] == "724"
