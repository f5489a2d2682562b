"""A route's rows as a table: CSV or XLSX, with the same values as its JSON.

    body = QueueStatsOut(…)                      # what the JSON answer is
    return await respond(body, body.rows, format, name="stats-queues", title="Hàng đợi",
                         since=first, until=end)     # body itself for format=json

**Flattening, one rule for every route.** A row is its JSON object; a nested value becomes
columns named by the path to it, parts joined by ``.``:

- an object: one column per field, ``team.id``, ``team.name``, ``paused_by_reason.break``;
- a list of objects: one group of columns per item, named by the value of the item's first
  field (what tells the items apart: a threshold's ``seconds``), that field left out:
  ``service_levels.20.answered_within``, ``service_levels.20.value``; when those values
  repeat within one list, by position from 1 instead;
- a list of scalars: by position from 1, ``x.1``, ``x.2``;
- null (and an empty object or list): an empty cell.

Columns are the union over the rows, in the order they first appear; a row without a column
leaves its cell empty. Values are the JSON values: numbers stay numbers, times stay ISO 8601
text in UTC as the JSON writes them (``2024-05-01T01:00:00Z``), text stays text.

**CSV** is for programs: UTF-8 with a byte-order mark (so Excel reads Vietnamese), one header
row of the flattened JSON field names; a text that a spreadsheet would take for a formula
(starting with ``= + - @``, a tab or a carriage return) is prefixed with ``'``, the one
change from the JSON. **XLSX** is for people: row 1 the Vietnamese header,
row 2 the JSON field names, the data from row 3, both header rows frozen; text stays text
(never a formula; the control characters XML cannot hold become U+FFFD).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Query, status
from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import BaseModel

from stats.demand import VIETNAM
from stats.rollups import vietnam_day_start

__all__ = [
    "CSV_TYPE",
    "FORMAT_RESPONSES",
    "XLSX_TYPE",
    "Format",
    "FormatParam",
    "Table",
    "download",
    "filename",
    "flatten",
    "header_label",
    "respond",
    "to_csv",
    "to_xlsx",
    "workbook",
]

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Format = Literal["json", "csv", "xlsx"]
FormatParam = Annotated[
    Format,
    Query(
        description="`json` (the default), `csv` (UTF-8 with BOM, one header row of the JSON "
        "field names) or `xlsx` (row 1 Vietnamese headers, row 2 the JSON field names): "
        "the same rows and numbers as the JSON, nested fields flattened as `team.name`, "
        "`service_levels.20.value` (see api/tabular.py). A file download."
    ),
]

_DISPOSITION = {
    "description": "A file to save: `attachment; filename=…`, the range in the name",
    "schema": {"type": "string"},
}
FORMAT_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_200_OK: {
        "description": "JSON; with `format=csv` or `format=xlsx` the same rows as a file",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
        "headers": {"Content-Disposition": _DISPOSITION},
    }
}

Scalar = str | int | float | bool | None


def _segment(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _flatten_into(out: dict[str, Scalar], prefix: str, value: object) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _flatten_into(out, f"{prefix}.{key}" if prefix else str(key), inner)
    elif isinstance(value, list | tuple):
        keys: list[str] = []
        if value and all(isinstance(item, Mapping) and item for item in value):
            keys = [_segment(next(iter(item.values()))) for item in value]
        if keys and len(set(keys)) == len(keys):
            for key, item in zip(keys, value, strict=True):
                rest = dict(list(item.items())[1:])
                _flatten_into(out, f"{prefix}.{key}", rest)
        else:
            for n, item in enumerate(value, start=1):
                _flatten_into(out, f"{prefix}.{n}", item)
    elif value is None:
        if prefix:
            out.setdefault(prefix, None)
    elif isinstance(value, str | int | float | bool):
        out[prefix] = value
    else:
        raise TypeError(f"{prefix}: not a JSON value: {type(value).__name__}")


def flatten(row: Mapping[str, Any]) -> dict[str, Scalar]:
    """One JSON object as ``{column: value}`` by the module's rule."""
    out: dict[str, Scalar] = {}
    _flatten_into(out, "", row)
    return out


# The Vietnamese words of the JSON field names, part by part; a part without a word (a
# threshold, a pause reason, an IVR key) is shown as it is.
WORDS: dict[str, str] = {
    "start": "Bắt đầu (UTC)",
    "end": "Kết thúc (UTC)",
    "label": "Khoảng (giờ Việt Nam)",
    "category": "Lĩnh vực",
    "queue": "Hàng đợi",
    "offered": "Cuộc gọi vào",
    "answered": "Đã trả lời",
    "abandoned": "Bỏ máy",
    "short_abandoned": "Bỏ máy ngắn (< 5 giây)",
    "callbacks": "Yêu cầu gọi lại",
    "repeats": "Gọi lại trùng",
    "abandon_rate": "Tỷ lệ bỏ máy",
    "service_levels": "Mức phục vụ",
    "seconds": "Ngưỡng (giây)",
    "answered_within": "Trả lời trong ngưỡng",
    "value": "Tỷ lệ",
    "asa_s": "Thời gian chờ trung bình (giây)",
    "aht_s": "Thời gian xử lý trung bình (giây)",
    "talk_s": "Đàm thoại (giây)",
    "wrapup_s": "Xử lý sau cuộc gọi (giây)",
    "longest_wait_s": "Chờ lâu nhất (giây)",
    "agent_id": "Mã tổng đài viên",
    "endpoint": "Máy lẻ",
    "logged_in_s": "Đăng nhập (giây)",
    "idle_s": "Sẵn sàng (giây)",
    "ringing_s": "Đổ chuông (giây)",
    "paused_s": "Tạm nghỉ (giây)",
    "paused_by_reason": "Tạm nghỉ theo lý do (giây)",
    "occupancy": "Tỷ lệ bận",
    "team": "Đội",
    "id": "Mã",
    "name": "Tên",
    "kind": "Loại",
    "place": "Địa bàn",
    "code": "Mã hành chính",
    "level": "Cấp",
    "dispatched": "Được giao",
    "escalated": "Chuyển cấp trên",
    "taken": "Đã nhận",
    "resolved": "Đã xử lý",
    "cancelled": "Đã hủy",
    "open": "Đang mở",
    "ack_median_s": "Trung vị thời gian xác nhận (giây)",
    "resolve_median_s": "Trung vị thời gian xử lý (giây)",
    "teams": "Số đội",
    "incidents": "Sự vụ",
    "counts": "Theo trạng thái",
    "overdue": "Quá hạn",
    "call_id": "Mã cuộc gọi",
    "status": "Trạng thái",
    "status_label": "Trạng thái (chữ)",
    "category_label": "Lĩnh vực (chữ)",
    "urgency": "Mức khẩn",
    "urgency_label": "Mức khẩn (chữ)",
    "overdue_s": "Quá hạn (giây)",
    "overdue_label": "Quá hạn (chữ)",
    "age_s": "Tuổi (giây)",
    "created_at": "Tạo lúc (UTC)",
    "dispatched_at": "Điều động lúc (UTC)",
    "acknowledged_at": "Xác nhận lúc (UTC)",
    "ack_due_at": "Hạn xác nhận (UTC)",
    "escalation": "Số cấp đã chuyển",
    "commune": "Xã",
    "district": "Huyện",
    "address": "Địa chỉ",
    "caller_number": "Số gọi",
    "node": "Nút",
    "reached": "Lượt đến",
    "keys": "Phím đã chọn",
    "invalid": "Phím sai",
    "timeout": "Hết giờ chờ phím",
    "back": "Quay lại (*)",
    "exhausted": "Hết lượt thử",
    "heard": "Nghe hết thông báo",
    "hung_up": "Gác máy tại đây",
    "hour": "Giờ",
    "calls_per_hour": "Cuộc gọi mỗi giờ",
    "load_erlangs": "Tải (Erlang)",
    "agents": "Số tổng đài viên",
    "p_wait": "Xác suất phải chờ",
    "predicted": "Dự báo",
    "percent": "Mục tiêu (%)",
    "erlang_a": "Erlang A",
    "patience_s": "Kiên nhẫn (giây)",
    "p_abandon": "Xác suất bỏ máy",
    "dedicated_agents": "Tổng đài viên riêng từng hàng đợi",
    "province": "Tỉnh",
    "present": "Có mặt",
    "absent": "Vắng",
    "dialling": "Đang gọi",
    "left": "Đã rời",
    "total": "Tổng",
}


def header_label(column: str) -> str:
    """``service_levels.20.value`` → ``Mức phục vụ · 20 · Tỷ lệ``."""
    return " · ".join(WORDS.get(part, part) for part in column.split("."))


@dataclass(frozen=True)
class Table:
    """A named table of flat rows; ``name`` names the file (``stats-queues``) and
    ``title`` the sheet (Vietnamese)."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[dict[str, Scalar], ...]

    @classmethod
    def of(cls, name: str, title: str, rows: Iterable[BaseModel | Mapping[str, Any]]) -> Table:
        """The rows (models: as their JSON writes them) flattened."""
        flat = tuple(
            flatten(row.model_dump(mode="json") if isinstance(row, BaseModel) else row)
            for row in rows
        )
        columns: dict[str, None] = {}
        for row in flat:
            columns.update(dict.fromkeys(row))
        return cls(name, title, tuple(columns), flat)


def to_csv(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if (v := row.get(c)) is None else _csv_value(v) for c in table.columns])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


# What makes a spreadsheet read a CSV cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Scalar) -> str | int | float:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value  # shown as text by a spreadsheet, never run as a formula
    assert value is not None
    return value


# Excel's limit on a sheet's name, and the characters it refuses in one.
_SHEET_NAME_MAX = 31
_SHEET_NAME_BAD = str.maketrans({c: " " for c in "[]:*?/\\"})


def _append(sheet: Worksheet, values: Sequence[Scalar]) -> None:
    """A row of values; text stays text. openpyxl makes "=…" a formula (a caller's words
    reach the address column) and refuses the control characters XML cannot carry: those
    become U+FFFD."""
    sheet.append(
        [ILLEGAL_CHARACTERS_RE.sub("\ufffd", v) if isinstance(v, str) else v for v in values]
    )
    for n, value in enumerate(values, start=1):
        if isinstance(value, str) and value.startswith("="):
            sheet.cell(row=sheet.max_row, column=n).data_type = "s"


def _add_sheet(book: Workbook, table: Table) -> None:
    sheet = book.create_sheet(table.title.translate(_SHEET_NAME_BAD)[:_SHEET_NAME_MAX])
    bold = Font(bold=True)
    _append(sheet, [header_label(c) for c in table.columns])
    _append(sheet, table.columns)
    for cell in sheet[1]:
        cell.font = bold
    for row in table.rows:
        _append(sheet, [row.get(c) for c in table.columns])
    sheet.freeze_panes = "A3"
    for n, column in enumerate(table.columns, start=1):
        width = max(len(header_label(column)), len(column), 8)
        sheet.column_dimensions[get_column_letter(n)].width = min(width + 2, 40)


def workbook(tables: Sequence[Table], about: Sequence[tuple[str, Scalar]] = ()) -> bytes:
    """The tables as one XLSX, a sheet each; ``about`` (label, value) pairs first, on a
    sheet "Thông tin" (what the file covers)."""
    book = Workbook()
    assert book.active is not None
    book.remove(book.active)
    if about:
        info = book.create_sheet("Thông tin")
        for label, value in about:
            _append(info, [label, value])
        info.column_dimensions["A"].width = 30
        info.column_dimensions["B"].width = 40
    for table in tables:
        _add_sheet(book, table)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_xlsx(table: Table) -> bytes:
    return workbook([table])


def _bound(at: datetime) -> str:
    local = at.astimezone(VIETNAM)
    return (
        local.strftime("%Y-%m-%d")
        if local.time() == datetime.min.time()
        else (local.strftime("%Y-%m-%dT%H%M"))
    )


def filename(
    name: str, extension: str, since: datetime | None = None, until: datetime | None = None
) -> str:
    """``stats-queues_2024-05-01.csv`` (one Vietnam day), ``…_2024-05-01_2024-05-07.csv``
    (whole days, the last included), ``…_2024-05-01T0800_2024-05-01T0830.csv`` (Vietnam
    time, the end excluded); ``…_2024-05-01T1700.csv`` for a snapshot (``until`` only, or
    ``since`` only: from then on)."""
    if since is not None and until is not None:
        whole_days = vietnam_day_start(since) == since and vietnam_day_start(until) == until
        if whole_days:
            last = until - timedelta(days=1)
            span = _bound(since) if last <= since else f"{_bound(since)}_{_bound(last)}"
        else:
            span = f"{_bound(since)}_{_bound(until)}"
    elif since is not None or until is not None:
        at = since if since is not None else until
        assert at is not None
        span = ("from-" if since is not None else "") + _bound(at)
    else:
        span = "all"
    return f"{name}_{span}.{extension}"


async def download(
    table: Table,
    format: Literal["csv", "xlsx"],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Response:
    """The table as a file to save, the range in its name. Written off the event loop: a
    workbook of a few thousand rows is a second of CPU, and AMI's heartbeat goes on."""
    if format == "csv":
        body, media_type = await asyncio.to_thread(to_csv, table), CSV_TYPE
    else:
        body, media_type = await asyncio.to_thread(to_xlsx, table), XLSX_TYPE
    return Response(
        body,
        media_type=media_type,
        headers={
            "Content-Disposition": (
                f'attachment; filename="{filename(table.name, format, since, until)}"'
            )
        },
    )


Body = TypeVar("Body")


async def respond(
    body: Body,
    rows: Iterable[BaseModel | Mapping[str, Any]],
    format: Format,
    *,
    name: str,
    title: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Body | Response:
    """``body`` for ``format=json``; else ``rows`` (the rows ``body`` holds, as its JSON
    writes them) as a file to save."""
    if format == "json":
        return body
    return await download(Table.of(name, title, rows), format, since=since, until=until)
