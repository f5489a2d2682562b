"""``hotline1022 ivr …``: the IVR menu files.

    hotline1022 ivr check ivr/menus/default.yaml other.yaml

``check`` prints every fault as ``FILE:LINE: message`` (the form editors jump to), then one
summary line per file; it exits 1 when any file has a fault. Queue nodes are checked against
the hotline's own queues and categories, the ones the service runs with.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ivr.menu_file import MenuError, load_menu
from store.categories import CATEGORIES

__all__ = ["add_parser"]

EXIT_OK = 0
EXIT_FAULTS = 1  # a menu file has a fault
EXIT_USAGE = 2  # bad input, as argparse itself uses

QUEUES = tuple(c.queue for c in CATEGORIES)
CATEGORY_KEYS = tuple(c.key for c in CATEGORIES)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``ivr`` and its actions; each sets ``func(args) -> exit code``."""
    ivr = subparsers.add_parser(
        "ivr",
        help="check the IVR menu files",
        description="Check the IVR menu files (YAML) before the service takes them.",
    )
    ivr.set_defaults(func=lambda _args: _usage(ivr))
    actions = ivr.add_subparsers(dest="ivr_action", metavar="ACTION")

    p = actions.add_parser("check", help="list every fault of menu files, with its line")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.set_defaults(func=_check)

    p = actions.add_parser(
        "reload",
        help="make the running service take its menu file again (no restart, no call dropped)",
    )
    p.add_argument(
        "--token",
        default=os.environ.get("HOTLINE_TOKEN", ""),
        help="a supervisor's or admin's API token (default: $HOTLINE_TOKEN)",
    )
    p.set_defaults(func=_reload)


def _reload(args: argparse.Namespace) -> int:
    """POST /ivr/reload to the running service: it checks the file, makes new prompts and
    swaps the menu, or keeps the one in force and lists the faults."""
    import httpx

    from hotline1022.settings import Settings

    if not args.token:
        print("error: give a supervisor's API token with --token or HOTLINE_TOKEN", file=sys.stderr)
        return EXIT_USAGE
    settings = Settings()
    url = f"http://{settings.api_host}:{settings.api_port}/ivr/reload"
    try:
        resp = httpx.post(url, headers={"Authorization": f"Bearer {args.token}"}, timeout=60)
    except httpx.HTTPError as exc:
        print(
            f"error: the service at {url} did not answer ({exc}); is it running?", file=sys.stderr
        )
        return 1
    if resp.status_code == 200:
        body = resp.json()
        print(
            f"reloaded {body['menu']}: {body['nodes']} nodes, "
            f"{body['prompts_made']} prompt file(s) made"
        )
        return 0
    detail = (
        resp.json().get("detail")
        if resp.headers.get("content-type", "").startswith("application/json")
        else resp.text
    )
    if isinstance(detail, dict):
        print(detail.get("message", ""), file=sys.stderr)
        for fault in detail.get("faults", []):
            print(f"{settings.menu_file}:{fault['line']}: {fault['message']}", file=sys.stderr)
    else:
        print(f"error {resp.status_code}: {detail}", file=sys.stderr)
    return 1


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _check(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for path in args.files:
        try:
            menu = load_menu(path, queues=QUEUES, categories=CATEGORY_KEYS)
        except MenuError as exc:
            print(exc)
            print(f"{path}: {len(exc.faults)} fault(s)")
            status = EXIT_FAULTS
        else:
            print(f"{path}: ok ({len(menu.nodes)} nodes, {len(menu.prompts)} prompts)")
    return status
