"""The command line: what an operator sees when something is wrong."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from ivr.menu_file import DEFAULT_MENU
from tests.conftest import _pg_execute, run_in_thread
from tests.pbx.fake_ami import FakeAmi

PASSWORD = "Pa55-w0rd-of-the-db"


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


@pytest.fixture
def state(tmp_path: Path) -> Path:
    secrets = {"ami_secret": "s3cret", "agi_secret": "a", "dispatch_secret": "d"}
    (tmp_path / "secrets.json").write_text(json.dumps(secrets))
    return tmp_path


def test_serve_refuses_an_invalid_menu_file_and_says_why(state: Path) -> None:
    broken = state / "menu.yaml"
    broken.write_text(DEFAULT_MENU.read_text().replace('"3": violation', '"3": violatoin'))
    proc = run(["serve"], {"HOTLINE_STATE_DIR": str(state), "HOTLINE_MENU_FILE": str(broken)})
    assert proc.returncode == 2
    assert "The menu file is invalid; not starting." in proc.stderr
    assert "unknown target 'violatoin'" in proc.stderr
    assert f"{broken}:" in proc.stderr


def test_serve_without_provisioning_says_what_to_run(tmp_path: Path) -> None:
    proc = run(["serve"], {"HOTLINE_STATE_DIR": str(tmp_path)})
    assert proc.returncode == 2
    assert "make asterisk" in proc.stderr


def test_ivr_reload_without_token_is_a_usage_error(state: Path) -> None:
    proc = run(["ivr", "reload"], {"HOTLINE_STATE_DIR": str(state), "HOTLINE_TOKEN": ""})
    assert proc.returncode == 2
    assert "token" in proc.stderr


def test_ivr_reload_when_the_service_is_not_running(state: Path) -> None:
    proc = run(
        ["ivr", "reload", "--token", "x"],
        {"HOTLINE_STATE_DIR": str(state), "HOTLINE_API_PORT": "1"},
    )
    assert proc.returncode == 1
    assert "is it running?" in proc.stderr


async def test_serve_with_a_wrong_ami_secret_stops_with_one_clear_line(state: Path) -> None:
    ami = FakeAmi(secret="the-right-one")
    await ami.start()
    try:
        proc = await asyncio.to_thread(
            run,
            ["serve"],
            {
                "HOTLINE_STATE_DIR": str(state),
                "HOTLINE_AMI_PORT": str(ami.port),
                "HOTLINE_AMI_SECRET": "a-wrong-one",
            },
        )
    finally:
        await ami.stop()
    assert proc.returncode == 2
    assert f"AMI at 127.0.0.1:{ami.port} refused login for user 'hotline'" in proc.stderr
    assert "Traceback" not in proc.stderr and "a-wrong-one" not in proc.stderr


def test_serve_without_the_fastagi_secret_says_what_to_run(tmp_path: Path) -> None:
    """Secrets from before FastAGI sessions were proven: provisioning again adds them."""
    (tmp_path / "secrets.json").write_text(json.dumps({"ami_secret": "s3cret"}))
    proc = run(["serve"], {"HOTLINE_STATE_DIR": str(tmp_path)})
    assert proc.returncode == 2
    assert "No FastAGI secret: run 'make asterisk'" in proc.stderr
    assert "HOTLINE_AGI_SECRET" in proc.stderr


@pytest.mark.postgres
def test_db_upgrade_and_info_never_print_the_database_password(
    postgres_database_url: str, tmp_path: Path
) -> None:
    # The test server trusts local connections, so a password in the URL is accepted and
    # ignored: a real upgrade, with the URL an operator would have in production.
    run_in_thread(
        lambda: _pg_execute(
            postgres_database_url, "DROP SCHEMA public CASCADE", "CREATE SCHEMA public"
        )
    )
    url = make_url(postgres_database_url).set(password=PASSWORD)
    (tmp_path / "secrets.json").write_text(
        json.dumps({"ami_secret": "ami-s3cret", "agents": {"agent01": "sip-s3cret"}})
    )
    env = {
        "HOTLINE_DATABASE_URL": url.render_as_string(hide_password=False),
        "HOTLINE_STATE_DIR": str(tmp_path),
    }

    upgraded = run(["db", "upgrade"], env)
    info = run(["info"], env)

    assert upgraded.returncode == 0, upgraded.stderr
    assert info.returncode == 0, info.stderr
    assert url.render_as_string(hide_password=True) in upgraded.stdout
    assert ":***@" in info.stdout
    output = upgraded.stdout + upgraded.stderr + info.stdout + info.stderr
    for secret in (PASSWORD, "ami-s3cret", "sip-s3cret"):
        assert secret not in output
