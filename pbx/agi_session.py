"""One FastAGI session: the AGI environment of a call and awaited AGI commands.

Replaces panoramisk 1.4's ``fast_agi.Request`` (defect 11): a closed socket, a ``HANGUP``
line or a ``511`` answer all raise ``AgiHangup`` (panoramisk leaked ``ValueError``), and the
``(timeout)`` marker of ``GET DATA`` is kept as ``AgiResult.timed_out`` (panoramisk dropped it
when no digit was pressed). Hang-up and timeout are normal IVR outcomes, so both are explicit.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pbx.errors import AgiCommandError, AgiHangup

__all__ = [
    "READ_CONTEXT",
    "UNANSWERED_ARG",
    "AgiResult",
    "AgiSession",
    "parse_agi_result",
    "parse_read_menus",
    "read_menus_args",
]

_RESULT = re.compile(r"result=(?P<result>\S*)\s*(?:\((?P<data>.*)\))?\s*(?P<extra>.*)$")
_NAME = re.compile(r"[A-Za-z0-9_()./:-]+")
# The dialplan subroutine that reads menus' keys with no gap between two menus
# (``asterisk-conf/extensions.conf.j2``), and what may appear in a prompt path passed to it.
READ_CONTEXT = "hotline-ivr-read"
# A value MSet takes as it is (no separator, quote or escape).
_PLAIN = re.compile(r"[A-Za-z0-9_.*#+-]*")
_READ_PATH = re.compile(r"[A-Za-z0-9_./+~-]+")
# The AGI argument by which the dialplan leaves the channel for the session to answer: the
# first command answers it (``[hotline-ivr-read]`` does so itself, in the same command as the
# first read), so that no key can be pressed before something reads keys.
UNANSWERED_ARG = "unanswered"
# How long Asterisk may take to answer a command. Playing a file answers only when the file
# ends, so STREAM FILE and GET DATA wait this plus the file's length (``playing_s``).
COMMAND_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class AgiResult:
    """One AGI answer, e.g. ``200 result=1 (timeout) endpos=1234``.

    ``result`` is the text after ``result=``, ``data`` the text in parentheses, ``extra`` what
    follows (``endpos=...``); for codes other than 200, ``data`` holds Asterisk's message.
    """

    code: int
    result: str
    data: str = ""
    timed_out: bool = False
    extra: str = ""
    raw: str = ""

    @property
    def number(self) -> int:
        """``result`` as an integer (0 when it is not one)."""
        try:
            return int(self.result)
        except ValueError:
            return 0


def parse_agi_result(line: str) -> AgiResult:
    """Parse one AGI answer line; never raises (garbage becomes code 0)."""
    code_text, _, rest = line.partition(" ")
    if len(code_text) == 4 and code_text.endswith("-"):  # first line of a multi-line answer
        code_text = code_text[:3]
    code = int(code_text) if code_text.isdigit() else 0
    if code == 200 and (match := _RESULT.match(rest.strip())):
        data = match["data"] or ""
        return AgiResult(
            code=code,
            result=match["result"],
            data=data,
            timed_out=data == "timeout",
            extra=match["extra"],
            raw=line,
        )
    return AgiResult(code=code, result="", data=rest.strip(), raw=line)


def _quote(text: str) -> str:
    """Quote an AGI argument: res_agi's parser honours double quotes and backslash escapes."""
    if any(c in text for c in "\r\n"):
        raise ValueError(f"AGI argument may not contain a line break: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _name(text: str) -> str:
    if not _NAME.fullmatch(text):
        raise ValueError(f"invalid AGI variable name: {text!r}")
    return text


def read_menus_args(
    asks: Sequence[tuple[str, int, Mapping[str, int]]], max_reads: int
) -> str | None:
    """The argument of ``GOSUB hotline-ivr-read s 1`` for ``asks`` (see
    ``AgiSession.read_menus``), or None when a prompt path or a key cannot be passed (the
    dialplan splits on ``,|^-`` and parentheses)."""
    parts: list[str] = []
    for path, timeout_ms, then in asks:
        if not _READ_PATH.fullmatch(path) or any(not k.isdigit() or len(k) != 1 for k in then):
            return None
        if any(not 0 <= i < len(asks) for i in then.values()):
            raise ValueError(f"read_menus: a key leads to no menu: {then!r}")
        keys = "-".join(then)
        nexts = "-".join(str(i + 1) for i in then.values())
        parts.append(f"{path}^{timeout_ms / 1000:g}^{keys}^{nexts}")
    return f"{'|'.join(parts)},{max_reads:d}"


def parse_read_menus(value: str) -> list[tuple[str, str]]:
    """``OK:2,TIMEOUT:,`` → ``[("OK", "2"), ("TIMEOUT", "")]``."""
    out: list[tuple[str, str]] = []
    for item in value.split(","):
        if item:
            status, _, key = item.partition(":")
            out.append((status, key))
    return out


def _digit(result: AgiResult) -> str | None:
    """The key pressed, from a result that is the key's ASCII code (0 = none)."""
    return chr(result.number) if result.number > 0 else None


class AgiSession:
    """A call inside a FastAGI script: ``env`` holds the ``agi_*`` variables Asterisk sent.

    Commands are serialised: two tasks may share a session without interleaving answers.
    """

    def __init__(
        self, env: dict[str, str], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.env = env
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()
        self._hung_up = False
        # Answered by the session's first command (``UNANSWERED_ARG``).
        self._unanswered = UNANSWERED_ARG in self.args

    @property
    def uniqueid(self) -> str:
        return self.env.get("agi_uniqueid", "")

    @property
    def channel(self) -> str:
        return self.env.get("agi_channel", "")

    @property
    def args(self) -> list[str]:
        """``agi_arg_1``, ``agi_arg_2``... in order."""
        out: list[str] = []
        while (value := self.env.get(f"agi_arg_{len(out) + 1}")) is not None:
            out.append(value)
        return out

    @property
    def hung_up(self) -> bool:
        """True once a hang-up or a closed socket has been seen."""
        return self._hung_up

    async def command(
        self,
        line: str,
        timeout: float = COMMAND_TIMEOUT_S,  # noqa: ASYNC109
        *,
        through_hangup: bool = False,
    ) -> AgiResult:
        """Send one AGI command line and return Asterisk's answer.

        Raises ``AgiHangup`` if the caller hung up or the socket closed, and
        ``AgiCommandError`` (closing the session) if no answer came within ``timeout`` s.
        ``through_hangup``: a command Asterisk answers on a dead channel too (GET VARIABLE):
        a ``HANGUP`` line before its answer marks the session hung up, and the answer is
        still returned.
        """
        if any(c in line for c in "\r\n"):
            raise ValueError(f"AGI command may not contain a line break: {line!r}")
        verb = line.split(" ", 2)[:2]
        async with self._lock:
            if self._hung_up:
                raise AgiHangup(f"{' '.join(verb)}: the call is already gone")
            try:
                self._writer.write(line.encode("utf-8") + b"\n")
                await self._writer.drain()
                async with asyncio.timeout(timeout):
                    return await self._read_answer(through_hangup)
            except TimeoutError:
                self._hung_up = True
                self._writer.close()
                raise AgiCommandError(
                    f"no answer to {' '.join(verb)} within {timeout:g} s; session closed"
                ) from None
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                # ValueError: a too-long line or a write on a closed transport.
                self._hung_up = True
                raise AgiHangup(f"AGI socket closed during {' '.join(verb)}: {exc!r}") from exc

    async def answer(self) -> None:
        await self._checked("ANSWER")

    async def stream_file(
        self, path: str, escape_digits: str = "0123456789*#", *, playing_s: float = 0.0
    ) -> str | None:
        """Play ``path`` (no extension, ``playing_s`` long); return the key that
        interrupted it, or None."""
        return _digit(
            await self._checked(
                f"STREAM FILE {_quote(path)} {_quote(escape_digits)}",
                COMMAND_TIMEOUT_S + playing_s,
            )
        )

    async def get_data(
        self, path: str, timeout_ms: int = 5000, max_digits: int = 1, *, playing_s: float = 0.0
    ) -> tuple[str, bool]:
        """Play ``path`` (``playing_s`` long) and collect up to ``max_digits`` keys:
        ``(digits, timed_out)``."""
        result = await self._checked(
            f"GET DATA {_quote(path)} {timeout_ms:d} {max_digits:d}",
            COMMAND_TIMEOUT_S + playing_s + max_digits * timeout_ms / 1000,
        )
        return result.result, result.timed_out

    async def read_menus(
        self,
        asks: Sequence[tuple[str, int, Mapping[str, int]]],
        *,
        max_reads: int = 16,
        playing_s: float = 0.0,
    ) -> list[tuple[str, bool]]:
        """Read the key of ``asks[0]`` as ``get_data`` (one key) does, and while the key read
        leads on (``asks[i] = (path, timeout_ms, {key: index of the next ask})``), the next
        menu's key too, all within one AGI command: no key pressed between two menus is
        lost (res_agi drops the keys that arrive while no command runs). Returns
        ``(digits, timed_out)`` for each read done, in order: at least one, at most
        ``max_reads``. ``playing_s``: how long the prompts that may play last, in all.
        Paths the dialplan cannot take are read with ``get_data``, one menu per command."""
        arg = read_menus_args(asks, max_reads)
        if arg is None:
            path, timeout_ms, _ = asks[0]
            return [await self.get_data(path, timeout_ms, 1, playing_s=playing_s)]
        timeout_s = sum(t for _, t, _ in asks) / 1000
        await self._checked(
            f"GOSUB {READ_CONTEXT} s 1 {_quote(arg)}",
            COMMAND_TIMEOUT_S + playing_s + max_reads * timeout_s,
        )
        # The keys read before a hang-up are returned (the menus they led through are
        # journalled as before); the next command raises AgiHangup.
        value = await self.command("GET VARIABLE HOTLINE_READ", through_hangup=True)
        if value.code != 200:
            raise AgiCommandError(f"GET VARIABLE rejected: {value.raw}")
        reads = parse_read_menus(value.data if value.result == "1" else "")
        out: list[tuple[str, bool]] = []
        for status, key in reads:
            if status == "HANGUP":
                self._hung_up = True
                break
            if status not in ("OK", "TIMEOUT"):
                break
            out.append((key, status == "TIMEOUT"))
        if not out and self._hung_up:
            raise AgiHangup("the caller hung up")
        if not out or (len(out) < len(reads) and not self._hung_up):
            # Read failed (no such prompt...) or the subroutine never ran: on a dead channel
            # CHANNEL STATUS raises AgiHangup.
            await self.command("CHANNEL STATUS", timeout=5.0)
            raise AgiCommandError(f"reading menus failed on a live channel: {reads!r}")
        return out

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        """Wait up to ``timeout_ms`` for one key; None if none was pressed."""
        return _digit(await self._checked(f"WAIT FOR DIGIT {timeout_ms:d}"))

    async def set_variable(self, name: str, value: str) -> None:
        await self._checked(f"SET VARIABLE {_name(name)} {_quote(value)}")

    async def set_variables(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Set the variables in order, in one command (``MSet``) when every value is plain
        (letters, digits, ``_.*#+-``: nothing MSet would split on); else one by one."""
        if not pairs:
            return
        if all(_NAME.fullmatch(n) and _PLAIN.fullmatch(v) for n, v in pairs):
            await self._checked("EXEC MSet " + _quote(",".join(f"{n}={v}" for n, v in pairs)))
            return
        for name, value in pairs:
            await self.set_variable(name, value)

    async def get_variable(self, name: str) -> str | None:
        """The channel variable's value, or None when it is not set."""
        result = await self._checked(f"GET VARIABLE {_name(name)}")
        return result.data if result.result == "1" else None

    async def verbose(self, msg: str) -> None:
        """Write ``msg`` to the Asterisk console/log at verbosity 1."""
        await self._checked(f"VERBOSE {_quote(msg)} 1")

    async def _checked(self, line: str, timeout: float = COMMAND_TIMEOUT_S) -> AgiResult:  # noqa: ASYNC109
        """Run a command that must succeed; ``result=-1`` means hang-up or failure.
        On a channel left unanswered (``UNANSWERED_ARG``), the first command answers it
        first, unless it is the menus' read, which answers it itself."""
        if self._unanswered:
            self._unanswered = False
            if not line.startswith(f"GOSUB {READ_CONTEXT} "):
                await self._checked("ANSWER")
        result = await self.command(line, timeout)
        if result.code != 200:
            raise AgiCommandError(f"{line.split(' ')[0]} rejected: {result.raw}")
        if result.result == "-1":
            # -1 covers both "caller hung up" and e.g. "no such prompt file". Probe once:
            # on a dead channel CHANNEL STATUS raises AgiHangup (HANGUP line or 511).
            await self.command("CHANNEL STATUS", timeout=5.0)
            raise AgiCommandError(f"AGI command failed on a live channel: {line!r}")
        return result

    async def _read_answer(self, through_hangup: bool = False) -> AgiResult:
        while True:
            line = await self._read_line()
            if line == "HANGUP":
                self._hung_up = True
                if through_hangup:
                    continue
                raise AgiHangup("the caller hung up")
            if not line or line.startswith("100"):
                continue  # "100 Trying..." precedes the real answer
            if line.startswith("520-"):  # usage text follows, up to a "520 " line
                usage = [line]
                while not usage[-1].startswith("520 "):
                    usage.append(await self._read_line())
                text = " ".join(u[4:] if u[:4] in ("520-", "520 ") else u for u in usage)
                return parse_agi_result("520 " + " ".join(text.split()))
            result = parse_agi_result(line)
            if result.code == 511:  # "Command Not Permitted on a dead channel"
                self._hung_up = True
                raise AgiHangup(f"the channel is dead: {line}")
            return result

    async def _read_line(self) -> str:
        raw = await self._reader.readline()
        if not raw.endswith(b"\n"):
            self._hung_up = True
            raise AgiHangup("Asterisk closed the AGI socket")
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")
