"""``hotline1022 recordings``: check the recordings' digest chain, purge what has expired,
put a call's or an incident's recordings on legal hold and release it.

    hotline1022 recordings verify              # the whole chain; exit 1 with each problem
    hotline1022 recordings verify --id 42      # one recording's file and link
    hotline1022 recordings purge --dry-run     # what the purge would remove
    hotline1022 recordings hold --call 7 --reason "Khiếu nại của công dân"
    hotline1022 recordings release 3

The running service purges by itself every ``recording_purge_interval_s``; these commands
work on the database and the recordings directory of the settings, with no Asterisk.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from hotline1022.settings import Settings

if TYPE_CHECKING:
    from pbx.recording_signals import RecordingSignal
    from recordings.service import RecordingService

__all__ = ["add_parser"]

EXIT_PROBLEMS = 1
EXIT_USAGE = 2


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``recordings``; it sets ``func(args) -> exit code``."""
    p = subparsers.add_parser(
        "recordings",
        help="call recordings: verify the digest chain, purge, legal holds",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    actions = p.add_subparsers(dest="action", required=True)

    v = actions.add_parser("verify", help="check every file's SHA-256 and the chain's links")
    v.add_argument("--id", type=int, default=None, help="only this recording (and its link)")
    v.set_defaults(func=_verify)

    g = actions.add_parser("purge", help="remove the expired recordings not on hold")
    g.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    g.set_defaults(func=_purge)

    h = actions.add_parser("hold", help="keep a call's or an incident's recordings")
    which = h.add_mutually_exclusive_group(required=True)
    which.add_argument("--call", type=int, help="the call's id")
    which.add_argument("--incident", type=int, help="the incident's id")
    h.add_argument("--reason", required=True, help="why (kept with the hold)")
    h.set_defaults(func=_hold)

    r = actions.add_parser("release", help="end a legal hold (it stays on record)")
    r.add_argument("hold_id", type=int)
    r.set_defaults(func=_release)

    for sub in (v, g, h, r):
        sub.add_argument("--database-url", default="", help="default: the settings' database")


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _run(args: argparse.Namespace, work: Callable[[RecordingService], Awaitable[int]]) -> int:
    from recordings.errors import RecordingError

    settings = Settings()
    url = args.database_url or settings.effective_database_url

    async def main() -> int:
        from recordings.service import RecordingParams, RecordingService
        from store.db import Database
        from store.migrate import upgrade_async

        await upgrade_async(url)
        db = Database(url)
        try:
            service = RecordingService(db, _NoPbx(), RecordingParams.from_settings(settings))
            return await work(service)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except RecordingError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_PROBLEMS


class _NoPbx:
    """These commands never touch Asterisk: a pause or resume here is a bug."""

    def listen(self, callback: Callable[[RecordingSignal], None]) -> None:
        return None

    async def pause(self, channel: str) -> None:
        raise LookupError(channel)

    async def resume(self, channel: str) -> None:
        raise LookupError(channel)

    async def open_recordings(self) -> list[RecordingSignal]:
        return []


def _verify(args: argparse.Namespace) -> int:
    async def work(service: RecordingService) -> int:
        report = await service.verify(args.id)
        if report.ok:
            print(f"chain ok: {report.checked} recordings, {report.purged} purged")
            return 0
        for p in report.problems:
            where = f"seq {p.seq}" if p.seq is not None else "unsealed"
            print(f"{where} (recording {p.recording_id}): {p.what}")
        print(
            f"chain NOT ok: {len(report.problems)} problem(s) in {report.checked} recordings",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS

    return _run(args, work)


def _purge(args: argparse.Namespace) -> int:
    async def work(service: RecordingService) -> int:
        report = await service.purge(dry_run=args.dry_run)
        verb = "would remove" if args.dry_run else "removed"
        print(
            f"{verb} {len(report.removed)} recording(s), {report.freed_bytes} bytes; "
            f"{len(report.kept_on_hold)} kept on hold"
        )
        for rid in report.removed:
            print(f"  {verb}: recording {rid}")
        for rid in report.kept_on_hold:
            print(f"  kept on hold: recording {rid}")
        return 0

    return _run(args, work)


def _hold(args: argparse.Namespace) -> int:
    async def work(service: RecordingService) -> int:
        hold = await service.hold(
            call_id=args.call,
            incident_id=args.incident,
            reason=args.reason,
            user_id=None,
            user_name=_who(),
        )
        what = (
            f"call {hold.call_id}" if hold.call_id is not None else f"incident {hold.incident_id}"
        )
        print(f"hold {hold.id} on {what}: {hold.reason}")
        return 0

    return _run(args, work)


def _release(args: argparse.Namespace) -> int:
    async def work(service: RecordingService) -> int:
        hold = await service.release(args.hold_id, user_id=None, user_name=_who())
        print(f"hold {hold.id} released by {hold.released_by}")
        return 0

    return _run(args, work)
