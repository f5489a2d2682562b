"""Importing provinces from vietnam-provinces into ``places``, and reading the tree back."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select, update

from dispatch.places import (
    Division,
    ancestor_ids,
    division_from_json,
    find_place,
    import_division,
    import_province,
    list_provinces,
    load_tree,
    place_search_key,
    places_under,
    province_division,
    require_place,
    under,
)
from dispatch.ports import UnknownPlace
from store.db import Database
from store.models import Place


async def imported(db: Database, code: int = 74) -> None:
    async with db.session() as session:
        await import_province(session, code)
        await session.commit()


async def all_places(db: Database) -> list[Place]:
    async with db.session() as session:
        return list(await session.scalars(select(Place).order_by(Place.id)))


def test_binh_duong_2021_in_the_data_without_a_database() -> None:
    province = province_division(74)

    assert (province.level, province.code, province.name) == ("province", 74, "Tỉnh Bình Dương")
    assert province.count() == {"province": 1, "district": 9, "commune": 91}
    assert [d.code for d in province.children] == list(range(718, 727))
    thu_dau_mot = province.children[0]
    assert (thu_dau_mot.name, thu_dau_mot.division_type) == ("Thành phố Thủ Dầu Một", "thành phố")
    assert (thu_dau_mot.children[0].code, thu_dau_mot.children[0].name) == (
        25741,
        "Phường Hiệp Thành",
    )
    assert thu_dau_mot.children[0].division_type == "phường"
    assert len(list_provinces()) == 63


async def test_import_74_creates_the_tree_with_paths_and_depths(db: Database) -> None:
    async with db.session() as session:
        result = await import_province(session, 74)
        await session.commit()

    assert (result.code, result.name) == (74, "Tỉnh Bình Dương")
    assert result.levels == {"province": 1, "district": 9, "commune": 91}
    assert (result.created, result.updated, result.unchanged) == (101, 0, 0)
    places = await all_places(db)
    assert Counter(p.level for p in places) == {"province": 1, "district": 9, "commune": 91}
    by_key = {(p.level, p.code): p for p in places}
    province = by_key[("province", 74)]
    district = by_key[("district", 718)]
    commune = by_key[("commune", 25741)]
    assert (province.parent_id, province.depth, province.path) == (None, 0, f"/{province.id}/")
    assert (district.parent_id, district.depth) == (province.id, 1)
    assert district.path == f"/{province.id}/{district.id}/"
    assert (commune.parent_id, commune.depth, commune.name) == (district.id, 2, "Phường Hiệp Thành")
    assert commune.path == f"/{province.id}/{district.id}/{commune.id}/"
    assert (commune.codename, commune.division_type) == ("phuong_hiep_thanh", "phường")
    assert ancestor_ids(commune.path) == [province.id, district.id, commune.id]
    # Every place's path is its parent's plus its own id.
    for p in places:
        parent_path = by_id_path(places, p.parent_id)
        assert p.path == f"{parent_path}{p.id}/"


def by_id_path(places: list[Place], place_id: int | None) -> str:
    if place_id is None:
        return "/"
    return next(p.path for p in places if p.id == place_id)


async def test_a_second_import_changes_nothing(db: Database) -> None:
    await imported(db)
    before = [(p.id, p.level, p.code, p.name, p.path) for p in await all_places(db)]

    async with db.session() as session:
        again = await import_province(session, 74)
        await session.commit()

    assert (again.created, again.updated, again.unchanged) == (0, 0, 101)
    assert [(p.id, p.level, p.code, p.name, p.path) for p in await all_places(db)] == before


async def test_a_renamed_unit_is_updated_in_place(db: Database) -> None:
    await imported(db)
    async with db.session() as session:
        await session.execute(
            update(Place)
            .where(Place.level == "district", Place.code == 719)
            .values(name="Huyện Bến Cát cũ", codename="old")
        )
        await session.commit()
        old_id = (await require_place(session, "district", 719)).id

    async with db.session() as session:
        result = await import_province(session, 74)
        await session.commit()

    assert (result.created, result.updated, result.unchanged) == (0, 1, 100)
    async with db.session() as session:
        place = await require_place(session, "district", 719)
    assert (place.id, place.name, place.codename) == (old_id, "Huyện Bàu Bàng", "huyen_bau_bang")


async def test_another_province_imports_beside_74(db: Database) -> None:
    await imported(db, 74)

    async with db.session() as session:
        result = await import_province(session, 77)
        await session.commit()

    assert result.name == "Tỉnh Bà Rịa - Vũng Tàu"
    assert result.levels == {"province": 1, "district": 7, "commune": 77}
    assert result.created == 85
    places = await all_places(db)
    assert Counter(p.level for p in places) == {"province": 2, "district": 16, "commune": 168}
    async with db.session() as session:
        vung_tau = await require_place(session, "district", 747)
        binh_duong = await require_place(session, "province", 74)
        under_77 = await places_under(session, await require_place(session, "province", 77))
        under_74 = await places_under(session, binh_duong)
    assert vung_tau.name == "Thành phố Vũng Tàu"
    assert (len(under_77), len(under_74)) == (84, 100)
    assert not {p.id for p in under_77} & {p.id for p in under_74}


async def test_an_unknown_province_is_named_and_writes_nothing(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(UnknownPlace, match=r"unknown province code 99\b.*74 = Tỉnh Bình"):
            await import_province(session, 99)
        await session.commit()

    assert await all_places(db) == []
    with pytest.raises(UnknownPlace, match="unknown province code 718"):
        province_division(718)  # a district's code is not a province's


async def test_lookups_by_level_and_code(db: Database) -> None:
    await imported(db)

    async with db.session() as session:
        province = await find_place(session, "province", 74)
        assert province is not None and province.name == "Tỉnh Bình Dương"
        # Codes are unique only within a level: there is no district 74.
        assert await find_place(session, "district", 74) is None
        with pytest.raises(UnknownPlace, match="no district with code 74"):
            await require_place(session, "district", 74)


async def test_places_under_a_district_by_path_prefix(db: Database) -> None:
    await imported(db)

    async with db.session() as session:
        thu_dau_mot = await require_place(session, "district", 718)
        communes = await places_under(session, thu_dau_mot)
        with_self = await places_under(session, thu_dau_mot, include_self=True)
        province = await require_place(session, "province", 74)
        all_communes = await places_under(session, province, level="commune")
        counted = await session.scalar(
            select(func.count()).select_from(Place).where(under(Place.path, thu_dau_mot.path))
        )

    assert len(communes) == 14 and {p.level for p in communes} == {"commune"}
    assert communes[0].code == 25741
    assert [p.code for p in with_self][:2] == [718, 25741]
    assert len(all_communes) == 91
    assert counted == 15
    with pytest.raises(ValueError, match="not a place path"):
        under(Place.path, "12")


async def test_the_tree_has_children_and_ancestors(db: Database) -> None:
    await imported(db)

    async with db.session() as session:
        tree = await load_tree(session)
        district = await require_place(session, "district", 724)
        area = await load_tree(session, district)

    assert len(tree.by_id) == 101
    [root] = tree.roots()
    assert root.code == 74
    assert [p.code for p in tree.children(root.id)] == list(range(718, 727))
    commune = tree.find("commune", 25741)
    assert commune is not None
    assert [(p.level, p.code) for p in tree.ancestors(commune.id)] == [
        ("province", 74),
        ("district", 718),
    ]
    assert tree.ancestors(root.id) == []
    assert len(tree.descendants(root.id)) == 100
    assert tree.find("district", 74) is None
    # A subtree: Dĩ An and its 7 wards.
    assert len(area.by_id) == 8
    assert [p.name for p in area.roots()] == ["Thành phố Dĩ An"]


async def test_any_depth_imports_a_province_without_districts(db: Database) -> None:
    # The 2025 shape: communes directly under the province.
    province = division_from_json(
        {
            "name": "Tỉnh Thử Nghiệm",
            "code": 9001,
            "codename": "tinh_thu_nghiem",
            "wards": [
                {"name": "Phường Một", "code": 900101, "codename": "phuong_mot"},
                {"name": "Xã Hai", "code": 900102, "codename": "xa_hai"},
            ],
        }
    )
    assert province.count() == {"province": 1, "commune": 2}

    async with db.session() as session:
        result = await import_division(session, province)
        await session.commit()
        tree = await load_tree(session)

    assert result.created == 3
    commune = tree.find("commune", 900102)
    assert commune is not None and commune.depth == 1
    assert commune.division_type == "xã"
    assert [p.code for p in tree.ancestors(commune.id)] == [9001]


def test_division_walk_is_parents_first() -> None:
    leaf = Division("commune", 3, "Xã C", "xã", "xa_c")
    mid = Division("district", 2, "Huyện B", "huyện", "huyen_b", (leaf,))
    top = Division("province", 1, "Tỉnh A", "tỉnh", "tinh_a", (mid,))

    assert [(d.code, p.code if p else None) for d, p in top.walk()] == [
        (1, None),
        (2, 1),
        (3, 2),
    ]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Thủ Dầu Một", "thu_dau_mot"),
        ("  DĨ   an ", "di_an"),
        ("Đồng Xoài", "dong_xoai"),
        ("thu_dau", "thu_dau"),
    ],
)
def test_search_key_is_the_codename_form(text: str, key: str) -> None:
    assert place_search_key(text) == key
