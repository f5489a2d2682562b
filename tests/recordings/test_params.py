"""The recordings' settings: where the files are, the days per class."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline1022.settings import Settings
from recordings.service import RecordingParams


def test_the_recordings_directory_is_under_asterisks_root(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOTLINE_ASTERISK_ROOT", str(tmp_path))
    monkeypatch.setenv("HOTLINE_ASTERISK_INSTANCE", "node2")
    params = RecordingParams.from_settings(Settings())
    assert params.root == tmp_path / "var/lib/hotline1022/node2/spool/recordings"
    assert params.instance == "node2" and params.retention_days["incident"] == 3650
    monkeypatch.setenv("HOTLINE_RECORDINGS_DIR", "/srv/rec/")
    assert RecordingParams.from_settings(Settings()).root == tmp_path / "srv/rec"
