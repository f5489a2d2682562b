"""``/recordings``, ``/calls/{id}/recordings``, pausing and ``/holds`` over the real app, the
real ``RecordingService`` and database (both), and a fake PBX writing real files: who may,
listening streamed with ``Range`` and audited, verify, pauses, holds, usage on health and
the wallboard."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from api.routers.recordings import parse_range
from recordings.service import RecordingParams, RecordingService
from store.models import AuditEntry, Call
from tests.api.support import Api
from tests.recordings.fakes import FakeRecordingPbx, Leg

# A file whose every byte says where it is (so a range's bytes can be checked).
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 8
SIZE = len(WAV)
T0 = datetime(2026, 12, 5, 2, 5, tzinfo=UTC)  # 09:05 in Vietnam, yesterday


@dataclass
class Rec:
    api: Api
    service: RecordingService
    pbx: FakeRecordingPbx
    root: Path

    def agents_may_listen(self, allowed: bool) -> None:
        services = self.api.app.state.services
        self.api.app.state.services = replace(services, recording_agent_may_listen=allowed)

    async def call(
        self, uniqueid: str, *, agent: str = "agent01", category: str = "medical"
    ) -> Call:
        return await self.api.add_call(
            uniqueid=uniqueid,
            arrived_at=T0,
            answered_at=T0,
            agent_id=self.api.agent_ids[agent],
            agent_endpoint=agent,
            category=category,
            caller_number="0912345678",
        )

    async def recorded(self, uniqueid: str, **call: str) -> tuple[Call, int]:
        """A call and its sealed recording (WAV)."""
        row = await self.call(uniqueid, **call)
        leg = self.pbx.start_call(uniqueid, at=T0)
        self.pbx.write(leg, WAV)
        self.pbx.close(leg, at=T0 + timedelta(seconds=95))
        await self.service.drain()
        [found] = (await self.service.for_call(row.id)) or [None]
        assert found is not None and found.status == "sealed"
        return row, found.id

    async def recording(self, uniqueid: str, **call: str) -> tuple[Call, Leg]:
        """A call being recorded now."""
        row = await self.call(uniqueid, **call)
        leg = self.pbx.start_call(uniqueid, at=T0)
        self.pbx.write(leg, WAV[:100])
        await self.service.drain()
        return row, leg


@pytest.fixture
async def rec(api: Api, tmp_path: Path) -> AsyncIterator[Rec]:
    root = tmp_path / "recordings"
    pbx = FakeRecordingPbx(root)
    service = RecordingService(api.db, pbx, RecordingParams(root=root, purge_interval_s=3600))
    await service.start()
    api.app.state.services = replace(api.app.state.services, recordings=service)
    try:
        yield Rec(api, service, pbx, root)
    finally:
        await service.close()


# -- who may ------------------------------------------------------------------------------------


async def test_supervisors_and_admins_read_agents_only_if_allowed(rec: Rec) -> None:
    api = rec.api
    call, rid = await rec.recorded("1733371500.1")
    paths = (
        "/recordings",
        f"/recordings/{rid}",
        f"/recordings/{rid}/verify",
        f"/recordings/{rid}/audio",
        f"/calls/{call.id}/recordings",
    )
    for path in paths:
        for who, expected in (("supervisor", 200), ("admin", 200), ("agent", 403), ("team", 403)):
            response = await api.client.get(path, headers=api.auth(who))
            assert response.status_code == expected, (path, who, response.text)
    refused = await api.client.get("/recordings", headers=api.auth("agent"))
    assert "HOTLINE_RECORDING_AGENT_MAY_LISTEN" in refused.json()["detail"]

    rec.agents_may_listen(True)
    for path in paths:
        response = await api.client.get(path, headers=api.auth("agent"))
        assert response.status_code == 200, (path, response.text)
    # The whole chain stays the supervisors' and admins'.
    chain = await api.client.get("/recordings/verify", headers=api.auth("agent"))
    assert chain.status_code == 403


async def test_an_allowed_agent_sees_only_their_own_calls(rec: Rec) -> None:
    api = rec.api
    rec.agents_may_listen(True)
    _, mine = await rec.recorded("1733371500.1", agent="agent01")
    other_call, theirs = await rec.recorded("1733371600.2", agent="agent02")
    agent = api.auth("agent")

    listed = await api.client.get("/recordings", headers=agent)
    assert [r["id"] for r in listed.json()["items"]] == [mine]
    asked = await api.client.get("/recordings", params={"agent": "agent02"}, headers=agent)
    assert asked.json()["items"] == [] and asked.json()["total"] == 0
    for path in (
        f"/recordings/{theirs}",
        f"/recordings/{theirs}/audio",
        f"/recordings/{theirs}/verify",
        f"/calls/{other_call.id}/recordings",
    ):
        hidden = await api.client.get(path, headers=agent)
        missing = await api.client.get(path.replace(str(theirs), "999999"), headers=agent)
        assert hidden.status_code == 404, path
        assert missing.status_code == 404
    everyone = await api.client.get("/recordings", headers=api.auth("supervisor"))
    assert {r["id"] for r in everyone.json()["items"]} == {mine, theirs}


# -- reading ------------------------------------------------------------------------------------


async def test_search_finds_yesterdays_call_by_number_category_and_agent(rec: Rec) -> None:
    api = rec.api
    call, rid = await rec.recorded("1733371500.1", agent="agent02", category="medical")
    await rec.recorded("1733371600.2", agent="agent01", category="food")
    sup = api.auth("supervisor")

    found = await api.client.get(
        "/recordings",
        params={
            "day_from": "2026-12-05",
            "day_to": "2026-12-05",
            "category": "medical",
            "number": "345678",
            "agent": "agent02",
        },
        headers=sup,
    )
    assert found.status_code == 200, found.text
    [item] = found.json()["items"]
    assert item["id"] == rid and item["call_id"] == call.id
    assert item["sha256"] == hashlib.sha256(WAV).hexdigest()
    assert item["size_bytes"] == SIZE and item["status"] == "sealed"
    assert item["agent_endpoint"] == "agent02" and item["category"] == "medical"
    none = await api.client.get("/recordings", params={"day_from": "2026-12-06"}, headers=sup)
    assert none.json()["total"] == 0
    bad = await api.client.get("/recordings", params={"kind": "tape"}, headers=sup)
    assert bad.status_code == 422
    one = await api.client.get(f"/recordings/{rid}", headers=sup)
    assert one.json() == item
    of_call = await api.client.get(f"/calls/{call.id}/recordings", headers=sup)
    assert of_call.json() == {"items": [item]}
    missing = await api.client.get("/recordings/999999", headers=sup)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "Không tìm thấy bản ghi âm."


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),  # the first bytes
        ("bytes=1000-1499", 1000, 1499),  # a middle range
        ("bytes=-300", SIZE - 300, SIZE - 1),  # the suffix form: the last 300
        ("bytes=2000-", 2000, SIZE - 1),  # from there to the end
        ("bytes=2000-999999", 2000, SIZE - 1),  # past the end: cut at it
    ],
)
async def test_audio_answers_ranges_with_206(rec: Rec, header: str, first: int, last: int) -> None:
    api = rec.api
    _, rid = await rec.recorded("1733371500.1")

    response = await api.client.get(
        f"/recordings/{rid}/audio", headers={**api.auth("supervisor"), "Range": header}
    )

    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {first}-{last}/{SIZE}"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-type"] == "audio/wav"
    assert int(response.headers["content-length"]) == last - first + 1
    assert response.content == WAV[first : last + 1]


async def test_audio_whole_file_unsatisfiable_ranges_and_ones_ignored(rec: Rec) -> None:
    api = rec.api
    _, rid = await rec.recorded("1733371500.1")
    sup = api.auth("supervisor")
    url = f"/recordings/{rid}/audio"

    whole = await api.client.get(url, headers=sup)
    assert whole.status_code == 200 and whole.content == WAV
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["cache-control"] == "no-store"
    for header in (f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}", "bytes=-0"):
        refused = await api.client.get(url, headers={**sup, "Range": header})
        assert refused.status_code == 416, header
        assert refused.headers["content-range"] == f"bytes */{SIZE}"
    # Malformed, reversed or several ranges: RFC 9110 lets the server send it all.
    for header in ("bytes=abc", "items=0-5", "bytes=50-10", "bytes=0-1,5-9"):
        ignored = await api.client.get(url, headers={**sup, "Range": header})
        assert ignored.status_code == 200 and ignored.content == WAV, header


async def test_every_listening_is_audited(rec: Rec) -> None:
    api = rec.api
    _, rid = await rec.recorded("1733371500.1")

    await api.client.get(f"/recordings/{rid}/audio", headers=api.auth("supervisor"))
    await api.client.get(
        f"/recordings/{rid}/audio", headers={**api.auth("admin"), "Range": "bytes=0-9"}
    )
    # Reading its facts is not listening.
    await api.client.get(f"/recordings/{rid}", headers=api.auth("admin"))

    async with api.db.session() as s:
        rows = (
            await s.execute(
                select(AuditEntry.action, AuditEntry.target, AuditEntry.user_name)
                .where(AuditEntry.action == "listen")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("listen", f"recording:{rid}", "supervisor user"),
        ("listen", f"recording:{rid}", "admin user"),
    ]
    # ... and a supervisor reads who listened, newest first; an agent may not.
    resp = await api.client.get(f"/recordings/{rid}/listens", headers=api.auth("supervisor"))
    assert resp.status_code == 200, resp.text
    assert [e["user_name"] for e in resp.json()] == ["admin user", "supervisor user"]
    resp = await api.client.get(f"/recordings/{rid}/listens", headers=api.auth("agent"))
    assert resp.status_code == 403
    resp = await api.client.get("/recordings/999999/listens", headers=api.auth("supervisor"))
    assert resp.status_code == 404


async def test_still_recording_is_409_and_purged_is_410(rec: Rec) -> None:
    api = rec.api
    sup = api.auth("supervisor")
    call, _leg = await rec.recording("1733371700.3")
    [open_one] = await rec.service.for_call(call.id)

    busy = await api.client.get(f"/recordings/{open_one.id}/audio", headers=sup)
    assert busy.status_code == 409
    assert "đang được ghi âm" in busy.json()["detail"]

    _, rid = await rec.recorded("1733371500.1")
    report = await rec.service.purge(now=T0 + timedelta(days=20_000))
    assert rid in report.removed
    gone = await api.client.get(f"/recordings/{rid}/audio", headers=sup)
    assert gone.status_code == 410
    assert "xoá theo thời hạn lưu trữ" in gone.json()["detail"]
    facts = await api.client.get(f"/recordings/{rid}", headers=sup)
    assert facts.json()["status"] == "purged" and facts.json()["sha256"]


# -- verify -------------------------------------------------------------------------------------


async def test_verify_one_and_the_chain_then_a_byte_altered(rec: Rec) -> None:
    api = rec.api
    sup = api.auth("supervisor")
    _, first = await rec.recorded("1733371500.1")
    _, second = await rec.recorded("1733371600.2")

    one = await api.client.get(f"/recordings/{second}/verify", headers=sup)
    assert one.json() == {
        "id": second,
        "ok": True,
        "sha256": hashlib.sha256(WAV).hexdigest(),
        "problems": [],
    }
    chain = await api.client.get("/recordings/verify", headers=sup)
    assert chain.json() == {"ok": True, "checked": 2, "purged": 0, "problems": []}

    [leg] = [leg for leg in rec.pbx.legs if leg.uniqueid == "1733371500.1"]
    data = bytearray(leg.path.read_bytes())
    data[500] ^= 0xFF
    leg.path.write_bytes(bytes(data))

    broken = await api.client.get(f"/recordings/{first}/verify", headers=sup)
    assert broken.status_code == 200
    assert broken.json()["ok"] is False
    assert [p["recording_id"] for p in broken.json()["problems"]] == [first]
    chain = await api.client.get("/recordings/verify", headers=sup)
    assert chain.json()["ok"] is False
    assert {p["recording_id"] for p in chain.json()["problems"]} == {first}


# -- pausing ------------------------------------------------------------------------------------


async def test_the_agent_pauses_and_resumes_their_calls_recording(rec: Rec) -> None:
    api = rec.api
    call, leg = await rec.recording("1733371700.3", agent="agent01")
    agent = api.auth("agent")

    paused = await api.client.post(f"/calls/{call.id}/recording/pause", headers=agent)
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True
    assert rec.pbx.paused == {leg.channel}
    again = await api.client.post(f"/calls/{call.id}/recording/pause", headers=agent)
    assert again.status_code == 409

    resumed = await api.client.post(f"/calls/{call.id}/recording/resume", headers=agent)
    assert resumed.status_code == 200 and resumed.json()["paused"] is False
    assert rec.pbx.paused == set()
    not_paused = await api.client.post(
        f"/calls/{call.id}/recording/resume", headers=api.auth("supervisor")
    )
    assert not_paused.status_code == 409

    rec.pbx.close(leg, at=T0 + timedelta(seconds=60))
    await rec.service.drain()
    [done] = (
        await api.client.get(f"/calls/{call.id}/recordings", headers=api.auth("admin"))
    ).json()["items"]
    assert [p["by_name"] for p in done["pauses"]] == ["Đỗ Thị Agent"]
    async with api.db.session() as s:
        rows = (
            await s.execute(
                select(AuditEntry.action, AuditEntry.user_name)
                .where(AuditEntry.action.in_(["recording_pause", "recording_resume"]))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("recording_pause", "Đỗ Thị Agent"),
        ("recording_resume", "Đỗ Thị Agent"),
    ]


async def test_pausing_refusals(rec: Rec) -> None:
    api = rec.api
    theirs, _ = await rec.recording("1733371800.4", agent="agent02")
    quiet = await rec.call("1733371900.5", agent="agent01")

    hidden = await api.client.post(f"/calls/{theirs.id}/recording/pause", headers=api.auth("agent"))
    assert hidden.status_code == 404  # another agent's call: as if it did not exist
    team = await api.client.post(f"/calls/{theirs.id}/recording/pause", headers=api.auth("team"))
    assert team.status_code == 403
    nothing = await api.client.post(f"/calls/{quiet.id}/recording/pause", headers=api.auth("agent"))
    assert nothing.status_code == 404
    rec.pbx.down = True
    down = await api.client.post(
        f"/calls/{theirs.id}/recording/pause", headers=api.auth("supervisor")
    )
    assert down.status_code == 503
    assert "Asterisk" in down.json()["detail"]


# -- holds --------------------------------------------------------------------------------------


async def test_a_hold_keeps_the_recording_from_the_purge_until_released(rec: Rec) -> None:
    api = rec.api
    sup = api.auth("supervisor")
    call, rid = await rec.recorded("1733371500.1")

    made = await api.client.post(
        "/holds", json={"call_id": call.id, "reason": "Khiếu nại của người dân"}, headers=sup
    )
    assert made.status_code == 201, made.text
    hold = made.json()
    assert hold["active"] is True and hold["created_by"] == "supervisor user"
    listed = await api.client.get("/holds", headers=api.auth("admin"))
    assert [h["id"] for h in listed.json()["items"]] == [hold["id"]]
    held = await api.client.get(f"/recordings/{rid}", headers=sup)
    assert held.json()["on_hold"] is True

    report = await rec.service.purge(now=T0 + timedelta(days=20_000))
    assert rid in report.kept_on_hold

    released = await api.client.delete(f"/holds/{hold['id']}", headers=api.auth("admin"))
    assert released.status_code == 200
    assert released.json()["active"] is False and released.json()["released_by"] == "admin user"
    twice = await api.client.delete(f"/holds/{hold['id']}", headers=api.auth("admin"))
    assert twice.status_code == 409
    assert (await api.client.get("/holds", headers=sup)).json()["items"] == []
    every = await api.client.get("/holds", params={"active": "false"}, headers=sup)
    assert [h["id"] for h in every.json()["items"]] == [hold["id"]]
    missing = await api.client.delete("/holds/999999", headers=sup)
    assert missing.status_code == 404


async def test_hold_refusals_in_vietnamese(rec: Rec) -> None:
    api = rec.api
    sup = api.auth("supervisor")
    call = await rec.call("1733371500.1")

    for body in (
        {"reason": "Không chỉ định"},
        {"call_id": call.id, "incident_id": 1, "reason": "Cả hai"},
        {"call_id": 999999, "reason": "Không có cuộc gọi này"},
    ):
        refused = await api.client.post("/holds", json=body, headers=sup)
        assert refused.status_code == 422, body
        assert isinstance(refused.json()["detail"], str), body
    blank = await api.client.post("/holds", json={"call_id": call.id, "reason": "  "}, headers=sup)
    assert blank.status_code == 422
    agent = await api.client.post(
        "/holds", json={"call_id": call.id, "reason": "x"}, headers=api.auth("agent")
    )
    assert agent.status_code == 403


# -- usage --------------------------------------------------------------------------------------


async def test_health_and_the_wallboard_show_the_recordings_usage(rec: Rec) -> None:
    api = rec.api
    await rec.recorded("1733371500.1")

    health = (await api.client.get("/health")).json()
    usage = health["recordings"]
    assert usage["files"] == 1 and usage["bytes"] == SIZE
    assert usage["oldest"].startswith("2026-12-05T02:05")
    assert usage["disk_total_bytes"] >= usage["disk_free_bytes"] > 0
    board = await api.client.get("/wallboard/data", headers=api.auth("supervisor"))
    shown = board.json()["recordings"]
    assert shown["disk_free_bytes"] > 0  # other tests write to the same disk meanwhile
    assert {**shown, "disk_free_bytes": 0} == {**usage, "disk_free_bytes": 0}


async def test_without_a_recording_service_health_says_null(api: Api) -> None:
    assert (await api.client.get("/health")).json()["recordings"] is None


# -- parse_range (pure) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=9-", 10, (9, 9)),
        ("bytes=-20", 10, (0, 9)),
        ("bytes = 2 - 4", 10, (2, 4)),  # spaces tolerated
        ("bytes=2-4", 0, "unsatisfiable"),
        ("bytes=-5", 0, "unsatisfiable"),
        ("bytes=", 10, None),
        ("bytes=-", 10, None),
        ("BYTES=1-2", 10, (1, 2)),
        ("bytes=\u00b2-", 10, None),  # a superscript two: a digit to str.isdigit
        ("bytes=1234567890123456789-", 10, None),
    ],
)
def test_parse_range(header: str | None, size: int, expected: object) -> None:
    assert parse_range(header, size) == expected


# -- the OpenAPI document ---------------------------------------------------------------

NEW_ROUTES = {
    ("get", "/recordings"): {"403", "503"},
    ("get", "/recordings/verify"): {"403", "503"},
    ("get", "/recordings/{recording_id}"): {"403", "404", "503"},
    ("get", "/recordings/{recording_id}/audio"): {"206", "403", "404", "409", "410", "416"},
    ("get", "/recordings/{recording_id}/verify"): {"403", "404", "503"},
    ("get", "/calls/{call_id}/recordings"): {"403", "404", "503"},
    ("post", "/calls/{call_id}/recording/pause"): {"403", "404", "409", "503"},
    ("post", "/calls/{call_id}/recording/resume"): {"403", "404", "409", "503"},
    ("post", "/holds"): {"201", "403", "422", "503"},
    ("get", "/holds"): {"403", "503"},
    ("delete", "/holds/{hold_id}"): {"403", "404", "409", "503"},
    ("get", "/monitor"): {"403", "503"},
    ("post", "/monitor"): {"201", "403", "404", "409", "422", "503"},
    ("patch", "/monitor/{session_id}"): {"403", "404", "503"},
    ("delete", "/monitor/{session_id}"): {"403", "404", "503"},
}


async def test_every_new_route_is_documented(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    for (method, path), statuses in NEW_ROUTES.items():
        operation = doc["paths"][path][method]
        assert operation["summary"], (method, path)
        assert operation["tags"] in (["recordings"], ["monitor"]), (method, path)
        assert operation["security"] == [{"HTTPBearer": []}], (method, path)
        assert statuses | {"401"} <= set(operation["responses"]), (method, path)
    audio = doc["paths"]["/recordings/{recording_id}/audio"]["get"]
    assert "audio/wav" in audio["responses"]["206"]["content"]
    assert any(p["name"] == "Range" and p["in"] == "header" for p in audio["parameters"])
    health = doc["components"]["schemas"]["HealthOut"]["properties"]
    assert "recordings" in health
