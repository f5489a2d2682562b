"""api/tabular.py on its own: the flattening rule, CSV and XLSX of a table, file names."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from api.tabular import Table, filename, flatten, header_label, to_csv, to_xlsx, workbook

ROW = {
    "label": "2024-05-01 08:00",
    "offered": 9,
    "asa_s": 17.083,
    "aht_s": None,
    "team": {"id": 3, "name": "Tổ phản ứng nhanh Hiệp Thành"},
    "paused_by_reason": {"break": 900.0, "meal": 2700.0},
    "service_levels": [
        {"seconds": 15, "answered_within": 3, "value": 0.375},
        {"seconds": 20, "answered_within": 5, "value": 0.625},
    ],
    "overdue": True,
}


def test_nested_objects_and_lists_of_objects_become_named_columns() -> None:
    assert flatten(ROW) == {
        "label": "2024-05-01 08:00",
        "offered": 9,
        "asa_s": 17.083,
        "aht_s": None,
        "team.id": 3,
        "team.name": "Tổ phản ứng nhanh Hiệp Thành",
        "paused_by_reason.break": 900.0,
        "paused_by_reason.meal": 2700.0,
        "service_levels.15.answered_within": 3,
        "service_levels.15.value": 0.375,
        "service_levels.20.answered_within": 5,
        "service_levels.20.value": 0.625,
        "overdue": True,
    }


def test_repeated_first_values_and_scalar_lists_go_by_position() -> None:
    row = {"t": [{"percent": 80, "s": 15}, {"percent": 80, "s": 20}], "xs": [4, 5], "e": {}}
    assert flatten(row) == {
        "t.1.percent": 80,
        "t.1.s": 15,
        "t.2.percent": 80,
        "t.2.s": 20,
        "xs.1": 4,
        "xs.2": 5,
    }


def test_columns_are_the_union_in_first_seen_order() -> None:
    table = Table.of("x", "X", [{"a": 1, "k": {"1": 2}}, {"a": 3, "k": {"2": 4}, "b": None}])
    assert table.columns == ("a", "k.1", "k.2", "b")
    assert table.rows[1] == {"a": 3, "k.2": 4, "b": None}


def test_csv_has_a_bom_field_names_and_the_json_values() -> None:
    data = to_csv(Table.of("x", "X", [ROW]))
    assert data.startswith(b"\xef\xbb\xbf")
    header, line = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    assert header[:4] == ["label", "offered", "asa_s", "aht_s"]
    values = dict(zip(header, line, strict=True))
    assert (values["asa_s"], values["aht_s"], values["overdue"]) == ("17.083", "", "true")
    assert values["team.name"] == "Tổ phản ứng nhanh Hiệp Thành"


def test_xlsx_has_vietnamese_headers_field_names_and_numbers_as_numbers() -> None:
    sheet = load_workbook(io.BytesIO(to_xlsx(Table.of("x", "Hàng đợi", [ROW])))).active
    assert sheet is not None and sheet.title == "Hàng đợi"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][1] == "Cuộc gọi vào"
    assert rows[1] == tuple(flatten(ROW))
    assert rows[2] == tuple(flatten(ROW).values())
    assert sheet.freeze_panes == "A3"
    assert header_label("service_levels.20.value") == "Mức phục vụ · 20 · Tỷ lệ"


def test_a_workbook_holds_an_about_sheet_and_a_sheet_per_table() -> None:
    book = load_workbook(
        io.BytesIO(workbook([Table.of("a", "A/B", [{"n": 1}])], about=[("Khoảng", "hour")]))
    )
    assert book.sheetnames == ["Thông tin", "A B"]
    assert book["A B"]["A3"].value == 1


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("since", "until", "name"),
    [
        (utc(4, 30, 17), utc(5, 1, 17), "s_2024-05-01.csv"),
        (utc(4, 30, 17), utc(5, 7, 17), "s_2024-05-01_2024-05-07.csv"),
        (utc(5, 1, 1), utc(5, 1, 1, 30), "s_2024-05-01T0800_2024-05-01T0830.csv"),
        (None, utc(5, 1, 10), "s_2024-05-01T1700.csv"),
        (None, None, "s_all.csv"),
    ],
)
def test_file_names_carry_the_range_in_vietnam_time(
    since: datetime | None, until: datetime | None, name: str
) -> None:
    assert filename("s", "csv", since, until) == name


def test_a_callers_words_never_become_a_formula_nor_break_the_file() -> None:
    table = Table.of("x", "X", [{"address": '=HYPERLINK("http://x")', "n": -1, "b": "a\x07b"}])
    _, line = csv.reader(io.StringIO(to_csv(table).decode("utf-8-sig")))
    assert line == ['\'=HYPERLINK("http://x")', "-1", "a\x07b"]
    sheet = load_workbook(io.BytesIO(to_xlsx(table))).active
    assert sheet is not None
    assert (sheet["A3"].data_type, sheet["A3"].value) == ("s", '=HYPERLINK("http://x")')
    assert sheet["C3"].value == "a\ufffdb"
