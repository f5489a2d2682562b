"""``hotline1022 users create … --password | --generate-password`` and ``users set-password``,
and the first sign-in users that ``hotline1022 info`` creates and prints."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import users as users_cli
from cli.main import main
from store.db import Database
from store.users import get_user_by_name, verify_password

GOOD = "mật-khẩu-dài-đủ-10"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="hotline1022")
    users_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    code: int = args.func(args)
    return code


def signs_in(url: str, name: str, password: str) -> bool:
    async def check() -> bool:
        db = Database(url)
        try:
            return await verify_password(db, name, password) is not None
        finally:
            await db.dispose()

    return asyncio.run(check())


def exists(url: str, name: str) -> bool:
    async def check() -> bool:
        db = Database(url)
        try:
            return await get_user_by_name(db, name) is not None
        finally:
            await db.dispose()

    return asyncio.run(check())


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HOTLINE_AGENT_COUNT", "3")
    return database_url


class Terminal:
    """stdin as a terminal whose person types ``answers`` at the getpass prompts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answers: list[str] = []
        self.prompts: list[str] = []
        monkeypatch.setattr("sys.stdin.isatty", lambda: True)
        monkeypatch.setattr("getpass.getpass", self._getpass)

    def _getpass(self, prompt: str = "") -> str:
        self.prompts.append(prompt)
        return self.answers.pop(0)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[Terminal]:
    yield Terminal(monkeypatch)


def test_create_asks_twice_on_a_terminal(
    env: str, terminal: Terminal, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal.answers = [GOOD, GOOD]
    assert run("users", "create", "--name", "lan", "--role", "supervisor", "--password") == 0
    out, err = capsys.readouterr()
    assert len(out.split()) == 1  # stdout: only the token, as before
    assert GOOD not in out + err
    assert len(terminal.prompts) == 2 and "lan" in terminal.prompts[0]
    assert signs_in(env, "lan", GOOD)


def test_create_with_two_different_answers_creates_nothing(
    env: str, terminal: Terminal, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal.answers = [GOOD, GOOD + "x"]
    assert run("users", "create", "--name", "lan", "--role", "supervisor", "--password") == 2
    assert "the two passwords differ" in capsys.readouterr().err
    assert not exists(env, "lan")


def test_create_refuses_a_short_password_before_creating(
    env: str, terminal: Terminal, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal.answers = ["ngắn", "ngắn"]
    assert run("users", "create", "--name", "lan", "--role", "supervisor", "--password") == 2
    err = capsys.readouterr().err
    assert "users create: error: the password is too short: at least 10 characters" in err
    assert len(terminal.prompts) == 1  # refused at once, not after asking again
    assert not exists(env, "lan")


def test_create_reads_one_line_from_a_pipe(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD + "\n"))
    assert (
        run("users", "create", "--name", "an", "--role", "agent", "--agent", "1", "--password") == 0
    )
    assert signs_in(env, "an", GOOD)
    assert not signs_in(env, "an", GOOD + "\n")


def test_create_with_an_empty_pipe_says_so(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert run("users", "create", "--name", "an", "--role", "supervisor", "--password") == 2
    assert "no password on stdin" in capsys.readouterr().err


def test_create_generates_one_and_prints_it_once_on_stderr(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("users", "create", "--name", "lan", "--role", "supervisor", "--generate-password")
    assert code == 0
    out, err = capsys.readouterr()
    assert len(out.split()) == 1
    line = next(line for line in err.splitlines() if "shown only once): " in line)
    password = line.rsplit(": ", 1)[1]
    assert len(password) == 16
    assert err.count(password) == 1
    assert signs_in(env, "lan", password)


def test_password_and_generate_exclude_each_other(env: str) -> None:
    with pytest.raises(SystemExit) as exited:
        run(
            "users", "create", "--name", "x", "--role", "admin", "--password", "--generate-password"
        )
    assert exited.value.code == 2


def test_create_without_a_password_option_gives_none(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("users", "create", "--name", "lan", "--role", "supervisor") == 0
    assert not signs_in(env, "lan", GOOD)


def test_set_password_asks_and_replaces_the_old_one(
    env: str, terminal: Terminal, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("users", "create", "--name", "lan", "--role", "supervisor") == 0
    terminal.answers = [GOOD, GOOD]
    assert run("users", "set-password", "lan") == 0
    assert signs_in(env, "lan", GOOD)
    terminal.answers = [GOOD + "!", GOOD + "!"]
    assert run("users", "set-password", "lan") == 0
    assert signs_in(env, "lan", GOOD + "!")
    assert not signs_in(env, "lan", GOOD)


def test_set_password_generate_prints_it_alone_on_stdout(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("users", "create", "--name", "lan", "--role", "supervisor") == 0
    capsys.readouterr()
    assert run("users", "set-password", "lan", "--generate") == 0
    out, err = capsys.readouterr()
    password = out.strip()
    assert out == password + "\n" and len(password) == 16
    assert "shown only once" in err
    assert signs_in(env, "lan", password)


def test_set_password_of_nobody_is_a_usage_error(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("users", "set-password", "ai-đó", "--generate") == 2
    assert "no user named 'ai-đó'" in capsys.readouterr().err


def _info(capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["info"]) == 0
    out = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(out) if line.startswith("Sign in to the pages"))
    return out[start:]


def _password_of(lines: list[str], name: str) -> str:
    (line,) = [line for line in lines if line.split()[:2] == ["user", name]]
    return line.rsplit(" ", 1)[1]


def test_info_creates_the_first_users_once_and_prints_them(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "var"
    state.mkdir()
    (state / "secrets.json").write_text(json.dumps({"ami_secret": "s"}))

    lines = _info(capsys)
    assert lines[0] == "Sign in to the pages: http://127.0.0.1:8022/login"
    agent_pw, supervisor_pw = _password_of(lines, "agent1"), _password_of(lines, "supervisor")
    assert len(agent_pw) == 16 and agent_pw != supervisor_pw
    assert signs_in(env, "agent1", agent_pw)
    assert signs_in(env, "supervisor", supervisor_pw)
    kept = state / "sign-in.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600

    # Run again (every 'make run'): the same users and passwords, nothing new.
    assert _info(capsys) == lines

    # Once the agent sets their own, info no longer shows the old one.
    assert run("users", "set-password", "agent1", "--generate") == 0
    capsys.readouterr()
    lines = _info(capsys)
    (agent_line,) = [line for line in lines if line.split()[:2] == ["user", "agent1"]]
    assert "password changed since (not shown)" in agent_line
    assert agent_pw not in "\n".join(lines)
    assert _password_of(lines, "supervisor") == supervisor_pw


def test_the_first_agent_user_is_agent01(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "var"
    state.mkdir()
    (state / "secrets.json").write_text(json.dumps({"ami_secret": "s"}))
    _info(capsys)

    async def agent_of(name: str) -> tuple[str, int | None]:
        db = Database(env)
        try:
            user = await get_user_by_name(db, name)
            assert user is not None
            return user.role, user.agent_id
        finally:
            await db.dispose()

    assert asyncio.run(agent_of("agent1")) == ("agent", 1)
    assert asyncio.run(agent_of("supervisor")) == ("supervisor", None)


def test_info_tells_a_newcomer_the_way_without_curl_or_a_token(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12's "done when": the printed URL and password, the softphone, the button."""
    state = tmp_path / "var"
    state.mkdir()
    (state / "secrets.json").write_text(json.dumps({"ami_secret": "s"}))
    assert main(["info"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (start,) = [line for line in lines if line.startswith("Start here:")]
    assert "agent01" in start and "agent1" in start and "1022" in start
    assert not any("curl" in line for line in lines)


def test_info_creates_nobody_when_a_user_has_a_password(
    env: str, tmp_path: Path, terminal: Terminal, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "var"
    state.mkdir()
    (state / "secrets.json").write_text(json.dumps({"ami_secret": "s"}))
    terminal.answers = [GOOD, GOOD]
    assert run("users", "create", "--name", "lan", "--role", "admin", "--password") == 0
    lines = _info(capsys)
    assert not [line for line in lines if line.startswith("  user")]
    assert not exists(env, "agent1") and not exists(env, "supervisor")
    assert not (state / "sign-in.json").exists()


def test_info_lists_the_supervisors_phones_their_passwords_on_request(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 15: the wallboard's listen / whisper / barge ring a supervisor's phone: info
    says which users to register, and their passwords only with --show-passwords."""
    state = tmp_path / "var"
    state.mkdir()
    secrets = {"ami_secret": "s", "supervisors": {"sup01": "pw-sup01-xyz", "sup02": "pw-2"}}
    (state / "secrets.json").write_text(json.dumps(secrets))
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "Supervisors' phones" in out
    assert "user sup01      password ********" in out and "pw-sup01-xyz" not in out
    assert main(["info", "--show-passwords"]) == 0
    assert "user sup01      password pw-sup01-xyz" in capsys.readouterr().out
