"""``?format=csv`` and ``?format=xlsx`` give the JSON's rows and numbers, on every route that
takes it, over the recorded day (tests/stats/recorded_day.py), the monitoring world
(tests/dispatch/monitoring_world.py) on the same day and a few IVR steps; and
``GET /reports/export``: one workbook, a sheet per table, who may have it."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from api.tabular import Table
from stats.rollups import rebuild
from store.models import IvrEvent
from tests.api.support import Api
from tests.dispatch.monitoring_world import build_world
from tests.stats.recorded_day import DAY, NOW, load_recorded_day, vn

THE_DAY = {"since": "2024-05-01T00:00:00+07:00", "until": "2024-05-02T00:00:00+07:00"}
# Judged at the instant of each request: they differ between the JSON and the file.
MOVING = ("age_s", "overdue_s", "overdue_label")

Rows = Callable[[Any], list[Any]]


@pytest.fixture
async def seeded(api: Api) -> None:
    await load_recorded_day(api.db)
    await rebuild(api.db, DAY, DAY + timedelta(days=1), now=NOW)
    await build_world(api.db)
    async with api.db.session() as session:
        for n, (node, kind, key) in enumerate(
            [
                ("welcome", "enter", None),
                ("welcome", "key", "1"),
                ("medical", "enter", None),
                ("welcome", "enter", None),
                ("welcome", "key", "2"),
                ("welcome", "invalid", None),
            ]
        ):
            session.add(
                IvrEvent(
                    call_uniqueid=f"c{n // 3}",
                    seq=n,
                    node=node,
                    kind=kind,
                    key=key,
                    at=vn("08:00") + timedelta(seconds=n),
                )
            )
        await session.commit()


ROUTES: list[tuple[str, dict[str, str], Rows]] = [
    ("/stats/queues", {"interval": "hour", **THE_DAY}, lambda b: b["rows"]),
    ("/stats/agents", {"interval": "hour", **THE_DAY}, lambda b: b["rows"]),
    ("/monitoring/teams", THE_DAY, lambda b: b["rows"]),
    ("/monitoring/districts", THE_DAY, lambda b: [*b["rows"], b["total"]]),
    ("/monitoring/incidents", {}, lambda b: b["items"]),
    ("/monitoring/summary", {}, lambda b: [*b["rows"], b["total"]]),
    ("/ivr/stats", THE_DAY, lambda b: b),
    ("/staffing", THE_DAY, lambda b: [*b["rows"], *b["pooled"]]),
]


def _steady(table: Table) -> tuple[list[str], list[list[Any]]]:
    keep = [c for c in table.columns if c.rsplit(".", 1)[-1] not in MOVING]
    return keep, [[row.get(c) for c in keep] for row in table.rows]


def _text(value: Any) -> str:
    """A JSON value as the CSV writes it."""
    if value is None:
        return ""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _same(got: Any, want: Any) -> bool:
    """Equal; floats to the 15 significant digits a spreadsheet keeps (openpyxl writes 16)."""
    if isinstance(want, float):
        return isinstance(got, int | float) and math.isclose(got, want, rel_tol=1e-15)
    return bool(got == want) and isinstance(got, bool) == isinstance(want, bool)


def _sheet(sheet: Any) -> Table:
    """A sheet's table: the field names of row 2, the rows after."""
    names, *cells = list(sheet.iter_rows(min_row=2, values_only=True))
    columns = tuple(str(n) for n in names)
    return Table("t", "t", columns, tuple(dict(zip(columns, r, strict=True)) for r in cells))


def _same_table(got: Table, want: Table) -> None:
    (got_columns, got_values), (columns, values) = _steady(got), _steady(want)
    assert got_columns == columns
    assert len(got_values) == len(values)
    for got_row, row in zip(got_values, values, strict=True):
        assert all(_same(g, w) for g, w in zip(got_row, row, strict=True)), (got_row, row)


@pytest.mark.parametrize(("path", "params", "rows_of"), ROUTES, ids=[r[0] for r in ROUTES])
async def test_csv_and_xlsx_hold_the_json_rows(
    api: Api, seeded: None, path: str, params: dict[str, str], rows_of: Rows
) -> None:
    async def fetch(**extra: str) -> Any:
        response = await api.client.get(path, params=params | extra, headers=api.auth("admin"))
        assert response.status_code == 200, response.text
        return response

    rows = rows_of((await fetch()).json())
    assert rows, f"{path}: nothing seeded"
    columns, values = _steady(Table.of("t", "t", rows))

    as_csv = await fetch(format="csv")
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["content-disposition"].startswith("attachment; filename=")
    assert as_csv.content.startswith(b"\xef\xbb\xbf")
    header, *lines = csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig")))
    got = Table("t", "t", tuple(header), tuple(dict(zip(header, ln, strict=True)) for ln in lines))
    assert _steady(got) == (columns, [[_text(v) for v in row] for row in values])

    as_xlsx = await fetch(format="xlsx")
    assert ".xlsx" in as_xlsx.headers["content-disposition"]
    _same_table(_sheet(load_workbook(io.BytesIO(as_xlsx.content)).active), Table.of("t", "t", rows))


async def test_the_files_figures_are_the_recorded_days(api: Api, seeded: None) -> None:
    response = await api.client.get(
        "/stats/queues",
        params={"interval": "day", "format": "csv", **THE_DAY},
        headers=api.auth("supervisor"),
    )
    assert 'filename="stats-queues_2024-05-01.csv"' in response.headers["content-disposition"]
    medical = next(
        r
        for r in csv.DictReader(io.StringIO(response.text.lstrip("\ufeff")))
        if r["category"] == "medical"
    )
    # As worked out by hand in tests/api/test_stats.py.
    assert (medical["offered"], medical["answered"], medical["service_levels.20.value"]) == (
        "9",
        "6",
        "0.625",
    )


async def test_an_unknown_format_is_a_422_that_names_the_formats(api: Api) -> None:
    response = await api.client.get(
        "/stats/queues", params={"format": "pdf"}, headers=api.auth("supervisor")
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("format: ")
    assert all(name in response.json()["detail"] for name in ("json", "csv", "xlsx"))


async def test_the_whole_report_is_one_workbook_a_sheet_per_table(api: Api, seeded: None) -> None:
    response = await api.client.get(
        "/reports/export", params={"interval": "hour", **THE_DAY}, headers=api.auth("supervisor")
    )
    assert response.status_code == 200, response.text
    assert 'filename="report_2024-05-01.xlsx"' in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [
        "Thông tin",
        "Hàng đợi",
        "Tổng hợp",
        "Tổng đài viên",
        "Theo đội",
        "Theo địa bàn",
        "Tổng đài tự động",
    ]
    for sheet, path, rows_of in [
        ("Hàng đợi", "/stats/queues", ROUTES[0][2]),
        ("Theo địa bàn", "/monitoring/districts", ROUTES[3][2]),
        ("Tổng đài tự động", "/ivr/stats", ROUTES[6][2]),
    ]:
        body = (
            await api.client.get(
                path, params={"interval": "hour", **THE_DAY}, headers=api.auth("supervisor")
            )
        ).json()
        _same_table(_sheet(book[sheet]), Table.of("t", "t", rows_of(body)))


@pytest.mark.parametrize(("who", "status"), [("agent", 403), ("team", 403), ("anonymous", 401)])
async def test_the_report_is_for_supervisors_and_admins(api: Api, who: str, status: int) -> None:
    headers = {} if who == "anonymous" else api.auth(who)
    for path in ("/reports/export", "/stats/queues?format=xlsx", "/monitoring/teams?format=csv"):
        response = await api.client.get(path, headers=headers)
        expected = 200 if (who, path[:12]) == ("team", "/monitoring/") else status
        assert response.status_code == expected, (who, path)
