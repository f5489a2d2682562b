"""The generated secrets of a hotline: the AMI secret, the FastAGI secret (the dialplan's
proofs, ``pbx.agi_auth``), the dispatch secret (signed orders, ``dispatch.phone``), the
conference nodes' link password (``node_link``) and every SIP password.

Kept in ``<state_dir>/secrets.json`` (mode 0600, outside git), generated once and kept, so a
registered softphone keeps working across provisionings. ``hotline1022.settings`` reads the
same file for the AMI, FastAGI and dispatch secrets.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from store.seed import agent_endpoint

__all__ = [
    "PHONE_COUNT",
    "ensure_secrets",
    "supervisor_endpoint",
    "supervisor_password",
    "team_phone_password",
]

# Citizen test phones (phone01 …) a newcomer registers a softphone as, to dial 1022.
PHONE_COUNT = 5


def supervisor_endpoint(n: int) -> str:
    """The PJSIP endpoint of the ``n``-th supervisor's phone (1-based): ``sup01``."""
    return f"sup{n:02d}"


def ensure_secrets(
    state_dir: Path,
    agent_count: int,
    team_endpoints: Iterable[str] = (),
    supervisor_count: int = 0,
) -> dict[str, Any]:
    """Load ``secrets.json`` from the state dir, generating what is missing (mode 0600).

    Passwords are generated once and kept: a registered softphone keeps working across
    provisionings. The team phones' are under ``teams`` (endpoint -> password), the
    supervisors' phones' (``sup01``…, issue 15: listening in) under ``supervisors``.
    """
    path = state_dir / "secrets.json"
    data: dict[str, Any] = {}
    if path.exists():
        data = json.loads(path.read_text())
    changed = False
    # node_link: the SIP password of the "hotline-link" endpoint that joins one node's
    # conference bridge to the root's (every node provisioned from this state dir shares it).
    for name in ("ami_secret", "agi_secret", "dispatch_secret", "node_link"):
        if not data.get(name):
            data[name] = secrets.token_urlsafe(32 if name != "ami_secret" else 24)
            changed = True
    agents: dict[str, str] = data.setdefault("agents", {})
    for i in range(1, agent_count + 1):
        ep = agent_endpoint(i)
        if ep not in agents:
            agents[ep] = secrets.token_urlsafe(12)
            changed = True
    phones: dict[str, str] = data.setdefault("phones", {})
    for i in range(1, PHONE_COUNT + 1):
        ep = f"phone{i:02d}"
        if ep not in phones:
            phones[ep] = secrets.token_urlsafe(12)
            changed = True
    teams: dict[str, str] = data.setdefault("teams", {})
    for ep in team_endpoints:
        if ep not in teams:
            teams[ep] = secrets.token_urlsafe(12)
            changed = True
    supervisors: dict[str, str] = data.setdefault("supervisors", {})
    for i in range(1, supervisor_count + 1):
        ep = supervisor_endpoint(i)
        if ep not in supervisors:
            supervisors[ep] = secrets.token_urlsafe(12)
            changed = True
    if changed:
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.chmod(0o600)
        tmp.replace(path)
    return data


def team_phone_password(secrets_data: Mapping[str, Any], endpoint: str) -> str:
    """The SIP password of a team phone's endpoint (``team-c25741``) from ``secrets.json``'s
    data (``Settings().secrets``), for registering a softphone or a SIPp phone as it."""
    try:
        return str(secrets_data["teams"][endpoint])
    except KeyError:
        raise KeyError(
            f"no team phone {endpoint!r} in the secrets: provision Asterisk for the province "
            "(hotline1022 asterisk provision) or check the name (hotline1022 teams list)"
        ) from None


def supervisor_password(secrets_data: Mapping[str, Any], endpoint: str) -> str:
    """The SIP password of a supervisor's phone (``sup01``) from ``secrets.json``'s data, for
    registering a softphone or a SIPp phone as it."""
    try:
        return str(secrets_data["supervisors"][endpoint])
    except KeyError:
        raise KeyError(
            f"no supervisor phone {endpoint!r} in the secrets: provision Asterisk "
            "(hotline1022 asterisk provision) with supervisor_phone_count covering it"
        ) from None
