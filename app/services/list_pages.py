"""Pages of the lists that grow without end (orders, ledger transactions, consumers), newest first by id.

One way to read them (app/domain/paging.py): from a cursor, `WHERE id < :before ORDER BY id DESC LIMIT n`,
which an index on (partner_id, id) (or the filter's own columns, then id) answers by reading n rows, on
page 1 as on page 20,000. Counting is capped: `SELECT count(*) FROM (... LIMIT cap + 1)` reads at most
cap + 1 index entries, so a list of a million rows costs what a list of a thousand does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlmodel import Session, func, select

from app.domain.paging import COUNT_CAP, FIRST_PAGE, CursorPage, Position, within_pages


def capped_count(session: Session, counted: Any, cap: int) -> int:
    """How many rows `counted` (a select of ids) finds, reading at most cap + 1 of them (so: at most cap + 1)."""
    return session.exec(select(func.count()).select_from(counted.limit(cap + 1).subquery())).one()


def newest_first(
    session: Session,
    rows: Any,
    *,
    key: Any,
    key_of: Callable[[Any], int],
    counted: Any,
    position: Position,
    size: int,
    cap: int = COUNT_CAP,
    locate: bool = True,
    open_ended_pages: bool = False,
) -> CursorPage:
    """The page of `rows` (a select with the list's filters, not ordered) at `position`, newest first by `key`.

    `key_of` reads the key from a row; `counted` selects `key` with the same filters and the fewest joins,
    for the counts. `locate`: count the rows newer than the page too, to say where it starts ("51–100")
    and whether there is a newer page. An offset page (`position.page`, for links made before cursors) is
    kept within the counted rows, so at most `cap` rows are skipped; `open_ended_pages` leaves it where it
    was asked for (the API's pages, which integrators page through to the end).
    """
    newest = rows.order_by(key.desc())

    def page(found: Sequence, *, first: int, newer: int | None, more: bool, total: int | None = None) -> CursorPage:
        """The CursorPage of `found` (up to one row more than a page); `total` when known without counting."""
        if total is None:
            total = capped_count(session, counted, cap)
        shown = list(found[:size])
        number = (first - 1) // size + 1 if first else 0
        older = key_of(shown[-1]) if more and shown else None
        exact = total <= cap
        return CursorPage(shown, min(total, cap), number, size, total_is_exact=exact, first=first, newer=newer, older=older)

    def newer_than(top: int) -> tuple[int, int | None]:
        """(the position of the first row older than `top`, 0 when past the counted rows; the cursor of the
        page of rows newer than `top`, None when there are none)."""
        if not locate:
            return 0, None
        above = capped_count(session, counted.where(key > top), cap)
        return (above + 1 if above < cap else 0), (top if above else None)

    if position.after is not None:
        going_back = session.exec(rows.where(key > position.after).order_by(key.asc()).limit(size + 1)).all()
        if len(going_back) > size:  # short of the newest rows: a full page going back
            found = list(reversed(going_back[:size]))
            first, newer = newer_than(key_of(found[0]))
            more = session.exec(counted.where(key < key_of(found[-1])).limit(1)).first() is not None
            return page(found, first=first, newer=newer, more=more)
        position = FIRST_PAGE  # back at the top: the first page, full
    if position.before is not None:
        found = session.exec(newest.where(key < position.before).limit(size + 1)).all()
        # Past the oldest matching row (a typed cursor, or one kept from another filter): nothing to show here,
        # and the newer page is the one ending at `before` itself.
        first, newer = newer_than(key_of(found[0]) if found else position.before - 1)
        return page(found, first=first if found else 0, newer=newer, more=len(found) > size)
    if position.page == 1:
        found = session.exec(newest.limit(size + 1)).all()
        # A list that fits on its first page has been counted already (a search that finds a few rows).
        return page(found, first=1, newer=None, more=len(found) > size, total=None if len(found) > size else len(found))
    number, total = position.page, None
    if not open_ended_pages:
        total = capped_count(session, counted, cap)
        number = within_pages(number, total=min(total, cap), size=size)
    found = session.exec(newest.offset((number - 1) * size).limit(size + 1)).all()
    newer = key_of(found[0]) if found else None
    return page(found, first=(number - 1) * size + 1, newer=newer, more=len(found) > size, total=total)
