"""Reports for the partner portal: the ledger's transactions (a page, or all of them for a CSV), and the UTC days
that reports filter and group by (the dashboard's totals: app/services/daily_totals.py).

Days are bucketed by the database (`utc_day`) the same way on SQLite and PostgreSQL. An export reads the ledger a
chunk at a time, so its size never matters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from itertools import chain

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Date
from sqlmodel import Session, col, select

from app.db import engine as database_engine
from app.domain import paging
from app.domain.errors import InvalidInput
from app.domain.ledger import TransactionStatus, TransactionType
from app.domain.money import Money
from app.models import Consumer, Order, Partner, Transaction
from app.services import csv_export, list_pages
from app.services.consumers import email_condition
from app.services.rows import row_id

TRANSACTION_TYPES = tuple(t.value for t in TransactionType)
TRANSACTION_STATUSES = tuple(s.value for s in TransactionStatus)
EMAIL_FILTER_MAX = 254


class utc_day(FunctionElement):
    """The UTC calendar day of a timestamp column."""

    type = Date()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day)
def _utc_day(element, compiler, **kw):
    return f"DATE({compiler.process(element.clauses, **kw)})"  # SQLite keeps UTC text


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element, compiler, **kw):
    # timestamptz: the day in UTC, whatever the session's time zone.
    return f"DATE({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC')"


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass(frozen=True)
class DayRange:
    """Whole UTC days from `first` to `last`, both included; either end may be open."""

    first: date | None = None
    last: date | None = None

    def where(self, column) -> list:
        conditions = []
        if self.first:
            conditions.append(column >= start_of(self.first))
        if self.last:
            conditions.append(
                column <= datetime.combine(self.last, time.max, tzinfo=UTC)
            )  # not last + 1 day: 9999-12-31 has none
        return conditions

    def args(self) -> dict:
        return {"from": self.first.isoformat() if self.first else None, "to": self.last.isoformat() if self.last else None}


def _day(text: str, field: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"'{text[:20]}' is not a date: dates look like 2026-03-31.", field=field) from None


def day_range(first: str, last: str) -> DayRange:
    days = DayRange(_day(first, "from"), _day(last, "to"))
    if days.first and days.last and days.first > days.last:
        raise InvalidInput("The start date is after the end date.", field="from")
    return days


def email_filter(text: str) -> str:
    """Part of an email address to look for (addresses are stored in lower case)."""
    return (text or "").strip().lower()[:EMAIL_FILTER_MAX]


# --- transactions ------------------------------------------------------------------------


@dataclass(frozen=True)
class TransactionFilter:
    type: str = ""
    status: str = ""
    email: str = ""
    days: DayRange = DayRange()

    def args(self) -> dict:
        """The filter as query arguments, for links to other pages of the same list."""
        values = {"type": self.type, "status": self.status, "email": self.email, **self.days.args()}
        return {key: value for key, value in values.items() if value}

    def where(self, session: Session, partner: Partner) -> list:
        conditions = [Transaction.partner_id == partner.id, *self.days.where(Transaction.created_at)]
        if self.type:
            conditions.append(Transaction.type == self.type)
        if self.status:
            conditions.append(Transaction.status == self.status)
        if self.email:
            conditions.append(email_condition(session, partner_id=row_id(partner), text=self.email))
        return conditions


def transaction_filter(args: Mapping[str, str]) -> TransactionFilter:
    kind, status = args.get("type", "").strip(), args.get("status", "").strip()
    if kind and kind not in TRANSACTION_TYPES:
        raise InvalidInput("Choose a transaction type from the list.", field="type")
    if status and status not in TRANSACTION_STATUSES:
        raise InvalidInput("Choose a transaction status from the list.", field="status")
    return TransactionFilter(
        kind, status, email_filter(args.get("email", "")), day_range(args.get("from", ""), args.get("to", ""))
    )


@dataclass(frozen=True)
class TransactionRow:
    id: int
    created_at: datetime
    type: str
    status: str
    amount: Money
    consumer_email: str | None
    order: str | None  # the order's public id
    memo: str
    actor: str


def _transactions(where: list):
    return (
        select(  # type: ignore[call-overload]  # sqlmodel's select() is typed for at most 4 columns
            Transaction.id,
            Transaction.created_at,
            Transaction.type,
            Transaction.status,
            Transaction.amount,
            Transaction.currency,
            Consumer.email,
            Order.public_id,
            Transaction.memo,
            Transaction.actor,
        )
        .outerjoin(Consumer, Consumer.id == Transaction.consumer_id)
        .outerjoin(Order, Order.id == Transaction.order_id)
        .where(*where)
    )


def _transaction_row(row) -> TransactionRow:
    id_, created_at, kind, status, amount, currency, email, order, memo, actor = row
    return TransactionRow(id_, created_at, kind, status, Money(amount, currency), email, order, memo, actor)


def transaction_page(
    session: Session,
    *,
    partner: Partner,
    filter: TransactionFilter,
    position: paging.Position = paging.FIRST_PAGE,
    size: int = 50,
) -> paging.CursorPage[TransactionRow]:
    """A page of the partner's transactions, newest first, from `position` (indexes: ledger_transaction
    (partner_id, id) and (partner_id, type, id))."""
    where = filter.where(session, partner)
    counted = select(Transaction.id).where(*where)
    if filter.email:
        counted = counted.join(Consumer, col(Consumer.id) == Transaction.consumer_id)
    found = list_pages.newest_first(
        session,
        _transactions(where),
        key=col(Transaction.id),
        key_of=lambda row: row[0],
        counted=counted,
        position=position,
        size=size,
    )
    return replace(found, rows=[_transaction_row(row) for row in found.rows])


def transaction_export(
    session: Session, *, partner: Partner, filter: TransactionFilter, chunk: int = 1000
) -> Iterator[TransactionRow]:
    """Every matching transaction, newest first, read `chunk` rows at a time (keyset on id): memory stays flat."""
    statement = _transactions(filter.where(session, partner)).order_by(col(Transaction.id).desc()).limit(chunk)
    before = None
    while True:
        rows = session.exec(statement if before is None else statement.where(Transaction.id < before)).all()
        for row in rows:
            yield _transaction_row(row)
        if len(rows) < chunk:
            return
        before = rows[-1][0]


TRANSACTION_CSV_COLUMNS = ["id", "date", "type", "status", "amount", "currency", "consumer_email", "order", "memo", "actor"]
TRANSACTION_CSV_ROWS_PER_CHUNK = 500


def _transaction_cells(row: TransactionRow) -> list:
    return [
        row.id,
        row.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        row.type,
        row.status,
        row.amount.to_decimal(),
        row.amount.currency,
        row.consumer_email or "",
        row.order or "",
        row.memo,
        row.actor,
    ]


def transaction_csv(*, partner: Partner, filter: TransactionFilter) -> Iterator[str]:
    """The matching transactions as CSV text, a chunk at a time, for a download of any size.

    Read while the response is sent, after the view returned: the generator owns a session of its own for
    as long as the download lasts (closed when it ends or the client goes away) and needs no Flask context.
    """
    engine = database_engine()  # now, while there is an app context

    def lines() -> Iterator[str]:
        with Session(engine) as session:
            rows = (_transaction_cells(row) for row in transaction_export(session, partner=partner, filter=filter))
            yield from csv_export.csv_chunks(
                chain([TRANSACTION_CSV_COLUMNS], rows), rows_per_chunk=TRANSACTION_CSV_ROWS_PER_CHUNK
            )

    return lines()
