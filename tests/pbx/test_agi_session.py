"""How long an AGI session waits for Asterisk's answer to a command that plays a file."""

from __future__ import annotations

import asyncio

import pytest

from pbx.agi_session import (
    COMMAND_TIMEOUT_S,
    AgiResult,
    AgiSession,
    parse_agi_result,
    parse_read_menus,
    read_menus_args,
)
from pbx.errors import AgiCommandError, AgiHangup


class Waits(AgiSession):
    """Records each command's timeout instead of talking to Asterisk."""

    def __init__(self) -> None:
        super().__init__({}, asyncio.StreamReader(), None)  # type: ignore[arg-type]
        self.timeouts: dict[str, float] = {}

    async def command(self, line: str, timeout: float = COMMAND_TIMEOUT_S) -> AgiResult:  # noqa: ASYNC109
        self.timeouts[line.split(" ")[0]] = timeout
        return parse_agi_result("200 result=0")


async def test_playing_a_file_waits_for_its_whole_length() -> None:
    session = Waits()
    await session.stream_file("/p/info_cases", "", playing_s=130.0)
    await session.get_data("/p/welcome", 5000, 1, playing_s=40.0)
    await session.set_variable("X", "1")
    assert session.timeouts["STREAM"] == COMMAND_TIMEOUT_S + 130.0
    assert session.timeouts["GET"] == COMMAND_TIMEOUT_S + 40.0 + 5.0
    assert session.timeouts["SET"] == COMMAND_TIMEOUT_S


class Scripted(AgiSession):
    """Answers each command with the next scripted line, keeping what was sent."""

    def __init__(self, *answers: str, env: dict[str, str] | None = None) -> None:
        super().__init__(env or {}, asyncio.StreamReader(), None)  # type: ignore[arg-type]
        self.answers = list(answers)
        self.sent: list[str] = []
        self.timeouts: list[float] = []

    async def command(
        self,
        line: str,
        timeout: float = COMMAND_TIMEOUT_S,  # noqa: ASYNC109
        *,
        through_hangup: bool = False,
    ) -> AgiResult:
        if self.hung_up:
            raise AgiHangup("already gone")
        self.sent.append(line)
        self.timeouts.append(timeout)
        answer = self.answers.pop(0)
        if answer == "HANGUP":
            self._hung_up = True
            if not through_hangup:
                raise AgiHangup("the caller hung up")
            answer = self.answers.pop(0)
        return parse_agi_result(answer)


MENUS = [
    ("/p/welcome", 5000, {"1": 1, "2": 2}),
    ("/p/severity", 5000, {}),
    ("/p/district", 4500, {}),
]


def test_menus_are_passed_to_the_dialplan_as_one_argument() -> None:
    assert read_menus_args(MENUS, 16) == (
        "/p/welcome^5^1-2^2-3|/p/severity^5^^|/p/district^4.5^^,16"
    )
    # What the dialplan cannot split safely is not passed.
    assert read_menus_args([("/p/we,lcome", 5000, {})], 4) is None
    assert read_menus_args([("/p/a(b)", 5000, {})], 4) is None
    assert read_menus_args([("/p/welcome", 5000, {"*": 0})], 4) is None
    assert parse_read_menus("OK:2,TIMEOUT:,") == [("OK", "2"), ("TIMEOUT", "")]


async def test_menus_read_in_one_gosub_then_their_keys() -> None:
    session = Scripted("200 result=0 Gosub complete", "200 result=1 (OK:2,OK:7,)")
    reads = await session.read_menus(MENUS, max_reads=8, playing_s=20.0)
    assert reads == [("2", False), ("7", False)]
    assert session.sent == [
        'GOSUB hotline-ivr-read s 1 "/p/welcome^5^1-2^2-3|/p/severity^5^^|/p/district^4.5^^,8"',
        "GET VARIABLE HOTLINE_READ",
    ]
    # The wait covers the prompts and every read's timeout.
    assert session.timeouts[0] == COMMAND_TIMEOUT_S + 20.0 + 8 * 14.5


async def test_a_timeout_and_a_hash_are_read_as_get_data_reads_them() -> None:
    session = Scripted("200 result=0 Gosub complete", "200 result=1 (TIMEOUT:,)")
    assert await session.read_menus(MENUS) == [("", True)]
    session = Scripted("200 result=0 Gosub complete", "200 result=1 (OK:,)")
    assert await session.read_menus(MENUS) == [("", False)]


async def test_keys_read_before_a_hangup_are_returned_then_the_next_command_raises() -> None:
    # The caller pressed 2, then hung up while the next menu played: "2" is returned (the
    # engine journals where the caller left, as when each menu was its own command).
    session = Scripted("200 result=0 Gosub complete", "200 result=1 (OK:2,HANGUP:,)")
    assert await session.read_menus(MENUS) == [("2", False)]
    with pytest.raises(AgiHangup):
        await session.set_variable("X", "1")
    # Asterisk stops the subroutine at the hang-up and says HANGUP before the variable.
    session = Scripted(
        "200 result=0 Gosub complete (abnormal exit)", "HANGUP", "200 result=1 (OK:2,)"
    )
    assert await session.read_menus(MENUS) == [("2", False)]
    assert session.hung_up


async def test_a_hangup_before_any_key_raises_agi_hangup() -> None:
    session = Scripted("200 result=0 Gosub complete", "200 result=1 (HANGUP:,)")
    with pytest.raises(AgiHangup):
        await session.read_menus(MENUS)
    session = Scripted("200 result=0 Gosub complete (abnormal exit)", "HANGUP", "200 result=0")
    with pytest.raises(AgiHangup):
        await session.read_menus(MENUS)


async def test_a_failed_read_on_a_live_channel_is_a_command_error() -> None:
    session = Scripted("200 result=0 Gosub complete", "200 result=1 (ERROR:,)", "200 result=1")
    with pytest.raises(AgiCommandError):
        await session.read_menus(MENUS)
    assert session.sent[-1] == "CHANNEL STATUS"


async def test_menus_the_dialplan_cannot_take_are_read_with_get_data() -> None:
    session = Scripted("200 result=3")
    assert await session.read_menus([("/p/a b", 5000, {"1": 0})]) == [("3", False)]
    assert session.sent == ['GET DATA "/p/a b" 5000 1']


UNANSWERED = {"agi_arg_1": "unanswered"}


async def test_a_channel_left_unanswered_is_answered_by_the_menus_first_read() -> None:
    """The dialplan leaves a 1022 call unanswered (AGI argument "unanswered"): the
    subroutine that reads the first menu answers it, in the same command, so there is no
    moment when the caller could press a key that nothing reads."""
    session = Scripted(
        "200 result=0 Gosub complete",
        "200 result=1 (OK:2,)",
        "200 result=1",
        env=UNANSWERED,
    )
    await session.read_menus(MENUS, max_reads=8)
    await session.set_variable("X", "1")
    assert [line.split(" ")[0] for line in session.sent] == ["GOSUB", "GET", "SET"]


async def test_any_other_first_command_answers_first_and_only_once() -> None:
    session = Scripted("200 result=0", "200 result=2 (timeout)", "200 result=0", env=UNANSWERED)
    assert await session.get_data("/p/callback_repeat", 5000) == ("2", True)
    await session.stream_file("/p/x", "")
    assert [line.split(" ")[0] for line in session.sent] == ["ANSWER", "GET", "STREAM"]


async def test_an_answered_channel_is_not_answered_again() -> None:
    session = Scripted("200 result=0", env={"agi_arg_1": "other"})
    await session.stream_file("/p/x", "")
    assert [line.split(" ")[0] for line in session.sent] == ["STREAM"]


async def test_variables_set_in_one_command_when_plain_else_one_by_one() -> None:
    session = Scripted("200 result=0")
    await session.set_variables([("HOTLINE_CHOICE", "4*2*25"), ("HOTLINE_QUEUE", "food-724")])
    assert session.sent == ['EXEC MSet "HOTLINE_CHOICE=4*2*25,HOTLINE_QUEUE=food-724"']
    session = Scripted("200 result=1", "200 result=1")
    await session.set_variables([("A", "x,y"), ("HOTLINE_QUEUE", "food")])
    assert session.sent == ['SET VARIABLE A "x,y"', 'SET VARIABLE HOTLINE_QUEUE "food"']
