"""Pages of lists (store catalog, portal lists): the one `Page` type, and one rule for reading a page number from a query string.

A page number is a positive integer up to LAST_PAGE. Anything that isn't one (missing, text, zero,
negative, "²") is page 1; a number past LAST_PAGE, however long, is LAST_PAGE (a view that knows
its count shows its own last page instead), so no offset a database can't hold is ever built.

Lists that grow without end (orders, ledger transactions, consumers) are read newest first by id from a
cursor instead (`CursorPage`): `before=<id>` is the page of rows older than that row, `after=<id>` the page
of rows newer than it (going back). Reading from a cursor costs the same on page 1 and on page 20,000,
where an offset reads and drops every row before it. Their count is capped (COUNT_CAP): "1–50 of 1,000+".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

LAST_PAGE = 1_000_000
MAX_ID = 2**31 - 1  # ids are 32-bit in the database: a longer number is simply not found (the one limit)
COUNT_CAP = 1000  # an HTML list counts its rows up to this many: past it, "1,000+"

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its rows, how many rows the whole list has, which page this is (from 1) and
    how many rows a page holds. Every HTML list renders its links with templates/_pager.html; the API
    shows the same page as its JSON `Page` (items, page, perPage, total)."""

    rows: Sequence[T]
    total: int
    number: int
    size: int

    @property
    def pages(self) -> int:
        """How many pages the list has (1 for an empty list)."""
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_number(text: str | None, *, last: int = LAST_PAGE) -> int:
    """The page asked for in `text` (a query-string value), between 1 and `last`."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()):
        return 1
    text = text.lstrip("0")
    if not text:
        return 1
    if len(text) > len(str(last)):  # never hand int() thousands of digits
        return last
    return min(int(text), last)


def within_pages(page: int, *, total: int, size: int) -> int:
    """`page`, or the list's last page when it is past it (1 for an empty list)."""
    return min(page, max(1, -(-total // size)))


def row_id_number(text: str | None) -> int | None:
    """The row id in `text` (a query-string value), or None when it isn't one (text, zero, past MAX_ID)."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


@dataclass(frozen=True)
class Position:
    """Where a newest-first list is asked to start: rows older than `before`, rows newer than `after` (going
    back), or else page `page` by offset (links from before cursors; the first page when 1)."""

    before: int | None = None
    after: int | None = None
    page: int = 1

    def __post_init__(self) -> None:
        if self.before is not None and self.after is not None:
            raise ValueError("a position is before a row or after one, not both")


FIRST_PAGE = Position()


def list_position(args: Mapping[str, str]) -> Position:
    """The position asked for by a list's query string. A cursor that isn't a row id (a typo, an old or forged
    link) is no cursor: the list starts at its newest rows, never an error. `before` wins over `after`."""
    before, after = row_id_number(args.get("before")), row_id_number(args.get("after"))
    if before is not None:
        return Position(before=before)
    if after is not None:
        return Position(after=after)
    return Position(page=page_number(args.get("page")))


@dataclass(frozen=True)
class CursorPage(Page[T]):
    """One page of a newest-first list read from a cursor (see the module's docstring).

    `total` is exact up to the cap the list counts to; `total_is_exact` is False when the list holds more.
    `first` is the position of the page's first row in the list (1 on the first page), 0 when it lies past the
    counted rows. `newer` and `older` are the cursors of the neighbouring pages (`after=newer`,
    `before=older`), None where there is none. `number` is the page's number when it is known from `first`.
    """

    total_is_exact: bool = True
    first: int = 1
    newer: int | None = None
    older: int | None = None

    @property
    def last(self) -> int:
        """The position of the page's last row (0 when not known)."""
        return self.first + len(self.rows) - 1 if self.first else 0

    @property
    def has_previous(self) -> bool:
        return self.newer is not None

    @property
    def has_next(self) -> bool:
        return self.older is not None
