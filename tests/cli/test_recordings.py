"""``hotline1022 recordings verify|purge|hold|release`` on both databases, real files."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cli.main import main
from recordings.service import RecordingParams, RecordingService
from store.db import Database
from store.migrate import upgrade_async
from store.models import Call, LegalHold, Recording
from store.types import utcnow
from tests.recordings.fakes import FakeRecordingPbx

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 2


async def _recorded(url: str, root: Path, days_ago: int = 0) -> list[Path]:
    """Two answered calls ``days_ago``, recorded and sealed; their files."""
    await upgrade_async(url)
    db = Database(url)
    pbx = FakeRecordingPbx(root)
    service = RecordingService(db, pbx, RecordingParams(root=root))
    await service.start()
    try:
        files = []
        for i in (1, 2):
            uid = f"1733461200.{i}"
            async with db.session() as s:
                s.add(
                    Call(
                        uniqueid=uid,
                        linkedid=uid,
                        caller_number="0912345678",
                        arrived_at=utcnow(),
                        category="general",
                        status="answered",
                    )
                )
                await s.commit()
            at = utcnow() - timedelta(days=days_ago, minutes=5 - i)
            leg = pbx.start_call(uid, at=at)
            pbx.write(leg, WAV + uid.encode())
            pbx.close(leg, at=at + timedelta(seconds=60))
            files.append(leg.path)
        await service.drain()
        return files
    finally:
        await service.close()
        await db.dispose()


async def _purged(url: str) -> list[str | None]:
    db = Database(url)
    try:
        async with db.session() as s:
            return list(await s.scalars(select(Recording.purge_reason).order_by(Recording.id)))
    finally:
        await db.dispose()


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The recordings directory of an Asterisk in a root (a chroot): the settings name it as
    Asterisk sees it, the files are under the root."""
    monkeypatch.setenv("HOTLINE_ASTERISK_ROOT", str(tmp_path / "asterisk-root"))
    monkeypatch.setenv("HOTLINE_RECORDINGS_DIR", "/srv/recordings")
    return tmp_path / "asterisk-root" / "srv" / "recordings"


def test_verify_says_ok_then_names_the_altered_file(
    database_url: str, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = asyncio.run(_recorded(database_url, root))
    assert main(["recordings", "verify", "--database-url", database_url]) == 0
    assert "chain ok: 2 recordings, 0 purged" in capsys.readouterr().out

    data = bytearray(files[1].read_bytes())
    data[-1] ^= 0x01
    files[1].write_bytes(bytes(data))
    assert main(["recordings", "verify", "--database-url", database_url]) == 1
    out = capsys.readouterr()
    assert "seq 2" in out.out and "SHA-256" in out.out and "chain NOT ok" in out.err
    assert main(["recordings", "verify", "--id", "1", "--database-url", database_url]) == 0
    assert main(["recordings", "verify", "--id", "99", "--database-url", database_url]) == 1
    assert "Không tìm thấy bản ghi âm" in capsys.readouterr().err


def test_purge_respects_a_hold_until_released(
    database_url: str, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A year and a month ago: "general" keeps 365 days.
    files = asyncio.run(_recorded(database_url, root, days_ago=400))
    url = ["--database-url", database_url]
    assert main(["recordings", "hold", "--call", "1", "--reason", "Khiếu nại", *url]) == 0
    assert "hold 1 on call 1: Khiếu nại" in capsys.readouterr().out

    assert main(["recordings", "purge", "--dry-run", *url]) == 0
    assert "would remove 1 recording(s)" in capsys.readouterr().out
    assert all(f.exists() for f in files)

    assert main(["recordings", "purge", *url]) == 0
    out = capsys.readouterr().out
    assert "removed 1 recording(s)" in out and "1 kept on hold" in out
    assert files[0].exists() and not files[1].exists()
    assert asyncio.run(_purged(database_url)) == [None, "expired general"]
    assert main(["recordings", "verify", *url]) == 0
    assert "chain ok: 2 recordings, 1 purged" in capsys.readouterr().out

    assert main(["recordings", "release", "1", *url]) == 0
    assert "hold 1 released by cli" in capsys.readouterr().out
    assert main(["recordings", "release", "1", *url]) == 1
    assert "đã được gỡ" in capsys.readouterr().err
    assert main(["recordings", "purge", *url]) == 0
    assert not files[0].exists()


def test_hold_needs_a_call_or_an_incident(
    database_url: str, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["recordings", "hold", "--reason", "x", "--database-url", database_url])
    assert exit_.value.code == 2
    asyncio.run(upgrade_async(database_url))
    assert (
        main(["recordings", "hold", "--call", "5", "--reason", "x", "--database-url", database_url])
        == 1
    )
    assert "Không có cuộc gọi số 5" in capsys.readouterr().err
    assert asyncio.run(_holds(database_url)) == 0


async def _holds(url: str) -> int:
    db = Database(url)
    try:
        async with db.session() as s:
            return len(list(await s.scalars(select(LegalHold))))
    finally:
        await db.dispose()
