"""``/conferences`` over the real app and database (both), a recording fake PBX and Bình
Dương's places and teams: who may, what is refused (in Vietnamese), the roll as JSON and as
a file, the controls reaching Asterisk, the recording, and the ``conference`` event's
audience."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import select

from conference.service import ConferenceParams, ConferenceService
from dispatch.teams import ensure_places_and_teams
from live.bus import InProcessBus
from live.hub import EventHub, Viewer
from pbx.conference_signals import PARTICIPANTS, SignalKind
from store.models import Place, Team
from store.users import create_user
from tests.api.support import Api
from tests.conference.fakes import RecordingPbx
from tests.conference.test_service import fake_speak, until

BINH_DUONG = {"under": {"level": "province", "code": 74}, "level": "commune", "kind": "team"}
BODY = {
    "title": "Phòng chống dịch",
    "points": [BINH_DUONG],
    "leaders": [{"endpoint": "agent01", "label": "Chỉ huy"}],
    "record": False,
    "starts_at": None,
}


def district_communes(code: int) -> dict[str, object]:
    return {"under": {"level": "district", "code": code}, "level": "commune"}


@dataclass
class Conf:
    api: Api
    service: ConferenceService
    pbx: RecordingPbx
    hub: EventHub


@pytest.fixture
async def conf(api: Api, tmp_path: Path) -> AsyncIterator[Conf]:
    await ensure_places_and_teams(api.db, 74)
    pbx = RecordingPbx(node_names=["root"], recordings=tmp_path)
    hub = EventHub()
    service = ConferenceService(
        api.db,
        pbx,
        ConferenceParams(dial_rate_per_s=10_000, flush_s=0.02),
        publish=InProcessBus(hub).publish,
        speak=fake_speak,
    )
    await service.start()
    api.app.state.services = replace(api.app.state.services, conferences=service)
    try:
        yield Conf(api, service, pbx, hub)
    finally:
        await service.close()


async def center_token(api: Api, district_code: int) -> tuple[str, int]:
    async with api.db.session() as s:
        team_id = await s.scalar(
            select(Team.id)
            .join(Place, Place.id == Team.place_id)
            .where(Place.level == "district", Place.code == district_code, Team.kind == "center")
        )
    assert team_id is not None
    _, token = await create_user(
        api.db, name=f"center {district_code}", role="team", team_id=team_id
    )
    return token, team_id


async def test_who_may_list_conferences(conf: Conf) -> None:
    api = conf.api
    assert (await api.client.get("/conferences")).status_code == 401
    for who, expected in (("agent", 403), ("team", 403), ("supervisor", 200), ("admin", 200)):
        response = await api.client.get("/conferences", headers=api.auth(who))
        assert response.status_code == expected, who
    # The fixture's team is a rapid-response team, not a center: told why, in Vietnamese.
    refused = await api.client.post("/conferences", json=BODY, headers=api.auth("team"))
    assert refused.status_code == 403
    assert "trung tâm điều hành" in refused.json()["detail"]


async def test_a_supervisor_creates_one_for_every_commune_team_of_binh_duong(conf: Conf) -> None:
    api = conf.api
    created = await api.client.post("/conferences", json=BODY, headers=api.auth("supervisor"))

    assert created.status_code == 201, created.text
    detail = created.json()
    assert detail["status"] == "scheduled"
    assert detail["totals"]["total"] == 91
    assert len([p for p in detail["points"] if not p["is_leader"]]) == 91
    assert detail["recording"] == {"available": False, "url": None}
    again = await api.client.get(f"/conferences/{detail['id']}", headers=api.auth("admin"))
    assert again.json()["points"] == detail["points"]
    listed = await api.client.get("/conferences", headers=api.auth("supervisor"))
    assert [c["id"] for c in listed.json()["items"]] == [detail["id"]]
    missing = await api.client.get("/conferences/999999", headers=api.auth("supervisor"))
    assert missing.status_code == 404 and "Không có hội nghị" in missing.json()["detail"]


@pytest.mark.parametrize(
    ("points", "words"),
    [
        ([{"under": {"level": "province", "code": 99}, "level": "commune"}], "Không có địa bàn"),
        ([{"team_id": 987654}], "Không có đội"),
        # Communes have rapid-response teams, no centers.
        (
            [{"under": {"level": "province", "code": 74}, "level": "commune", "kind": "center"}],
            "không có điểm cầu",
        ),
    ],
)
async def test_what_names_no_one_is_refused_in_vietnamese(
    conf: Conf, points: list[dict[str, object]], words: str
) -> None:
    response = await conf.api.client.post(
        "/conferences", json={**BODY, "points": points}, headers=conf.api.auth("supervisor")
    )

    assert response.status_code == 422
    assert words in response.json()["detail"]


async def test_schema_refusals(conf: Conf) -> None:
    for body in (
        {**BODY, "points": []},
        {**BODY, "points": [{"number": "09x"}]},
        {**BODY, "title": " "},
        {**BODY, "leaders": [{"endpoint": "Bad Endpoint"}]},
    ):
        response = await conf.api.client.post(
            "/conferences", json=body, headers=conf.api.auth("supervisor")
        )
        assert response.status_code == 422, body
    two = {**BODY, "leaders": [{"endpoint": "agent01", "number": "0912345678"}]}
    response = await conf.api.client.post(
        "/conferences", json=two, headers=conf.api.auth("supervisor")
    )
    assert response.status_code == 422
    assert "đúng một" in response.json()["detail"]


async def test_a_district_center_leads_its_own_communes_only(conf: Conf) -> None:
    api = conf.api
    token, _ = await center_token(api, 718)
    center = {"Authorization": f"Bearer {token}"}
    own = {**BODY, "points": [{"under": {"level": "district", "code": 718}, "level": "commune"}]}

    created = await api.client.post("/conferences", json=own, headers=center)
    other = await api.client.post(
        "/conferences",
        json={
            **BODY,
            "points": [{"under": {"level": "district", "code": 724}, "level": "commune"}],
        },
        headers=center,
    )
    whole = await api.client.post("/conferences", json=BODY, headers=center)

    assert created.status_code == 201
    assert other.status_code == 403 and "không thuộc địa bàn" in other.json()["detail"]
    assert whole.status_code == 403
    staff = await api.client.post("/conferences", json=BODY, headers=api.auth("supervisor"))
    listed = await api.client.get("/conferences", headers=center)
    assert [c["id"] for c in listed.json()["items"]] == [created.json()["id"]]
    hidden = await api.client.get(f"/conferences/{staff.json()['id']}", headers=center)
    assert hidden.status_code == 404


async def started(conf: Conf) -> tuple[int, list[int]]:
    api = conf.api
    created = await api.client.post("/conferences", json=BODY, headers=api.auth("supervisor"))
    cid = created.json()["id"]
    response = await api.client.post(f"/conferences/{cid}/start", headers=api.auth("supervisor"))
    assert response.status_code == 200, response.text
    await until(lambda: len(conf.pbx.dialled) == 92)
    leader = conf.pbx.dialled[0].point_id
    conf.pbx.signal(cid, leader, SignalKind.PRESENT, attempt=1, channel="PJSIP/agent01-1")
    conf.pbx.signal(cid, leader, SignalKind.JOINED, attempt=1)
    pids = [d.point_id for d in conf.pbx.dialled[1:]]
    for pid in pids[:40]:
        conf.pbx.signal(cid, pid, SignalKind.ANSWERED, attempt=1, channel=f"PJSIP/c-{pid}")
        conf.pbx.signal(cid, pid, SignalKind.PRESENT, attempt=1)
        conf.pbx.signal(cid, pid, SignalKind.JOINED, attempt=1)
    for pid in pids[40:45]:
        conf.pbx.signal(cid, pid, SignalKind.ANSWERED, attempt=1, channel=f"PJSIP/c-{pid}")
        conf.pbx.signal(cid, pid, SignalKind.ABSENT, attempt=1)
    await conf.service.flush()
    return cid, pids


async def test_the_roll_as_json_and_as_a_spreadsheet(conf: Conf) -> None:
    api = conf.api
    cid, _ = await started(conf)

    roll = await api.client.get(f"/conferences/{cid}/roll", headers=api.auth("supervisor"))
    as_csv = await api.client.get(
        f"/conferences/{cid}/roll?format=csv", headers=api.auth("supervisor")
    )
    as_xlsx = await api.client.get(
        f"/conferences/{cid}/roll?format=xlsx", headers=api.auth("supervisor")
    )

    assert roll.json()["totals"] == {
        "present": 40,
        "absent": 5,
        "dialling": 46,
        "left": 0,
        "total": 91,
    }
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    communes = [r for r in rows if r["level"] == "commune"]
    assert len(communes) == 91
    assert sum(int(r["present"]) for r in communes) == 40
    assert [r["present"] for r in rows if r["level"] == "total"] == ["40"]
    assert as_xlsx.status_code == 200 and as_xlsx.content[:2] == b"PK"


async def test_controls_reach_asterisk_are_audited_and_an_ended_conference_refuses_them(
    conf: Conf,
) -> None:
    api, pbx = conf.api, conf.pbx
    cid, pids = await started(conf)
    sup = api.auth("supervisor")
    pbx.calls.clear()

    muted = await api.client.post(f"/conferences/{cid}/mute-all", headers=sup)
    floor = await api.client.post(f"/conferences/{cid}/points/{pids[0]}/floor", headers=sup)
    not_in = await api.client.post(f"/conferences/{cid}/points/{pids[60]}/floor", headers=sup)

    assert muted.status_code == 200 and muted.json()["latency_ms"] >= 0
    assert floor.status_code == 200
    assert not_in.status_code == 409 and "chưa vào phòng họp" in not_in.json()["detail"]
    assert pbx.calls == [
        ("mute", "root", cid, PARTICIPANTS),
        ("unmute", "root", cid, f"PJSIP/c-{pids[0]}"),
    ]
    detail = (await api.client.get(f"/conferences/{cid}", headers=sup)).json()
    assert detail["floor_point_id"] == pids[0] and detail["muted_all"] is True
    for path in ("lock", "record/start", "record/stop", "unlock", "floor/release"):
        response = await api.client.post(f"/conferences/{cid}/{path}", headers=sup)
        assert response.status_code == 200, (path, response.text)

    ended = await api.client.post(f"/conferences/{cid}/end", headers=sup)
    assert ended.status_code == 200
    for path in ("mute-all", "end", "start", f"points/{pids[0]}/kick"):
        refused = await api.client.post(f"/conferences/{cid}/{path}", headers=sup)
        assert refused.status_code == 409, path
        assert "đã kết thúc" in refused.json()["detail"]

    actions = await api.client.get(f"/conferences/{cid}/actions", headers=sup)
    names = [a["action"] for a in reversed(actions.json()["items"])]
    assert names == [
        "start",
        "mute_all",
        "floor",
        "lock",
        "record_start",
        "record_stop",
        "unlock",
        "floor_release",
        "end",
    ]
    assert {a["user"] for a in actions.json()["items"]} == {"supervisor user"}
    recording = await api.client.get(f"/conferences/{cid}/recording", headers=sup)
    assert recording.status_code == 200
    assert recording.headers["content-type"] == "audio/wav"
    detail = (await api.client.get(f"/conferences/{cid}", headers=sup)).json()
    assert detail["recording"]["available"] is True


async def test_a_control_says_503_when_asterisk_cannot_be_reached(conf: Conf) -> None:
    cid, _ = await started(conf)
    conf.pbx.down = True

    response = await conf.api.client.post(
        f"/conferences/{cid}/lock", headers=conf.api.auth("supervisor")
    )

    assert response.status_code == 503
    assert "Asterisk" in response.json()["detail"]


async def test_the_conference_event_reaches_staff_and_its_center_not_agents(conf: Conf) -> None:
    api = conf.api
    token, team_id = await center_token(api, 718)
    supervisor = conf.hub.subscribe(Viewer("supervisor"))
    agent = conf.hub.subscribe(Viewer("agent", agent_id=api.agent_ids["agent01"]))
    its_center = conf.hub.subscribe(Viewer("team", team_id=team_id))
    other_center = conf.hub.subscribe(Viewer("team", team_id=team_id + 1))
    own = {**BODY, "points": [{"under": {"level": "district", "code": 718}, "level": "commune"}]}

    created = await api.client.post(
        "/conferences", json=own, headers={"Authorization": f"Bearer {token}"}
    )
    assert created.status_code == 201

    frame = await supervisor.next(timeout=5)
    assert frame is not None and b"event: conference" in frame
    assert f'"id":{created.json()["id"]}'.encode() in frame
    assert await its_center.next(timeout=1) == frame
    await asyncio.sleep(0.1)
    assert await agent.next(timeout=0.01) is None
    assert await other_center.next(timeout=0.01) is None
