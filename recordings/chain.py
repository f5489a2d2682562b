"""The recordings' digest chain (pure): each sealed recording's SHA-256 is linked to the
previous recording's chain value, so removing, reordering or altering one is detectable.

    chain_0 = "0" * 64                        # genesis
    chain_n = SHA-256(chain_{n-1} ‖ canonical(rec_n))

``canonical`` covers the facts that identify a recording (seq, kind, ref, name, start, end,
size, file digest). A purged recording keeps its row, its ``sha256`` and its ``chain``: the
links still verify though its file is gone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "GENESIS",
    "Problem",
    "SealedFacts",
    "VerifyReport",
    "canonical",
    "link",
    "verify",
]

GENESIS = "0" * 64


@dataclass(frozen=True)
class SealedFacts:
    """What the chain covers of one sealed recording, plus what verify needs to check it."""

    recording_id: int
    seq: int
    kind: str
    ref: str
    name: str
    started_at: datetime
    ended_at: datetime
    size_bytes: int
    sha256: str
    prev_chain: str | None = None
    chain: str | None = None
    purged: bool = False


@dataclass(frozen=True)
class Problem:
    """Something that does not verify: ``what`` says it in Vietnamese."""

    seq: int | None
    recording_id: int | None
    what: str


@dataclass(frozen=True)
class VerifyReport:
    """``ok`` when no problem; ``checked`` rows looked at, of which ``purged``."""

    ok: bool
    checked: int
    purged: int
    problems: list[Problem] = field(default_factory=list)

    def model_dump(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "purged": self.purged,
            "problems": [
                {"seq": p.seq, "recording_id": p.recording_id, "what": p.what}
                for p in self.problems
            ],
        }


def _utc(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(rec: SealedFacts) -> bytes:
    """The bytes the chain hashes for ``rec``: its facts, one per line, in a fixed order.

    Times are UTC with microseconds and a ``Z``, so SQLite and PostgreSQL give the same bytes.
    """
    lines = (
        "hotline1022-recording-v1",
        str(rec.seq),
        rec.kind,
        rec.ref,
        rec.name,
        _utc(rec.started_at),
        _utc(rec.ended_at),
        str(rec.size_bytes),
        rec.sha256.lower(),
    )
    return "\n".join(lines).encode("utf-8")


def link(prev_chain: str, rec: SealedFacts) -> str:
    """SHA-256 (hex) of ``prev_chain`` (hex text) followed by ``canonical(rec)``."""
    return hashlib.sha256(prev_chain.encode("ascii") + canonical(rec)).hexdigest()


def verify(
    rows: Iterable[SealedFacts],
    file_digest: Callable[[SealedFacts], str | None],
    *,
    start_prev: str = GENESIS,
    first_seq: int | None = None,
) -> VerifyReport:
    """Check ``rows`` (in seq order, from the first unless ``start_prev`` is given):
    seq without gaps, each chain links the previous, each kept file's SHA-256
    (``file_digest``: None when the file is missing) equals the stored one.

    ``first_seq``: the seq the first row must have (from the genesis: 1, so deleting the
    first row is a gap too; None: whatever it is). A long chain is checked in parts, each
    from the last stored chain and seq of the part before."""
    problems: list[Problem] = []
    checked = purged = 0
    prev = start_prev
    expected_seq = first_seq if first_seq is not None or start_prev != GENESIS else 1
    for rec in rows:
        checked += 1
        if expected_seq is not None and rec.seq != expected_seq:
            if rec.seq > expected_seq:
                missing = (
                    f"số thứ tự {expected_seq}"
                    if rec.seq == expected_seq + 1
                    else f"số thứ tự {expected_seq}–{rec.seq - 1}"
                )
                problems.append(Problem(rec.seq, rec.recording_id, f"thiếu bản ghi: {missing}"))
            else:
                problems.append(
                    Problem(rec.seq, rec.recording_id, f"số thứ tự {rec.seq} lặp hoặc lùi")
                )
        expected_seq = rec.seq + 1
        if rec.prev_chain is not None and rec.prev_chain != prev:
            problems.append(
                Problem(rec.seq, rec.recording_id, "không nối với bản ghi trước (prev_chain)")
            )
        want = link(prev, rec)
        if rec.chain != want:
            problems.append(
                Problem(
                    rec.seq,
                    rec.recording_id,
                    "mã chuỗi không khớp: thông tin của bản ghi đã bị sửa",
                )
            )
        # The next link starts from what is stored: one altered row is named once, not
        # every row after it.
        prev = rec.chain or want
        if rec.purged:
            purged += 1
            continue
        digest = file_digest(rec)
        if digest is None:
            problems.append(Problem(rec.seq, rec.recording_id, f"mất tệp {rec.name}"))
        elif digest.lower() != rec.sha256.lower():
            problems.append(
                Problem(rec.seq, rec.recording_id, f"tệp {rec.name} đã bị thay đổi (SHA-256 khác)")
            )
    return VerifyReport(ok=not problems, checked=checked, purged=purged, problems=problems)
