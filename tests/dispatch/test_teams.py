"""The default teams of a province, and viewing and editing teams."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import selectinload

from dispatch.places import import_province, province_division, require_place
from dispatch.ports import UnknownPlace
from dispatch.teams import (
    InvalidTeam,
    MemberSpec,
    PhoneSpec,
    TeamEdit,
    TeamNotFound,
    TeamService,
    ensure_default_teams,
    ensure_places_and_teams,
    province_team_specs,
    team_endpoint,
    team_name,
)
from store.db import Database
from store.models import Place, Team, TeamMember, TeamPhone


async def teams_by_endpoint(db: Database) -> dict[str, tuple[Team, Place]]:
    async with db.session() as session:
        rows = await session.execute(
            select(Team, Place)
            .join(Place, Place.id == Team.place_id)
            .options(selectinload(Team.members), selectinload(Team.phones))
        )
        out = {}
        for team, place in rows:
            assert len(team.phones) == 1
            endpoint = team.phones[0].endpoint
            assert endpoint is not None and endpoint not in out
            out[endpoint] = (team, place)
        return out


@pytest.mark.parametrize(
    ("kind", "level", "code", "endpoint"),
    [
        ("team", "commune", 25741, "team-c25741"),
        ("team", "district", 718, "team-d718"),
        ("center", "district", 718, "center-d718"),
        ("team", "province", 74, "team-p74"),
        ("center", "province", 74, "center-p74"),
        ("team", "hamlet", 7, "team-hamlet7"),
    ],
)
def test_endpoint_names(kind: str, level: str, code: int, endpoint: str) -> None:
    assert team_endpoint(kind, level, code) == endpoint


def test_endpoint_of_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="'squad' is not a valid TeamKind"):
        team_endpoint("squad", "commune", 1)


def test_names_read_as_vietnamese() -> None:
    assert team_name("center", "Tỉnh Bình Dương") == "Trung tâm điều hành tỉnh Bình Dương"
    assert team_name("team", "Phường Hiệp Thành") == "Tổ phản ứng nhanh phường Hiệp Thành"
    assert team_name("team", "Thành Phố Bắc Kạn") == "Tổ phản ứng nhanh thành phố Bắc Kạn"
    assert team_name("team", "Côn Đảo") == "Tổ phản ứng nhanh Côn Đảo"


def test_default_teams_of_74_without_a_database() -> None:
    specs = province_team_specs(74)

    assert Counter((s.kind, s.level) for s in specs) == {
        ("center", "province"): 1,
        ("center", "district"): 9,
        ("team", "province"): 1,
        ("team", "district"): 9,
        ("team", "commune"): 91,
    }
    assert len({s.endpoint for s in specs}) == 111
    assert specs[0].endpoint == "center-p74" and specs[0].name.startswith("Trung tâm")


async def test_the_default_teams_of_binh_duong(db: Database) -> None:
    await ensure_places_and_teams(db, 74)

    teams = await teams_by_endpoint(db)
    assert Counter((t.kind, p.level) for t, p in teams.values()) == {
        ("center", "province"): 1,
        ("center", "district"): 9,
        ("team", "province"): 1,
        ("team", "district"): 9,
        ("team", "commune"): 91,
    }
    assert set(teams) == {s.endpoint for s in province_team_specs(74)}
    team, place = teams["team-c25741"]
    assert (team.name, team.kind, team.active) == (
        "Tổ phản ứng nhanh phường Hiệp Thành",
        "team",
        True,
    )
    assert (place.level, place.code) == ("commune", 25741)
    assert [(m.name, m.role, m.phone_number) for m in team.members] == [("Trực ban", "duty", None)]
    assert [(p.position, p.endpoint, p.number) for p in team.phones] == [(0, "team-c25741", None)]
    center, place = teams["center-d718"]
    assert center.name == "Trung tâm điều hành thành phố Thủ Dầu Một"
    assert (center.kind, place.level, place.code) == ("center", "district", 718)
    assert teams["center-p74"][0].name == "Trung tâm điều hành tỉnh Bình Dương"
    assert teams["team-p74"][0].name == "Tổ phản ứng nhanh tỉnh Bình Dương"


async def test_defaults_are_created_once_and_missing_ones_come_back(db: Database) -> None:
    await ensure_places_and_teams(db, 74)
    async with db.session() as session:
        # A supervisor renamed and deactivated one team; another one was removed.
        await session.execute(
            update(Team).where(Team.name.like("%Hiệp Thành")).values(name="Tổ HT", active=False)
        )
        await session.execute(delete(Team).where(Team.name.like("%phường Phú Cường")))
        await session.commit()

        result = await ensure_default_teams(session, 74)
        await session.commit()

    assert result.created == {"center": 0, "team": 1}
    assert result.existing == 110
    teams = await teams_by_endpoint(db)
    assert len(teams) == 111
    assert teams["team-c25741"][0].name == "Tổ HT"  # left as the supervisor made it
    async with db.session() as session:
        again = await ensure_default_teams(session, 74)
    assert again.created == {"center": 0, "team": 0} and again.existing == 111


async def test_ensure_is_one_query_once_the_province_is_there(db: Database) -> None:
    await ensure_places_and_teams(db, 74)
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        await ensure_places_and_teams(db, 74)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)

    assert len(statements) == 1 and "FROM places" in statements[0]
    assert len(await teams_by_endpoint(db)) == 111


async def test_ensure_refuses_an_unknown_province(db: Database) -> None:
    with pytest.raises(UnknownPlace, match="unknown province code 1022"):
        await ensure_places_and_teams(db, 1022)


async def test_default_teams_need_the_province_imported(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(UnknownPlace, match="province 77 is not imported"):
            await ensure_default_teams(session, 77)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_nodes_starting_together_import_once(db: Database) -> None:
    other = Database(db.url)
    try:
        await asyncio.gather(ensure_places_and_teams(db, 74), ensure_places_and_teams(other, 74))
    finally:
        await other.dispose()

    async with db.session() as session:
        places = len((await session.scalars(select(Place.id))).all())
    assert places == 101
    assert len(await teams_by_endpoint(db)) == 111


# -- the service ------------------------------------------------------------------------------


@pytest.fixture
async def binh_duong(db: Database) -> Database:
    await ensure_places_and_teams(db, 74)
    return db


async def test_list_filters(binh_duong: Database) -> None:
    async with binh_duong.session() as session:
        teams = TeamService(session)
        communes, total = await teams.list(level="commune", kind="team", limit=10)
        assert total == 91 and len(communes) == 10
        assert communes[0].place.code == 25741 and communes[0].team.phones[0].endpoint == (
            "team-c25741"
        )
        centers, total = await teams.list(kind="center")
        assert total == 10
        assert [c.place.code for c in centers] == [74, *range(718, 727)]
        at_718, total = await teams.list(level="district", code=718)
        assert [t.team.kind for t in at_718] == ["center", "team"]
        thu_dau_mot = await require_place(session, "district", 718)
        area, total = await teams.list(within=thu_dau_mot.id, limit=500)
        assert total == 16  # the center, the district's team and 14 commune teams
        communes_of_718 = {c.code for c in province_division(74).children[0].children}
        assert {t.place.code for t in area} == {718} | communes_of_718
        assert sum(t.place.level == "commune" for t in area) == 14
        here, _ = await teams.list(place_id=thu_dau_mot.id)
        assert {t.team.id for t in here} == {t.team.id for t in at_718}
        page2, total = await teams.list(limit=100, offset=100)
        assert (len(page2), total) == (11, 111)
        with pytest.raises(UnknownPlace, match="no place with id 99999"):
            await teams.list(within=99999)

        await session.execute(update(Team).where(Team.kind == "center").values(active=False))
        inactive, total = await teams.list(active=False)
        assert total == 10 and {t.team.kind for t in inactive} == {"center"}
        assert (await teams.list(active=True))[1] == 101


async def test_get_one_and_not_found(binh_duong: Database) -> None:
    async with binh_duong.session() as session:
        teams = TeamService(session)
        first, _ = await teams.list(limit=1)
        got = await teams.get(first[0].team.id)
        assert got.team.name == "Trung tâm điều hành tỉnh Bình Dương"
        assert (got.place.level, got.place.code) == ("province", 74)
        assert [m.name for m in got.team.members] == ["Trực ban"]
        with pytest.raises(TeamNotFound, match="team 99999 not found"):
            await teams.get(99999)


async def test_create_a_team_with_members_and_phones(binh_duong: Database) -> None:
    async with binh_duong.session() as session:
        place = await require_place(session, "commune", 25741)
        created = await TeamService(session).create(
            TeamEdit(
                name="  Tổ y tế lưu động Hiệp Thành ",
                kind="team",
                place_id=place.id,
                members=[
                    MemberSpec("Nguyễn Văn An", "leader", "0912345678"),
                    MemberSpec("Trần Thị Bình"),
                ],
                phones=[
                    PhoneSpec(endpoint="team-c25741-2", label="Máy bàn"),
                    PhoneSpec(number="+84912345678", label="Di động tổ trưởng"),
                ],
            )
        )
        await session.commit()
        team_id = created.team.id

    async with binh_duong.session() as session:
        got = await TeamService(session).get(team_id)
    assert (got.team.name, got.team.kind, got.team.active) == (
        "Tổ y tế lưu động Hiệp Thành",
        "team",
        True,
    )
    assert got.place.code == 25741
    assert [(m.name, m.role, m.phone_number) for m in got.team.members] == [
        ("Nguyễn Văn An", "leader", "0912345678"),
        ("Trần Thị Bình", "member", None),
    ]
    assert [(p.position, p.endpoint, p.number, p.label) for p in got.team.phones] == [
        (0, "team-c25741-2", None, "Máy bàn"),
        (1, None, "+84912345678", "Di động tổ trưởng"),
    ]


BAD_PHONES = [
    ([], "at least one phone"),
    ([PhoneSpec(endpoint="team-x", number="0912345678")], "endpoint or a number, not both"),
    ([PhoneSpec(label="nothing")], "endpoint or a number, not both nor neither"),
    ([PhoneSpec(number="0912 345 678")], "phone 1: number '0912 345 678' must be 3 to 15 digits"),
    ([PhoneSpec(number="09x2345678")], "must be 3 to 15 digits"),
    ([PhoneSpec(number="84+912345")], "must be 3 to 15 digits"),
    ([PhoneSpec(number="１２３４５")], "must be 3 to 15 digits"),  # fullwidth digits
    ([PhoneSpec(endpoint="ok-one"), PhoneSpec(endpoint="PJSIP/x")], "phone 2: endpoint"),
    ([PhoneSpec(endpoint="team c1")], "must be 2 to 40 of a-z"),
    ([PhoneSpec(endpoint="t@host")], "must be 2 to 40 of a-z"),
    ([PhoneSpec(endpoint="1team")], "starting with a letter"),
]


@pytest.mark.parametrize(("phones", "message"), BAD_PHONES)
async def test_bad_phones_are_refused(
    binh_duong: Database, phones: list[PhoneSpec], message: str
) -> None:
    async with binh_duong.session() as session:
        place = await require_place(session, "commune", 25741)
        with pytest.raises(InvalidTeam, match=message):
            await TeamService(session).create(
                TeamEdit(name="Tổ mới", kind="team", place_id=place.id, phones=phones)
            )


@pytest.mark.parametrize(
    ("edit", "error", "message"),
    [
        (TeamEdit(name=" ", kind="team", place_id=1), InvalidTeam, "needs a name"),
        (TeamEdit(name="x" * 201, kind="team", place_id=1), InvalidTeam, "at most 200"),
        (TeamEdit(name="Tổ", kind="squad", place_id=1), InvalidTeam, "unknown kind 'squad'"),
        (TeamEdit(name="Tổ", kind="team"), InvalidTeam, "needs a name, a kind and a place"),
        (TeamEdit(name="Tổ", kind="team", place_id=99999), UnknownPlace, "no place with id 99999"),
        (
            TeamEdit(name="Tổ", kind="team", place_id=1, members=[MemberSpec("")]),
            InvalidTeam,
            "member 1: a name",
        ),
        (
            TeamEdit(name="Tổ", kind="team", place_id=1, members=[MemberSpec("An", "x", "113a")]),
            InvalidTeam,
            "member 1: phone number '113a'",
        ),
    ],
)
async def test_bad_teams_are_refused(
    binh_duong: Database, edit: TeamEdit, error: type[Exception], message: str
) -> None:
    ok_phones = [PhoneSpec(number="0912345678")]
    edit = TeamEdit(**{**edit.__dict__, "phones": edit.phones or ok_phones})
    async with binh_duong.session() as session:
        with pytest.raises(error, match=message):
            await TeamService(session).create(edit)


async def test_update_replaces_members_and_phones_as_lists(binh_duong: Database) -> None:
    async with binh_duong.session() as session:
        teams = TeamService(session)
        [placed], _ = await teams.list(level="commune", code=25741)
        team_id = placed.team.id
        await teams.update(
            team_id,
            TeamEdit(
                name="Tổ phản ứng nhanh Hiệp Thành (ca đêm)",
                active=False,
                members=[MemberSpec("Lê Văn Cường", "leader", "+84987654321")],
                phones=[PhoneSpec(number="02743822222"), PhoneSpec(endpoint="team-c25741")],
            ),
        )
        await session.commit()

    async with binh_duong.session() as session:
        got = await TeamService(session).get(team_id)
        members = (
            await session.scalars(select(TeamMember).where(TeamMember.team_id == team_id))
        ).all()
        phones = (
            await session.scalars(select(TeamPhone).where(TeamPhone.team_id == team_id))
        ).all()
    assert (got.team.name, got.team.active) == ("Tổ phản ứng nhanh Hiệp Thành (ca đêm)", False)
    # The old duty officer row is gone, not kept beside the new list.
    assert [(m.name, m.role, m.phone_number) for m in members] == [
        ("Lê Văn Cường", "leader", "+84987654321")
    ]
    assert sorted((p.position, p.endpoint, p.number) for p in phones) == [
        (0, None, "02743822222"),
        (1, "team-c25741", None),
    ]

    # Only what is given changes.
    async with binh_duong.session() as session:
        await TeamService(session).update(team_id, TeamEdit(active=True))
        await session.commit()
        got = await TeamService(session).get(team_id)
    assert got.team.active is True and len(got.team.phones) == 2
    assert got.team.name == "Tổ phản ứng nhanh Hiệp Thành (ca đêm)"


async def test_update_refusals_change_nothing(binh_duong: Database) -> None:
    async with binh_duong.session() as session:
        teams = TeamService(session)
        [placed], _ = await teams.list(level="province", kind="team")
        team_id = placed.team.id
        with pytest.raises(InvalidTeam, match="at least one phone"):
            await teams.update(team_id, TeamEdit(name="Tổ mới", phones=[]))
        with pytest.raises(InvalidTeam, match="kind and place cannot change"):
            await teams.update(team_id, TeamEdit(kind="center"))
        with pytest.raises(TeamNotFound, match="team 99999 not found"):
            await teams.update(99999, TeamEdit(name="x"))
        await session.rollback()

    async with binh_duong.session() as session:
        got = await TeamService(session).get(team_id)
    assert got.team.name == "Tổ phản ứng nhanh tỉnh Bình Dương"
    assert [p.endpoint for p in got.team.phones] == ["team-p74"]


async def test_import_74_then_teams_uses_the_place_rows(db: Database) -> None:
    async with db.session() as session:
        await import_province(session, 74)
        result = await ensure_default_teams(session, 74)
        await session.commit()

    assert result.created == {"center": 10, "team": 101} and result.existing == 0
