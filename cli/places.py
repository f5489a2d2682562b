"""``hotline1022 places …`` and ``hotline1022 teams list``: the places and teams as data.

    hotline1022 places import --province 74            # Bình Dương 2021 and its default teams
    hotline1022 places import --province 77 --no-teams # another province, places only
    hotline1022 places import --province 74 --province 79
    hotline1022 places import --south-2021             # the 19 southern provinces of 2021
    hotline1022 places list --level district
    hotline1022 teams list --level commune --kind team

Importing again changes nothing (a renamed unit is renamed) and adds only the default teams
that are missing. The schema is brought to head first, so the commands work on a fresh state
directory. Errors are one line on stderr: exit 2 for bad input (an unknown province), 1 when
the database cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from dispatch.places import SOUTH_2021, ImportResult, import_province, province_division
from dispatch.ports import DispatchError
from dispatch.teams import DefaultTeams, TeamService, ensure_default_teams
from hotline1022.settings import Settings
from store.db import Database
from store.migrate import upgrade_async
from store.models import Place

__all__ = ["add_parser"]

EXIT_OK = 0
EXIT_FAILED = 1  # the database could not be used
EXIT_USAGE = 2  # bad input, as argparse itself uses

LEVEL_CHOICES = ("province", "district", "commune")

Body = Callable[[argparse.Namespace, Database], Awaitable[None]]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``places`` (import, list) and ``teams`` (list); each sets ``func(args) -> code``."""
    places = subparsers.add_parser(
        "places",
        help="administrative places (province, district, commune) from vietnam-provinces",
        description="Import a province's places (and default teams) from vietnam-provinces "
        "0.6.0 (divisions before the 2025 reform), or list the places imported.",
    )
    actions = places.add_subparsers(dest="places_action", required=True, metavar="ACTION")
    p = actions.add_parser(
        "import",
        help="import provinces and their units; add their default teams",
        description="Upsert each province and every unit under it by (level, code), then "
        "create its default operations centers and rapid-response teams that are missing. "
        "All the provinces in one transaction.",
    )
    p.add_argument(
        "--province",
        type=int,
        action="append",
        default=[],
        metavar="CODE",
        help="province code, e.g. 74; repeat for more",
    )
    p.add_argument(
        "--south-2021",
        action="store_true",
        help="the 19 southern provinces and cities under Directive 16 in 2021 (the "
        "2,594-point conference of September 2021): " + " ".join(str(code) for code in SOUTH_2021),
    )
    p.add_argument("--no-teams", action="store_true", help="places only, no default teams")
    p.set_defaults(func=_command(_import, "places import"))

    p = actions.add_parser("list", help="list the places imported")
    p.add_argument("--level", choices=LEVEL_CHOICES, help="only this level")
    p.set_defaults(func=_command(_list_places, "places list"))

    teams = subparsers.add_parser(
        "teams",
        help="operations centers and rapid-response teams",
        description="List the operations centers and rapid-response teams.",
    )
    team_actions = teams.add_subparsers(dest="teams_action", required=True, metavar="ACTION")
    p = team_actions.add_parser("list", help="list teams with their phones")
    p.add_argument("--level", choices=LEVEL_CHOICES, help="teams at places of this level")
    p.add_argument("--code", type=int, help="teams at the place with this code (with --level)")
    p.add_argument("--kind", choices=("center", "team"), help="centers or teams only")
    p.set_defaults(func=_command(_list_teams, "teams list"))


class UsageError(Exception):
    """Bad input from the command line; the message is shown as is."""


def _command(body: Body, prog: str) -> Callable[[argparse.Namespace], int]:
    """Wrap ``body``: migrate, open the database, map errors to one line and an exit code."""

    def run(args: argparse.Namespace) -> int:
        url = Settings().effective_database_url
        if not getattr(args, "verbose", False):
            # Alembic reports every revision at INFO; for a one-line command that is noise.
            logging.getLogger("alembic").setLevel(logging.WARNING)
        try:
            asyncio.run(_with_database(body, args, url))
        except BrokenPipeError:
            # The reader left (``| head``): not the database's fault, nothing more to say.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
        except (UsageError, DispatchError) as exc:
            print(f"hotline1022 {prog}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except (DBAPIError, OSError) as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            print(
                f"hotline1022 {prog}: error: cannot use the database {_safe(url)}: {reason}",
                file=sys.stderr,
            )
            return EXIT_FAILED
        return EXIT_OK

    return run


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


async def _with_database(body: Body, args: argparse.Namespace, url: str) -> None:
    await upgrade_async(url)
    db = Database(url)
    try:
        await body(args, db)
    finally:
        await db.dispose()


async def _import(args: argparse.Namespace, db: Database) -> None:
    codes = sorted({*args.province, *(SOUTH_2021 if args.south_2021 else ())})
    if not codes:
        raise UsageError("which provinces? --province CODE (repeatable) or --south-2021")
    for code in codes:
        province_division(code)  # an unknown code fails before anything is imported
    places: list[ImportResult] = []
    teams: list[DefaultTeams] = []
    async with db.session() as session:
        for code in codes:
            result = await import_province(session, code)
            places.append(result)
            if not args.no_teams:
                teams.append(await ensure_default_teams(session, code))
        await session.commit()
    # Said once it is committed: all of it or, on an error, nothing.
    for i, result in enumerate(places):
        print(_places_line(f"{result.name} ({result.code})", result))
        if teams:
            print(_teams_line(teams[i]))
    if len(codes) > 1:
        total = ImportResult(
            code=0,
            name="",
            levels=_sum(r.levels for r in places),
            created=sum(r.created for r in places),
            updated=sum(r.updated for r in places),
            unchanged=sum(r.unchanged for r in places),
        )
        print(_places_line(f"total, {len(codes)} provinces", total))
        if teams:
            made = _sum(t.created for t in teams)
            print(_teams_line(DefaultTeams(made, sum(t.existing for t in teams))))


def _sum(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in counts:
        for key, n in c.items():
            out[key] = out.get(key, 0) + n
    return out


def _places_line(what: str, result: ImportResult) -> str:
    levels = ", ".join(f"{n} {level}" for level, n in result.levels.items())
    return (
        f"{what}: {levels}; places created {result.created}, "
        f"updated {result.updated}, unchanged {result.unchanged}"
    )


def _teams_line(teams: DefaultTeams) -> str:
    made = ", ".join(f"{n} {kind}" for kind, n in teams.created.items())
    return f"default teams created: {made}; already there {teams.existing}"


async def _list_places(args: argparse.Namespace, db: Database) -> None:
    stmt = select(Place).order_by(Place.depth, Place.code)
    if args.level:
        stmt = stmt.where(Place.level == args.level)
    async with db.session() as session:
        places = list(await session.scalars(stmt))
        parents = {p.id: p for p in places}
        missing = {p.parent_id for p in places if p.parent_id and p.parent_id not in parents}
        if missing:
            parents |= {
                p.id: p for p in await session.scalars(select(Place).where(Place.id.in_(missing)))
            }
    if not places:
        print("no places yet: hotline1022 places import --province 74", file=sys.stderr)
        return
    print(f"{'ID':>5} {'LEVEL':9} {'CODE':>6} {'PARENT':>6} NAME")
    for p in places:
        parent = str(parents[p.parent_id].code) if p.parent_id in parents else "-"
        print(f"{p.id:>5} {p.level:9} {p.code:>6} {parent:>6} {p.name}")


async def _list_teams(args: argparse.Namespace, db: Database) -> None:
    if args.code is not None and args.level is None:
        raise UsageError("--code needs --level: codes are unique only within a level")
    async with db.session() as session:
        rows, _ = await TeamService(session).list(
            level=args.level, code=args.code, kind=args.kind, limit=1_000_000
        )
    if not rows:
        print("no teams: hotline1022 places import --province 74", file=sys.stderr)
        return
    print(f"{'ID':>5} {'KIND':6} {'LEVEL':9} {'CODE':>6} {'ACTIVE':6} {'PHONES':24} NAME")
    for placed in rows:
        team, place = placed.team, placed.place
        phones = ",".join(ph.endpoint or ph.number or "" for ph in team.phones) or "-"
        active = "yes" if team.active else "no"
        print(
            f"{team.id:>5} {team.kind:6} {place.level:9} {place.code:>6} {active:6} "
            f"{phones:24} {team.name}"
        )
