"""``hotline1022 places …`` and ``hotline1022 teams list`` on a fresh state directory, both
databases, and ``users create --role team --team``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cli.main import main
from dispatch.places import SOUTH_2021, province_division
from store.db import Database
from store.users import user_for_token


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HOTLINE_AGENT_COUNT", "2")
    return database_url


def table(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()]


def test_import_74_then_again(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["places", "import", "--province", "74"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Tỉnh Bình Dương (74): 1 province, 9 district, 91 commune; places created 101, "
        "updated 0, unchanged 0",
        "default teams created: 10 center, 101 team; already there 0",
    ]

    assert main(["places", "import", "--province", "74"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Tỉnh Bình Dương (74): 1 province, 9 district, 91 commune; places created 0, "
        "updated 0, unchanged 101",
        "default teams created: 0 center, 0 team; already there 111",
    ]


def test_another_province_without_teams(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["places", "import", "--province", "77", "--no-teams"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Tỉnh Bà Rịa - Vũng Tàu (77): 1 province, 7 district, 77 commune")
    assert "default teams" not in out

    assert main(["places", "list", "--level", "district"]) == 0
    rows = table(capsys.readouterr().out)
    assert rows[0] == ["ID", "LEVEL", "CODE", "PARENT", "NAME"]
    assert [(r[1], r[2], r[3]) for r in rows[1:]] == [
        ("district", str(code), "77") for code in (747, 748, 750, 751, 753, 754, 755)
    ]
    assert " ".join(rows[1][4:]) == "Thành phố Vũng Tàu"

    assert main(["teams", "list"]) == 0
    assert "no teams" in capsys.readouterr().err


def test_teams_list(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["places", "import", "--province", "74"]) == 0
    capsys.readouterr()

    assert main(["teams", "list"]) == 0
    rows = table(capsys.readouterr().out)
    assert rows[0] == ["ID", "KIND", "LEVEL", "CODE", "ACTIVE", "PHONES", "NAME"]
    assert len(rows) == 1 + 111
    assert rows[1][1:6] == ["center", "province", "74", "yes", "center-p74"]
    assert " ".join(rows[1][6:]) == "Trung tâm điều hành tỉnh Bình Dương"

    assert main(["teams", "list", "--level", "commune", "--code", "25741"]) == 0
    [_, row] = table(capsys.readouterr().out)
    assert row[1:6] == ["team", "commune", "25741", "yes", "team-c25741"]
    assert " ".join(row[6:]) == "Tổ phản ứng nhanh phường Hiệp Thành"

    assert main(["teams", "list", "--kind", "center"]) == 0
    assert len(table(capsys.readouterr().out)) == 1 + 10


def test_a_team_user_for_a_listed_team(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["places", "import", "--province", "74"]) == 0
    capsys.readouterr()
    assert main(["teams", "list", "--level", "district", "--code", "718", "--kind", "center"]) == 0
    team_id = int(table(capsys.readouterr().out)[1][0])

    assert (
        main(
            [
                "users",
                "create",
                "--name",
                "TT Thủ Dầu Một",
                "--role",
                "team",
                "--team",
                str(team_id),
            ]
        )
        == 0
    )
    token = capsys.readouterr().out.strip()

    async def holder() -> tuple[str, str, int | None] | None:
        db = Database(env)
        try:
            user = await user_for_token(db, token)
            return None if user is None else (user.name, user.role, user.team_id)
        finally:
            await db.dispose()

    assert asyncio.run(holder()) == ("TT Thủ Dầu Một", "team", team_id)
    assert main(["users", "list"]) == 0
    assert f"team:{team_id}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["places", "import", "--province", "99"],
            "hotline1022 places import: error: unknown province code 99: vietnam-provinces "
            "0.6.0 has 63 provinces, codes 1..96 (e.g. 74 = Tỉnh Bình Dương)\n",
        ),
        (
            ["teams", "list", "--code", "718"],
            "hotline1022 teams list: error: --code needs --level: codes are unique only within "
            "a level\n",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    env: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2

    out, err = capsys.readouterr()
    assert (out, err) == ("", message)


def test_an_unreachable_database_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:1/x")
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path))

    assert main(["places", "import", "--province", "74"]) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        "hotline1022 places import: error: cannot use the database "
        "postgresql+asyncpg://postgres@127.0.0.1:1/x: "
    )


def test_places_list_on_an_empty_database_says_what_to_run(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["places", "list"]) == 0

    assert "hotline1022 places import --province 74" in capsys.readouterr().err


# The 19 provinces and cities under Directive 16 in 2021, as the GSO codes them.
SOUTH_2021_CODES = [70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96]


def test_the_south_2021_list_names_the_right_codes() -> None:
    assert sorted(SOUTH_2021) == SOUTH_2021_CODES
    for code, short in SOUTH_2021.items():
        # The package's name of that code is the one the list says ("Tỉnh Bình Dương").
        assert province_division(code).name.endswith(" " + short), code


def test_import_south_2021_then_again(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["places", "import", "--south-2021"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * 19 + 2
    assert [line.split(": ")[0].rsplit(" ", 1)[-1] for line in lines[0:38:2]] == [
        f"({code})" for code in SOUTH_2021_CODES
    ]
    assert lines[10] == (
        "Thành phố Hồ Chí Minh (79): 1 province, 22 district, 273 commune; places created 296, "
        "updated 0, unchanged 0"
    )
    # vietnam-provinces 0.6.0 has the communes after the mergers of 2023-2025, so fewer than
    # the 2,594 points of 2021.
    assert lines[-2:] == [
        "total, 19 provinces: 19 province, 203 district, 2375 commune; places created 2597, "
        "updated 0, unchanged 0",
        "default teams created: 222 center, 2597 team; already there 0",
    ]

    assert main(["places", "import", "--south-2021", "--province", "74"]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "total, 19 provinces: 19 province, 203 district, 2375 commune; places created 0, "
        "updated 0, unchanged 2597",
        "default teams created: 0 center, 0 team; already there 2819",
    ]

    assert main(["places", "list", "--level", "province"]) == 0
    assert [int(r[2]) for r in table(capsys.readouterr().out)[1:]] == SOUTH_2021_CODES
    assert main(["teams", "list", "--level", "commune", "--code", "26734"]) == 0
    [_, row] = table(capsys.readouterr().out)
    assert row[1:6] == ["team", "commune", "26734", "yes", "team-c26734"]


def test_import_several_provinces(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["places", "import", "--province", "77", "--province", "74", "--no-teams"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Tỉnh Bình Dương (74): 1 province, 9 district, 91 commune; places created 101, "
        "updated 0, unchanged 0",
        "Tỉnh Bà Rịa - Vũng Tàu (77): 1 province, 7 district, 77 commune; places created 85, "
        "updated 0, unchanged 0",
        "total, 2 provinces: 2 province, 16 district, 168 commune; places created 186, "
        "updated 0, unchanged 0",
    ]

    assert main(["places", "import", "--province", "74", "--province", "74"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Tỉnh Bình Dương (74): 1 province, 9 district, 91 commune; places created 0, "
        "updated 0, unchanged 101",
        "default teams created: 10 center, 101 team; already there 0",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["places", "import"],
            "hotline1022 places import: error: which provinces? --province CODE (repeatable) "
            "or --south-2021\n",
        ),
        (
            ["places", "import", "--province", "74", "--province", "99"],
            "hotline1022 places import: error: unknown province code 99: vietnam-provinces "
            "0.6.0 has 63 provinces, codes 1..96 (e.g. 74 = Tỉnh Bình Dương)\n",
        ),
    ],
)
def test_a_bad_import_imports_nothing(
    env: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    assert capsys.readouterr() == ("", message)

    assert main(["places", "list"]) == 0
    assert "no places yet" in capsys.readouterr().err
