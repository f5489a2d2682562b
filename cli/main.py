"""The ``hotline1022`` command: serve, asterisk, db, prompts, users, info, simulate, stats,
places, teams."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from hotline1022 import __version__
from hotline1022.settings import Settings

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hotline1022.service import build_app, end_streams_on_exit

    settings = Settings()
    if args.host:
        settings.api_host = args.host
    if args.port:
        settings.api_port = args.port
    for secret, what, env in (
        (settings.effective_ami_secret, "AMI secret", "HOTLINE_AMI_SECRET"),
        (settings.effective_agi_secret, "FastAGI secret", "HOTLINE_AGI_SECRET"),
        (settings.effective_dispatch_secret, "dispatch secret", "HOTLINE_DISPATCH_SECRET"),
    ):
        if not secret:
            print(
                f"No {what}: run 'make asterisk' first (it writes {settings.secrets_path}) "
                f"or set {env}.",
                file=sys.stderr,
            )
            return 2
    from ivr.menu_file import MenuError, load_menu

    try:
        load_menu(settings.menu_file)
    except MenuError as exc:
        print(f"The menu file is invalid; not starting.\n{exc}", file=sys.stderr)
        return 2
    refused = asyncio.run(_ami_refuses(settings))
    if refused:
        print(refused, file=sys.stderr)
        return 2
    app, hotline = build_app(settings)
    config = uvicorn.Config(
        app, host=settings.api_host, port=settings.api_port, lifespan="on", log_level="info"
    )
    server = uvicorn.Server(config)
    end_streams_on_exit(server, hotline.feed.hub)
    asyncio.run(server.serve())
    # uvicorn returns normally when the lifespan failed to start (e.g. a wrong AMI secret).
    return 0 if server.started else 1


async def _ami_refuses(settings: Settings) -> str | None:
    """Why Asterisk refuses the AMI login, if it does: checked before uvicorn starts, so a
    wrong secret stops ``serve`` with one clear line, not a traceback. An Asterisk that is
    not up yet is no reason to stop: the service keeps trying to reach it."""
    from pbx.ami import AmiLink
    from pbx.errors import AmiAuthError, AmiNotConnected

    link = AmiLink(
        host=settings.ami_host,
        port=settings.ami_port,
        username=settings.ami_username,
        secret=settings.effective_ami_secret,
    )
    try:
        await link.start(wait=True)
    except AmiAuthError as exc:
        return str(exc)
    except AmiNotConnected:
        return None
    finally:
        await link.close()
    return None


def _asterisk(args: argparse.Namespace) -> int:
    from provision.asterisk import Asterisk, AsteriskError
    from provision.instance import provision

    settings = Settings()
    instance = args.instance or settings.asterisk_instance
    try:
        if args.action in ("start", "provision"):
            ast = provision(settings, instance, start=args.action == "start")
            print(f"Asterisk instance '{instance}': {ast.version()}")
            if args.action == "start":
                print(f"  AMI 127.0.0.1:{settings.ami_port}, SIP udp 127.0.0.1:{settings.sip_port}")
        elif args.action == "stop":
            Asterisk.locate(instance, build=False).stop()
            print(f"Asterisk instance '{instance}' stopped")
        elif args.action == "status":
            ast = Asterisk.locate(instance, build=False)
            if not ast.running():
                print(f"Asterisk instance '{instance}' is not running")
                return 1
            print(ast.cli("core show uptime").strip())
            print(ast.cli("queue show").strip())
    except AsteriskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _db(args: argparse.Namespace) -> int:
    from store.migrate import upgrade

    settings = Settings()
    upgrade(settings.effective_database_url)
    print(f"database at head: {settings.database_url_for_people}")
    return 0


def _prompts(args: argparse.Namespace) -> int:
    from ivr.menu_file import MenuError, load_menu
    from ivr.prompts import RECORDED_PROMPTS, PromptError, generate

    settings = Settings()
    try:
        menu = load_menu(settings.menu_file)
        written = generate(
            settings.state_dir / "prompts", menu.prompts, RECORDED_PROMPTS, force=args.force
        )
    except MenuError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except PromptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(written)} prompt file(s) written to {settings.state_dir / 'prompts'}")
    return 0


def _info(args: argparse.Namespace) -> int:
    settings = Settings()
    secrets = settings.secrets
    if not secrets:
        print("Not provisioned yet: run 'make asterisk' (or 'make run').", file=sys.stderr)
        return 1
    print(
        f"SIP server (UDP): 127.0.0.1:{settings.sip_port}   API: "
        f"http://{settings.api_host}:{settings.api_port}/docs"
    )
    print(f"Database: {settings.database_url_for_people}")

    # SIP passwords only on request: terminal output ends up in scrollback, CI logs and
    # screenshots. They live in the secrets file (readable by its owner only).
    def secret(pw: str) -> str:
        return pw if args.show_passwords else "********"

    print("Agents' softphones (register one; *11 on it joins the queues, *12 leaves):")
    for ep, pw in sorted(secrets.get("agents", {}).items())[: args.limit]:
        print(f"  user {ep:10s} password {secret(pw)}")
    print("Citizen test phones (register one and dial 1022):")
    for ep, pw in sorted(secrets.get("phones", {}).items()):
        print(f"  user {ep:10s} password {secret(pw)}")
    supervisors: dict[str, str] = secrets.get("supervisors", {})
    if supervisors:
        print("Supervisors' phones (the wallboard's Nghe / Nhắc / Chen ring one into a call):")
        for ep, pw in sorted(supervisors.items()):
            print(f"  user {ep:10s} password {secret(pw)}")
    teams: dict[str, str] = secrets.get("teams", {})
    if teams:
        # 111 endpoints for Bình Dương: one example, the rest via `hotline1022 teams list`.
        example = next((ep for ep in sorted(teams) if ep.startswith("team-c")), min(teams))
        print(f"Team phones ({len(teams)}, one per team; see 'hotline1022 teams list'), e.g.:")
        print(f"  user {example:10s} password {secret(teams[example])}")
    if not args.show_passwords:
        print(f"SIP passwords: hotline1022 info --show-passwords, or {settings.secrets_path}")
    for line in _sign_in(settings, verbose=getattr(args, "verbose", False)):
        print(line)
    print(
        "Start here: register a softphone as agent01, sign in as agent1 (agent01's console), "
        "press 'Vào hàng đợi', then dial 1022 from phone01: the call pops on the page."
    )
    print(
        "Supervisors: sign in as supervisor in another browser: the wallboard shows the call "
        "waiting; the incident board, reports (CSV/XLSX) and 'Quản trị' are in its top bar."
    )
    print(
        "Scripts: a bearer token from 'hotline1022 users create --name NAME --role agent "
        "--agent agent01' (Authorization: Bearer TOKEN)"
    )
    return 0


def _sign_in(settings: Settings, *, verbose: bool) -> list[str]:
    """The sign-in part of ``info``; creates the first sign-in users on the first run."""
    from sqlalchemy.exc import OperationalError

    from cli.signin import ensure_first_users, sign_in_lines
    from hotline1022.settings import mask_url
    from store.db import Database
    from store.migrate import upgrade

    url = settings.effective_database_url
    if not verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)

    async def lines() -> list[str]:
        db = Database(url)
        try:
            await ensure_first_users(db, settings)
            return await sign_in_lines(db, settings)
        finally:
            await db.dispose()

    try:
        upgrade(url)
        return asyncio.run(lines())
    except (OperationalError, OSError) as exc:
        # The driver's words may quote the URL: only the error's kind is shown.
        return [f"Sign in: the database {mask_url(url)} cannot be used ({type(exc).__name__})"]


def build_parser() -> argparse.ArgumentParser:
    from cli import ivr, places, recordings, simulate, staffing, stats, users

    parser = argparse.ArgumentParser(prog="hotline1022", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the hotline service (API, AMI link, FastAGI)")
    p.add_argument("--host", default="")
    p.add_argument("--port", type=int, default=0)
    p.set_defaults(func=_serve)

    p = sub.add_parser("asterisk", help="provision, start, stop an Asterisk instance")
    p.add_argument("action", choices=["start", "stop", "status", "provision"])
    p.add_argument("--instance", default="", help="instance name (default: main)")
    p.set_defaults(func=_asterisk)

    p = sub.add_parser("db", help="database schema")
    p.add_argument("action", choices=["upgrade"])
    p.set_defaults(func=_db)

    p = sub.add_parser("prompts", help="generate the Vietnamese prompt sound files")
    p.add_argument("--force", action="store_true", help="regenerate existing files")
    p.set_defaults(func=_prompts)

    p = sub.add_parser(
        "info",
        help="how to register softphones, reach the API and sign in",
        description="How to register softphones, reach the API and sign in to the pages. "
        "On the first run (no user has a password yet) it creates the sign-in users agent1 "
        "(agent01) and supervisor with generated passwords, kept in <state dir>/sign-in.json "
        "(owner-only), and prints them for as long as they are unchanged.",
    )
    p.add_argument("--limit", type=int, default=5, help="agents to list")
    p.add_argument(
        "--show-passwords", action="store_true", help="print the SIP passwords (hidden by default)"
    )
    p.set_defaults(func=_info)

    users.add_parser(sub)
    ivr.add_parser(sub)
    staffing.add_parser(sub)
    stats.add_parser(sub)
    places.add_parser(sub)
    recordings.add_parser(sub)

    simulate.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
