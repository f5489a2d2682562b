"""The recordings' service on SQLite and PostgreSQL, with a fake PBX writing real files."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from live.hub import Audience
from pbx.recording_signals import RecordingKind, SignalKind
from recordings.errors import (
    HoldNotFound,
    InvalidRequest,
    PbxDown,
    RecordingConflict,
    RecordingNotFound,
    RecordingNotReady,
    RecordingPurged,
)
from recordings.service import RecordingParams, RecordingService
from store import audit
from store.db import Database
from store.models import (
    Agent,
    Call,
    Callback,
    CallOutcome,
    Conference,
    Incident,
    Place,
    Recording,
    RecordingPause,
    User,
)
from store.types import utcnow
from tests.recordings.fakes import FakeRecordingPbx, Leg

DAYS = {
    "incident": 3650,
    "emergency": 1825,
    "violation": 730,
    "callback": 365,
    "conference": 1825,
    "dispatch": 1825,
    "information": 90,
    "wrong_number": 31,
}
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4


class Published(list[tuple[str, dict[str, Any], Audience]]):
    def __call__(self, event_type: str, data: Any, audience: Audience) -> None:
        self.append((event_type, dict(data), audience))


@pytest.fixture
def pbx(tmp_path: Path) -> FakeRecordingPbx:
    return FakeRecordingPbx(tmp_path / "recordings")


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
async def service(
    db: Database, pbx: FakeRecordingPbx, published: Published
) -> AsyncIterator[RecordingService]:
    svc = RecordingService(
        db, pbx, RecordingParams(root=pbx.root, retention_days=DAYS), publish=published
    )
    await svc.start()
    try:
        yield svc
    finally:
        await svc.close()


async def add_call(
    db: Database,
    uniqueid: str,
    *,
    category: str = "medical",
    number: str = "0912345678",
    agent: str | None = "agent01",
    at: datetime | None = None,
) -> int:
    at = at or utcnow()
    async with db.session() as s:
        call = Call(
            uniqueid=uniqueid,
            linkedid=uniqueid,
            caller_number=number,
            arrived_at=at,
            answered_at=at,
            category=category,
            agent_endpoint=agent,
            status="answered",
        )
        s.add(call)
        await s.commit()
        return call.id


async def add_outcome(
    db: Database, call_id: int, disposition: str, incident: bool = False
) -> int | None:
    async with db.session() as s:
        incident_id = None
        if incident:
            place = Place(level="province", depth=0, code=1 + call_id, name="Hà Nội", path="/")
            s.add(place)
            await s.flush()
            place.path = f"/{place.id}/"
            inc = Incident(
                call_id=call_id,
                category="medical",
                urgency="critical",
                place_id=place.id,
                place_path=place.path,
                status="new",
            )
            s.add(inc)
            await s.flush()
            incident_id = inc.id
        s.add(
            CallOutcome(
                call_id=call_id, request_hash="h", disposition=disposition, incident_id=incident_id
            )
        )
        await s.commit()
        return incident_id


async def record(
    service: RecordingService,
    pbx: FakeRecordingPbx,
    uniqueid: str,
    *,
    data: bytes = WAV,
    at: datetime | None = None,
    seconds: float = 90,
) -> Leg:
    at = at or utcnow() - timedelta(seconds=seconds)
    leg = pbx.start_call(uniqueid, at=at)
    pbx.write(leg, data + uniqueid.encode())
    pbx.close(leg, at=at + timedelta(seconds=seconds))
    await service.drain()
    return leg


async def rows(db: Database) -> list[Recording]:
    async with db.session() as s:
        return list(await s.scalars(select(Recording).order_by(Recording.id)))


# -- signals become rows, sealed with their digest ------------------------------------------


async def test_a_started_leg_is_a_row_that_is_still_recording(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    call_id = await add_call(db, "1733461200.1")
    pbx.start_call("1733461200.1")
    await service.drain()
    [rec] = await rows(db)
    assert (rec.kind, rec.ref, rec.call_uniqueid, rec.seq, rec.sha256) == (
        "call",
        "1733461200.1",
        "1733461200.1",
        None,
        None,
    )
    out = await service.get(rec.id)
    assert out.status == "recording" and out.call_id == call_id
    with pytest.raises(RecordingNotReady):
        await service.open_audio(rec.id, user_id=None, user_name="giamsat1")


async def test_a_closed_leg_is_sealed_with_its_files_digest_and_chained(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx, published: Published
) -> None:
    call_id = await add_call(db, "1733461200.1", number="0987654321")
    await add_call(db, "1733461200.2")
    t0 = utcnow() - timedelta(minutes=10)
    first = await record(service, pbx, "1733461200.1", at=t0, seconds=90)
    await record(service, pbx, "1733461200.2", at=t0 + timedelta(minutes=2))
    one, two = await rows(db)
    body = first.path.read_bytes()
    assert one.sha256 == hashlib.sha256(body).hexdigest() and one.size_bytes == len(body)
    assert (one.seq, two.seq) == (1, 2)
    assert one.prev_chain == "0" * 64 and two.prev_chain == one.chain
    assert one.duration_s == pytest.approx(90)
    assert one.retention_class == "emergency"
    assert one.expires_at == one.ended_at + timedelta(days=1825)  # type: ignore[operator]
    assert json.loads(one.parties)["caller_number"] == "0987654321"
    out = await service.get(one.id)
    assert (out.status, out.call_id, out.caller_number, out.category, out.agent_endpoint) == (
        "sealed",
        call_id,
        "0987654321",
        "medical",
        "agent01",
    )
    assert out.model_dump(mode="json")["started_at"].endswith("+00:00")
    report = await service.verify()
    assert report.ok and report.checked == 2
    assert (await service.verify(two.id)).ok
    assert [e for e, d, _ in published if d.get("status") == "sealed"] == ["recording"] * 2


async def test_a_repeated_signal_makes_no_second_row_nor_link(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    leg = await record(service, pbx, "1733461200.1")
    pbx.close(leg)  # CLOSED again
    pbx._emit(
        pbx._signal(
            leg,
            SignalKind.STARTED,
            leg.started_at,
        )
    )
    await service.drain()
    [rec] = await rows(db)
    assert rec.seq == 1


async def test_a_callback_leg_belongs_to_the_call_that_asked_for_it(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    call_id = await add_call(db, "1733461200.7")
    async with db.session() as s:
        cb = Callback(
            call_uniqueid="1733461200.7",
            caller_number="0912345678",
            queue="medical",
            status="calling",
            requested_at=utcnow(),
            queued_since=utcnow(),
        )
        s.add(cb)
        await s.commit()
    leg = pbx.start(RecordingKind.CALLBACK, str(cb.id))
    pbx.write(leg, WAV)
    pbx.close(leg)
    await record(service, pbx, "1733461200.7")
    got = await service.for_call(call_id)
    assert [r.kind for r in got] == ["callback", "call"] or [r.kind for r in got] == [
        "call",
        "callback",
    ]
    assert {r.call_uniqueid for r in got} == {"1733461200.7"}
    assert {r.retention_class for r in got if r.kind == "callback"} == {"emergency"}


# -- verify: what tampering looks like -----------------------------------------------------


async def test_altering_one_byte_of_a_file_breaks_verify_and_names_it(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    legs = [await record(service, pbx, f"1733461200.{i}") for i in range(1, 4)]
    data = bytearray(legs[1].path.read_bytes())
    data[100] ^= 0xFF
    legs[1].path.write_bytes(bytes(data))
    report = await service.verify()
    assert not report.ok
    [problem] = report.problems
    assert problem.seq == 2 and legs[1].name in problem.what
    one = await service.verify(problem.recording_id)
    assert not one.ok
    assert (await service.verify((await rows(db))[0].id)).ok


async def test_deleting_a_row_is_a_gap(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    for i in range(1, 4):
        await record(service, pbx, f"1733461200.{i}")
    async with db.session() as s:
        await s.execute(delete(Recording).where(Recording.seq == 2))
        await s.commit()
    report = await service.verify()
    assert not report.ok
    assert any("thiếu bản ghi: số thứ tự 2" in p.what for p in report.problems)
    third = (await rows(db))[-1]
    alone = await service.verify(third.id)
    assert not alone.ok and "số thứ tự 2" in alone.problems[0].what


async def test_editing_a_rows_facts_breaks_its_link(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    for i in range(1, 3):
        await record(service, pbx, f"1733461200.{i}")
    async with db.session() as s:
        await s.execute(
            update(Recording)
            .where(Recording.seq == 1)
            .values(started_at=utcnow() - timedelta(days=1))
        )
        await s.commit()
    report = await service.verify()
    assert [p.seq for p in report.problems] == [1]


async def test_a_deleted_file_is_missing_in_verify_and_cannot_be_played(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    leg = await record(service, pbx, "1733461200.1")
    leg.path.unlink()
    report = await service.verify()
    assert not report.ok and "mất tệp" in report.problems[0].what
    with pytest.raises(RecordingNotFound):
        await service.open_audio(report.problems[0].recording_id or 0, user_id=None, user_name="x")


# -- listening ------------------------------------------------------------------------------


async def test_listening_is_audited_with_who_and_which(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    async with db.session() as s:
        user = User(name="giamsat1", role="supervisor")
        s.add(user)
        await s.commit()
    leg = await record(service, pbx, "1733461200.1")
    [rec] = await rows(db)
    audio = await service.open_audio(rec.id, user_id=user.id, user_name="giamsat1")
    assert audio.path == leg.path.resolve() and audio.size == leg.path.stat().st_size
    assert audio.media_type == "audio/wav"
    async with db.session() as s:
        [entry] = await audit.read(s, target=f"recording:{rec.id}")
    assert (entry.action, entry.user_id, entry.user_name) == ("listen", user.id, "giamsat1")
    assert json.loads(entry.detail)["call_uniqueid"] == "1733461200.1"
    with pytest.raises(RecordingNotFound):
        await service.open_audio(rec.id + 99, user_id=user.id, user_name="giamsat1")


# -- pauses ---------------------------------------------------------------------------------


async def test_pause_and_resume_are_stored_audited_and_told_to_asterisk(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx, published: Published
) -> None:
    call_id = await add_call(db, "1733461200.1")
    async with db.session() as s:
        agent = Agent(endpoint="agent01", name="Nguyễn Văn A")
        s.add(agent)
        await s.flush()
        agent_id = agent.id
        await s.execute(update(Call).where(Call.id == call_id).values(agent_id=agent_id))
        await s.commit()
    leg = pbx.start_call("1733461200.1", at=utcnow() - timedelta(seconds=30))
    await service.drain()
    assert await service.paused_since(["1733461200.1", "other"]) == {}
    paused = await service.pause("1733461200.1", user_id=None, user_name="agent1")
    assert paused.paused and pbx.paused == {leg.channel}
    # What a console reloaded now learns: paused, since when.
    since = await service.paused_since(["1733461200.1", "other"])
    assert list(since) == ["1733461200.1"]
    assert abs((since["1733461200.1"] - paused.at).total_seconds()) < 1
    with pytest.raises(RecordingConflict):
        await service.pause("1733461200.1", user_id=None, user_name="agent1")
    resumed = await service.resume("1733461200.1", user_id=None, user_name="agent1")
    assert not resumed.paused and pbx.paused == set()
    assert await service.paused_since(["1733461200.1"]) == {}
    with pytest.raises(RecordingConflict):
        await service.resume("1733461200.1", user_id=None, user_name="agent1")
    await service.pause("1733461200.1", user_id=None, user_name="agent1")
    pbx.write(leg, WAV)
    pbx.close(leg)
    await service.drain()
    out = await service.get(paused.recording_id)
    assert [p.by_name for p in out.pauses] == ["agent1", "agent1"]
    assert all(p.resumed_at is not None for p in out.pauses)  # the open one closed with the file
    assert out.paused_s >= 0 and out.status == "sealed"
    async with db.session() as s:
        actions = [e.action for e in await audit.read(s, target=f"recording:{out.id}")]
    assert sorted(actions) == ["recording_pause", "recording_pause", "recording_resume"]
    assert [d["paused"] for _, d, _ in published if "paused" in d] == [True, False, True]
    assert all(a.agent_ids == {agent_id} for _, d, a in published if "paused" in d)
    with pytest.raises(RecordingNotFound):  # sealed: nothing recording now
        await service.pause("1733461200.1", user_id=None, user_name="agent1")


async def test_pause_refusals(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    with pytest.raises(RecordingNotFound):
        await service.pause("no-such-call", user_id=None, user_name="agent1")
    leg = pbx.start_call("1733461200.2")
    await service.drain()
    pbx.down = True
    with pytest.raises(PbxDown) as down:
        await service.pause("1733461200.2", user_id=None, user_name="agent1")
    assert "Asterisk" in down.value.message
    pbx.down = False
    pbx.gone.add(leg.channel)
    with pytest.raises(RecordingNotFound):
        await service.pause("1733461200.2", user_id=None, user_name="agent1")
    async with db.session() as s:
        assert list(await s.scalars(select(RecordingPause))) == []


# -- holds and the purge --------------------------------------------------------------------


async def test_purge_removes_the_expired_except_on_hold_and_the_chain_still_verifies(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    t0 = utcnow() - timedelta(hours=1)
    wrong = await add_call(db, "1733461200.1", category="general")
    held_call = await add_call(db, "1733461200.2", category="general")
    inc_call = await add_call(db, "1733461200.3", category="general")
    await add_call(db, "1733461200.4", category="medical")
    await add_outcome(db, wrong, "wrong_number")
    await add_outcome(db, held_call, "wrong_number")
    legs = [
        await record(service, pbx, f"1733461200.{i}", at=t0 + timedelta(minutes=i))
        for i in range(1, 5)
    ]
    # The incident came after the file closed: the purge classifies again and keeps it.
    incident_id = await add_outcome(db, inc_call, "incident", incident=True)
    hold = await service.hold(
        call_id=held_call, incident_id=None, reason="Khiếu nại", user_id=None, user_name="giamsat1"
    )
    assert hold.active and hold.created_by == "giamsat1"
    later = utcnow() + timedelta(days=40)
    report = await service.purge(later)
    by_uid = {r.call_uniqueid: r for r in await rows(db)}
    assert report.removed == [by_uid["1733461200.1"].id]
    assert report.kept_on_hold == [by_uid["1733461200.2"].id]
    assert report.freed_bytes == len(WAV) + len("1733461200.1")
    assert not legs[0].path.exists() and all(leg.path.exists() for leg in legs[1:])
    assert by_uid["1733461200.1"].purge_reason == "expired wrong_number"
    assert by_uid["1733461200.3"].retention_class == "incident"
    assert by_uid["1733461200.3"].incident_id == incident_id
    assert (await service.get(by_uid["1733461200.2"].id)).on_hold
    report_ok = await service.verify()
    assert report_ok.ok and report_ok.purged == 1 and report_ok.checked == 4
    with pytest.raises(RecordingPurged):
        await service.open_audio(by_uid["1733461200.1"].id, user_id=None, user_name="x")
    async with db.session() as s:
        entries = await audit.read(s, target="recordings")
    [entry] = [e for e in entries if e.action == "purge"]
    assert json.loads(entry.detail)["removed"] == report.removed
    # Released: the next purge removes it; nothing else is due.
    await service.release(hold.id, user_id=None, user_name="giamsat1")
    again = await service.purge(later)
    assert again.removed == [by_uid["1733461200.2"].id] and again.kept_on_hold == []
    assert (await service.verify()).ok


async def test_a_hold_on_an_incident_keeps_its_calls_recordings(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    call_id = await add_call(db, "1733461200.1", category="general")
    incident_id = await add_outcome(db, call_id, "incident", incident=True)
    await record(service, pbx, "1733461200.1")
    await service.hold(
        call_id=None, incident_id=incident_id, reason="Điều tra", user_id=None, user_name="admin"
    )
    report = await service.purge(utcnow() + timedelta(days=3651))
    assert report.removed == [] and len(report.kept_on_hold) == 1
    assert (await service.verify()).ok


async def test_hold_refusals_and_release(db: Database, service: RecordingService) -> None:
    call_id = await add_call(db, "1733461200.1")
    with pytest.raises(InvalidRequest):
        await service.hold(call_id=None, incident_id=None, reason="x", user_id=None, user_name="a")
    with pytest.raises(InvalidRequest):
        await service.hold(call_id=call_id, incident_id=1, reason="x", user_id=None, user_name="a")
    with pytest.raises(InvalidRequest):
        await service.hold(
            call_id=call_id, incident_id=None, reason="  ", user_id=None, user_name="a"
        )
    with pytest.raises(InvalidRequest):
        await service.hold(
            call_id=call_id + 9, incident_id=None, reason="x", user_id=None, user_name="a"
        )
    hold = await service.hold(
        call_id=call_id, incident_id=None, reason="Lý do", user_id=None, user_name="a"
    )
    assert [h.id for h in await service.holds()] == [hold.id]
    released = await service.release(hold.id, user_id=None, user_name="b")
    assert not released.active and released.released_by == "b"
    assert await service.holds() == []
    assert [h.id for h in await service.holds(active_only=False)] == [hold.id]
    with pytest.raises(RecordingConflict):
        await service.release(hold.id, user_id=None, user_name="b")
    with pytest.raises(HoldNotFound):
        await service.release(hold.id + 1, user_id=None, user_name="b")
    async with db.session() as s:
        actions = [e.action for e in await audit.read(s, target=f"legal_hold:{hold.id}")]
    assert sorted(actions) == ["legal_hold", "legal_hold_release"]


# -- search and usage -----------------------------------------------------------------------


async def test_search_by_day_category_number_agent_kind(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    # 23:30 in Hanoi on the 5th is 16:30 UTC: it belongs to the 5th.
    late = datetime(2026, 12, 5, 16, 30, tzinfo=UTC)
    await add_call(
        db, "1733461200.1", category="medical", number="0911000111", agent="agent01", at=late
    )
    await add_call(db, "1733461200.2", category="food", number="0922000222", agent="agent02")
    await record(service, pbx, "1733461200.1", at=late)
    await record(service, pbx, "1733461200.2")
    everything = await service.search()
    assert everything.total == 2 and everything.items[0].call_uniqueid == "1733461200.2"
    fifth = await service.search(day_from=date(2026, 12, 5), day_to=date(2026, 12, 5))
    assert [r.call_uniqueid for r in fifth.items] == ["1733461200.1"]
    assert (await service.search(category="food")).items[0].caller_number == "0922000222"
    assert (await service.search(number="000111")).total == 1
    assert (await service.search(number="%")).total == 0
    assert (await service.search(agent_endpoint="agent02")).total == 1
    assert (await service.search(kind="dispatch")).total == 0
    page = await service.search(limit=1, offset=1)
    assert page.total == 2 and [r.call_uniqueid for r in page.items] == ["1733461200.1"]
    for bad in (
        {"limit": 0},
        {"offset": -1},
        {"kind": "nope"},
        {"day_from": date(2026, 12, 6), "day_to": date(2026, 12, 5)},
    ):
        with pytest.raises(InvalidRequest):
            await service.search(**bad)  # type: ignore[arg-type]


async def test_usage_counts_the_kept_files(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    empty = await service.usage()
    assert (empty.files, empty.bytes, empty.oldest_started_at) == (0, 0, None)
    assert empty.disk_total_bytes > 0
    t0 = utcnow() - timedelta(hours=2)
    legs = [
        await record(service, pbx, f"1733461200.{i}", at=t0 + timedelta(minutes=i)) for i in (1, 2)
    ]
    used = await service.usage()
    assert used.files == 2
    assert used.bytes == sum(leg.path.stat().st_size for leg in legs)
    assert used.oldest_started_at == t0 + timedelta(minutes=1)


# -- a restart ------------------------------------------------------------------------------


async def test_a_restart_seals_what_closed_meanwhile_and_keeps_what_is_open(
    db: Database, pbx: FakeRecordingPbx
) -> None:
    params = RecordingParams(root=pbx.root, retention_days=DAYS)
    first = RecordingService(db, pbx, params)
    await first.start()
    ended = pbx.start_call("1733461200.1", at=utcnow() - timedelta(minutes=5))
    still = pbx.start_call("1733461200.2", at=utcnow() - timedelta(minutes=4))
    await first.drain()
    await first.close()
    pbx.write(ended, WAV)
    pbx.close(ended, announce=False)  # the service was down when it closed
    pbx.start_call("1733461200.3", at=utcnow())  # started while down: only open_recordings
    second = RecordingService(db, pbx, params)
    pbx._listeners.clear()
    await second.start()
    try:
        by_uid = {r.call_uniqueid: r for r in await rows(db)}
        assert by_uid["1733461200.1"].seq == 1
        assert by_uid["1733461200.2"].seq is None and by_uid["1733461200.3"].seq is None
        pbx.write(still, WAV)
        pbx.close(still)
        await second.drain()
        assert (await second.verify()).ok
    finally:
        await second.close()


async def test_a_file_missing_at_close_stays_out_of_the_chain(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    leg = pbx.start_call("1733461200.1")
    leg.path.unlink()
    pbx.close(leg)
    await record(service, pbx, "1733461200.2")
    lost, kept = await rows(db)
    assert lost.seq is None and lost.purge_reason == "file missing at close"
    assert kept.seq == 1
    assert (await service.verify()).ok
    assert not (await service.verify(lost.id)).ok


# -- other legs, other nodes ---------------------------------------------------------------


async def test_dispatch_and_conference_legs_carry_their_incident_and_conference(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    call_id = await add_call(db, "1733461200.1", category="general")
    incident_id = await add_outcome(db, call_id, "incident", incident=True)
    async with db.session() as s:
        conf = Conference(title="Họp ứng phó bão", status="running")
        s.add(conf)
        await s.commit()
    order = pbx.start(RecordingKind.DISPATCH, "feedbeef", incident_id=incident_id)
    room = pbx.start(RecordingKind.CONFERENCE, str(conf.id))
    stray = pbx.start(RecordingKind.DISPATCH, "c0ffee", incident_id=999_999)
    for leg in (order, room, stray):
        pbx.write(leg, WAV)
        pbx.close(leg)
    await service.drain()
    by_ref = {r.ref: r for r in await rows(db)}
    assert by_ref["feedbeef"].incident_id == incident_id
    assert by_ref["feedbeef"].retention_class == "incident"
    assert by_ref[str(conf.id)].conference_id == conf.id
    assert by_ref[str(conf.id)].retention_class == "conference"
    assert by_ref["c0ffee"].incident_id is None  # no such incident: not a broken row
    await service.hold(
        call_id=None, incident_id=incident_id, reason="Điều tra", user_id=None, user_name="a"
    )
    report = await service.purge(utcnow() + timedelta(days=4000))
    assert by_ref["feedbeef"].id in report.kept_on_hold
    assert set(report.removed) == {by_ref[str(conf.id)].id, by_ref["c0ffee"].id}
    assert (await service.search(kind="dispatch")).total == 2


async def test_two_nodes_sealing_at_once_make_one_chain_without_gaps(
    db: Database, tmp_path: Path
) -> None:
    root = tmp_path / "recordings"
    nodes = []
    for name in ("a", "b"):
        pbx = FakeRecordingPbx(root, instance=name)
        svc = RecordingService(db, pbx, RecordingParams(root=root, instance=name))
        await svc.start()
        nodes.append((pbx, svc))
    try:
        legs = []
        for i in range(8):
            for n, (pbx, _) in enumerate(nodes):
                leg = pbx.start_call(f"17334612{n}0.{i}")
                pbx.write(leg, WAV + bytes([i, n]))
                legs.append((pbx, leg))
        for pbx, leg in legs:
            pbx.close(leg)
        await asyncio.gather(*(svc.drain() for _, svc in nodes))
        sealed = await rows(db)
        assert sorted(r.seq or 0 for r in sealed) == list(range(1, 17))
        assert {r.instance for r in sealed} == {"a", "b"}
        report = await nodes[0][1].verify()
        assert report.ok and report.checked == 16
    finally:
        for _, svc in nodes:
            await svc.close()


async def test_a_restart_waits_for_a_file_asterisk_is_closing_and_finishes_an_abandoned_one(
    db: Database, pbx: FakeRecordingPbx
) -> None:
    params = RecordingParams(root=pbx.root, retention_days=DAYS)
    first = RecordingService(db, pbx, params)
    await first.start()
    closing = pbx.start_call("1733461200.1", at=utcnow() - timedelta(minutes=5))
    abandoned = pbx.start_call("1733461200.2", at=utcnow() - timedelta(hours=2))
    await first.drain()
    await first.close()
    # As MixMonitor leaves them (pbx.recording): X.part.wav until it renames it to X.wav.
    for leg in (closing, abandoned):
        leg.path.unlink()
        leg.path.with_suffix(".part.wav").write_bytes(WAV)
        pbx.close(leg, announce=False)
    old = (utcnow() - timedelta(hours=1)).timestamp()
    os.utime(abandoned.path.with_suffix(".part.wav"), (old, old))
    pbx._listeners.clear()
    second = RecordingService(db, pbx, params)
    await second.start()
    try:
        by_uid = {r.call_uniqueid: r for r in await rows(db)}
        assert by_uid["1733461200.1"].seq is None and by_uid["1733461200.1"].purged_at is None
        assert by_uid["1733461200.2"].seq == 1 and abandoned.path.exists()
        assert by_uid["1733461200.2"].sha256 == hashlib.sha256(WAV).hexdigest()
        closing.path.with_suffix(".part.wav").rename(closing.path)  # Asterisk is done
        await second.reconcile()
        assert [r.seq for r in await rows(db)] == [2, 1]
        assert (await second.verify()).ok
    finally:
        await second.close()


async def test_the_whole_chain_is_verified_in_parts_without_losing_a_gap_between_them(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("recordings.service.VERIFY_BATCH", 2)
    for i in range(1, 7):
        await record(service, pbx, f"1733461200.{i}")
    report = await service.verify()
    assert report.ok and report.checked == 6
    async with db.session() as s:
        await s.execute(delete(Recording).where(Recording.seq == 3))  # the first of a part
        await s.commit()
    report = await service.verify()
    assert not report.ok and report.checked == 5
    assert {p.seq for p in report.problems} == {4}
    assert any("số thứ tự 3" in p.what for p in report.problems)


async def test_deleting_the_last_rows_is_found_from_the_head_the_purge_wrote(
    db: Database, service: RecordingService, pbx: FakeRecordingPbx
) -> None:
    for i in range(1, 4):
        await record(service, pbx, f"1733461200.{i}")
    await service.purge()  # nothing expired; it writes the chain's head
    await service.purge()  # the head has not moved: no second entry
    async with db.session() as s:
        heads = [e for e in await audit.read(s, target="recordings") if e.action == "chain_head"]
    assert [json.loads(e.detail)["seq"] for e in heads] == [3]
    assert (await service.verify()).ok
    async with db.session() as s:
        await s.execute(delete(Recording).where(Recording.seq == 3))
        await s.commit()
    report = await service.verify()
    assert not report.ok and report.checked == 2
    assert "số thứ tự 3" in report.problems[0].what


async def test_the_purge_at_start_runs_while_asterisk_is_not_reachable_yet(
    db: Database,
    service: RecordingService,
    pbx: FakeRecordingPbx,
    published: Published,
    caplog: pytest.LogCaptureFixture,
) -> None:
    old = utcnow() - timedelta(days=40)
    call_id = await add_call(db, "1733461300.1", category="general", at=old)
    await add_outcome(db, call_id, "wrong_number")
    await record(service, pbx, "1733461300.1", at=old)
    await service.close()
    # The service restarts before its AMI link is up: the purge must not wait for it.
    pbx.down = True
    restarted = RecordingService(
        db,
        pbx,
        RecordingParams(root=pbx.root, retention_days=DAYS, purge_interval_s=0.05),
        publish=published,
    )
    with caplog.at_level("INFO", logger="recordings.service"):
        await restarted.start()
        try:
            for _ in range(200):
                [row] = await rows(db)
                if row.purged_at is not None:
                    break
                await asyncio.sleep(0.02)
        finally:
            await restarted.close()
    assert row.purged_at is not None and row.purge_reason == "expired wrong_number"
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert any("not reconciled yet" in r.getMessage() for r in caplog.records)
