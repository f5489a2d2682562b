#!/usr/bin/env python3
"""Fetch the pages' third-party files from the npm registry at pinned versions (make vendor).

    python scripts/vendor.py           # download, verify, write web/static/vendor/
    python scripts/vendor.py --check   # no network: the committed files match CHECKSUMS
    python scripts/vendor.py --update  # after changing PINNED: record the new checksums

Each package's tarball is checked against the registry's own integrity (sha512) and every
file taken from it against ``web/static/vendor/CHECKSUMS`` (``sha256sum -c`` format), so a
registry or a mirror that serves other bytes is refused. The files are committed: ``make
run`` and CI never need the network for them.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
VENDOR = Path(__file__).resolve().parent.parent / "web" / "static" / "vendor"

# package -> (version, files taken from the tarball's package/ directory)
PINNED: dict[str, tuple[str, tuple[str, ...]]] = {
    "swagger-ui-dist": (
        "5.32.0",
        ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE"),
    ),
}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_checksums() -> dict[str, str]:
    sums: dict[str, str] = {}
    if (VENDOR / "CHECKSUMS").exists():
        for line in (VENDOR / "CHECKSUMS").read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                digest, name = line.split(maxsplit=1)
                sums[name.strip()] = digest
    return sums


def _write_checksums(sums: dict[str, str]) -> None:
    lines = ["# sha256 of every vendored file; packages and versions: scripts/vendor.py PINNED"]
    for package, (version, _files) in sorted(PINNED.items()):
        lines.append(f"# {package}@{version}")
    lines += [f"{digest}  {name}" for name, digest in sorted(sums.items())]
    (VENDOR / "CHECKSUMS").write_text("\n".join(lines) + "\n")


def _fetch(package: str, version: str) -> bytes:
    with urllib.request.urlopen(f"{REGISTRY}/{package}/{version}", timeout=60) as answer:
        meta = json.load(answer)
    dist = meta["dist"]
    with urllib.request.urlopen(dist["tarball"], timeout=300) as answer:
        tarball: bytes = answer.read()
    algorithm, _, expected = dist["integrity"].partition("-")
    if algorithm != "sha512":
        raise SystemExit(f"{package}@{version}: unexpected integrity {dist['integrity']!r}")
    actual = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{package}@{version}: the tarball does not match the registry's sha512")
    return tarball


def check() -> int:
    sums = _read_checksums()
    wanted = {f"{p}/{f}" for p, (_v, files) in PINNED.items() for f in files}
    bad = sorted(wanted - sums.keys())
    for name in sorted(wanted & sums.keys()):
        path = VENDOR / name
        if not path.exists() or _sha256(path.read_bytes()) != sums[name]:
            bad.append(name)
    for name in bad:
        print(f"vendor: {name} is missing or does not match CHECKSUMS", file=sys.stderr)
    return 1 if bad else 0


def fetch(update: bool) -> int:
    sums = _read_checksums()
    new: dict[str, str] = {}
    for package, (version, files) in PINNED.items():
        print(f"vendor: {package}@{version} from {REGISTRY}")
        with tarfile.open(fileobj=io.BytesIO(_fetch(package, version)), mode="r:gz") as tar:
            for name in files:
                member = tar.extractfile(f"package/{name}")
                if member is None:
                    raise SystemExit(f"{package}@{version} has no {name}")
                data = member.read()
                key = f"{package}/{name}"
                if not update and sums.get(key) != _sha256(data):
                    raise SystemExit(f"vendor: {key} does not match CHECKSUMS (--update to accept)")
                new[key] = _sha256(data)
                target = VENDOR / key
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    if update:
        _write_checksums(new)
    return check()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="verify the committed files only")
    mode.add_argument("--update", action="store_true", help="record new checksums")
    parser.add_argument("--dir", type=Path, help="the vendor directory (tests check a copy)")
    args = parser.parse_args()
    if args.dir is not None:
        global VENDOR
        VENDOR = args.dir
    return check() if args.check else fetch(update=args.update)


if __name__ == "__main__":
    sys.exit(main())
