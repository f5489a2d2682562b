"""The service picks its event bus from the database: LISTEN/NOTIFY on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from hotline1022.service import event_bus
from hotline1022.settings import Settings
from live.bus import InProcessBus, PostgresBus


def test_sqlite_gets_the_in_process_bus(tmp_path: Path) -> None:
    bus = event_bus(Settings(state_dir=tmp_path, events_buffer=7))
    assert isinstance(bus, InProcessBus)
    assert bus.hub._ring.maxlen == 7


def test_postgresql_gets_listen_notify_with_a_plain_dsn(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        database_url="postgresql+asyncpg://hotline:s3cret@db.example:5433/hotline",
        events_channel="node_events",
        events_viewer_queue=9,
    )
    bus = event_bus(settings)
    assert isinstance(bus, PostgresBus)
    assert bus.dsn == "postgresql://hotline:s3cret@db.example:5433/hotline"
    assert bus.channel == "node_events" and bus.hub.queue_limit == 9
