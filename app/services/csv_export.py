"""Every CSV file the app hands out is written here: the store's statement, the portal's transactions
export and a bulk upload's error rows. One writer, so each of them is safe to open in a spreadsheet.

A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage return before one) as a formula
(CSV injection: `=HYPERLINK(...)` in a memo, a name or an email address someone typed). Such a text
cell is written with a leading ' so the spreadsheet shows it as text. Numbers are passed as numbers
(int, Decimal) and written as they are: "-25.00" is an amount, not a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 500


def safe_cell(value) -> str:
    """`value` as a CSV cell that a spreadsheet shows as it is and never runs."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")  # never "1E+2"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def original_value(text: str) -> str:
    """Undo `safe_cell` on a file of ours that comes back (e.g. the bulk upload's error rows, fixed)."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def csv_chunks(rows: Iterable[Iterable], *, rows_per_chunk: int = ROWS_PER_CHUNK) -> Iterator[str]:
    """The rows as CSV text (RFC 4180: quoted where needed, CRLF line ends), every cell through
    `safe_cell`, a few hundred rows at a time: a download of any size streams in bounded memory.
    The first chunk is the first row alone, so a header goes out before a slow query's first row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    first, pending = True, 0
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
        pending += 1
        if first or pending == rows_per_chunk:
            yield _drain(buffer)
            first, pending = False, 0
    if pending:
        yield _drain(buffer)


def csv_text(rows: Iterable[Iterable]) -> str:
    """The rows as one CSV text (for a file small enough to build whole)."""
    return "".join(csv_chunks(rows))


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
