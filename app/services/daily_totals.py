"""The dashboard: over a period of 7, 30 or 90 days, money into wallets, money spent on gift cards and how orders
went, per day and per brand, in one currency; closed days read from a rollup, so a view costs the same at a thousand
orders as at millions.

A day is a UTC calendar day (the page says so; a partner's time zone is its campaigns' calendar, not its reports').
Money into wallets counts on the day of its credit, a ledger transaction that never changes afterwards. Orders count on
the day they were placed, with the status they have now; spend is the price of the completed ones.

- Closed days come from the rollup (app/models/daily_totals.py). A day closes SETTLE after it ended: a transaction
  that stamped a row before midnight has committed by then. The days still open (today, and yesterday for SETTLE after
  midnight) are grouped live over index ranges that only they fill.
- The queue rolls up closed days every five minutes (`refresh_daily_totals`), and a dashboard view rolls up any day
  of its period the rollup lacks (at most its period, once).
- A closed day's figures change only when one of its orders that was still open (scheduled or pending) moves on:
  final statuses never change (app/domain/orders.py) and nothing is placed on a past day. Each rolled-up day keeps how
  many of its orders were scheduled and pending; each view and each run of the task compare that with the day's open
  orders now (a partial index holds only those) and roll the day up again when they differ, as every move (scheduled
  -> pending, either -> a final status) changes that pair. So nothing is written when an order is placed or moves on:
  no row that every checkout of a partner would update.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast

from sqlalchemy import delete, func, insert, literal
from sqlmodel import Session, col, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain.errors import InvalidInput
from app.domain.ledger import TransactionStatus, TransactionType
from app.domain.money import Money
from app.domain.orders import OrderStatus
from app.models import Brand, DailyBrandTotals, DailyTotals, Order, Partner, Transaction
from app.models.daily_totals import OPEN_ORDER_STATUSES
from app.services.reports import DayRange, utc_day
from app.services.rows import row_id

PERIODS = (7, 30, 90)
TOP_BRANDS = 10
SETTLE = timedelta(minutes=15)
# pg_advisory_xact_lock's first key while a partner's days are rolled up (the second is the partner's id): a view's
# and the task's roll-ups of one partner take turns, as each deletes and inserts the same rows.
ROLLUP_LOCK = 21
# The statuses a day counts, each in the DailyTotals column of its name; a cancelled order was refunded: not shown.
_COUNTED_STATUSES = tuple(
    s.value for s in (OrderStatus.COMPLETED, OrderStatus.FAILED, OrderStatus.PENDING, OrderStatus.SCHEDULED)
)


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


def last_closed_day(now: datetime) -> date:
    """The newest day the rollup holds: yesterday, once SETTLE has passed since midnight UTC."""
    return (now - SETTLE).date() - timedelta(days=1)


def _days(first: date, last: date) -> Iterator[date]:
    for n in range((last - first).days + 1):
        yield first + timedelta(days=n)


# --- counting from orders and the ledger ----------------------------------------------------------


@dataclass
class Figures:
    """A day's figures in one currency, as counted or as the rollup keeps them (a DailyTotals row's values)."""

    funds_added: int = 0
    spend: int = 0
    completed: int = 0
    failed: int = 0
    pending: int = 0
    scheduled: int = 0


FIGURES = tuple(Figures.__dataclass_fields__)
Totals = dict[tuple[date, str], Figures]  # by (day, currency)
BrandSpend = dict[tuple[date, str, int], tuple[int, int]]  # completed orders and their spend, by (day, currency, brand id)


def _count(session: Session, partner_id: int, first: date, last: date, currency: str | None = None) -> tuple[Totals, BrandSpend]:
    """The figures of the days from `first` to `last` (both included), in `currency` or all, as the database groups
    them over the index ranges of those days. Rows only for a day and currency that had something."""
    window = DayRange(first, last)
    totals: Totals = {}
    brands: BrandSpend = {}

    def totals_of(day: date, code: str) -> Figures:
        if (day, code) not in totals:
            totals[day, code] = Figures()
        return totals[day, code]

    credit_day = utc_day(Transaction.created_at)
    for day, code, amount in session.exec(
        select(credit_day, Transaction.currency, func.sum(Transaction.amount))
        .where(
            Transaction.partner_id == partner_id,
            col(Transaction.consumer_id).is_not(None),
            Transaction.type == TransactionType.CREDIT.value,
            Transaction.status == TransactionStatus.COMPLETED.value,
            *([Transaction.currency == currency] if currency else []),
            *window.where(Transaction.created_at),
        )
        .group_by(credit_day, Transaction.currency)
    ).all():
        totals_of(day, code).funds_added = int(amount)  # PostgreSQL sums bigints as numeric

    order_day = utc_day(Order.created_at)
    for day, code, brand_id, status, count, price in session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel's select() is typed for at most 4 columns
            order_day, Order.currency, Order.brand_id, Order.status, func.count(col(Order.id)), func.sum(Order.price)
        )
        .where(
            Order.partner_id == partner_id,
            *([Order.currency == currency] if currency else []),
            *window.where(Order.created_at),
        )
        .group_by(order_day, Order.currency, Order.brand_id, Order.status)
    ).all():
        if status not in _COUNTED_STATUSES:
            continue
        day_totals = totals_of(day, code)
        setattr(day_totals, status, getattr(day_totals, status) + count)
        if status == OrderStatus.COMPLETED.value:
            day_totals.spend += int(price)
            brands[day, code, brand_id] = (count, int(price))
    return totals, brands


def _open_orders(session: Session, partner_id: int, first: date, last: date) -> dict[tuple[date, str], tuple[int, int]]:
    """(scheduled, pending) orders now, per day placed and currency, read from the partial index of open orders."""
    order_day = utc_day(Order.created_at)
    open_now: dict[tuple[date, str], tuple[int, int]] = {}
    for day, code, status, count in session.exec(
        select(order_day, Order.currency, Order.status, func.count(col(Order.id)))
        .where(
            Order.partner_id == partner_id,
            # Literals, not parameters: a prepared statement's generic plan could not use the partial index.
            col(Order.status).in_([literal(status, literal_execute=True) for status in OPEN_ORDER_STATUSES]),
            *DayRange(first, last).where(Order.created_at),
        )
        .group_by(order_day, Order.currency, Order.status)
    ).all():
        scheduled, pending = open_now.get((day, code), (0, 0))
        if status == OrderStatus.SCHEDULED.value:
            scheduled += count
        else:
            pending += count
        open_now[day, code] = (scheduled, pending)
    return open_now


# --- the rollup ------------------------------------------------------------------------------------


def _rolled_up(session: Session, partner_id: int, first: date, last: date) -> Totals:
    # Columns, not entities: cheaper, and the session's identity map would keep answering rows read before a roll-up.
    table = DailyTotals.__table__.c  # type: ignore[attr-defined]
    rows = session.execute(
        select(table.day, table.currency, *(table[name] for name in FIGURES)).where(
            table.partner_id == partner_id, table.day >= first, table.day <= last
        )
    ).all()
    return {(day, code): Figures(*figures) for day, code, *figures in rows}


def _days_to_roll_up(
    session: Session, partner_id: int, currencies: Sequence[str], first: date, last: date, rolled: Totals
) -> list[date]:
    """The closed days from `first` to `last` that the rollup lacks in one of `currencies`, or whose open orders
    are no longer those it counted."""
    due = {day for day in _days(first, last) for code in currencies if (day, code) not in rolled}
    open_now = _open_orders(session, partner_id, first, last)
    for key in open_now.keys() | {key for key, row in rolled.items() if row.scheduled or row.pending}:
        row = rolled.get(key)
        if open_now.get(key, (0, 0)) != ((row.scheduled, row.pending) if row else (0, 0)):
            due.add(key[0])
    return sorted(due)


def _runs(days: Sequence[date]) -> Iterator[tuple[date, date]]:
    """Sorted days as runs of consecutive days, (first, last) each: one index range to count per run."""
    start = previous = days[0]
    for day in days[1:]:
        if day != previous + timedelta(days=1):
            yield start, previous
            start = day
        previous = day
    yield start, previous


def _roll_up(session: Session, partner_id: int, currencies: Sequence[str], days: Sequence[date]) -> None:
    """Count `days` (closed ones, sorted) again and store them: a row per day and currency, zeros included."""
    with write_transaction(session):
        if session.get_bind().dialect.name == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(ROLLUP_LOCK, partner_id)))
        for first, last in _runs(days):
            totals, brands = _count(session, partner_id, first, last)
            for day in _days(first, last):
                for code in currencies:
                    totals.setdefault((day, code), Figures())
            for model in (DailyTotals, DailyBrandTotals):
                session.execute(
                    delete(model).where(col(model.partner_id) == partner_id, col(model.day) >= first, col(model.day) <= last)
                )
            key = {"partner_id": partner_id}
            session.execute(
                insert(DailyTotals), [{**key, "day": day, "currency": code, **vars(row)} for (day, code), row in totals.items()]
            )
            if brands:
                session.execute(
                    insert(DailyBrandTotals),
                    [
                        {**key, "day": day, "currency": code, "brand_id": brand_id, "completed": count, "spend": spend}
                        for (day, code, brand_id), (count, spend) in brands.items()
                    ],
                )


def refresh_daily_totals(session: Session, partner_id: int | None = None, *, recount: bool = False) -> int:
    """Roll up the closed days of the longest period that the rollup lacks or whose open orders moved on, for one
    partner or every partner; the days rolled up. `recount`: every closed day of that period, whatever the rollup
    holds (after rows were written around the app, e.g. a benchmark's bulk data). The queue runs it every five
    minutes: a new day is in the rollup 15 to 20 minutes after midnight UTC."""
    now = utcnow()
    last = last_closed_day(now)
    first = now.date() - timedelta(days=max(PERIODS) - 1)
    partners = cast(
        Sequence[tuple[int, str]],
        session.exec(
            select(Partner.id, Partner.currencies).where(*([Partner.id == partner_id] if partner_id is not None else []))
        ).all(),
    )
    rolled_up = 0
    for id_, currencies in partners:
        codes = [code for code in currencies.split(",") if code]
        if recount:
            days = list(_days(first, last))
        else:
            days = _days_to_roll_up(session, id_, codes, first, last, _rolled_up(session, id_, first, last))
        if days:
            _roll_up(session, id_, codes, days)
            rolled_up += len(days)
    return rolled_up


# --- the dashboard ---------------------------------------------------------------------------------


def _rolled_up_brands(session: Session, partner_id: int, currency: str, first: date, last: date) -> dict[int, list[int]]:
    """Completed orders and spend per brand over closed days: [orders, spend] by brand id."""
    return {
        brand_id: [int(count), int(spend)]
        for brand_id, count, spend in session.exec(
            select(DailyBrandTotals.brand_id, func.sum(DailyBrandTotals.completed), func.sum(DailyBrandTotals.spend))
            .where(
                DailyBrandTotals.partner_id == partner_id,
                DailyBrandTotals.currency == currency,
                col(DailyBrandTotals.day) >= first,
                col(DailyBrandTotals.day) <= last,
            )
            .group_by(col(DailyBrandTotals.brand_id))
        ).all()
    }


def dashboard(session: Session, *, partner: Partner, currency: str, period: int) -> Dashboard:
    """The `period` days up to today in `currency`: closed days from the rollup (after rolling up those it lacks or
    whose open orders moved on), the others counted live."""
    if period not in PERIODS:
        raise InvalidInput("Choose a period of 7, 30 or 90 days.", field="days")
    if currency not in partner.currency_list:
        raise InvalidInput(f"{currency[:3]} is not one of your currencies.", field="currency")
    partner_id = row_id(partner)
    now = utcnow()
    today = now.date()
    first = today - timedelta(days=period - 1)
    closed = last_closed_day(now)

    rolled: Totals = {}
    brands: dict[int, list[int]] = {}
    if first <= closed:
        rolled = _rolled_up(session, partner_id, first, closed)
        due = _days_to_roll_up(session, partner_id, partner.currency_list, first, closed, rolled)
        if due:
            _roll_up(session, partner_id, partner.currency_list, due)
            rolled = _rolled_up(session, partner_id, first, closed)
        brands = _rolled_up_brands(session, partner_id, currency, first, closed)
    live, live_brands = _count(session, partner_id, max(first, closed + timedelta(days=1)), today, currency)
    for (_day, _code, brand_id), (count, spend) in live_brands.items():
        spent = brands.setdefault(brand_id, [0, 0])
        spent[0] += count
        spent[1] += spend

    names = dict(session.exec(select(Brand.id, Brand.name).where(col(Brand.id).in_(brands))).all()) if brands else {}
    top = sorted(brands.items(), key=lambda item: (-item[1][1], names[item[0]]))[:TOP_BRANDS]
    zero = Figures()
    days = [(day, rolled.get((day, currency)) or live.get((day, currency)) or zero) for day in _days(first, today)]
    return Dashboard(
        currency=currency,
        period=period,
        days=[
            DayTotals(
                day=day,
                funds_added=Money(row.funds_added, currency),
                spend=Money(row.spend, currency),
                completed=row.completed,
                failed=row.failed,
                pending=row.pending,
            )
            for day, row in days
        ],
        brands=[BrandTotals(names[brand_id], count, Money(spend, currency)) for brand_id, (count, spend) in top],
    )
