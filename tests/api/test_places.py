"""``/places`` and ``/teams`` over Bình Dương 2021, imported as the service does at start."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from dispatch.teams import ensure_places_and_teams
from store.models import Place, Team, TeamMember, TeamPhone, User
from tests.api.support import Api


@pytest.fixture(autouse=True)
async def binh_duong(api: Api) -> None:
    """Bình Dương 2021 and its default teams, and no other place: the team user acts for the
    team of Phường Hiệp Thành instead of the fixture's test team."""
    await ensure_places_and_teams(api.db, 74)
    async with api.db.session() as session:
        hiep_thanh = await session.scalar(
            select(Team.id)
            .join(Place, Place.id == Team.place_id)
            .where(Place.level == "commune", Place.code == 25741, Team.kind == "team")
        )
        await session.execute(update(User).where(User.role == "team").values(team_id=hiep_thanh))
        await session.execute(delete(Team).where(Team.name == "Tổ thử nghiệm"))
        await session.execute(delete(Place).where(Place.level == "province", Place.code == 0))
        await session.commit()


async def place_id(api: Api, level: str, code: int) -> int:
    async with api.db.session() as session:
        found = await session.scalar(
            select(Place.id).where(Place.level == level, Place.code == code)
        )
    assert found is not None
    return found


async def get(api: Api, path: str, who: str = "team", **params: Any) -> Any:
    response = await api.client.get(path, params=params, headers=api.auth(who))
    assert response.status_code == 200, response.text
    return response.json()


async def team_at(api: Api, level: str, code: int, kind: str = "team") -> dict[str, Any]:
    page = await get(api, "/teams", level=level, code=code, kind=kind)
    [team] = page["items"]
    return dict(team)


# -- places -------------------------------------------------------------------------------------


async def test_list_places_province_first(api: Api) -> None:
    page = await get(api, "/places")

    assert (page["total"], page["limit"], page["offset"]) == (101, 100, 0)
    assert len(page["items"]) == 100
    province = page["items"][0]
    assert (province["level"], province["code"], province["name"]) == (
        "province",
        74,
        "Tỉnh Bình Dương",
    )
    assert (province["parent_id"], province["depth"], province["path"]) == (
        None,
        0,
        f"/{province['id']}/",
    )
    assert [p["code"] for p in page["items"][1:10]] == list(range(718, 727))

    last = await get(api, "/places", limit=10, offset=95)
    assert (last["total"], len(last["items"])) == (101, 6)


async def test_filter_places_by_level_and_parent(api: Api) -> None:
    districts = await get(api, "/places", level="district")
    assert districts["total"] == 9
    assert districts["items"][0]["name"] == "Thành phố Thủ Dầu Một"
    assert districts["items"][0]["division_type"] == "thành phố"

    communes = await get(api, "/places", parent_level="district", parent_code=718)
    assert communes["total"] == 14
    first = communes["items"][0]
    assert (first["code"], first["name"], first["level"]) == (25741, "Phường Hiệp Thành", "commune")
    assert first["division_type"] == "phường"

    province_id = await place_id(api, "province", 74)
    by_id = await get(api, "/places", parent_id=province_id)
    assert [p["code"] for p in by_id["items"]] == list(range(718, 727))


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("thu dau mot", [("district", 718)]),
        ("Thủ Dầu Một", [("district", 718)]),
        ("DĨ AN", [("district", 724), ("commune", 25942)]),
        ("Dĩ An", [("district", 724), ("commune", 25942)]),
        ("an phu", [("commune", 25975)]),
        ("Hiệp Thành", [("commune", 25741)]),
        ("zzz", []),
    ],
)
async def test_search_places_by_name(api: Api, q: str, found: list[tuple[str, int]]) -> None:
    page = await get(api, "/places", q=q)

    assert [(p["level"], p["code"]) for p in page["items"]] == found
    assert page["total"] == len(found)


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"level": "hamlet"}, 422, "province"),
        ({"parent_code": 718}, 422, "parent_level and parent_code go together"),
        ({"parent_level": "district"}, 422, "parent_level and parent_code go together"),
        (
            {"parent_id": 1, "parent_level": "district", "parent_code": 718},
            422,
            "by parent_id or by parent_level",
        ),
        ({"parent_level": "district", "parent_code": 74}, 404, "No district with code 74"),
        ({"parent_id": 99999}, 404, "Place 99999 not found"),
        ({"limit": 0}, 422, "greater than or equal to 1"),
        ({"limit": 501}, 422, "less than or equal to 500"),
        ({"q": ""}, 422, "at least 1 character"),
        ({"parent_code": "abc", "parent_level": "district"}, 422, "valid integer"),
    ],
)
async def test_bad_place_filters(
    api: Api, params: dict[str, object], status: int, message: str
) -> None:
    response = await api.client.get("/places", params=params, headers=api.auth("agent"))

    assert response.status_code == status
    assert message in response.text


async def test_one_place_with_ancestors_and_children(api: Api) -> None:
    commune = await get(api, f"/places/{await place_id(api, 'commune', 25741)}")
    assert (commune["name"], commune["codename"]) == ("Phường Hiệp Thành", "phuong_hiep_thanh")
    assert [(p["level"], p["code"]) for p in commune["ancestors"]] == [
        ("province", 74),
        ("district", 718),
    ]
    assert commune["children"] == []
    assert commune["path"] == (
        f"/{commune['ancestors'][0]['id']}/{commune['ancestors'][1]['id']}/{commune['id']}/"
    )

    district = await get(api, f"/places/{await place_id(api, 'district', 724)}", who="agent")
    assert [p["code"] for p in district["ancestors"]] == [74]
    assert len(district["children"]) == 7
    assert district["children"][0]["name"] == "Phường Dĩ An"

    province = await get(api, f"/places/{await place_id(api, 'province', 74)}")
    assert province["ancestors"] == [] and len(province["children"]) == 9

    missing = await api.client.get("/places/99999", headers=api.auth("team"))
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Place 99999 not found"}


# -- teams --------------------------------------------------------------------------------------


async def test_list_teams_and_filters(api: Api) -> None:
    everything = await get(api, "/teams", limit=500)
    assert everything["total"] == 111
    assert len(everything["items"]) == 111
    first = everything["items"][0]
    assert (first["name"], first["kind"], first["place"]["code"]) == (
        "Trung tâm điều hành tỉnh Bình Dương",
        "center",
        74,
    )

    assert (await get(api, "/teams", level="commune", kind="team"))["total"] == 91
    assert (await get(api, "/teams", kind="center"))["total"] == 10
    at_718 = await get(api, "/teams", level="district", code=718)
    assert [(t["kind"], t["name"]) for t in at_718["items"]] == [
        ("center", "Trung tâm điều hành thành phố Thủ Dầu Một"),
        ("team", "Tổ phản ứng nhanh thành phố Thủ Dầu Một"),
    ]
    thu_dau_mot = await place_id(api, "district", 718)
    assert (await get(api, "/teams", within=thu_dau_mot))["total"] == 16
    assert (await get(api, "/teams", place_id=thu_dau_mot))["total"] == 2
    assert (await get(api, "/teams", active="false"))["total"] == 0

    team = await team_at(api, "commune", 25741)
    assert team["name"] == "Tổ phản ứng nhanh phường Hiệp Thành"
    assert [(m["name"], m["role"]) for m in team["members"]] == [("Trực ban", "duty")]
    assert [(p["position"], p["endpoint"], p["number"]) for p in team["phones"]] == [
        (0, "team-c25741", None)
    ]


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"code": 718}, 422, "code needs level"),
        ({"kind": "squad"}, 422, "center"),
        ({"active": "maybe"}, 422, "valid boolean"),
        ({"within": 99999}, 404, "no place with id 99999"),
    ],
)
async def test_bad_team_filters(
    api: Api, params: dict[str, object], status: int, message: str
) -> None:
    response = await api.client.get("/teams", params=params, headers=api.auth("team"))

    assert response.status_code == status
    assert message in response.text


async def test_get_one_team(api: Api) -> None:
    team = await team_at(api, "province", 74, kind="center")

    got = await get(api, f"/teams/{team['id']}", who="agent")

    assert got == team
    assert got["place"]["name"] == "Tỉnh Bình Dương"
    missing = await api.client.get("/teams/99999", headers=api.auth("team"))
    assert (missing.status_code, missing.json()) == (404, {"detail": "Team 99999 not found"})


async def test_create_a_team_by_place_code(api: Api) -> None:
    body = {
        "name": "Tổ y tế lưu động Dĩ An",
        "kind": "team",
        "place_level": "district",
        "place_code": 724,
        "members": [
            {"name": "Nguyễn Văn An", "role": "leader", "phone_number": "0912345678"},
            {"name": "Trần Thị Bình"},
        ],
        "phones": [
            {"endpoint": "team-d724", "label": "Máy trực ban"},
            {"number": "+84912345678", "label": "Tổ trưởng"},
        ],
    }

    response = await api.client.post("/teams", json=body, headers=api.auth("supervisor"))

    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["name"], created["kind"], created["active"]) == (
        "Tổ y tế lưu động Dĩ An",
        "team",
        True,
    )
    assert (created["place"]["level"], created["place"]["code"]) == ("district", 724)
    assert [(m["name"], m["role"], m["phone_number"]) for m in created["members"]] == [
        ("Nguyễn Văn An", "leader", "0912345678"),
        ("Trần Thị Bình", "member", None),
    ]
    assert [(p["position"], p["endpoint"], p["number"]) for p in created["phones"]] == [
        (0, "team-d724", None),
        (1, None, "+84912345678"),
    ]
    assert await get(api, f"/teams/{created['id']}", who="supervisor") == created
    assert (await get(api, "/teams", level="district", code=724))["total"] == 3


async def test_create_a_center_by_place_id(api: Api) -> None:
    commune = await place_id(api, "commune", 25741)
    response = await api.client.post(
        "/teams",
        json={
            "name": "Trung tâm điều hành phường Hiệp Thành",
            "kind": "center",
            "place_id": commune,
            "active": False,
            "phones": [{"number": "02743822222"}],
        },
        headers=api.auth("admin"),
    )

    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["kind"], created["active"], created["place"]["id"]) == (
        "center",
        False,
        commune,
    )
    assert created["members"] == []


GOOD = {"name": "Tổ mới", "kind": "team", "place_level": "commune", "place_code": 25741}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**GOOD}, "phones"),
        ({**GOOD, "phones": []}, "at least 1 item"),
        (
            {**GOOD, "phones": [{"endpoint": "team-x", "number": "0912345678"}]},
            "give an endpoint or a number, not both",
        ),
        ({**GOOD, "phones": [{"label": "?"}]}, "give an endpoint or a number"),
        ({**GOOD, "phones": [{"number": "0912-345-678"}]}, "must be 3 to 15 digits"),
        ({**GOOD, "phones": [{"endpoint": "Team C1"}]}, "must be 2 to 40 of a-z"),
        ({**GOOD, "phones": [{"endpoint": "a/b"}]}, "must be 2 to 40 of a-z"),
        (
            {
                **GOOD,
                "phones": [{"number": "113"}],
                "members": [{"name": "An", "phone_number": "x"}],
            },
            "members.0.phone_number: a phone number must be 3 to 15 digits, a leading + "
            "allowed, got 'x'",
        ),
        ({**GOOD, "place_code": 99999, "phones": [{"number": "113"}]}, "no commune with code"),
        ({**GOOD, "place_level": None, "phones": [{"number": "113"}]}, "needs a place"),
        (
            {**GOOD, "place_id": 1, "phones": [{"number": "113"}]},
            "by place_id or by place_level",
        ),
        (
            {"name": "Tổ", "kind": "team", "place_id": 99999, "phones": [{"number": "113"}]},
            "no place with id 99999",
        ),
        ({**GOOD, "kind": "squad", "phones": [{"number": "113"}]}, "center"),
        ({**GOOD, "name": "", "phones": [{"number": "113"}]}, "at least 1 character"),
        ({**GOOD, "phones": [{"number": "113"}], "colour": "red"}, "Extra inputs"),
    ],
)
async def test_bad_teams_are_refused_with_422(
    api: Api, body: dict[str, object], message: str
) -> None:
    response = await api.client.post("/teams", json=body, headers=api.auth("supervisor"))

    assert response.status_code == 422, response.text
    assert message in response.text
    assert (await get(api, "/teams"))["total"] == 111


async def test_edit_replaces_members_and_phones(api: Api) -> None:
    team = await team_at(api, "commune", 25741)

    response = await api.client.patch(
        f"/teams/{team['id']}",
        json={
            "name": "Tổ phản ứng nhanh Hiệp Thành",
            "members": [{"name": "Lê Văn Cường", "role": "leader"}],
            "phones": [{"number": "0274382222"}, {"endpoint": "team-c25741", "label": "Bàn"}],
        },
        headers=api.auth("supervisor"),
    )

    assert response.status_code == 200, response.text
    edited = response.json()
    assert edited["name"] == "Tổ phản ứng nhanh Hiệp Thành"
    assert datetime.fromisoformat(edited["updated_at"]) > datetime.fromisoformat(team["updated_at"])
    assert edited["created_at"] == team["created_at"]
    assert [(m["name"], m["role"]) for m in edited["members"]] == [("Lê Văn Cường", "leader")]
    assert [(p["position"], p["endpoint"], p["number"], p["label"]) for p in edited["phones"]] == [
        (0, None, "0274382222", ""),
        (1, "team-c25741", None, "Bàn"),
    ]
    async with api.db.session() as session:
        members = (
            await session.scalars(select(TeamMember.name).where(TeamMember.team_id == team["id"]))
        ).all()
        phones = (
            await session.scalars(select(TeamPhone.id).where(TeamPhone.team_id == team["id"]))
        ).all()
    assert list(members) == ["Lê Văn Cường"] and len(phones) == 2

    # A field left out stays as it is.
    response = await api.client.patch(
        f"/teams/{team['id']}", json={"active": False}, headers=api.auth("admin")
    )
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert response.json()["phones"] == edited["phones"]
    assert (await get(api, "/teams", active="false"))["total"] == 1


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"phones": []}, 422, "at least 1 item"),
        ({"phones": [{"number": "hotline"}]}, 422, "must be 3 to 15 digits"),
        ({"kind": "center"}, 422, "Extra inputs"),
        ({"place_id": 1}, 422, "Extra inputs"),
        ({"name": ""}, 422, "at least 1 character"),
        ({"members": [{"name": "An", "phone_number": "12"}]}, 422, "3 to 15 digits"),
    ],
)
async def test_bad_edits_change_nothing(
    api: Api, body: dict[str, object], status: int, message: str
) -> None:
    team = await team_at(api, "commune", 25741)

    response = await api.client.patch(
        f"/teams/{team['id']}", json=body, headers=api.auth("supervisor")
    )

    assert response.status_code == status
    assert message in response.text
    assert await get(api, f"/teams/{team['id']}") == team


async def test_edit_an_unknown_team_is_404(api: Api) -> None:
    response = await api.client.patch(
        "/teams/99999", json={"name": "x"}, headers=api.auth("supervisor")
    )

    assert (response.status_code, response.json()) == (404, {"detail": "Team 99999 not found"})


async def test_teams_and_agents_may_not_edit(api: Api) -> None:
    team = await team_at(api, "commune", 25741)

    for who in ("team", "agent"):
        response = await api.client.patch(
            f"/teams/{team['id']}", json={"active": False}, headers=api.auth(who)
        )
        assert response.status_code == 403
        assert f"Role '{who}' may not create or edit teams" in response.json()["detail"]
    assert (await get(api, f"/teams/{team['id']}"))["active"] is True


async def test_members_personal_numbers_only_for_those_who_need_them(api: Api) -> None:
    """Supervisors and admins (who edit the teams) and the team's own users read them;
    agents and other teams see the team's phones but not its members' own numbers."""
    body = {
        "name": "Tổ có số riêng",
        "kind": "team",
        "place_level": "district",
        "place_code": 724,
        "members": [{"name": "Nguyễn Văn An", "phone_number": "0912345678"}],
        "phones": [{"number": "02743822222"}],
    }
    created = await api.client.post("/teams", json=body, headers=api.auth("supervisor"))
    assert created.status_code == 201, created.text
    team_id = created.json()["id"]

    async def seen_by(who: str) -> tuple[str | None, str | None]:
        team = await get(api, f"/teams/{team_id}", who=who)
        listed = [t for t in (await get(api, "/teams", who=who))["items"] if t["id"] == team_id]
        assert team["phones"][0]["number"] == "02743822222"  # every role reaches the team
        return team["members"][0]["phone_number"], listed[0]["members"][0]["phone_number"]

    assert await seen_by("supervisor") == ("0912345678", "0912345678")
    assert await seen_by("admin") == ("0912345678", "0912345678")
    assert await seen_by("agent") == (None, None)
    assert await seen_by("team") == (None, None)  # the fixture's team is another team
    async with api.db.session() as session:
        user = await session.scalar(select(User).where(User.role == "team"))
        assert user is not None
        user.team_id = team_id
        await session.commit()
    assert await seen_by("team") == ("0912345678", "0912345678")
