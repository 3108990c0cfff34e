"""Reading uploaded tables (CSV or XLSX) for imports, and validating them row by row.

A published result table or a purchase export comes from a spreadsheet: headers may be in
English or Chinese, CSV files from Chinese Excel are often GB18030 rather than UTF-8, and XLSX
cells hold numbers and dates rather than text. Everything is turned into text rows keyed by the
canonical field names, each with its line number in the file (the header is line 1), so every
bad row can be named.
"""

import csv
import io
import itertools
import zipfile
from collections.abc import Mapping
from datetime import date, datetime

import marshmallow as ma

from dualchannel.errors import FieldMessage, Invalid

MAX_ROWS = 100_000
# An XLSX file is a zip archive: what it unpacks to is bounded before it is read, so a small
# upload cannot expand into gigabytes (a spreadsheet of MAX_ROWS real rows is far below this).
MAX_XLSX_UNPACKED = 256 * 1024 * 1024


def _normalise(header: object) -> str:
    return str(header or "").strip().lower().replace(" ", "_").replace("（", "(").replace("）", ")")


def _cell(value: object) -> str | None:
    """A spreadsheet cell as the text a person would type."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return format(int(value), "d") if value.is_integer() else repr(value)
    text = str(value).strip()
    return text or None


def _csv_rows(data: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes every byte sequence
        raise Invalid("The file is neither UTF-8 nor GB18030 text.",
                      {"file": [FieldMessage("file_unreadable_text", "Unreadable text.")]}, code="file_unreadable")
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise Invalid(f"The CSV file cannot be read: {error}.",
                      {"file": [FieldMessage("file_malformed_csv", "Malformed CSV.")]}, code="malformed_file")


def _xlsx_rows(data: bytes) -> list[list[object]]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
        if unpacked > MAX_XLSX_UNPACKED:
            raise Invalid("The XLSX file unpacks to more than 256 MB.",
                          {"file": [FieldMessage("file_too_large_unpacked", "Too large once unpacked.")]},
                          code="file_too_large")
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise Invalid(f"The XLSX file cannot be read ({type(error).__name__}).",
                      {"file": [FieldMessage("file_malformed_xlsx", "Malformed XLSX.")]}, code="malformed_file")
    try:
        sheet = workbook.worksheets[0]
        # One row past the header and MAX_ROWS is enough to refuse a longer file.
        return [list(row) for row in itertools.islice(sheet.iter_rows(values_only=True), MAX_ROWS + 2)]
    finally:
        workbook.close()


def read_table(filename: str, data: bytes, aliases: Mapping[str, str], required: set[str]) -> list[tuple[int, dict]]:
    """Rows of an uploaded CSV or XLSX file: ``[(line_number, {field: text or None}), ...]``.

    ``aliases`` maps each accepted header (normalised: lower case, spaces as ``_``) to its
    field. Unknown columns are ignored; a missing required column, an empty file or more than
    ``MAX_ROWS`` rows is an Invalid for the whole file. Blank lines are skipped but keep their
    numbers, so line numbers match what a spreadsheet shows.
    """
    is_xlsx = filename.lower().endswith((".xlsx", ".xlsm")) or data[:2] == b"PK"
    raw = _xlsx_rows(data) if is_xlsx else _csv_rows(data)
    if not raw or not any(_cell(c) for c in raw[0]):
        raise Invalid("The file has no header row.",
                      {"file": [FieldMessage("file_without_header", "Empty or without a header row.")]},
                      code="file_without_header")
    fields = [aliases.get(_normalise(h)) for h in raw[0]]
    missing = sorted(required - set(fields))
    if missing:
        raise Invalid(f"Missing columns: {', '.join(missing)}.",
                      {"file": [FieldMessage("file_column_missing", f"Missing column {m}.", column=m)
                                for m in missing]},
                      code="file_columns_missing")
    if len(raw) - 1 > MAX_ROWS:
        raise Invalid(f"At most {MAX_ROWS} rows per file.",
                      {"file": [FieldMessage("file_too_many_rows", "Too many rows.", max=MAX_ROWS)]},
                      code="file_too_many_rows")
    rows = []
    for number, values in enumerate(raw[1:], start=2):
        cells = [_cell(v) for v in values]
        if not any(cells):
            continue
        row = {field: cell for field, cell in zip(fields, cells) if field is not None}
        rows.append((number, row))
    if not rows:
        raise Invalid("The file has no data rows.", {"file": [FieldMessage("file_without_rows", "No rows.")]},
                      code="file_without_rows")
    return rows


def validate_rows(rows: list[tuple[int, dict]], schema: ma.Schema) -> tuple[list[tuple[int, dict]], list[dict]]:
    """Load each row with ``schema``: ``(valid rows, problems)``; a problem is
    ``{"line": n, "errors": {field: [messages]}}``."""
    valid, problems = [], []
    for number, row in rows:
        try:
            valid.append((number, schema.load({k: v for k, v in row.items() if v is not None})))
        except ma.ValidationError as error:
            problems.append({"line": number, "errors": error.normalized_messages()})
    return valid, problems


def reject(problems: list[dict]) -> None:
    """Raise one Invalid naming every bad row (nothing is imported)."""
    if not problems:
        return
    problems = sorted(problems, key=lambda p: p["line"])
    for problem in problems:
        problem["reason"] = "; ".join(
            f"{field}: {' '.join(map(str, messages)) if isinstance(messages, list) else messages}"
            for field, messages in problem["errors"].items())
    lines = ", ".join(str(p["line"]) for p in problems[:20]) + (" ..." if len(problems) > 20 else "")
    raise Invalid(
        f"{len(problems)} row(s) are invalid (line {lines}); nothing was imported.",
        {f"line {p['line']}": [FieldMessage("row_invalid", p["reason"], line=p["line"], columns=", ".join(p["errors"]))]
         for p in problems},
        rows=problems, code="rows_invalid",
    )
