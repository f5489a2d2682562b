"""The Alembic history runs on both databases and matches the models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from store import migrate
from store.models import Base

ROOT = Path(migrate.__file__).resolve().parent.parent
TABLES = {
    "agent_skills",
    "agent_state_changes",
    "callbacks",
    "agents",
    "calls",
    "users",
    "api_tokens",
    "ivr_events",
    "announcements",
    "queue_stats",
    "agent_stats",
    "agent_pause_stats",
    "places",
    "teams",
    "team_members",
    "team_phones",
    "call_outcomes",
    "incidents",
    "incident_events",
    "pause_reasons",
    "conferences",
    "conference_points",
    "conference_events",
    "audit_log",
    "recordings",
    "recording_pauses",
    "legal_holds",
    "incident_rollup_days",
    "incident_rollups",
}


async def table_names(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def schema_diff(url: str) -> list[object]:
    def compare(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


async def test_upgrade_creates_the_tables_the_models_describe(database_url: str) -> None:
    await migrate.upgrade_async(database_url)

    assert await table_names(database_url) == TABLES | {"alembic_version"}
    assert await schema_diff(database_url) == []


async def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    await migrate.upgrade_async(database_url)
    await migrate.upgrade_async(database_url)

    assert await table_names(database_url) >= TABLES


async def test_downgrade_base_removes_every_table(database_url: str) -> None:
    await migrate.upgrade_async(database_url)

    await migrate.downgrade_async(database_url, "base")

    assert await table_names(database_url) == {"alembic_version"}


def test_alembic_command_line_works_from_another_directory(
    database_url: str, tmp_path: Path
) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    alembic = [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini")]

    for args in (["upgrade", "head"], ["check"], ["downgrade", "base"]):
        done = subprocess.run(
            [*alembic, "-x", f"url={database_url}", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr


async def test_sync_upgrade_inside_an_event_loop_says_what_to_use() -> None:
    with pytest.raises(RuntimeError, match=r"await upgrade_async\(\)"):
        migrate.upgrade("sqlite+aiosqlite:///unused.db")


def test_upgrade_creates_the_sqlite_directory(tmp_path: Path) -> None:
    path = tmp_path / "state" / "nested" / "hotline1022.db"

    migrate.upgrade(f"sqlite+aiosqlite:///{path}")

    assert path.is_file()


def test_env_reads_the_url_from_the_settings(tmp_path: Path) -> None:
    # Neither -x url nor store.migrate: env.py falls back to HOTLINE_STATE_DIR's SQLite file.
    env = {"HOTLINE_STATE_DIR": str(tmp_path / "var"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "var" / "hotline1022.db").is_file()
