"""The conference service over a real database (both) and a recording fake PBX: Bình Dương's
91 commune teams chosen by place, paced dialling, retries on a team's other phone, the roll,
the controls and their audit, the end, and a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conference.errors import ConferenceConflict, InvalidConference, NotAllowed, PbxDown
from conference.points import (
    Caller,
    ConferenceSpec,
    LeaderSpec,
    NumberSelector,
    PlaceSelector,
    TeamSelector,
)
from conference.service import ConferenceParams, ConferenceService
from dispatch.teams import ensure_places_and_teams
from pbx.conference_signals import ALL_MEMBERS, PARTICIPANTS, ConferenceMember, SignalKind
from store import audit
from store.db import Database
from store.models import AuditEntry, ConferencePoint, Place, Team, TeamPhone
from store.types import utcnow
from store.users import create_user
from tests.conference.fakes import RecordingPbx

SUPERVISOR = Caller(1, "giám sát", "supervisor")
BINH_DUONG_COMMUNES = PlaceSelector("province", 74, "commune", "team")
LEADER = LeaderSpec(endpoint="agent01", label="Chỉ huy")


def fake_speak(text: str, dest: Path) -> None:
    dest.write_bytes(b"WAV:" + text.encode())


async def until(check: Callable[[], bool], within_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def binh_duong(db: Database) -> Database:
    await ensure_places_and_teams(db, 74)
    user, _ = await create_user(db, name=SUPERVISOR.name, role="supervisor")
    assert user.id == SUPERVISOR.user_id  # the first user of a fresh database
    return db


def service_for(db: Database, pbx: RecordingPbx, **params: float | int) -> ConferenceService:
    published: list[tuple[str, dict[str, object]]] = []
    values: dict[str, float | int] = {
        "dial_rate_per_s": 10_000,
        "flush_s": 0.02,
        "pbx_retry_s": 0.05,
        **params,
    }
    service = ConferenceService(
        db,
        pbx,
        ConferenceParams(**values),  # type: ignore[arg-type]
        publish=lambda kind, data, _aud: published.append((kind, dict(data))),
        speak=fake_speak,
    )
    service.published = published  # type: ignore[attr-defined]
    return service


@pytest.fixture
async def pbx() -> RecordingPbx:
    return RecordingPbx(node_names=["root", "b"])


@pytest.fixture
async def service(binh_duong: Database, pbx: RecordingPbx) -> AsyncIterator[ConferenceService]:
    svc = service_for(binh_duong, pbx, per_node=60)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.close()


async def create_binh_duong(service: ConferenceService, **kw: object) -> dict[str, object]:
    spec = ConferenceSpec("Phòng chống dịch", [BINH_DUONG_COMMUNES], [LEADER], **kw)  # type: ignore[arg-type]
    return await service.create(SUPERVISOR, spec)


async def commune_team_count(db: Database) -> int:
    async with db.session() as s:
        province = await s.scalar(select(Place).where(Place.level == "province", Place.code == 74))
        assert province is not None
        return int(
            await s.scalar(
                select(func.count())
                .select_from(Team)
                .join(Place, Place.id == Team.place_id)
                .where(
                    Place.level == "commune",
                    Place.path.startswith(province.path),
                    Team.kind == "team",
                )
            )
            or 0
        )


async def test_every_commune_team_of_a_province_becomes_a_point(
    service: ConferenceService, binh_duong: Database
) -> None:
    detail = await create_binh_duong(service)

    communes = await commune_team_count(binh_duong)
    assert communes == 91  # Bình Dương 2021
    points = detail["points"]
    assert isinstance(points, list)
    assert sum(1 for p in points if not p["is_leader"]) == communes
    assert [p["label"] for p in points if p["is_leader"]] == ["Chỉ huy"]
    assert {p["province"] for p in points if not p["is_leader"]} == {"Tỉnh Bình Dương"}
    assert all(p["commune"] and p["state"] == "queued" for p in points if not p["is_leader"])
    assert detail["status"] == "scheduled"
    assert detail["totals"] == {
        "present": 0,
        "absent": 0,
        "dialling": communes,
        "left": 0,
        "total": communes,
    }
    async with binh_duong.session() as s:
        [entry] = await audit.read(s, target=f"conference:{detail['id']}")
    assert entry.action == "conference.create" and entry.user_name == "giám sát"


async def test_a_team_chosen_twice_is_called_once_and_bad_choices_are_refused(
    service: ConferenceService, binh_duong: Database
) -> None:
    async with binh_duong.session() as s:
        team_id = await s.scalar(select(Team.id).order_by(Team.id).limit(1))
    assert team_id is not None
    detail = await service.create(
        SUPERVISOR,
        ConferenceSpec(
            "Hai lần",
            [TeamSelector(team_id), TeamSelector(team_id), NumberSelector("0912345678")],
        ),
    )
    assert len(detail["points"]) == 2  # type: ignore[arg-type]

    for bad in (
        [],
        [PlaceSelector("province", 99999, "commune")],
        [TeamSelector(987654)],
        [NumberSelector("09x")],
    ):
        with pytest.raises(InvalidConference):
            await service.create(SUPERVISOR, ConferenceSpec("Sai", bad))


async def center_user(db: Database, district_code: int) -> Caller:
    async with db.session() as s:
        team = await s.scalar(
            select(Team)
            .join(Place, Place.id == Team.place_id)
            .where(Place.level == "district", Place.code == district_code, Team.kind == "center")
        )
        assert team is not None
    user, _ = await create_user(db, name=f"trung tâm {district_code}", role="team", team_id=team.id)
    return Caller(user.id, user.name, "team", team.id)


async def test_a_district_center_calls_its_own_communes_only(
    service: ConferenceService, binh_duong: Database
) -> None:
    thu_dau_mot = await center_user(binh_duong, 718)

    detail = await service.create(
        thu_dau_mot,
        ConferenceSpec("Huyện", [PlaceSelector("district", 718, "commune")]),
    )
    async with binh_duong.session() as s:
        district = await s.scalar(select(Place).where(Place.level == "district", Place.code == 718))
        assert district is not None
        communes = await s.scalar(
            select(func.count()).select_from(Place).where(Place.parent_id == district.id)
        )
    assert len(detail["points"]) == communes  # type: ignore[arg-type]
    with pytest.raises(NotAllowed):
        await service.create(thu_dau_mot, ConferenceSpec("Tỉnh", [BINH_DUONG_COMMUNES]))
    with pytest.raises(NotAllowed):  # Dĩ An is another district
        await service.create(
            thu_dau_mot, ConferenceSpec("Khác", [PlaceSelector("district", 724, "commune")])
        )
    # It sees its own conference only.
    assert [c["id"] for c in await service.summaries(thu_dau_mot)] == [detail["id"]]
    other = await service.create(SUPERVISOR, ConferenceSpec("Tỉnh", [BINH_DUONG_COMMUNES]))
    assert {c["id"] for c in await service.summaries(SUPERVISOR)} == {detail["id"], other["id"]}


async def test_start_dials_the_leader_first_then_every_point_on_its_node(
    service: ConferenceService, pbx: RecordingPbx
) -> None:
    detail = await create_binh_duong(service)
    cid = int(detail["id"])  # type: ignore[call-overload]

    started = await service.start_conference(SUPERVISOR, cid)

    assert started["status"] == "running"
    assert pbx.prompts[f"conf-title-{cid}"] == "WAV:Hội nghị chỉ huy: Phòng chống dịch".encode()
    await until(lambda: len(pbx.dialled) == 92)
    assert pbx.dialled[0].leader and pbx.dialled[0].node == "root"
    assert pbx.dialled[0].dial == "PJSIP/agent01"
    nodes = {d.point_id: d.node for d in pbx.dialled}
    assert set(nodes.values()) == {"root", "b"}  # 60 a node: the plan spreads them
    assert sum(1 for n in nodes.values() if n == "root") <= 61
    assert all(d.attempt == 1 for d in pbx.dialled)


async def test_dialling_never_has_more_calls_ringing_than_allowed(
    binh_duong: Database, pbx: RecordingPbx
) -> None:
    svc = service_for(binh_duong, pbx, max_in_flight=10)
    await svc.start()
    try:
        cid = int((await create_binh_duong(svc))["id"])  # type: ignore[call-overload]
        await svc.start_conference(SUPERVISOR, cid)
        await until(lambda: len(pbx.dialled) == 10)
        await asyncio.sleep(0.1)
        assert len(pbx.dialled) == 10
        # Two answer: two more may ring.
        for d in pbx.dialled[:2]:
            pbx.signal(cid, d.point_id, SignalKind.ANSWERED, attempt=1, channel="PJSIP/x-1")
        await until(lambda: len(pbx.dialled) == 12)
        await asyncio.sleep(0.1)
        assert len(pbx.dialled) == 12
    finally:
        await svc.close()


async def test_a_busy_team_is_called_again_on_its_second_phone(
    service: ConferenceService, pbx: RecordingPbx, binh_duong: Database
) -> None:
    async with binh_duong.session() as s:
        team = await s.scalar(
            select(Team).join(Place, Place.id == Team.place_id).where(Place.code == 25741)
        )
        assert team is not None
        s.add(TeamPhone(team_id=team.id, position=1, number="0987654321"))
        await s.commit()
        team_id = team.id
    detail = await create_binh_duong(service)
    cid = int(detail["id"])  # type: ignore[call-overload]
    [point] = [p for p in detail["points"] if p["team_id"] == team_id]  # type: ignore[attr-defined]
    await service.start_conference(SUPERVISOR, cid)
    await until(lambda: len(pbx.dialled) == 92)
    first = next(d for d in pbx.dialled if d.point_id == point["id"])
    assert first.dial == "PJSIP/team-c25741"

    pbx.signal(cid, point["id"], SignalKind.BUSY, attempt=1, reason="busy")

    await until(lambda: len(pbx.dialled) == 93)
    again = pbx.dialled[-1]
    assert (again.point_id, again.attempt, again.dial) == (
        point["id"],
        2,
        "PJSIP/0987654321@pstn-out",
    )
    # No answer on the second, busy on the first again: three attempts, no fourth.
    pbx.signal(cid, point["id"], SignalKind.NO_ANSWER, attempt=2)
    await until(lambda: len(pbx.dialled) == 94)
    assert pbx.dialled[-1].dial == "PJSIP/team-c25741"
    pbx.signal(cid, point["id"], SignalKind.BUSY, attempt=3)
    await asyncio.sleep(0.2)
    assert len(pbx.dialled) == 94
    await service.flush()
    async with binh_duong.session() as s:
        row = await s.get(ConferencePoint, point["id"])
        assert row is not None
        assert (row.state, row.attempts, row.phone_index) == ("failed", 3, 0)


async def test_the_roll_counts_what_the_points_did(
    service: ConferenceService, pbx: RecordingPbx
) -> None:
    cid = int((await create_binh_duong(service))["id"])  # type: ignore[call-overload]
    await service.start_conference(SUPERVISOR, cid)
    await until(lambda: len(pbx.dialled) == 92)
    points = [d.point_id for d in pbx.dialled if not d.leader]
    present, absent, busy = points[:50], points[50:60], points[60:62]
    for pid in present:
        pbx.signal(cid, pid, SignalKind.ANSWERED, attempt=1, channel=f"PJSIP/c-{pid}")
        pbx.signal(cid, pid, SignalKind.PRESENT, attempt=1)
        pbx.signal(cid, pid, SignalKind.JOINED, attempt=1)
    for pid in absent:
        pbx.signal(cid, pid, SignalKind.ANSWERED, attempt=1, channel=f"PJSIP/c-{pid}")
        pbx.signal(cid, pid, SignalKind.ABSENT, attempt=1)
    for pid in busy:  # a late signal of an earlier attempt is ignored
        pbx.signal(cid, pid, SignalKind.PRESENT, attempt=7)
    pbx.signal(cid, present[0], SignalKind.LEFT, attempt=1)
    await service.flush()

    roll = await service.roll(SUPERVISOR, cid)

    assert roll["totals"] == {"present": 49, "absent": 10, "dialling": 31, "left": 1, "total": 91}
    [province] = roll["provinces"]
    assert province["name"] == "Tỉnh Bình Dương" and province["total"] == 91
    assert sum(d["present"] for d in province["districts"]) == 49
    assert sum(len(d["communes"]) for d in province["districts"]) == 91


async def joined(
    service: ConferenceService, pbx: RecordingPbx, *, n: int = 3
) -> tuple[int, list[int]]:
    """A running conference whose leader and first ``n`` points are in the bridge."""
    cid = int((await create_binh_duong(service))["id"])  # type: ignore[call-overload]
    await service.start_conference(SUPERVISOR, cid)
    await until(lambda: len(pbx.dialled) == 92)
    leader = pbx.dialled[0].point_id
    pbx.signal(cid, leader, SignalKind.PRESENT, attempt=1, channel="PJSIP/agent01-1")
    pbx.signal(cid, leader, SignalKind.JOINED, attempt=1)
    pids = []
    for d in pbx.dialled[1 : n + 1]:
        pbx.signal(
            cid,
            d.point_id,
            SignalKind.ANSWERED,
            attempt=1,
            node=d.node,
            channel=f"PJSIP/c-{d.point_id}",
        )
        pbx.signal(cid, d.point_id, SignalKind.PRESENT, attempt=1, node=d.node)
        pbx.signal(cid, d.point_id, SignalKind.JOINED, attempt=1, node=d.node)
        pids.append(d.point_id)
    await service.flush()
    return cid, pids


async def test_the_first_leader_in_links_the_other_nodes(
    service: ConferenceService, pbx: RecordingPbx
) -> None:
    await joined(service, pbx, n=0)

    await until(lambda: any(c[0] == "link_node" for c in pbx.calls))
    assert [c[:2] for c in pbx.calls if c[0] == "link_node"] == [("link_node", "b")]


async def test_each_control_reaches_the_right_target_and_is_audited(
    service: ConferenceService, pbx: RecordingPbx, binh_duong: Database
) -> None:
    cid, (p1, p2, _p3) = await joined(service, pbx)
    node = {d.point_id: d.node for d in pbx.dialled}
    pbx.signal(cid, p2, SignalKind.HAND, attempt=1, node=node[p2])
    await service.flush()
    assert [h["point_id"] for h in (await service.detail(SUPERVISOR, cid))["hands"]] == [p2]
    pbx.calls.clear()

    await service.mute_all(SUPERVISOR, cid)
    assert sorted(pbx.calls) == [
        ("mute", "b", cid, PARTICIPANTS),
        ("mute", "root", cid, PARTICIPANTS),
    ]
    pbx.calls.clear()
    await service.give_floor(SUPERVISOR, cid, p1)
    assert pbx.calls == [("unmute", node[p1], cid, f"PJSIP/c-{p1}")]
    pbx.calls.clear()
    await service.give_floor(SUPERVISOR, cid, p2)  # p1 loses it, p2's hand is down
    assert sorted(pbx.calls) == sorted(
        [("unmute", node[p2], cid, f"PJSIP/c-{p2}"), ("mute", node[p1], cid, f"PJSIP/c-{p1}")]
    )
    pbx.calls.clear()
    await service.release_floor(SUPERVISOR, cid)
    assert pbx.calls == [("mute", node[p2], cid, f"PJSIP/c-{p2}")]
    pbx.calls.clear()
    await service.lock(SUPERVISOR, cid)
    await service.unlock(SUPERVISOR, cid)
    assert sorted(pbx.calls) == sorted(
        [("lock", n, cid, "") for n in ("root", "b")]
        + [("unlock", n, cid, "") for n in ("root", "b")]
    )
    pbx.calls.clear()
    await service.unmute_all(SUPERVISOR, cid)
    await service.record_start(SUPERVISOR, cid)
    await service.record_stop(SUPERVISOR, cid)
    await service.kick(SUPERVISOR, cid, p1)
    assert [c[0] for c in pbx.calls if c[0] != "unmute"] == ["start_record", "stop_record", "kick"]
    assert pbx.calls[-1] == ("kick", node[p1], cid, f"PJSIP/c-{p1}")
    pbx.signal(cid, p1, SignalKind.LEFT, attempt=1, node=node[p1])
    await service.flush()
    await service.redial(SUPERVISOR, cid, p1)
    await until(lambda: pbx.dialled[-1].point_id == p1 and pbx.dialled[-1].attempt == 2)

    actions = await service.actions(SUPERVISOR, cid)
    names = [a["action"] for a in reversed(actions)]
    assert names == [
        "start",
        "mute_all",
        "floor",
        "floor",
        "floor_release",
        "lock",
        "unlock",
        "unmute_all",
        "record_start",
        "record_stop",
        "kick",
        "redial",
    ]
    assert all(a["ok"] and a["latency_ms"] is not None and a["user"] == "giám sát" for a in actions)
    detail = await service.detail(SUPERVISOR, cid)
    assert detail["hands"] == [] and detail["floor_point_id"] is None
    async with binh_duong.session() as s:
        entries = await s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.target == f"conference:{cid}")
        )
    assert entries == len(names) + 1  # and its creation


async def test_controls_say_503_when_asterisk_is_away_and_audit_the_failure(
    service: ConferenceService, pbx: RecordingPbx
) -> None:
    cid, _ = await joined(service, pbx)
    pbx.down = True

    with pytest.raises(PbxDown):
        await service.mute_all(SUPERVISOR, cid)

    [last] = (await service.actions(SUPERVISOR, cid))[:1]
    assert (last["action"], last["ok"]) == ("mute_all", False)


async def test_end_hangs_up_everything_and_later_controls_are_refused(
    service: ConferenceService, pbx: RecordingPbx
) -> None:
    cid, (p1, _, _) = await joined(service, pbx)
    ringing = pbx.dialled[10].point_id
    pbx.signal(
        cid, ringing, SignalKind.ANSWERED, attempt=1, node=pbx.dialled[10].node, channel="PJSIP/r-1"
    )
    pbx.calls.clear()

    await service.end(SUPERVISOR, cid)

    assert sorted(c for c in pbx.calls if c[0] == "kick") == [
        ("kick", "b", cid, ALL_MEMBERS),
        ("kick", "root", cid, ALL_MEMBERS),
    ]
    assert ("hangup", pbx.dialled[10].node, 0, "PJSIP/r-1") in pbx.calls
    detail = await service.detail(SUPERVISOR, cid)
    assert detail["status"] == "ended" and detail["ended_at"]
    states = {p["id"]: p["state"] for p in detail["points"]}  # type: ignore[attr-defined]
    assert states[p1] == "joined"  # they were there: the roll keeps them
    assert states[ringing] == "absent"
    assert "queued" not in states.values() and "dialling" not in states.values()
    for control in (service.mute_all, service.lock, service.end, service.start_conference):
        with pytest.raises(ConferenceConflict, match="đã kết thúc"):
            await control(SUPERVISOR, cid)
    dialled = len(pbx.dialled)
    await asyncio.sleep(0.1)
    assert len(pbx.dialled) == dialled


async def test_dialling_waits_for_asterisk_and_goes_on(
    service: ConferenceService, pbx: RecordingPbx
) -> None:
    cid = int((await create_binh_duong(service))["id"])  # type: ignore[call-overload]
    await service.start_conference(SUPERVISOR, cid)
    pbx.down = True
    await asyncio.sleep(0.1)
    pbx.down = False
    await until(lambda: len(pbx.dialled) == 92)
    assert all(d.attempt == 1 for d in pbx.dialled)


async def test_a_restart_resumes_a_running_conference(
    binh_duong: Database, pbx: RecordingPbx
) -> None:
    first = service_for(binh_duong, pbx, max_in_flight=5)
    await first.start()
    cid = int((await create_binh_duong(first))["id"])  # type: ignore[call-overload]
    await first.start_conference(SUPERVISOR, cid)
    await until(lambda: len(pbx.dialled) == 5)
    leader = pbx.dialled[0].point_id
    pbx.signal(cid, leader, SignalKind.PRESENT, attempt=1, channel="PJSIP/agent01-1")
    pbx.signal(cid, leader, SignalKind.JOINED, attempt=1)
    await until(lambda: len(pbx.dialled) == 6)
    ringing = [d.point_id for d in pbx.dialled[1:]]
    pbx.signal(cid, ringing[0], SignalKind.ANSWERED, attempt=1, channel="PJSIP/gone-1")
    pbx.signal(cid, ringing[0], SignalKind.PRESENT, attempt=1)
    pbx.signal(cid, ringing[0], SignalKind.JOINED, attempt=1)
    await until(lambda: len(pbx.dialled) == 7)
    gone, ringing = ringing[0], [d.point_id for d in pbx.dialled[2:]]
    await first.close()
    # While the service was away, the point left; the leader is still in the bridge.
    pbx.bridges["root"] = [
        ConferenceMember("root", "PJSIP/agent01-1", leader, True, True, False, False, True)
    ]

    pbx.dialled.clear()
    second = service_for(binh_duong, pbx, max_in_flight=5)
    await second.start()
    try:
        # The calls whose outcome was lost are placed again, as new attempts.
        await until(lambda: len(pbx.dialled) == 5)
        assert [(d.point_id, d.attempt) for d in pbx.dialled] == [(p, 2) for p in ringing]
        detail = await second.detail(SUPERVISOR, cid)
        assert detail["status"] == "running"
        for _ in range(100):  # the reconciliation runs beside the dialling
            await second.flush()
            detail = await second.detail(SUPERVISOR, cid)
            points = {p["id"]: p for p in detail["points"]}  # type: ignore[attr-defined]
            if points[gone]["state"] == "left":
                break
            await asyncio.sleep(0.02)
        assert points[leader]["state"] == "joined" and points[leader]["talking"] is True
        assert (points[gone]["state"], points[gone]["reason"]) == ("left", "gone_while_away")
        await second.mute_all(SUPERVISOR, cid)  # it leads the conference as before
    finally:
        await second.close()


async def test_changes_are_published_once_per_flush(
    service: ConferenceService, pbx: RecordingPbx
) -> None:
    cid, pids = await joined(service, pbx)
    published = service.published  # type: ignore[attr-defined]
    await service.flush()  # what the joins changed is out (the writer runs meanwhile too)
    published.clear()
    for pid in pids:
        pbx.signal(cid, pid, SignalKind.TALKING, attempt=1, node=pbx.dialled[1].node)
    await service.flush()

    [(kind, data)] = published
    assert kind == "conference"
    assert data["conference"]["id"] == cid
    assert sorted(p["id"] for p in data["points"]) == sorted(pids)


async def test_a_conference_with_a_start_time_starts_itself(
    service: ConferenceService, pbx: RecordingPbx
) -> None:
    soon = utcnow() + timedelta(seconds=0.3)
    later = await create_binh_duong(service, starts_at=utcnow() + timedelta(hours=1))
    cid = int((await create_binh_duong(service, starts_at=soon))["id"])  # type: ignore[call-overload]

    await until(lambda: len(pbx.dialled) == 92)

    assert {d.conference_id for d in pbx.dialled} == {cid}
    assert (await service.detail(SUPERVISOR, cid))["status"] == "running"
    assert (await service.detail(SUPERVISOR, int(later["id"])))["status"] == "scheduled"  # type: ignore[call-overload]
    [start] = (await service.actions(SUPERVISOR, cid))[-1:]
    assert (start["action"], start["user"]) == ("start", None)


async def test_two_starts_at_once_start_it_once(
    service: ConferenceService, pbx: RecordingPbx
) -> None:
    cid = int((await create_binh_duong(service))["id"])  # type: ignore[call-overload]

    results = await asyncio.gather(
        service.start_conference(SUPERVISOR, cid),
        service.start_conference(SUPERVISOR, cid),
        return_exceptions=True,
    )

    assert sorted(type(r).__name__ for r in results) == ["ConferenceConflict", "dict"]
    await until(lambda: len(pbx.dialled) == 92)
    await asyncio.sleep(0.1)
    assert len(pbx.dialled) == 92


async def test_calls_whose_news_never_comes_are_not_left_dialling(
    binh_duong: Database, pbx: RecordingPbx
) -> None:
    # 3 s without news, counted from each dial. The ANSWERED below is sent as soon as its
    # point is dialled, not after all 92 dials (which took over 2 s with the test suite's
    # other workers beside it, and the point was given up as silent first).
    svc = service_for(binh_duong, pbx, ring_s=0, lost_after_s=3.0, max_attempts=2)
    await svc.start()
    try:
        cid = int((await create_binh_duong(svc))["id"])  # type: ignore[call-overload]
        await svc.start_conference(SUPERVISOR, cid)
        await until(lambda: len(pbx.dialled) >= 2)
        answered = pbx.dialled[1].point_id
        pbx.signal(cid, answered, SignalKind.ANSWERED, attempt=1, channel="PJSIP/a-1")
        await until(lambda: len(pbx.dialled) >= 92, within_s=30)

        # Nothing more is heard: the silent ones are called again, then given up; the
        # answered one is absent.
        async def states() -> dict[int, tuple[str, str, int]]:
            await svc.flush()
            async with binh_duong.session() as s:
                rows = await s.scalars(
                    select(ConferencePoint).where(ConferencePoint.conference_id == cid)
                )
                return {r.id: (r.state, r.reason, r.attempts) for r in rows}

        for _ in range(600):
            now = await states()
            if all(state in ("failed", "absent") for state, _, _ in now.values()):
                break
            await asyncio.sleep(0.05)
        assert now.pop(answered) == ("absent", "no_signal", 1)
        assert set(now.values()) == {("failed", "no_signal", 2)}
        assert (
            sorted(d.attempt for d in pbx.dialled if d.point_id != answered) == [1] * 91 + [2] * 91
        )
    finally:
        await svc.close()
