"""The first sign-in users, so that a newcomer can open the pages after ``make run``.

On the first run (no user has a password yet) ``hotline1022 info`` creates an agent user
``agent1`` (agent01) and a ``supervisor`` user with generated passwords, and keeps those in
``<state_dir>/sign-in.json`` (readable by its owner only, like ``secrets.json``). Every run
of ``info`` then prints the sign-in URL with each name and its password, as long as the
password is still the generated one; once its owner set their own, it says so instead.

    created = await ensure_first_users(db, settings)   # idempotent
    for line in await sign_in_lines(db, settings): print(line)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from hotline1022.settings import Settings
from store.agents import find_agent
from store.db import Database
from store.models import Role
from store.seed import agent_endpoint, ensure_agents
from store.users import (
    create_user,
    generate_password,
    get_user_by_name,
    has_password,
    revoke_tokens,
    set_password,
    verify_password,
)

__all__ = ["FIRST_USERS", "FirstUser", "ensure_first_users", "sign_in_file", "sign_in_lines"]


@dataclass(frozen=True)
class FirstUser:
    name: str
    role: str
    agent: int | None = None  # the agent's number (1 → agent01) for role agent


FIRST_USERS = (
    FirstUser("agent1", Role.AGENT.value, agent=1),
    FirstUser("supervisor", Role.SUPERVISOR.value),
)


def sign_in_file(settings: Settings) -> Path:
    return settings.state_dir / "sign-in.json"


def sign_in_url(settings: Settings) -> str:
    return f"http://{settings.api_host}:{settings.api_port}/login"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only, never briefly by others."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


async def ensure_first_users(db: Database, settings: Settings) -> bool:
    """Create the first sign-in users with generated passwords unless some user has a
    password already; True if it did. The file is written before the passwords are set, so
    an interruption leaves no password that nobody knows (the next run starts again)."""
    if await has_password(db):
        return False
    passwords = {user.name: generate_password() for user in FIRST_USERS}
    _write_private(
        sign_in_file(settings),
        json.dumps(
            {
                "users": [
                    {"name": u.name, "role": u.role, "password": passwords[u.name]}
                    for u in FIRST_USERS
                ]
            },
            ensure_ascii=False,
            indent=2,
        )
        + "\n",
    )
    for first in FIRST_USERS:
        user = await get_user_by_name(db, first.name)
        if user is None:
            agent_id = None
            if first.agent is not None:
                await ensure_agents(db, max(settings.agent_count, first.agent))
                async with db.session() as session:
                    agent = await find_agent(session, agent_endpoint(first.agent))
                if agent is None:  # pragma: no cover - ensure_agents just created it
                    raise RuntimeError(f"no agent {agent_endpoint(first.agent)}")
                agent_id = agent.id
            user, _ = await create_user(db, name=first.name, role=first.role, agent_id=agent_id)
            # Nobody saw the first token create_user issued: they sign in with the password.
            await revoke_tokens(db, user.id)
        await set_password(db, user.id, passwords[first.name])
    return True


async def sign_in_lines(db: Database, settings: Settings) -> list[str]:
    """What ``info`` prints about signing in: the URL, then each first user and its
    password while it is unchanged."""
    lines = [f"Sign in to the pages: {sign_in_url(settings)}"]
    try:
        kept = json.loads(sign_in_file(settings).read_text(encoding="utf-8"))["users"]
    except (OSError, ValueError, KeyError, TypeError):
        kept = []
    for entry in kept:
        name, role, password = str(entry["name"]), str(entry["role"]), str(entry["password"])
        who = f"  user {name:12s} {'(' + role + ')':13s}"
        if await verify_password(db, name, password) is not None:
            lines.append(f"{who} password {password}")
        else:
            lines.append(f"{who} password changed since (not shown), or the user was deactivated")
    lines.append(
        "Passwords: hotline1022 users set-password NAME; "
        "new users: hotline1022 users create … --password"
    )
    return lines
