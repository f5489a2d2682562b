"""``hotline1022 stats rebuild``: rebuild the statistics rollups from the recorded events.

    hotline1022 stats rebuild --since 2024-05-01 --until 2024-06-01

Whole Vietnam days, one transaction each; running it again gives the same rows. The
service keeps the rollups current by itself; this is for history imported or recorded while
the service was not running, or after a change to how a figure is computed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime

from hotline1022.settings import Settings

__all__ = ["add_parser", "parse_local"]

EXIT_USAGE = 2


def parse_local(text: str) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is Vietnam time."""
    from stats.demand import VIETNAM

    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date or ISO 8601 time such as 2024-05-01 or 2024-05-01T08:00+07:00, "
            f"got {text!r}"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=VIETNAM)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``stats``; it sets ``func(args) -> exit code``."""
    p = subparsers.add_parser("stats", help="historical statistics: rebuild the rollups")
    actions = p.add_subparsers(dest="action", required=True)
    r = actions.add_parser(
        "rebuild",
        help="rebuild the rollups of whole Vietnam days from calls and agent state changes",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    r.add_argument(
        "--since", type=parse_local, required=True, help="first day (no offset: Vietnam time)"
    )
    r.add_argument(
        "--until", type=parse_local, default=None, help="up to this instant (default: now)"
    )
    r.add_argument("--database-url", default="", help="default: the settings' database")
    r.set_defaults(func=_rebuild)


def _rebuild(args: argparse.Namespace) -> int:
    from store.types import utcnow

    until = args.until or utcnow()
    if until <= args.since:
        print("error: --until must be after --since", file=sys.stderr)
        return EXIT_USAGE
    url = args.database_url or Settings().effective_database_url
    return asyncio.run(_run(url, args.since, until))


async def _run(url: str, since: datetime, until: datetime) -> int:
    from sqlalchemy import text

    from stats.demand import VIETNAM
    from stats.rollups import rebuild
    from store.db import Database
    from store.migrate import upgrade_async

    started = time.monotonic()
    await upgrade_async(url)
    db = Database(url)

    def progress(day: datetime) -> None:
        local = day.astimezone(VIETNAM)
        if local.day == 1:
            print(f"  {local:%Y-%m} …", flush=True)

    try:
        days = await rebuild(db, since, until, on_day=progress)
        if db.engine.dialect.name == "postgresql":
            # Fresh statistics for the planner after many rows changed at once.
            async with db.engine.begin() as conn:
                await conn.execute(text("ANALYZE queue_stats, agent_stats, agent_pause_stats"))
    finally:
        await db.dispose()
    first, last = since.astimezone(VIETNAM), until.astimezone(VIETNAM)
    print(
        f"rebuilt {days} day(s), {first:%Y-%m-%d} to {last:%Y-%m-%d %H:%M} (Vietnam), "
        f"in {time.monotonic() - started:.1f} s"
    )
    return 0
