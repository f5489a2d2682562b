"""Run the Alembic revisions in ``migrations/`` from code (CLI, service start-up, tests).

``upgrade`` is synchronous because Alembic's async ``env.py`` starts its own event loop: call
it from plain code or from a worker thread, and use ``upgrade_async`` from a coroutine.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

__all__ = [
    "alembic_config",
    "downgrade",
    "downgrade_async",
    "ensure_sqlite_dir",
    "upgrade",
    "upgrade_async",
]

# The repository root holds alembic.ini and migrations/ next to this package; finding them
# from __file__ makes the commands work from any working directory.
ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = ROOT / "alembic.ini"
MIGRATIONS_DIR = ROOT / "migrations"


def ensure_sqlite_dir(url: str) -> None:
    """Create the directory of a SQLite database file (SQLite creates the file, not its dir)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def alembic_config(url: str) -> Config:
    """An Alembic ``Config`` for ``url``, without touching the process's logging setup."""
    config = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.is_file() else Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not as ``sqlalchemy.url``: ini interpolation would choke on a
    # percent-encoded password.
    config.attributes["url"] = url
    config.attributes["configure_logger"] = False
    return config


def _refuse_inside_event_loop(name: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"store.migrate.{name}() runs its own event loop; from a coroutine await {name}_async()"
    )


def upgrade(url: str, revision: str = "head") -> None:
    """``alembic upgrade head`` for ``url``; creates a SQLite file's directory first."""
    _refuse_inside_event_loop("upgrade")
    ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """``alembic downgrade base`` (or to ``revision``) for ``url``."""
    _refuse_inside_event_loop("downgrade")
    command.downgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    """``upgrade`` in a worker thread, so that Alembic's own event loop does not clash."""
    await asyncio.to_thread(upgrade, url, revision)


async def downgrade_async(url: str, revision: str = "base") -> None:
    """``downgrade`` in a worker thread."""
    await asyncio.to_thread(downgrade, url, revision)
