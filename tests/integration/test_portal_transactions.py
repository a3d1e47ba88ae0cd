"""The partner's ledger transactions in the portal: a filtered list with pages, and a CSV export that
streams any number of rows in bounded memory, in major units, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import gc
import io
import re
import tracemalloc
from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlmodel import func, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain.ledger import TransactionType
from app.domain.money import Money
from app.models import Transaction
from app.services import catalog, funds, orders
from tests.integration.conftest import page

HTMX = {"HX-Request": "true"}


@pytest.fixture
def ledger(session, make_partner, make_consumer, make_team_member):
    """A partner with two consumers, a funds credit and debit, and a purchase."""
    partner = make_partner(funds="1000")
    robin = make_consumer(partner, funds="100", email="robin@example.com")
    sam = make_consumer(partner, funds="50", email="sam@example.com")
    credit = funds.change_funds(
        session,
        partner=partner,
        consumer_id=robin.id,
        type=TransactionType.CREDIT,
        amount=Money(12_34, "USD"),
        reason="Birthday bonus",
        idempotency_key="credit-1",
    ).transaction
    debit = funds.change_funds(
        session,
        partner=partner,
        consumer_id=sam.id,
        type=TransactionType.DEBIT,
        amount=Money(5_00, "USD"),
        reason='=HYPERLINK("http://evil.example")',
        idempotency_key="debit-1",
    ).transaction
    return partner, robin, sam, credit, debit


def listed_ids(response) -> list[int]:
    return [int(n) for n in re.findall(r'data-transaction="(\d+)"', response.get_data(as_text=True))]


def test_the_list_shows_the_partners_transactions_with_amounts_and_filters(
    session, ledger, make_partner, make_consumer, make_team_member, portal_as
):
    partner, robin, sam, credit, debit = ledger
    other = make_partner()
    make_consumer(other, funds="77", email="robin@example.com")  # same email, another partner
    browser = portal_as(make_team_member(partner, "viewer"))

    response = browser.get("/transactions")
    text = page(response)
    assert response.status_code == 200 and "$12.34" in text and "Birthday bonus" in text and "$77.00" not in text
    total = session.exec(select(func.count()).select_from(Transaction).where(Transaction.partner_id == partner.id)).one()
    assert f"{total} transactions" in text and total == 5  # opening funds, two initial credits, a credit, a debit

    assert listed_ids(browser.get("/transactions?type=debit")) == [debit.id]
    robins = session.exec(select(Transaction.id).where(Transaction.consumer_id == robin.id).order_by(Transaction.id.desc())).all()
    assert len(robins) == 2
    assert listed_ids(browser.get("/transactions?email=ROBIN@")) == robins  # newest first
    assert listed_ids(browser.get("/transactions?email=robin&type=credit&status=completed")) == robins
    assert listed_ids(browser.get("/transactions?status=failed")) == []

    with write_transaction(session):
        debit.created_at = utcnow() - timedelta(days=3)
        session.add(debit)
    day = (utcnow() - timedelta(days=3)).date().isoformat()
    assert listed_ids(browser.get(f"/transactions?from={day}&to={day}")) == [debit.id]
    assert debit.id not in listed_ids(browser.get(f"/transactions?from={(utcnow() - timedelta(days=2)).date().isoformat()}"))

    partial = browser.get("/transactions?type=credit", headers=HTMX)
    assert partial.status_code == 200 and "HX-Request" in partial.headers["Vary"]
    assert page(partial).lstrip().startswith('<div id="transaction-rows"') and "<h1>" not in page(partial)
    assert "/portal/transactions.csv?type=credit" in partial.get_data(as_text=True)


def test_an_order_links_from_its_transactions(session, ledger, make_brand, make_team_member, portal_as):
    partner, robin, *_ = ledger
    brand = make_brand()
    catalog.make_available(session, partner=partner, brand=brand)
    order = orders.place_order(
        session,
        consumer=robin,
        offer=catalog.offer(session, partner, brand.slug),
        face_value=Money(25_00, "USD"),
        recipient=orders.recipient_for(robin, send_to="me"),
        idempotency_key=orders.new_idempotency_key(),
    )
    text = page(portal_as(make_team_member(partner, "viewer")).get("/transactions?type=debit"))
    assert f'href="/portal/orders/{order.public_id}"' in text


@pytest.mark.parametrize(
    "query, message",
    [
        ("?type=gift", "Choose a transaction type"),
        ("?status=lost", "Choose a transaction status"),
        ("?to=yesterday", "dates look like 2026-03-31"),
        ("?from=2026-05-02&to=2026-05-01", "start date is after the end date"),
    ],
)
def test_a_bad_filter_is_explained_in_place_and_exports_nothing(ledger, make_team_member, portal_as, query, message):
    browser = portal_as(make_team_member(ledger[0], "viewer"))
    for path in ("/transactions", "/transactions.csv"):
        for headers in ({}, HTMX):
            response = browser.get(path + query, headers=headers)
            assert response.status_code == 422 and message in page(response)
            assert response.mimetype == "text/html" and "Birthday bonus" not in page(response)


def test_the_last_day_there_is_can_end_a_range(ledger, make_team_member, portal_as):
    browser = portal_as(make_team_member(ledger[0], "viewer"))
    for path in ("/transactions", "/transactions.csv", "/orders"):
        assert browser.client.get(f"/portal{path}?from=2000-01-01&to=9999-12-31").status_code == 200, path
    assert "Birthday bonus" in page(browser.get("/transactions?to=9999-12-31"))


def test_the_list_has_pages(session, ledger, make_team_member, portal_as):
    partner, robin, *_ = ledger
    bulk_insert(session, partner, robin, 60)
    browser = portal_as(make_team_member(partner, "viewer"))
    first = browser.get("/transactions?type=adjustment")
    assert "60 transactions" in page(first) and "1–50 of 60" in page(first) and len(listed_ids(first)) == 50
    older = f"/transactions?type=adjustment&before={min(listed_ids(first))}"
    assert f'<a rel="next" href="/portal{older}">Older</a>' in page(first)
    second = browser.get(older)
    assert len(listed_ids(second)) == 10 and max(listed_ids(second)) < min(listed_ids(first))
    assert "51–60 of 60" in page(second)
    assert listed_ids(browser.get("/transactions?type=adjustment&page=2")) == listed_ids(second)  # a link from before the cursors


# --- the CSV ----------------------------------------------------------------------------------------


def streamed(browser, path: str):
    """GET `path`: the response and its body as an iterator of chunks, read only as they are consumed."""
    response = browser.client.get("/portal" + path)  # not browser.get: it reads the whole body for a CSRF token
    assert response.status_code == 200 and response.mimetype == "text/csv" and response.is_streamed
    return response, response.iter_encoded()


def csv_rows(chunks):
    """The CSV's rows, parsed as the chunks arrive (nothing kept but the unfinished line)."""
    pending = ""
    for chunk in chunks:
        pending += chunk.decode()
        cut = pending.rfind("\n") + 1
        complete, pending = pending[:cut], pending[cut:]
        yield from csv.reader(io.StringIO(complete, newline=""))
    assert pending == ""


def test_the_csv_has_major_units_and_is_safe_in_a_spreadsheet(session, ledger, make_team_member, portal_as):
    partner, robin, sam, credit, debit = ledger
    for n, memo in enumerate(["+1 555 0100", "-5 off", "@SUM(A1)", "=1+1", "plain = fine"]):
        funds.change_funds(
            session,
            partner=partner,
            consumer_id=robin.id,
            type=TransactionType.CREDIT,
            amount=Money(1, "USD"),
            reason=memo,
            idempotency_key=f"memo-{n}",
        )
    browser = portal_as(make_team_member(partner, "viewer"))
    response, chunks = streamed(browser, "/transactions.csv?email=robin")
    assert 'filename="' + partner.slug + '-transactions.csv"' in response.headers["Content-Disposition"]
    rows = list(csv_rows(chunks))
    assert rows[0] == ["id", "date", "type", "status", "amount", "currency", "consumer_email", "order", "memo", "actor"]
    by_id = {int(row[0]): row for row in rows[1:]}
    assert len(by_id) == 2 + 5 and all(row[6] == robin.email for row in rows[1:])
    assert by_id[credit.id][2:8] == ["credit", "completed", "12.34", "USD", "robin@example.com", ""]
    memos = [row[8] for row in rows[1:6]]
    assert memos == ["plain = fine", "'=1+1", "'@SUM(A1)", "'-5 off", "'+1 555 0100"]
    assert [row[4] for row in rows[1:6]] == ["0.01"] * 5

    [header, row] = list(csv_rows(streamed(browser, "/transactions.csv?type=debit")[1]))
    assert row[8] == '\'=HYPERLINK("http://evil.example")' and row[4] == "5.00"


@pytest.mark.parametrize(
    "currency, funds_text, shown", [("JPY", "5000", "5000"), ("KWD", "12.345", "12.345"), ("USD", "0.5", "0.50")]
)
def test_csv_amounts_have_the_currencys_decimals(
    make_partner, make_consumer, make_team_member, portal_as, currency, funds_text, shown
):
    partner = make_partner(funds="100000", currency=currency)
    make_consumer(partner, funds=funds_text, currency=currency, email="wallet@example.com")
    [header, row] = list(csv_rows(streamed(portal_as(make_team_member(partner, "viewer")), "/transactions.csv?email=wallet")[1]))
    assert (row[4], row[5]) == (shown, currency)


def bulk_insert(session, partner, consumer, count: int, *, batch: int = 5000) -> None:
    """Transactions straight into the table (no entries: the ledger check only sums entries)."""
    now = utcnow()
    with write_transaction(session):
        for start in range(0, count, batch):
            session.execute(
                insert(Transaction),
                [
                    dict(
                        partner_id=partner.id,
                        consumer_id=consumer.id,
                        type="adjustment",
                        status="completed",
                        currency="USD",
                        amount=n * 7 + 1,
                        memo="=cmd|' /C calc'!A0" if n % 1000 == 0 else f"Adjustment {n}",
                        actor="test",
                        created_at=now,
                    )
                    for n in range(start, min(start + batch, count))
                ],
            )


def test_a_large_export_streams_in_bounded_memory(session, ledger, make_team_member, portal_as):
    partner, robin, *_ = ledger
    count = 20_000
    bulk_insert(session, partner, robin, count)
    browser = portal_as(make_team_member(partner, "viewer"))
    expected = session.exec(select(func.count()).select_from(Transaction).where(Transaction.partner_id == partner.id)).one()
    session.rollback()

    gc.collect()
    tracemalloc.start()
    try:
        rows, last_id, amounts, formulas = 0, None, 0, 0
        reader = csv_rows(streamed(browser, "/transactions.csv")[1])
        assert next(reader)[:5] == ["id", "date", "type", "status", "amount"]
        for row in reader:
            rows += 1
            assert last_id is None or int(row[0]) < last_id  # newest first, each once
            last_id = int(row[0])
            if row[2] == "adjustment":
                amounts += int(Money.parse(row[4], "USD").amount)
                formulas += row[8].startswith("'=cmd")
        _current, streamed_peak = tracemalloc.get_traced_memory()

        # What loading every row at once would have cost:
        tracemalloc.reset_peak()
        everything = session.exec(select(Transaction).where(Transaction.partner_id == partner.id)).all()
        _current, loaded_peak = tracemalloc.get_traced_memory()
        assert len(everything) == expected
        del everything
    finally:
        tracemalloc.stop()
        session.rollback()

    assert rows == expected
    assert amounts == sum(n * 7 + 1 for n in range(count)) and formulas == count // 1000
    print(f"\nexport of {rows} rows: streamed peak {streamed_peak / 1e6:.1f} MB, loading all rows {loaded_peak / 1e6:.1f} MB")
    assert streamed_peak < 6_000_000 and streamed_peak * 4 < loaded_peak
