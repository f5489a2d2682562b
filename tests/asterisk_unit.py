"""An Asterisk instance named "unit" rendered into a temporary root, for the tests that read
the configuration the provisioning writes (no Asterisk runs)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from provision.asterisk import Asterisk, AsteriskConfig

UNIT_ETC = "var/lib/hotline1022/unit/etc"


def unit_asterisk(tmp_path: Path) -> Asterisk:
    """The instance "unit" under ``tmp_path/root``, with the modules folder it looks for."""
    root = tmp_path / "root"
    (root / "usr/lib/x86_64-linux-gnu/asterisk/modules").mkdir(parents=True, exist_ok=True)
    return Asterisk("unit", root)


def unit_config(secrets: Mapping[str, Any], **extra: Any) -> AsteriskConfig:
    """The configuration every such test shares (fixed ports, the secrets' AMI and AGI
    passwords, no agents nor phones unless given), with ``extra`` fields on top."""
    fields: dict[str, Any] = {
        "ami_port": 15038,
        "ami_username": "hotline",
        "ami_secret": str(secrets["ami_secret"]),
        "sip_port": 15060,
        "agi_host": "127.0.0.1",
        "agi_port": 14573,
        "agi_secret": str(secrets["agi_secret"]),
        "agents": [],
        "phones": [],
    }
    fields.update(extra)
    return AsteriskConfig(**fields)
