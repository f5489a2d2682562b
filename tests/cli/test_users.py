"""``hotline1022 users …`` on a fresh state directory, against both databases.

(The command lives in cli/users.py; its tests sit with the store it drives.)
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli import users as users_cli
from store.db import Database
from store.users import user_for_token


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="hotline1022")
    users_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    code: int = args.func(args)
    return code


def holder(url: str, token: str) -> tuple[str, str, int | None] | None:
    async def lookup() -> tuple[str, str, int | None] | None:
        db = Database(url)
        try:
            user = await user_for_token(db, token)
            return None if user is None else (user.name, user.role, user.agent_id)
        finally:
            await db.dispose()

    return asyncio.run(lookup())


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HOTLINE_AGENT_COUNT", "3")
    return database_url


def test_create_prints_only_the_token_and_warns_once(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run("users", "create", "--name", "Nguyễn Lan", "--role", "agent", "--agent", "agent02") == 0
    )

    out, err = capsys.readouterr()
    token = out.strip()
    assert out == token + "\n" and len(token) >= 43
    assert "shown only once" in err
    assert holder(env, token) == ("Nguyễn Lan", "agent", 2)


def test_agent_by_id_token_list_and_revoke(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("users", "create", "--name", "an", "--role", "agent", "--agent", "1") == 0
    assert run("users", "create", "--name", "boss", "--role", "supervisor") == 0
    first = capsys.readouterr().out.split()[0]
    assert run("users", "token", "--name", "an", "--label", "phone") == 0
    second = capsys.readouterr().out.strip()

    assert run("users", "list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["NAME", "ROLE", "AGENT/TEAM", "ACTIVE", "TOKENS"]
    assert [line.split() for line in listing[1:]] == [
        ["an", "agent", "agent01", "yes", "2"],
        ["boss", "supervisor", "-", "yes", "1"],
    ]

    assert run("users", "revoke", "--name", "an") == 0
    assert "revoked 2 token(s)" in capsys.readouterr().out
    assert holder(env, first) is None
    assert holder(env, second) is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["create", "--name", "x", "--role", "agent"], "role 'agent' needs an agent"),
        (["create", "--name", "x", "--role", "agent", "--agent", "agent99"], "no agent 'agent99'"),
        (["token", "--name", "nobody"], "no user named 'nobody'"),
        (["revoke", "--name", "nobody"], "no user named 'nobody'"),
        (["create", "--name", "x", "--role", "team"], "role 'team' needs a team"),
        (["create", "--name", "x", "--role", "team", "--team", "77"], "unknown team id 77"),
        (["create", "--name", "x", "--role", "admin", "--team", "1"], "only role 'team' takes"),
    ],
)
def test_bad_input_exits_2_with_a_reason(
    env: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert run("users", *argv) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert message in err


def test_duplicate_name_exits_2(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("users", "create", "--name", "x", "--role", "supervisor") == 0
    capsys.readouterr()

    assert run("users", "create", "--name", "x", "--role", "admin") == 2
    assert "a user named 'x' already exists" in capsys.readouterr().err


def test_argparse_refuses_an_unknown_role(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run("users", "create", "--name", "x", "--role", "boss")

    assert exit_info.value.code == 2
    assert "invalid choice: 'boss'" in capsys.readouterr().err


def test_users_without_action_shows_help(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("users") == 2
    assert "create" in capsys.readouterr().err


def test_works_on_a_fresh_state_dir_with_the_default_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HOTLINE_DATABASE_URL", raising=False)
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path / "fresh" / "var"))

    assert run("users", "create", "--name", "admin", "--role", "admin") == 0

    assert (tmp_path / "fresh" / "var" / "hotline1022.db").is_file()
    token = capsys.readouterr().out.strip()
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'var' / 'hotline1022.db'}"
    assert holder(url, token) == ("admin", "admin", None)


def test_unreachable_database_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:1/x")

    assert run("users", "list") == 1
    assert "cannot use the database" in capsys.readouterr().err


def test_an_unreachable_database_is_named_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", "postgresql+asyncpg://hotline:S3cr3t@127.0.0.1:1/x")

    assert run("users", "list") == 1
    err = capsys.readouterr().err
    assert "hotline:***@127.0.0.1:1/x" in err and "S3cr3t" not in err


def test_one_token_is_revoked_alone_and_a_deactivated_user_stops_at_once(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("users", "create", "--name", "an", "--role", "supervisor") == 0
    first = capsys.readouterr().out.strip()
    assert run("users", "token", "--name", "an", "--label", "tablet") == 0
    second = capsys.readouterr().out.strip()
    assert run("users", "tokens", "--name", "an") == 0
    listed = capsys.readouterr().out
    assert first not in listed and second not in listed and "UTC" in listed
    tablet = next(line.split()[0] for line in listed.splitlines() if line.endswith("tablet"))

    assert run("users", "revoke", "--name", "an", "--token-id", tablet) == 0
    assert holder(env, second) is None
    assert holder(env, first) == ("an", "supervisor", None)
    assert run("users", "revoke", "--name", "an", "--token-id", "99999") == 2

    assert run("users", "deactivate", "--name", "an") == 0
    assert holder(env, first) is None
    assert run("users", "reactivate", "--name", "an") == 0
    assert holder(env, first) == ("an", "supervisor", None)


def test_tokens_expire_with_their_roles_lifetime(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_TOKEN_TTL_S", '{"agent": 60}')
    assert run("users", "create", "--name", "an", "--role", "agent", "--agent", "agent01") == 0
    token = capsys.readouterr().out.strip()
    assert holder(env, token) == ("an", "agent", 1)

    async def later() -> object:
        db = Database(env)
        try:
            return await user_for_token(db, token, now=datetime.now(UTC) + timedelta(seconds=61))
        finally:
            await db.dispose()

    assert asyncio.run(later()) is None  # expires_at was set from the setting when issued
