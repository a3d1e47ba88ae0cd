"""Pages of lists (store catalog, portal lists): the one `Page` type, and one rule for reading a page number from a query string.

A page number is a positive integer up to LAST_PAGE. Anything that isn't one (missing, text, zero,
negative, "²") is page 1; a number past LAST_PAGE, however long, is LAST_PAGE (a view that knows
its count shows its own last page instead), so no offset a database can't hold is ever built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

LAST_PAGE = 1_000_000

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
