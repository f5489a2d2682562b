"""The issue's scenario against the scripted fake PBX (tests/conference/fake_pbx.py), which
reports signals in Asterisk's order: every commune team of Bình Dương over two nodes, most
press 1, some press nothing, some are busy on their first phone and answer on the second,
some never answer; the leader joins, the nodes are linked, the roll comes out right per
district; mute-all, the floor, a raised hand, the recording and the end act on the bridges."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from conference.points import ConferenceSpec, LeaderSpec
from conference.service import ConferenceParams, ConferenceService
from dispatch.teams import ensure_places_and_teams
from store.db import Database
from store.models import Place, Team, TeamPhone
from store.users import create_user
from tests.conference.fake_pbx import (
    FakeConferencePbx,
    absent,
    busy,
    leader,
    no_answer,
    present,
)
from tests.conference.test_service import BINH_DUONG_COMMUNES, SUPERVISOR, fake_speak, until

Scripted = tuple[ConferenceService, FakeConferencePbx, dict[str, list[int]]]


@pytest.fixture
async def scripted(
    db: Database,
) -> AsyncIterator[tuple[ConferenceService, FakeConferencePbx, dict[str, list[int]]]]:
    await ensure_places_and_teams(db, 74)
    await create_user(db, name=SUPERVISOR.name, role="supervisor")
    async with db.session() as s:
        rows = (
            await s.execute(
                select(Team.id, Place.code)
                .join(Place, Place.id == Team.place_id)
                .where(Place.level == "commune", Team.kind == "team")
                .order_by(Place.code)
            )
        ).all()
        codes = [code for _, code in rows]
        # Communes 0-4 press nothing, 5-7 are busy on their duty phone and answer on a
        # second one, 8-9 never answer anywhere; the rest press 1.
        for team_id, code in rows[5:8]:
            s.add(TeamPhone(team_id=team_id, position=1, number=f"09000{code}"))
        await s.commit()
    scripts = {"PJSIP/agent01": leader()}
    for code in codes[:5]:
        scripts[f"PJSIP/team-c{code}"] = absent(after_s=0.01)
    for code in codes[5:8]:
        scripts[f"PJSIP/team-c{code}"] = busy()
        scripts[f"PJSIP/09000{code}@pstn-out"] = present(after_s=0.01)
    for code in codes[8:10]:
        scripts[f"PJSIP/team-c{code}"] = no_answer()
    pbx = FakeConferencePbx(["root", "b"], scripts, default=present(after_s=0.01))
    service = ConferenceService(
        db,
        pbx,
        ConferenceParams(dial_rate_per_s=10_000, flush_s=0.02, per_node=60),
        speak=fake_speak,
    )
    await service.start()
    groups = {"absent": codes[:5], "second_phone": codes[5:8], "never": codes[8:10]}
    try:
        yield service, pbx, groups
    finally:
        await service.close()
        await pbx.close()


async def test_a_province_wide_conference_from_the_call_to_the_end(
    scripted: Scripted,
) -> None:
    service, pbx, groups = scripted
    created = await service.create(
        SUPERVISOR,
        ConferenceSpec("Phòng chống dịch", [BINH_DUONG_COMMUNES], [LeaderSpec(endpoint="agent01")]),
    )
    cid = int(created["id"])  # type: ignore[call-overload]
    await service.start_conference(SUPERVISOR, cid)

    async def totals() -> dict[str, int]:
        await service.flush()
        return (await service.roll(SUPERVISOR, cid))["totals"]  # type: ignore[no-any-return]

    final = {"present": 91 - 5 - 2, "absent": 5 + 2, "dialling": 0, "left": 0, "total": 91}
    for _ in range(500):
        if await totals() == final:
            break
        await pbx.settle()
    assert await totals() == final
    # The second phones answered at the second attempt; the unanswered ones were tried 3 times.
    detail = await service.detail(SUPERVISOR, cid)
    by_code = {p["place"]["code"]: p for p in detail["points"] if p["place"]}  # type: ignore[attr-defined]
    assert [by_code[c]["attempts"] for c in groups["second_phone"]] == [2, 2, 2]
    assert [(by_code[c]["state"], by_code[c]["attempts"]) for c in groups["never"]] == [
        ("failed", 3),
        ("failed", 3),
    ]
    assert {by_code[c]["state"] for c in groups["absent"]} == {"absent"}
    # Both nodes hold points; the leader on the root linked the other one.
    assert set(detail["nodes"]) == {"root", "b"}  # type: ignore[arg-type]
    await until(lambda: ("b", cid) in pbx.linked)
    districts = detail["roll"]["provinces"][0]["districts"]  # type: ignore[index]
    assert sum(d["present"] for d in districts) == final["present"], detail["roll"]

    await service.mute_all(SUPERVISOR, cid)
    for node in ("root", "b"):
        members = await pbx.members(node, cid)
        assert members and all(m.muted for m in members if not m.admin)
    speaker = next(p for p in detail["points"] if p["state"] == "joined" and not p["is_leader"])  # type: ignore[attr-defined]
    await service.give_floor(SUPERVISOR, cid, speaker["id"])
    members = await pbx.members(speaker["node"], cid)
    assert [m.point_id for m in members if not m.admin and not m.muted] == [speaker["id"]]
    channel = pbx.channel_of(speaker["id"] + 1)
    assert channel is not None
    pbx.raise_hand(channel)
    await until(lambda: True)
    await service.flush()
    assert [h["point_id"] for h in (await service.detail(SUPERVISOR, cid))["hands"]] == [  # type: ignore[index]
        speaker["id"] + 1
    ]
    await service.record_start(SUPERVISOR, cid)
    assert cid in pbx.recording

    await service.end(SUPERVISOR, cid)

    assert await pbx.members("root", cid) == [] and await pbx.members("b", cid) == []
    ended = await service.detail(SUPERVISOR, cid)
    assert ended["status"] == "ended" and ended["recording_active"] is False
    assert ended["totals"]["present"] == final["present"]  # type: ignore[index]
