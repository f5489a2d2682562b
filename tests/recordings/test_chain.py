"""The digest chain alone: links, and what verify names."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from recordings.chain import GENESIS, SealedFacts, canonical, link, verify

T0 = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


def sealed_chain(n: int) -> tuple[list[SealedFacts], dict[int, bytes]]:
    """``n`` sealed recordings, chained, and their files' bytes by recording id."""
    rows: list[SealedFacts] = []
    files: dict[int, bytes] = {}
    prev = GENESIS
    for i in range(1, n + 1):
        data = f"audio of call {i}".encode() * 10
        files[i] = data
        rec = SealedFacts(
            recording_id=i,
            seq=i,
            kind="call",
            ref=f"1733461200.{i}",
            name=f"calls/2026/12/06/1733461200.{i}.wav",
            started_at=T0 + timedelta(minutes=i),
            ended_at=T0 + timedelta(minutes=i, seconds=90),
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            prev_chain=prev,
        )
        rec = replace(rec, chain=link(prev, rec))
        prev = rec.chain or ""
        rows.append(rec)
    return rows, files


def digest_of(files: dict[int, bytes]):  # type: ignore[no-untyped-def]
    def digest(rec: SealedFacts) -> str | None:
        data = files.get(rec.recording_id)
        return None if data is None else hashlib.sha256(data).hexdigest()

    return digest


def test_a_clean_chain_verifies() -> None:
    rows, files = sealed_chain(5)
    report = verify(rows, digest_of(files))
    assert report.ok and report.checked == 5 and report.purged == 0 and report.problems == []


def test_the_link_is_sha256_of_the_previous_chain_and_the_canonical_bytes() -> None:
    rows, _ = sealed_chain(2)
    want = hashlib.sha256(rows[0].chain.encode() + canonical(rows[1])).hexdigest()  # type: ignore[union-attr]
    assert rows[1].chain == want
    assert rows[0].prev_chain == "0" * 64


def test_canonical_bytes_do_not_depend_on_the_time_zone_given() -> None:
    rows, _ = sealed_chain(1)
    hanoi = timezone(timedelta(hours=7))
    moved = replace(rows[0], started_at=rows[0].started_at.astimezone(hanoi))
    assert canonical(moved) == canonical(rows[0])


def test_an_altered_byte_in_a_file_is_named() -> None:
    rows, files = sealed_chain(4)
    data = bytearray(files[3])
    data[7] ^= 0x01
    files[3] = bytes(data)
    report = verify(rows, digest_of(files))
    assert not report.ok
    assert [(p.seq, p.recording_id) for p in report.problems] == [(3, 3)]
    assert "SHA-256" in report.problems[0].what


def test_a_deleted_row_is_a_gap_and_a_broken_link() -> None:
    rows, files = sealed_chain(5)
    del rows[2]
    report = verify(rows, digest_of(files))
    assert not report.ok
    whats = [p.what for p in report.problems]
    assert any("thiếu bản ghi: số thứ tự 3" in w for w in whats)
    assert all(p.seq == 4 for p in report.problems)


def test_deleting_the_first_row_is_a_gap_too() -> None:
    rows, files = sealed_chain(3)
    report = verify(rows[1:], digest_of(files))
    assert not report.ok
    assert "số thứ tự 1" in report.problems[0].what


def test_an_altered_row_fact_breaks_its_link_only() -> None:
    rows, files = sealed_chain(4)
    rows[1] = replace(rows[1], ref="forged")
    report = verify(rows, digest_of(files))
    assert [p.seq for p in report.problems] == [2]
    assert "mã chuỗi không khớp" in report.problems[0].what


def test_a_missing_file_is_named_unless_purged() -> None:
    rows, files = sealed_chain(3)
    del files[2]
    report = verify(rows, digest_of(files))
    assert [p.seq for p in report.problems] == [2]
    assert "mất tệp" in report.problems[0].what
    rows[1] = replace(rows[1], purged=True)
    report = verify(rows, digest_of(files))
    assert report.ok and report.purged == 1 and report.checked == 3


def test_one_row_verifies_from_the_previous_chain() -> None:
    rows, files = sealed_chain(3)
    assert verify([rows[2]], digest_of(files), start_prev=rows[1].chain or "").ok
    assert not verify([rows[2]], digest_of(files), start_prev=rows[0].chain or "").ok
