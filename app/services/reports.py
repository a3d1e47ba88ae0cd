"""Reports for the partner portal: the ledger's transactions (a page, or all of them for a CSV) and the dashboard's totals.

Totals are SQL GROUP BYs over UTC days, bucketed by the database (`utc_day`) the same way on
SQLite and PostgreSQL. An export reads the ledger a chunk at a time, so its size never matters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import chain

from sqlalchemy import func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Date
from sqlmodel import Session, col, select

from app.clock import utcnow
from app.db import engine as database_engine
from app.domain import paging
from app.domain.errors import InvalidInput
from app.domain.ledger import TransactionStatus, TransactionType
from app.domain.money import Money
from app.domain.orders import OrderStatus
from app.domain.paging import Page
from app.models import Brand, Consumer, Order, Partner, Transaction
from app.services import csv_export

PERIODS = (7, 30, 90)
TOP_BRANDS = 10
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

    def link_args(self, page: int) -> dict:
        """The query arguments of page `page` of the same list (templates/_pager.html)."""
        return {"page": page, **self.args()}

    def where(self) -> list:
        conditions = self.days.where(Transaction.created_at)
        if self.type:
            conditions.append(Transaction.type == self.type)
        if self.status:
            conditions.append(Transaction.status == self.status)
        if self.email:
            conditions.append(col(Consumer.email).contains(self.email, autoescape=True))
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


def _transactions(partner: Partner, filter: TransactionFilter):
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
        .where(Transaction.partner_id == partner.id, *filter.where())
    )


def _transaction_row(row) -> TransactionRow:
    id_, created_at, kind, status, amount, currency, email, order, memo, actor = row
    return TransactionRow(id_, created_at, kind, status, Money(amount, currency), email, order, memo, actor)


def transaction_page(session: Session, *, partner: Partner, filter: TransactionFilter, page: int, size: int = 50) -> Page:
    total = session.exec(
        select(func.count(col(Transaction.id)))
        .select_from(Transaction)
        .outerjoin(Consumer, col(Consumer.id) == Transaction.consumer_id)
        .where(Transaction.partner_id == partner.id, *filter.where())
    ).one()
    page = paging.within_pages(page, total=total, size=size)
    rows = session.exec(
        _transactions(partner, filter).order_by(col(Transaction.id).desc()).offset((page - 1) * size).limit(size)
    ).all()
    return Page([_transaction_row(row) for row in rows], total, page, size)


def transaction_export(
    session: Session, *, partner: Partner, filter: TransactionFilter, chunk: int = 1000
) -> Iterator[TransactionRow]:
    """Every matching transaction, newest first, read `chunk` rows at a time (keyset on id): memory stays flat."""
    statement = _transactions(partner, filter).order_by(col(Transaction.id).desc()).limit(chunk)
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


# --- the dashboard -----------------------------------------------------------------------


@dataclass(frozen=True)
class DayTotals:
    day: date
    funds_added: Money
    spend: Money
    completed: int
    failed: int
    pending: int

    @property
    def orders(self) -> int:
        return self.completed + self.failed + self.pending


@dataclass(frozen=True)
class BrandTotals:
    name: str
    orders: int
    spend: Money


@dataclass(frozen=True)
class Dashboard:
    """One currency over one period: money into wallets, money spent on cards, and how orders went."""

    currency: str
    period: int
    days: list[DayTotals]
    brands: list[BrandTotals]

    @property
    def first(self) -> date:
        return self.days[0].day

    @property
    def last(self) -> date:
        return self.days[-1].day

    def total(self, name: str):
        values = [getattr(day, name) for day in self.days]
        return sum(values[1:], values[0])


def period_days(text: str | None) -> int:
    days = int(text) if text and text.isdigit() else 0
    if days not in PERIODS:
        raise InvalidInput("Choose a period of 7, 30 or 90 days.", field="days")
    return days


def dashboard(session: Session, *, partner: Partner, currency: str, period: int, today: date | None = None) -> Dashboard:
    if period not in PERIODS:
        raise InvalidInput("Choose a period of 7, 30 or 90 days.", field="days")
    if currency not in partner.currency_list:
        raise InvalidInput(f"{currency[:3]} is not one of your currencies.", field="currency")
    today = today or utcnow().date()
    first = today - timedelta(days=period - 1)
    window = DayRange(first, today)

    added_day = utc_day(Transaction.created_at)
    added = dict(
        session.exec(
            select(added_day, func.sum(Transaction.amount))
            .where(
                Transaction.partner_id == partner.id,
                Transaction.currency == currency,
                col(Transaction.consumer_id).is_not(None),
                Transaction.type == TransactionType.CREDIT.value,
                Transaction.status == TransactionStatus.COMPLETED.value,
                *window.where(Transaction.created_at),
            )
            .group_by(added_day)
        ).all()
    )

    order_day = utc_day(Order.created_at)
    counts: dict[tuple[date, str], int] = {}
    spend: dict[date, int] = {}
    for day, status, count, price in session.exec(
        select(order_day, Order.status, func.count(col(Order.id)), func.sum(Order.price))
        .where(Order.partner_id == partner.id, Order.currency == currency, *window.where(Order.created_at))
        .group_by(order_day, Order.status)
    ).all():
        counts[day, status] = count
        if status == OrderStatus.COMPLETED.value:
            spend[day] = int(price)

    brand_spend = func.sum(Order.price)
    brands = session.exec(
        select(Brand.name, func.count(col(Order.id)), brand_spend)
        .join(Brand, col(Brand.id) == Order.brand_id)
        .where(
            Order.partner_id == partner.id,
            Order.currency == currency,
            Order.status == OrderStatus.COMPLETED.value,
            *window.where(Order.created_at),
        )
        .group_by(col(Brand.id), Brand.name)
        .order_by(brand_spend.desc(), Brand.name)
        .limit(TOP_BRANDS)
    ).all()

    days = [first + timedelta(days=n) for n in range(period)]
    return Dashboard(
        currency=currency,
        period=period,
        days=[
            DayTotals(
                day=day,
                funds_added=Money(int(added.get(day) or 0), currency),  # PostgreSQL sums bigints as numeric
                spend=Money(spend.get(day, 0), currency),
                completed=counts.get((day, OrderStatus.COMPLETED.value), 0),
                failed=counts.get((day, OrderStatus.FAILED.value), 0),
                pending=counts.get((day, OrderStatus.PENDING.value), 0),
            )
            for day in days
        ],
        brands=[BrandTotals(name, count, Money(int(total), currency)) for name, count, total in brands],
    )
