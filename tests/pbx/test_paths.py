"""Where an Asterisk instance keeps what the service shares with it, in and out of its root."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbx.paths import DEFAULT_ROOT, AsteriskPaths, BadInstanceName


def test_inside_a_root_the_same_file_has_two_names() -> None:
    paths = AsteriskPaths("t1", Path("/srv/root"))
    assert paths.prompts_dir == "/var/lib/hotline1022/t1/prompts"  # what Playback is given
    assert paths.host_path(paths.prompts_dir) == Path("/srv/root/var/lib/hotline1022/t1/prompts")
    assert paths.cdr_csv == Path("/srv/root/var/lib/hotline1022/t1/log/cdr-csv/Master.csv")
    assert paths.queue_log == Path("/srv/root/var/lib/hotline1022/t1/log/queue_log")
    assert paths.conf_path == "/var/lib/hotline1022/t1/etc/asterisk.conf"


def test_the_systems_asterisk_sees_what_this_process_sees() -> None:
    paths = AsteriskPaths("main", None)
    assert paths.host_path(paths.prompts_dir) == Path("/var/lib/hotline1022/main/prompts")
    assert paths.cdr_csv == Path("/var/lib/hotline1022/main/log/cdr-csv/Master.csv")


def test_find_takes_the_root_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_ASTERISK_ROOT", "/srv/other-root")
    assert AsteriskPaths.find("t2").root == Path("/srv/other-root")
    monkeypatch.delenv("HOTLINE_ASTERISK_ROOT")
    monkeypatch.setattr("shutil.which", lambda _: None)  # no system Asterisk
    assert AsteriskPaths.find("t2").root == DEFAULT_ROOT


@pytest.mark.parametrize("name", ["../etc", "a/b", "", "main;rm"])
def test_an_instance_name_that_is_not_a_plain_name_is_refused(name: str) -> None:
    with pytest.raises(BadInstanceName):
        AsteriskPaths(name, None)


def test_the_recordings_dir_is_the_instances_spool_unless_configured() -> None:
    paths = AsteriskPaths("t1", Path("/srv/root"))
    assert paths.recordings_dir == "/var/lib/hotline1022/t1/spool/recordings"
    assert paths.host_path(paths.recordings_dir) == Path(
        "/srv/root/var/lib/hotline1022/t1/spool/recordings"
    )
    paths.recordings_dir = "/srv/recordings/"
    assert paths.recordings_dir == "/srv/recordings"
    found = AsteriskPaths.find("t1", recordings_dir="/data/rec")
    assert found.recordings_dir == "/data/rec"
