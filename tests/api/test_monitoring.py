"""``/monitoring`` over HTTP on the world of tests/dispatch/monitoring_world.py, its NOW at
the real now (the routes judge "overdue" at the time of the request): who sees what, the
filters and their 422s, and the figures as the store tests work them out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from store.models import Incident, User
from store.users import create_user
from tests.api.support import Api
from tests.dispatch.monitoring_world import World, build_world


@pytest.fixture
async def world(api: Api) -> World:
    world = await build_world(api.db, now=datetime.now(UTC))
    # A team user for a district center, one for a commune team, one for the province.
    for key in ("718", "25942", "province"):
        _, api.tokens[f"team {key}"] = await create_user(
            api.db, name=f"team {key}", role="team", team_id=world.teams[key].id
        )
    return world


def names(world: World, body: dict[str, Any]) -> list[str]:
    return [world.name(item["id"]) for item in body["items"]]


async def get(api: Api, path: str, who: str = "supervisor", **params: Any) -> Any:
    response = await api.client.get(f"/monitoring/{path}", params=params, headers=api.auth(who))
    assert response.status_code == 200, response.text
    return response.json()


async def test_open_incidents_overdue_first_with_vietnamese_labels(api: Api, world: World) -> None:
    body = await get(api, "incidents")

    assert names(world, body) == ["B", "A", "E", "F", "C", "D"]
    assert (body["total"], body["overdue"]) == (6, 2)
    b, a = body["items"][:2]
    # B was due 30 min ago, A 5 min ago (plus the milliseconds the request took).
    assert b["overdue"] is True and 1800 <= b["overdue_s"] < 1860
    assert b["overdue_label"] == "Quá hạn 30 phút"
    assert a["overdue_label"] == "Quá hạn 5 phút"
    assert (b["status"], b["status_label"]) == ("new", "Mới tiếp nhận")
    assert (b["category_label"], b["urgency_label"]) == (
        "Hỗ trợ lương thực, nhu yếu phẩm",
        "Bình thường",
    )
    assert b["team"] is None
    assert a["team"] == {"id": world.teams["25741"].id, "name": world.teams["25741"].name}
    assert a["commune"]["name"] == "Phường Hiệp Thành"
    assert a["district"] == {
        "id": world.places["718"].id,
        "code": 718,
        "name": "Thành phố Thủ Dầu Một",
        "level": "district",
    }
    e = body["items"][2]
    assert (e["overdue"], e["overdue_s"], e["overdue_label"]) == (False, None, None)
    assert e["status_label"] == "Đang di chuyển"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"district_code": 724}, ["C", "D"]),
        ({"commune_code": 25741}, ["A", "F"]),
        ({"status": ["dispatched"]}, ["A", "F", "D"]),
        ({"status": ["new", "en_route"]}, ["B", "E"]),
        ({"category": "medical", "urgency": "critical"}, ["A", "E"]),
        ({"overdue": "true"}, ["B", "A"]),
        ({"limit": 2, "offset": 1}, ["A", "E"]),
    ],
)
async def test_open_incidents_filters(
    api: Api, world: World, params: dict[str, Any], expected: list[str]
) -> None:
    assert names(world, await get(api, "incidents", **params)) == expected


async def test_open_incidents_by_place_id_team_and_created_range(api: Api, world: World) -> None:
    d2 = world.places["724"].id
    assert names(world, await get(api, "incidents", place_id=d2)) == ["C", "D"]
    center = world.teams["718"].id
    assert names(world, await get(api, "incidents", team_id=center)) == ["F"]
    # The created range of the world's table: C 09:40, A 09:50, D 09:55 (NOW is 10:00).
    body = await get(api, "incidents")
    created = {world.name(i["id"]): i["created_at"] for i in body["items"]}
    ranged = await get(api, "incidents", since=created["C"], until=created["E"])
    assert names(world, ranged) == ["A", "C", "D"]


async def test_a_district_center_sees_its_district_and_nothing_else(api: Api, world: World) -> None:
    body = await get(api, "incidents", who="team 718")
    assert names(world, body) == ["B", "A", "E", "F"]
    assert names(world, await get(api, "incidents", who="team 718", commune_code=25747)) == [
        "B",
        "E",
    ]

    response = await api.client.get(
        "/monitoring/incidents", params={"district_code": 724}, headers=api.auth("team 718")
    )
    assert response.status_code == 403
    assert response.json() == {
        "detail": "User 'team 718' sees only the incidents under Thành phố Thủ Dầu Một"
    }

    summary = await get(api, "summary", who="team 718")
    assert summary["place"]["code"] == 718
    assert summary["level"] == "commune"
    # Every commune of the district is a row; the world's incidents are in two of them.
    assert {r["place"]["name"]: r["open"] for r in summary["rows"] if r["open"]} == {
        "Phường Hiệp Thành": 2,
        "Phường Phú Cường": 2,
    }
    assert all(r["place"]["level"] == "commune" for r in summary["rows"])
    assert (summary["total"]["open"], summary["total"]["overdue"]) == (4, 2)


async def test_a_commune_team_and_the_province_center(api: Api, world: World) -> None:
    assert names(world, await get(api, "incidents", who="team 25942")) == ["C", "D"]
    summary = await get(api, "summary", who="team 25942")
    assert [(r["place"]["code"], r["open"]) for r in summary["rows"]] == [(25942, 2)]
    assert len((await get(api, "incidents", who="team province"))["items"]) == 6

    # The district center hands A (in Hiệp Thành) to the Dĩ An team: it sees it too.
    async with api.db.session() as session:
        a = await session.get(Incident, world.incidents["A"])
        assert a is not None
        a.team_id = world.teams["25942"].id
        await session.commit()
    assert names(world, await get(api, "incidents", who="team 25942")) == ["A", "C", "D"]
    # Asked about its own commune, it gets that commune.
    assert names(world, await get(api, "incidents", who="team 25942", commune_code=25942)) == [
        "C",
        "D",
    ]


async def test_summary_per_district_with_labelled_columns(api: Api, world: World) -> None:
    body = await get(api, "summary")

    assert body["place"] is None and body["level"] == "district"
    assert [(c["key"], c["label"]) for c in body["columns"]] == [
        ("new", "Mới tiếp nhận"),
        ("dispatched", "Đã điều động"),
        ("acknowledged", "Đội đã nhận lệnh"),
        ("en_route", "Đang di chuyển"),
        ("on_scene", "Đã có mặt tại hiện trường"),
        ("overdue", "Quá hạn"),
    ]
    rows = {r["place"]["code"]: r for r in body["rows"]}
    assert rows[718]["counts"] == {
        "new": 1,
        "dispatched": 2,
        "acknowledged": 0,
        "en_route": 1,
        "on_scene": 0,
    }
    assert (rows[718]["open"], rows[718]["overdue"]) == (4, 2)
    assert (rows[724]["open"], rows[724]["overdue"]) == (2, 0)
    assert body["total"]["place"] is None
    assert (body["total"]["open"], body["total"]["overdue"]) == (6, 2)
    medical = await get(api, "summary", category="medical")
    # A, F, E in Thủ Dầu Một (B is food), C in Dĩ An.
    assert {r["place"]["code"]: r["open"] for r in medical["rows"] if r["open"]} == {
        718: 3,
        724: 1,
    }


def day(world: World) -> dict[str, str]:
    """The tables' day: 1 May 00:00 in Vietnam (NOW − 17 h) until NOW."""
    return {
        "since": (world.now - timedelta(hours=17)).isoformat(),
        "until": world.now.isoformat(),
    }


async def test_team_figures(api: Api, world: World) -> None:
    teams = await get(api, "teams", **day(world))

    rows = {r["team"]["id"]: r for r in teams["rows"]}
    # By place: the district center, its communes' teams, then the other district's team.
    assert [(r["team"]["id"], r["team"]["name"]) for r in teams["rows"]] == [
        (world.teams[k].id, world.teams[k].name) for k in ("718", "25741", "25747", "25942")
    ]
    hiep_thanh = rows[world.teams["25741"].id]
    # As in tests/dispatch: ack 30, 60, 90, 600 → 75; resolve 1200, 1800, 3000 → 1800.
    assert {k: v for k, v in hiep_thanh.items() if k not in ("team", "place")} == {
        "kind": "team",
        "dispatched": 6,
        "escalated": 1,
        "taken": 4,
        "resolved": 3,
        "cancelled": 1,
        "open": 0,
        "ack_median_s": 75.0,
        "resolve_median_s": 1800.0,
    }
    assert hiep_thanh["place"]["code"] == 25741
    assert datetime.fromisoformat(teams["since"]) == world.now - timedelta(hours=17)
    assert datetime.fromisoformat(teams["until"]) == world.now

    medical = await get(api, "teams", category="medical", **day(world))
    di_an = next(r for r in medical["rows"] if r["team"]["id"] == world.teams["25942"].id)
    assert (di_an["taken"], di_an["ack_median_s"], di_an["resolve_median_s"]) == (2, 67.5, 600.0)

    # A district center's user: the teams' figures of its district only.
    own = await get(api, "teams", who="team 718", **day(world))
    assert [r["team"]["id"] for r in own["rows"]] == [
        world.teams[k].id for k in ("718", "25741", "25747")
    ]


async def test_district_figures(api: Api, world: World) -> None:
    body = await get(api, "districts", **day(world))

    assert body["level"] == "district" and body["place"] is None
    rows = {r["place"]["code"]: r for r in body["rows"]}
    # As in tests/dispatch (the teams' count too depends on which teams exist).
    figures = ("incidents", "taken", "resolved", "cancelled", "open", "escalated")
    assert [rows[718][k] for k in figures] == [9, 6, 4, 1, 4, 2]
    assert (rows[718]["ack_median_s"], rows[718]["resolve_median_s"]) == (75.0, 2100.0)
    assert [rows[724][k] for k in figures] == [4, 3, 2, 0, 2, 0]
    assert rows[718]["teams"] >= 3 and rows[724]["teams"] >= 2
    total = body["total"]
    assert total["place"] is None
    assert (total["incidents"], total["ack_median_s"], total["resolve_median_s"]) == (
        13,
        60.0,
        1500.0,
    )

    communes = await get(api, "districts", district_code=718, **day(world))
    assert communes["level"] == "commune"
    assert [
        (r["place"]["code"], r["incidents"], r["ack_median_s"])
        for r in communes["rows"]
        if r["incidents"]
    ] == [(25741, 6, 75.0), (25747, 3, 80.0)]


async def test_default_range_is_today_in_vietnam(api: Api, world: World) -> None:
    body = await get(api, "teams")
    since, until = datetime.fromisoformat(body["since"]), datetime.fromisoformat(body["until"])

    assert timedelta(0) < until - since <= timedelta(days=1)
    # Midnight in Vietnam (UTC+7) is 17:00 UTC.
    assert (since.utcoffset(), since.time().isoformat()) == (timedelta(0), "17:00:00")


@pytest.mark.parametrize(
    ("path", "params", "detail"),
    [
        ("incidents", {"category": "fire"}, "Input should be 'medical', 'food'"),
        ("incidents", {"status": "resolved"}, "Input should be 'new', 'dispatched'"),
        ("incidents", {"urgency": "asap"}, "Input should be 'critical'"),
        ("incidents", {"since": "yesterday"}, "expected an ISO 8601 date-time"),
        (
            "incidents",
            {"since": "2024-05-02T00:00:00Z", "until": "2024-05-01T00:00:00Z"},
            "since (2024-05-02T00:00:00+00:00) must be before until (2024-05-01T00:00:00+00:00)",
        ),
        (
            "teams",
            {"since": "2023-01-01T00:00:00+07:00", "until": "2024-05-01T00:00:00+07:00"},
            "The range is 486 days; at most 366 days: narrow since/until",
        ),
        (
            "districts",
            {"since": "2024-05-01T00:00:00Z", "until": "2024-05-01T00:00:00Z"},
            "must be before until",
        ),
        (
            "incidents",
            {"district_code": 718, "commune_code": 25741},
            "Give at most one of place_id, district_code, commune_code; got district_code, "
            "commune_code",
        ),
        ("incidents", {"limit": 0}, "greater than or equal to 1"),
    ],
)
async def test_bad_filters_are_422_saying_what_to_change(
    api: Api, world: World, path: str, params: dict[str, Any], detail: str
) -> None:
    response = await api.client.get(
        f"/monitoring/{path}", params=params, headers=api.auth("supervisor")
    )

    assert response.status_code == 422, response.text
    assert detail in response.text


@pytest.mark.parametrize(
    ("path", "params", "detail"),
    [
        ("summary", {"district_code": 999}, "No district with code 999"),
        ("summary", {"commune_code": 718}, "No commune with code 718"),
        ("teams", {"place_id": 123456}, "No place with id 123456"),
    ],
)
async def test_a_place_that_does_not_exist_is_404(
    api: Api, world: World, path: str, params: dict[str, Any], detail: str
) -> None:
    response = await api.client.get(
        f"/monitoring/{path}", params=params, headers=api.auth("supervisor")
    )

    assert (response.status_code, response.json()) == (404, {"detail": detail})


async def test_agents_and_team_users_without_a_team_are_refused(api: Api, world: World) -> None:
    # A team user's team can be deleted (the link is SET NULL): it then sees nothing.
    async with api.db.session() as session:
        user = await session.scalar(select(User).where(User.name == "team 718"))
        assert user is not None
        user.team_id = None
        await session.commit()

    for path in ("incidents", "summary", "teams", "districts"):
        agent = await api.client.get(f"/monitoring/{path}", headers=api.auth("agent"))
        assert agent.status_code == 403
        assert agent.json()["detail"].startswith("Role 'agent' may not read the monitoring")
        teamless = await api.client.get(f"/monitoring/{path}", headers=api.auth("team 718"))
        assert teamless.status_code == 403
        assert teamless.json() == {"detail": "User 'team 718' has role 'team' but no team"}
