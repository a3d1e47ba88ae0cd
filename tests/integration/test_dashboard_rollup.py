"""The dashboard's rollup of closed days (app/services/daily_totals.py): what the dashboard shows with it is exactly
what the orders and the ledger say, counted here one row at a time, after days of credits, orders, rebates, failures,
refunds, cancellations and campaign allowances, and again after orders of days already rolled up move on (a pending
order completes, a scheduled gift is delivered or cancelled days later)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete
from sqlmodel import select

from app import tasks
from app.clock import utcnow
from app.db import db_session, write_transaction
from app.domain.ledger import TransactionType
from app.domain.money import Money
from app.models import Brand, DailyBrandTotals, DailyTotals, Order, Transaction
from app.providers import ProviderError
from app.services import campaigns, catalog, daily_totals, funds, orders, partners
from tests.integration.conftest import page


class _Down:
    def issue(self, **_):
        raise ProviderError("provider timeout", permanent=False)


# Tomorrow, so the clock only moves forward from what the fixtures stamped.
DAY_0 = datetime.combine(utcnow().date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return DAY_0 + timedelta(days=day, hours=hour, minutes=minute, seconds=second)


def usd(text: str) -> Money:
    return Money.parse(text, "USD")


@pytest.fixture
def shop(app, session, make_partner, make_consumer, make_brand):
    """A partner in USD and EUR with three consumers and three brands (one paying a 10 % cash bonus), and
    another partner whose orders must never count."""
    partner = make_partner(funds="5000")
    partners.fund_partner(session, partner=partner, amount=Money.parse("1000", "EUR"))
    bluefin = make_brand("Bluefin Sushi", currencies="USD,EUR")
    copper = make_brand("Copper Kettle")
    daisy = make_brand("Daisy Florist")
    for brand in (bluefin, copper):
        catalog.make_available(session, partner=partner, brand=brand)
    catalog.make_available(session, partner=partner, brand=daisy, bonus_type="cash", bonus_percent=Decimal(10))
    other = make_partner(funds="1000")
    catalog.make_available(session, partner=other, brand=bluefin)

    class Shop:
        robin = make_consumer(partner, funds="300", email="robin@example.com")
        sam = make_consumer(partner, funds="100", email="sam@example.com")
        eve = make_consumer(partner, funds="200", email="eve@example.com", currency="EUR")
        stranger = make_consumer(other, funds="300")

        def buy(self, who, brand, amount, *, currency="USD", fail=False, stall=False, deliver_at=None) -> Order:
            provider = app.extensions["provider"]
            if stall:
                app.extensions["provider"] = _Down()
            provider.failure_rate = 1.0 if fail else 0.0
            try:
                return orders.place_order(
                    session,
                    consumer=who,
                    offer=catalog.offer(session, partner_of[who.partner_id], brand.slug),
                    face_value=Money.parse(amount, currency),
                    recipient=orders.recipient_for(who, send_to="me"),
                    idempotency_key=orders.new_idempotency_key(),
                    deliver_at=deliver_at,
                )
            finally:
                provider.failure_rate = 0.0
                app.extensions["provider"] = provider

        def credit(self, who, amount: str, key: str, type=TransactionType.CREDIT) -> None:
            funds.change_funds(
                session,
                partner=partner,
                consumer_id=who.id,
                type=type,
                amount=usd(amount),
                reason="Loyalty",
                idempotency_key=key,
            )

    partner_of = {partner.id: partner, other.id: other}
    shop = Shop()
    shop.partner, shop.other = partner, other
    shop.bluefin, shop.copper, shop.daisy = bluefin, copper, daisy
    return shop


@pytest.fixture
def history(shop, session, time_machine):
    """Three days of business; on day 0 one order stays pending and one gift is scheduled for day 3, on day 1 one
    is scheduled for day 4: all three move on after their day was rolled up."""
    time_machine.move_to(at(0, 10), tick=False)
    shop.buy(shop.robin, shop.bluefin, "25")
    shop.buy(shop.robin, shop.daisy, "50")  # completes with a cash rebate into robin's bonus balance
    shop.buy(shop.sam, shop.copper, "10", fail=True)  # fails and is refunded
    shop.pending = shop.buy(shop.sam, shop.bluefin, "10", stall=True)
    shop.scheduled = shop.buy(shop.robin, shop.bluefin, "25", deliver_at=at(3, 9))
    shop.buy(shop.eve, shop.bluefin, "10", currency="EUR")
    shop.buy(shop.stranger, shop.bluefin, "50")
    shop.credit(shop.robin, "20", "loyal-1")
    shop.credit(shop.sam, "5", "fix-1", type=TransactionType.DEBIT)  # taken out: not "added"
    campaign = campaigns.create_campaign(
        session,
        partner=shop.partner,
        name="Wellness",
        currency="USD",
        budget=usd("100"),
        per_consumer_amount=usd("20"),
        idempotency_key="wellness",
    ).campaign
    campaigns.add_members(session, campaign=campaign, consumer_ids=[shop.robin.id, shop.sam.id])  # allowances

    time_machine.move_to(at(0, 23, 59, 50), tick=False)
    near_midnight = shop.buy(shop.robin, shop.copper, "10", stall=True)
    time_machine.move_to(at(1, 0, 0, 30), tick=False)
    orders.fulfil(db_session(), near_midnight.id)  # completes on day 1; it counts on day 0, when it was placed

    time_machine.move_to(at(1, 11), tick=False)
    shop.later = shop.buy(shop.robin, shop.bluefin, "10", deliver_at=at(4, 9))
    shop.buy(shop.sam, shop.copper, "25")  # paid from sam's campaign allowance first

    time_machine.move_to(at(2, 13), tick=False)
    shop.credit(shop.sam, "30", "loyal-2")
    shop.buy(shop.sam, shop.daisy, "10")
    return shop


def counted(session, partner, currency: str, period: int) -> tuple[list[tuple], list[tuple]]:
    """The dashboard's figures counted here from every order and ledger transaction of the partner, one at a time."""
    today = utcnow().date()
    days: dict[date, list[int]] = {today - timedelta(days=n): [0, 0, 0, 0, 0] for n in range(period)}
    for type_, status, consumer_id, amount, created_at in session.exec(
        select(Transaction.type, Transaction.status, Transaction.consumer_id, Transaction.amount, Transaction.created_at).where(
            Transaction.partner_id == partner.id, Transaction.currency == currency
        )
    ).all():
        day = created_at.astimezone(UTC).date()
        if day in days and (type_, status) == ("credit", "completed") and consumer_id is not None:
            days[day][0] += amount
    brands: dict[str, list[int]] = {}
    for status, price, created_at, name in session.exec(
        select(Order.status, Order.price, Order.created_at, Brand.name)
        .join(Brand, Brand.id == Order.brand_id)
        .where(Order.partner_id == partner.id, Order.currency == currency)
    ).all():
        day = created_at.astimezone(UTC).date()
        if day not in days:
            continue
        if status == "completed":
            days[day][1] += price
            days[day][2] += 1
            brand = brands.setdefault(name, [0, 0])
            brand[0] += 1
            brand[1] += price
        elif status in ("failed", "pending"):
            days[day][3 if status == "failed" else 4] += 1
    top = sorted(((name, n, spend) for name, (n, spend) in brands.items()), key=lambda b: (-b[2], b[0]))[:10]
    return [(day, *figures) for day, figures in sorted(days.items())], top


def shown(report: daily_totals.Dashboard) -> tuple[list[tuple], list[tuple]]:
    return (
        [(d.day, d.funds_added.amount, d.spend.amount, d.completed, d.failed, d.pending) for d in report.days],
        [(b.name, b.orders, b.spend.amount) for b in report.brands],
    )


def assert_dashboards_match(session, shop) -> None:
    for currency in ("USD", "EUR"):
        for period in daily_totals.PERIODS:
            report = daily_totals.dashboard(session, partner=shop.partner, currency=currency, period=period)
            assert shown(report) == counted(session, shop.partner, currency, period), (currency, period)


def rollup(session) -> list[tuple]:
    """Everything the rollup holds, in order."""
    return [
        *(
            tuple(row)
            for row in session.execute(select(*DailyTotals.__table__.columns).order_by(*DailyTotals.__table__.primary_key)).all()
        ),
        *(
            tuple(row)
            for row in session.execute(
                select(*DailyBrandTotals.__table__.columns).order_by(*DailyBrandTotals.__table__.primary_key)
            ).all()
        ),
    ]


def rolled_up_days(session, partner) -> set[date]:
    return set(session.exec(select(DailyTotals.day).where(DailyTotals.partner_id == partner.id)).all())


def test_the_dashboard_shows_what_orders_and_ledger_say_also_after_rolled_up_days_change(session, history, time_machine):
    shop = history
    time_machine.move_to(at(3, 8), tick=False)
    assert daily_totals.refresh_daily_totals(session) == 2 * 89  # both partners' closed days of the last 90, day 2 last
    assert rolled_up_days(session, shop.partner) == {at(2).date() - timedelta(days=n) for n in range(89)}
    report = daily_totals.dashboard(session, partner=shop.partner, currency="USD", period=7)
    day_0 = next(day for day in report.days if day.day == at(0).date())
    # 25 + 50 + 10 (near midnight) completed, 10 failed, 10 pending, one gift scheduled; robin's 20 and 2 x 20 allowances.
    assert (day_0.spend, day_0.completed, day_0.failed, day_0.pending, day_0.funds_added) == (usd("85"), 3, 1, 1, usd("60"))
    assert_dashboards_match(session, shop)

    # Orders of rolled-up days move on: day 0's pending order completes, its scheduled gift is delivered, day 1's is cancelled.
    orders.fulfil(db_session(), shop.pending.id)
    time_machine.move_to(at(3, 9, 0, 5), tick=False)
    orders.fulfil(db_session(), shop.scheduled.id)
    orders.cancel(db_session(), shop.later.id, actor="test")
    assert {o.status for o in session.exec(select(Order).execution_options(populate_existing=True)).all()} == {
        "completed",
        "failed",
        "cancelled",
    }
    report = daily_totals.dashboard(session, partner=shop.partner, currency="USD", period=7)
    day_0 = next(day for day in report.days if day.day == at(0).date())
    assert (day_0.spend, day_0.completed, day_0.pending) == (usd("120"), 5, 0)
    assert_dashboards_match(session, shop)

    # Today is counted live, and so is yesterday until it settled.
    time_machine.move_to(at(3, 23, 59), tick=False)
    shop.buy(shop.robin, shop.copper, "10")
    time_machine.move_to(at(4, 0, 5), tick=False)
    shop.buy(shop.robin, shop.bluefin, "10")
    assert at(3).date() not in rolled_up_days(session, shop.partner)
    assert_dashboards_match(session, shop)
    time_machine.move_to(at(4, 0, 0) + daily_totals.SETTLE + timedelta(minutes=1), tick=False)
    assert daily_totals.refresh_daily_totals(session, shop.partner.id) == 1
    assert at(3).date() in rolled_up_days(session, shop.partner)
    assert_dashboards_match(session, shop)


def test_the_task_rolls_up_changed_days_once_and_counts_the_same_every_time(app, session, history, time_machine):
    shop = history
    time_machine.move_to(at(3, 8), tick=False)
    assert tasks.refresh_daily_totals() == 2 * 89  # the queue's task, every five minutes
    assert daily_totals.refresh_daily_totals(session) == 0
    orders.fulfil(db_session(), shop.pending.id)  # day 0 changes after it was rolled up
    assert daily_totals.refresh_daily_totals(session) == 1
    once = rollup(session)
    assert daily_totals.refresh_daily_totals(session) == 0 and rollup(session) == once
    assert daily_totals.refresh_daily_totals(session, recount=True) == 2 * 89 and rollup(session) == once
    result = app.test_cli_runner().invoke(args=["refresh-daily-totals", "--partner", shop.partner.slug, "--recount"])
    assert result.exit_code == 0 and "89 partner-days rolled up" in result.output
    assert rollup(session) == once
    assert_dashboards_match(session, shop)


def test_a_view_rolls_up_the_days_of_its_period_the_rollup_lacks(session, history, time_machine, make_team_member, portal_as):
    shop = history
    time_machine.move_to(at(3, 8), tick=False)
    daily_totals.refresh_daily_totals(session)
    whole = rollup(session)
    with write_transaction(session):
        for model in (DailyTotals, DailyBrandTotals):
            session.execute(delete(model).where(model.partner_id == shop.partner.id, model.day >= at(-5).date()))
    assert at(0).date() not in rolled_up_days(session, shop.partner)

    text = page(portal_as(make_team_member(shop.partner, "viewer")).get("/dashboard?days=7"))
    assert 'id="total-spend">$120.00</div>' in text  # 85 on day 0, 25 on day 1, 10 on day 2
    assert at(0).date() in rolled_up_days(session, shop.partner) and at(-5).date() not in rolled_up_days(session, shop.partner)
    daily_totals.dashboard(session, partner=shop.partner, currency="USD", period=30)
    assert rollup(session) == whole
    assert_dashboards_match(session, shop)
