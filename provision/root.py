"""The Debian sid root that holds Asterisk when the machine has none of its own.

Built once with ``mmdebstrap`` (about half a minute) from the mirror this machine's apt uses,
cached outside the work tree (``pbx.paths.DEFAULT_ROOT`` or ``HOTLINE_ASTERISK_ROOT``) and
run with ``chroot`` by ``provision.asterisk``.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

from provision.errors import AsteriskError

__all__ = ["ROOT_PACKAGES", "build_root"]

log = logging.getLogger(__name__)

ROOT_PACKAGES = ("asterisk", "asterisk-modules")


def _host_mirror() -> str:
    """The Debian mirror this machine's apt uses, so the root comes from the same place."""
    for src in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        m = re.search(r"^URIs:\s*(\S+)", src.read_text(), re.M)
        if m and "security" not in m.group(1):
            return m.group(1)
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        m = re.search(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", legacy.read_text(), re.M)
        if m:
            return m.group(1)
    raise AsteriskError("no Debian mirror found in /etc/apt sources to build the Asterisk root")


def build_root(root: Path) -> None:
    """Build the Debian sid root with Asterisk via mmdebstrap (about half a minute)."""
    if shutil.which("mmdebstrap") is None:
        raise AsteriskError("mmdebstrap is not installed: apt-get install mmdebstrap")
    tmp = root.with_name(root.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        "mmdebstrap",
        "--variant=apt",
        # sid's Release file on a mirror can be older than its Valid-Until.
        '--aptopt=Acquire::Check-Valid-Until "false"',
        "--include=" + ",".join(ROOT_PACKAGES),
        "sid",
        str(tmp),
        _host_mirror(),
    ]
    log.info("building the Asterisk root: %s", " ".join(argv))
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise AsteriskError(f"mmdebstrap failed:\n{proc.stderr[-4000:]}")
    tmp.replace(root)
