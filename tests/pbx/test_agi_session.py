"""How long an AGI session waits for Asterisk's answer to a command that plays a file."""

from __future__ import annotations

import asyncio

from pbx.agi_session import COMMAND_TIMEOUT_S, AgiResult, AgiSession, parse_agi_result


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
