"""``hotline1022 users …``: create API users and manage their bearer tokens.

    hotline1022 users create --name "Nguyễn Lan" --role agent --agent agent01
    hotline1022 users create --name "Tổ Hiệp Thành" --role team --team 12   # see: teams list
    hotline1022 users create --name lan --role supervisor --password   # asks for it twice
    hotline1022 users create --name lan --role supervisor --generate-password
    hotline1022 users set-password lan              # asks twice; --generate prints a new one
    hotline1022 users token --name "Nguyễn Lan"     # another token, e.g. for a new device
    hotline1022 users revoke --name "Nguyễn Lan"    # every token of the user stops working
    hotline1022 users tokens --name "Nguyễn Lan"    # ids, labels, expiry (never the token)
    hotline1022 users revoke --name "Nguyễn Lan" --token-id 7   # that one token only
    hotline1022 users deactivate --name "Nguyễn Lan"   # every token stops at once
    hotline1022 users reactivate --name "Nguyễn Lan"
    hotline1022 users list

Tokens expire after their role's lifetime (HOTLINE_TOKEN_TTL_S).

Passwords (to sign in to the pages) are never taken as an argument, where shell history and
``ps`` would keep them: ``--password`` asks twice on a terminal (from a pipe it reads one
line, for scripts), ``--generate-password`` / ``--generate`` makes a strong one and prints
it once. At least 10 characters. A new password ends the user's web sessions.

A token is printed once, alone on stdout, so that ``TOKEN=$(hotline1022 users create …)``
works; only its hash is stored. The schema is brought to head first, so the commands work
on a fresh state directory.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.exc import OperationalError

from hotline1022.settings import Settings, mask_url
from store.agents import find_agent
from store.db import Database
from store.migrate import upgrade
from store.models import Role
from store.seed import ensure_agents
from store.users import (
    create_user,
    generate_password,
    get_user_by_name,
    issue_token,
    list_tokens,
    list_users,
    revoke_token,
    revoke_tokens,
    set_active,
    set_password,
    token_lifetimes,
    validate_password,
)

__all__ = ["add_parser"]

EXIT_OK = 0
EXIT_FAILED = 1  # the database could not be used
EXIT_USAGE = 2  # bad input, as argparse itself uses


class UsageError(Exception):
    """Bad input from the command line; the message is shown as is."""


Command = Callable[[argparse.Namespace, Database, Settings], Awaitable[None]]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``users`` and its actions; each sets ``func(args) -> exit code``."""
    users = subparsers.add_parser(
        "users",
        help="API users and their bearer tokens",
        description="Create API users and issue or revoke their bearer tokens.",
    )
    users.set_defaults(func=lambda _args: _usage(users))
    actions = users.add_subparsers(dest="users_action", metavar="ACTION")

    p = actions.add_parser("create", help="create a user; prints its first token")
    p.add_argument("--name", required=True, help="unique user name")
    p.add_argument("--role", required=True, choices=[role.value for role in Role])
    p.add_argument(
        "--agent",
        metavar="ENDPOINT_OR_ID",
        help="for role agent: the agent they are (endpoint like agent01, or its id)",
    )
    p.add_argument(
        "--team",
        metavar="ID",
        type=int,
        help="for role team: the id of the team or center they act for (hotline1022 teams list)",
    )
    _password_options(p, generate_flag="--generate-password")
    p.set_defaults(func=_command(_create, "create"))

    p = actions.add_parser(
        "set-password",
        help="set a user's password (to sign in to the pages)",
        description="Set a user's password: asked twice on a terminal (one line from a "
        "pipe), or with --generate made for you and printed once on stdout. At least 10 "
        "characters. The user's web sessions end; their bearer tokens go on working.",
    )
    p.add_argument("name", metavar="NAME", help="the user's name (see: hotline1022 users list)")
    p.add_argument(
        "--generate", action="store_true", help="generate a strong password and print it once"
    )
    p.set_defaults(func=_command(_set_password, "set-password"))

    p = actions.add_parser("list", help="list users")
    p.set_defaults(func=_command(_list, "list"))

    p = actions.add_parser("token", help="issue another token for a user; prints it")
    p.add_argument("--name", required=True)
    p.add_argument("--label", default="", help="where the token is used, for your records")
    p.set_defaults(func=_command(_token, "token"))

    p = actions.add_parser("revoke", help="revoke every token of a user, or one")
    p.add_argument("--name", required=True)
    p.add_argument(
        "--token-id",
        type=int,
        metavar="ID",
        help="revoke only this token (see: hotline1022 users tokens); the others go on working",
    )
    p.set_defaults(func=_command(_revoke, "revoke"))

    p = actions.add_parser("tokens", help="list a user's tokens (never the tokens themselves)")
    p.add_argument("--name", required=True)
    p.set_defaults(func=_command(_tokens, "tokens"))

    p = actions.add_parser("deactivate", help="deactivate a user: every token stops at once")
    p.add_argument("--name", required=True)
    p.set_defaults(func=_command(_deactivate, "deactivate"))

    p = actions.add_parser("reactivate", help="reactivate a user")
    p.add_argument("--name", required=True)
    p.set_defaults(func=_command(_reactivate, "reactivate"))


def _password_options(p: argparse.ArgumentParser, *, generate_flag: str) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--password",
        action="store_true",
        help="give the user a password to sign in to the pages: asked twice on a terminal, "
        "one line read from stdin otherwise (never an argument: shell history keeps those)",
    )
    group.add_argument(
        generate_flag,
        dest="generate",
        action="store_true",
        help="give the user a generated password, printed once on stderr (stdout keeps "
        "only the token)",
    )


def _read_password(name: str) -> str:
    """A new password from the person at the terminal (asked twice), or one line of stdin
    when it is not a terminal; checked against the rules before anything is stored."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"New password for {name!r} (at least 10 characters): ")
        validate_password(first, name)
        if getpass.getpass("Again: ") != first:
            raise UsageError("the two passwords differ; nothing was changed")
        return first
    line = sys.stdin.readline()
    if not line:
        raise UsageError("no password on stdin (or run it on a terminal to be asked)")
    password = line.rstrip("\r\n")
    validate_password(password, name)
    return password


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _command(body: Command, action: str) -> Callable[[argparse.Namespace], int]:
    """Wrap ``body``: migrate, open the database, map errors to exit codes."""

    def run(args: argparse.Namespace) -> int:
        settings = Settings()
        url = settings.effective_database_url
        prog = f"hotline1022 users {action}"
        if not getattr(args, "verbose", False):
            # Alembic reports every revision at INFO; for a one-line command that is noise.
            logging.getLogger("alembic").setLevel(logging.WARNING)
        try:
            upgrade(url)
            asyncio.run(_with_database(body, args, url, settings))
        except (UsageError, ValueError) as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except (OperationalError, OSError) as exc:
            # The driver's message may quote the URL: neither is printed with a password.
            reason = str(exc).replace(url, mask_url(url))
            print(
                f"{prog}: error: cannot use the database {mask_url(url)}: {reason}", file=sys.stderr
            )
            return EXIT_FAILED
        return EXIT_OK

    return run


async def _with_database(
    body: Command, args: argparse.Namespace, url: str, settings: Settings
) -> None:
    db = Database(url)
    try:
        await body(args, db, settings)
    finally:
        await db.dispose()


async def _create(args: argparse.Namespace, db: Database, settings: Settings) -> None:
    password = None
    if args.generate:
        password = generate_password()
    elif args.password:
        # Asked before the user exists, so a typo leaves nothing half made.
        password = _read_password(args.name.strip())
    agent_id = None
    if args.agent:
        # The service creates the agents at start; do it here too, for a fresh state dir.
        await ensure_agents(db, settings.agent_count)
        async with db.session() as session:
            agent = await find_agent(session, args.agent)
        if agent is None:
            raise UsageError(f"no agent {args.agent!r} (give an endpoint like agent01 or an id)")
        agent_id = agent.id
    user, token = await create_user(
        db,
        name=args.name,
        role=args.role,
        agent_id=agent_id,
        team_id=args.team,
        lifetimes=token_lifetimes(settings.token_ttl_s),
    )
    if password is not None:
        await set_password(db, user.id, password)
    print(token)
    print(
        f"Created {user.role} user {user.name!r}. The token above is shown only once: "
        "store it now (send it as 'Authorization: Bearer <token>').",
        file=sys.stderr,
    )
    if args.generate:
        print(
            f"Password of {user.name!r} to sign in to the pages (shown only once): {password}",
            file=sys.stderr,
        )
    elif password is not None:
        print(f"{user.name!r} can sign in to the pages with that password.", file=sys.stderr)


async def _set_password(args: argparse.Namespace, db: Database, settings: Settings) -> None:
    user_id = await _user_id(db, args.name)
    password = generate_password() if args.generate else _read_password(args.name)
    await set_password(db, user_id, password)
    if args.generate:
        print(password)
        print("The password above is shown only once.", file=sys.stderr)
    print(f"password of {args.name!r} set; their web sessions have ended", file=sys.stderr)


async def _list(args: argparse.Namespace, db: Database, settings: Settings) -> None:
    rows = await list_users(db)
    if not rows:
        print("no users yet: hotline1022 users create --name NAME --role ROLE", file=sys.stderr)
        return
    print(f"{'NAME':24} {'ROLE':10} {'AGENT/TEAM':10} {'ACTIVE':6} TOKENS")
    for user, tokens in rows:
        acts_for = "-"
        if user.agent is not None:
            acts_for = user.agent.endpoint
        elif user.team_id is not None:
            acts_for = f"team:{user.team_id}"
        active = "yes" if user.active else "no"
        print(f"{user.name:24} {user.role:10} {acts_for:10} {active:6} {tokens}")


async def _user_id(db: Database, name: str) -> int:
    user = await get_user_by_name(db, name)
    if user is None:
        raise UsageError(f"no user named {name!r} (see: hotline1022 users list)")
    return user.id


async def _token(args: argparse.Namespace, db: Database, settings: Settings) -> None:
    token = await issue_token(
        db,
        await _user_id(db, args.name),
        label=args.label,
        lifetimes=token_lifetimes(settings.token_ttl_s),
    )
    print(token)
    print("The token above is shown only once: store it now.", file=sys.stderr)


async def _revoke(args: argparse.Namespace, db: Database, settings: Settings) -> None:
    user_id = await _user_id(db, args.name)
    if args.token_id is None:
        count = await revoke_tokens(db, user_id)
        print(f"revoked {count} token(s) of {args.name!r}")
        return
    if await revoke_token(db, user_id, args.token_id) is None:
        raise UsageError(
            f"{args.name!r} has no token {args.token_id} (see: hotline1022 users tokens)"
        )
    print(f"revoked token {args.token_id} of {args.name!r}")


async def _tokens(args: argparse.Namespace, db: Database, settings: Settings) -> None:
    rows = await list_tokens(db, await _user_id(db, args.name))
    print(f"{'ID':>6} {'ISSUED':20} {'EXPIRES':20} {'REVOKED':20} LABEL")
    for t in rows:
        print(
            f"{t.id:>6} {_when(t.created_at):20} {_when(t.expires_at):20} "
            f"{_when(t.revoked_at):20} {t.label}"
        )


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.strftime("%Y-%m-%d %H:%M UTC")


async def _deactivate(args: argparse.Namespace, db: Database, settings: Settings) -> None:
    await set_active(db, await _user_id(db, args.name), False)
    print(f"deactivated {args.name!r}: their tokens no longer work")


async def _reactivate(args: argparse.Namespace, db: Database, settings: Settings) -> None:
    await set_active(db, await _user_id(db, args.name), True)
    print(f"reactivated {args.name!r}: their unexpired, unrevoked tokens work again")
