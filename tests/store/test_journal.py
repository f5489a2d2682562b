"""The append-only journal (``store.journal``)."""

from __future__ import annotations

import stat
from pathlib import Path

from store.journal import Journal


def test_appends_durably_with_private_modes(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal" / "main" / "calls.jsonl", max_bytes=10_000)
    assert j.read() == []
    assert j.append([{"a": 1}, {"b": "Hằng"}])
    assert j.append([{"c": 3}])
    assert j.read() == [{"a": 1}, {"b": "Hằng"}, {"c": 3}]
    assert stat.S_IMODE(j.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(j.path.parent.stat().st_mode) == 0o700


def test_bounded_a_batch_that_does_not_fit_is_refused_whole(tmp_path: Path) -> None:
    j = Journal(tmp_path / "calls.jsonl", max_bytes=40)
    assert j.append([{"n": "x" * 10}])
    assert not j.append([{"n": "y" * 10}, {"n": "z" * 10}])
    assert j.read() == [{"n": "x" * 10}] and j.refused == 2
    assert j.size <= 40


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    j = Journal(tmp_path / "calls.jsonl", max_bytes=10_000)
    j.append([{"a": 1}])
    with j.path.open("a") as f:
        f.write('{"b": ')  # killed mid-write
    assert j.read() == [{"a": 1}]


def test_rewrite_keeps_only_what_is_given(tmp_path: Path) -> None:
    j = Journal(tmp_path / "calls.jsonl", max_bytes=10_000)
    j.append([{"a": 1}, {"b": 2}])
    j.rewrite([{"b": 2}])
    assert j.read() == [{"b": 2}]
    assert stat.S_IMODE(j.path.stat().st_mode) == 0o600
    j.rewrite([])
    assert not j.path.exists() and j.read() == []
