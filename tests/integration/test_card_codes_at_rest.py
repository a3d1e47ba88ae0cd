"""A gift card's number and PIN never sit in clear text (DESIGN.md 4.11): not in any column of any
table (the redemption link has them filled in, so it is stored encrypted like them), not in a log
line, not in a queued task's arguments (tasks carry ids). Checked on the raw database after a store
purchase, an API order and a card resent from the portal, each still showing the same link; and the
migration that encrypted the links already stored, both ways."""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from flask import current_app
from sqlalchemy import JSON, MetaData, String, inspect, select, text
from sqlmodel import select as select_model

from app.api.orders import order_with_card
from app.db import write_transaction
from app.domain.money import Money
from app.models import Order, Partner
from app.providers import IssuedCard
from app.providers.simulated import SimulatedProvider
from app.queue import REQUEST_ID_KWARG
from app.services import catalog, order_support, orders
from tests.conftest import body_html, body_text
from tests.integration.api_client import call, ok
from tests.integration.conftest import page, reload

# The brand's redemption link template: the provider fills in the card's number and PIN.
LINK_TEMPLATE = "https://redeem.example.com/x?code={code}&pin={pin}"
CARD_REFERENCE = "card-codes-at-rest"


# --- the check ----------------------------------------------------------------------------------


def _text_columns(table) -> list:
    """Every column that can hold text: VARCHAR, TEXT, CHAR, CLOB (all Strings) and JSON."""
    return [column for column in table.columns if isinstance(column.type, (String, JSON))]


def _leaks(value: str, number: str, pin: str | None) -> list[str]:
    """What of the card `value` shows: its number (spaced, dashed or run together) or its PIN, also once
    URL-decoded. The PIN counts as a whole token only (`pin=1234`, `"1234"`, `PIN: 1234`): four digits
    are also found inside random strings (tokens, hashes, UUIDs), which are made of letters, digits, - and _."""
    digits = re.sub(r"\D", "", number)
    found = []
    for form in {value, unquote(value)}:
        if number in form or digits in re.sub(r"[\s.\-]", "", form):
            found.append("number")
        if pin and re.search(rf"(?<![\w-]){re.escape(pin)}(?![\w-])", form):
            found.append("PIN")
    return sorted(set(found))


def card_codes_at_rest(session, number: str, pin: str | None, caplog_text: str = "") -> list[str]:
    """Where the card's number or PIN sits in clear text: 'table.column (id n): number' for every text
    column of every table of the real schema (reflected, so a column no model names is read too), and
    'log: ...' for the captured log text."""
    session.rollback()  # read what is committed: requests and tasks write through their own sessions
    connection = session.connection()
    schema = MetaData()
    schema.reflect(bind=connection)
    found = []
    for table in schema.sorted_tables:
        columns = _text_columns(table)
        if not columns:
            continue
        keys = list(table.primary_key.columns)
        for n, row in enumerate(connection.execute(select(*keys, *columns)), start=1):
            where = ", ".join(f"{key.name} {value}" for key, value in zip(keys, row, strict=False)) or f"row {n}"
            for column, value in zip(columns, row[len(keys) :], strict=True):
                if value is None:
                    continue
                value = value if isinstance(value, str) else json.dumps(value, default=str)
                for what in _leaks(value, number, pin):
                    found.append(f"{table.name}.{column.name} ({where}): {what}")
    session.rollback()
    found += [f"log: {what}" for what in _leaks(caplog_text, number, pin)]
    return found


def columns_holding(session, text_: str) -> list[str]:
    """'table.column' of every text column of the real schema holding `text_` anywhere in a value."""
    session.rollback()
    connection = session.connection()
    schema = MetaData()
    schema.reflect(bind=connection)
    found = []
    for table in schema.sorted_tables:
        for column in _text_columns(table):
            values = connection.execute(select(column)).scalars()
            if any(value is not None and text_ in (value if isinstance(value, str) else json.dumps(value)) for value in values):
                found.append(f"{table.name}.{column.name}")
    session.rollback()
    return found


def assert_no_card_code_at_rest(session, number: str, pin: str | None, caplog_text: str) -> None:
    """Fails if the card's number or PIN is in clear text in any text column of any table, or in the log."""
    tables = MetaData()
    tables.reflect(bind=session.connection())
    assert "gift_order" in tables.tables and len(tables.tables) > 10  # the whole schema was read, not an empty one
    found = card_codes_at_rest(session, number, pin, caplog_text)
    assert found == [], f"card number or PIN in clear text: {found}"


# --- fixtures ------------------------------------------------------------------------------------


class OneKnownCard(SimulatedProvider):
    """The simulated provider asked for the same card every time, so its number and PIN are known
    before the order is placed (and what the scan looks for does not change from run to run)."""

    def issue(self, *, reference: str, **card) -> IssuedCard:
        return super().issue(reference=CARD_REFERENCE, **card)


@pytest.fixture
def card(app, monkeypatch) -> IssuedCard:
    """The card every order of the test gets, as the provider issues it: number, PIN, the link filled in."""
    monkeypatch.setitem(app.extensions, "provider", OneKnownCard())
    issued = SimulatedProvider().issue(
        reference=CARD_REFERENCE, brand_slug="any", has_pin=True, redemption_url=LINK_TEMPLATE, value=Money(25_00, "USD")
    )
    assert issued.pin and re.sub(r"\D", "", issued.number) in issued.redemption_url and issued.pin in issued.redemption_url
    return issued


@pytest.fixture
def logged(caplog):
    """Everything logged during the test, down to DEBUG, from every logger but one: the test's SMTP server
    (aiosmtpd's `mail.log`) is the recipient's mailbox, where the card is meant to arrive, and it logs every
    line it receives."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.WARNING, logger="mail.log")
    return caplog


@pytest.fixture
def queued(app, monkeypatch) -> list[tuple]:
    """Every task queued during the test, as (name, args, kwargs): what a queue's storage would hold."""
    payloads = []

    def recording(name, task):
        def enqueue(*args, **kwargs):
            payloads.append((name, args, kwargs))
            return task(*args, **kwargs)

        return enqueue

    tasks = app.extensions["queue_tasks"]
    monkeypatch.setitem(app.extensions, "queue_tasks", {name: recording(name, task) for name, task in tasks.items()})
    return payloads


# The tasks an order's card goes through: each is told which row to work on, never what it holds.
CARD_TASKS = {"fulfil_order", "deliver_email", "deliver_webhook"}


def assert_tasks_carry_only_ids(payloads: list[tuple], card: IssuedCard) -> None:
    assert payloads, "nothing was queued"
    for name, args, kwargs in payloads:
        assert _leaks(repr((args, kwargs)), card.number, card.pin) == [], name
        if name in CARD_TASKS:
            # Row ids only (the id of the request that queued it rides along for the logs: a random token, checked above).
            ids = [*args, *(value for key, value in kwargs.items() if key != REQUEST_ID_KWARG)]
            assert all(isinstance(value, int) for value in ids), (name, args, kwargs)


@pytest.fixture
def brand(session, make_brand):
    """A brand with a PIN whose link carries both the card's number and its PIN."""
    brand = make_brand("Bluefin Sushi", denominations="1000,2500,5000", has_pin=True)
    with write_transaction(session):
        brand.redemption_url = LINK_TEMPLATE
        session.add(brand)
    return brand


def redeem_line(message) -> str:
    match = re.search(r"Redeem at:\s+(\S+)", body_text(message))
    assert match, body_text(message)
    return match.group(1)


# --- after a store purchase, an API order, a resend ----------------------------------------------


def test_a_store_purchase_leaves_the_card_number_and_pin_nowhere_in_clear_text(
    store, signed_in, brand, card, session, mailbox, logged, queued
):
    catalog.make_available(session, partner=store.partner, brand=brand)
    response = store.get(f"/brands/{brand.slug}/checkout?amount=25.00")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page(response)).group(1)
    placed = store.post(
        f"/brands/{brand.slug}/orders",
        {
            "amount": "25.00",
            "send_to": "someone",
            "email": "friend@example.com",
            "name": "Sam",
            "sender_name": "Casey",
            "message": "Happy birthday!",
            "idempotency_key": key,
        },
    )
    assert placed.status_code == 303
    order = session.exec(select_model(Order)).one()
    assert reload(session, Order, order.id).status == "completed"

    # The recipient's email still carries the card and the very link the provider issued.
    message = mailbox.last_to("friend@example.com")
    assert card.number in body_text(message) and card.pin in body_text(message)
    assert redeem_line(message) == card.redemption_url
    assert card.redemption_url.replace("&", "&amp;") in body_html(message)

    assert_no_card_code_at_rest(session, card.number, card.pin, logged.text)
    assert_tasks_carry_only_ids(queued, card)
    assert {name for name, _args, _kwargs in queued} >= {"fulfil_order", "deliver_email"}


def test_an_api_order_leaves_the_card_number_and_pin_nowhere_in_clear_text_and_still_shows_the_link(
    client,
    session,
    partner_with_key,
    make_consumer,
    brand,
    card,
    mailbox,
    logged,
    queued,  # noqa: F811
):
    partner, credentials = partner_with_key(funds="1000")
    consumer = make_consumer(partner, funds="100", email="robin@example.com", name="Robin Buyer")
    catalog.make_available(session, partner=partner, brand=brand)
    # A webhook too: its event (recorded with its exact body) must not carry the card either. Nothing
    # listens on port 9 (discard), so the delivery fails and waits for a retry: the row stays.
    ok(call(client, credentials, "POST", "/webhooks", {"url": "http://127.0.0.1:9/hooks", "events": ["order.completed"]}))

    created = ok(
        call(
            client,
            credentials,
            "POST",
            "/orders",
            {
                "customerId": consumer.id,
                "brand": brand.slug,
                "amount": 25,
                "currency": "USD",
                "externalRefId": "PO-AT-REST-1",
            },
        )
    )
    assert created["status"] == "completed"
    assert created["card"] == {"number": card.number, "pin": card.pin, "redemptionUrl": card.redemption_url}
    again = ok(call(client, credentials, "GET", f"/orders/{created['id']}"))
    assert again["card"]["redemptionUrl"] == card.redemption_url
    assert redeem_line(mailbox.last_to("robin@example.com")) == card.redemption_url

    assert_no_card_code_at_rest(session, card.number, card.pin, logged.text)
    assert_tasks_carry_only_ids(queued, card)
    assert {name for name, _args, _kwargs in queued} >= {"fulfil_order", "deliver_email", "deliver_webhook"}


def test_a_card_resent_from_the_portal_shows_the_same_link_and_leaves_no_code_in_clear_text(
    session, make_partner, make_consumer, make_team_member, brand, card, mailbox, logged, queued
):
    partner = make_partner(funds="1000")
    consumer = make_consumer(partner, funds="100")
    catalog.make_available(session, partner=partner, brand=brand)
    offer = catalog.offer(session, session.get(Partner, partner.id), brand.slug)
    order = orders.place_order(
        session,
        consumer=consumer,
        offer=offer,
        face_value=Money(25_00, "USD"),
        recipient=orders.recipient_for(consumer, send_to="someone", email="friend@example.com", name="Friend"),
        idempotency_key=orders.new_idempotency_key(),
    )
    mailbox.clear()
    # What the portal's Resend button does (app/portal/orders.py), by an operator.
    order_support.resend_card(
        session,
        partner=session.get(Partner, partner.id),
        order=reload(session, Order, order.id),
        by=make_team_member(partner, "operator"),
    )
    assert redeem_line(mailbox.last_to("friend@example.com")) == card.redemption_url

    assert_no_card_code_at_rest(session, card.number, card.pin, logged.text)  # the audit row of the resend too
    assert_tasks_carry_only_ids(queued, card)


def test_a_gift_page_and_its_link_leave_no_code_and_no_token_in_clear_text(
    app, client, store, signed_in, brand, card, session, mailbox, logged, queued, make_team_member
):
    """The recipient's gift page (issue #18) decrypts the card only to show it; its link's token is stored hashed.
    With the store sending the link only, the email (encrypted at rest anyway) carries neither the code nor the link."""
    from app.services import gift_pages

    catalog.make_available(session, partner=store.partner, brand=brand)
    gift_pages.set_email_contents(
        session, partner=session.get(Partner, store.partner.id), contents="link_only", by=make_team_member(store.partner, "admin")
    )
    response = store.get(f"/brands/{brand.slug}/checkout?amount=25.00")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page(response)).group(1)
    fields = {"amount": "25.00", "send_to": "someone", "email": "friend@example.com", "name": "Sam", "idempotency_key": key}
    assert store.post(f"/brands/{brand.slug}/orders", fields).status_code == 303
    message = mailbox.last_to("friend@example.com")
    assert _leaks(body_text(message), card.number, card.pin) == _leaks(body_html(message), card.number, card.pin) == []
    link = re.search(r"http://store\.test(/s/[\w-]+/gift/([\w-]+))", body_text(message))
    shown = client.get(link.group(1))
    assert card.number in page(shown) and card.pin in page(shown) and card.redemption_url in page(shown)
    order = session.exec(select_model(Order)).one()
    assert reload(session, Order, order.id).opened_at is not None  # the view wrote to the order: still no code there

    assert_no_card_code_at_rest(session, card.number, card.pin, logged.text)
    token = link.group(2)
    assert columns_holding(session, token) == [], "the gift page token in clear text"
    assert token not in logged.text
    assert_tasks_carry_only_ids(queued, card)


def test_the_check_finds_a_code_left_in_any_text_column_or_in_the_log(session, make_partner, card):
    partner = make_partner()
    assert card_codes_at_rest(session, card.number, card.pin, "") == []
    with write_transaction(session):
        session.execute(
            text("UPDATE partner SET name = :name WHERE id = :id"),
            {"name": f"Shop {card.number.replace(' ', '-')}", "id": partner.id},
        )
    assert card_codes_at_rest(session, card.number, card.pin, f"issued pin={card.pin}") == [
        f"partner.name (id {partner.id}): number",
        "log: PIN",
    ]
    # A PIN inside a longer string (a hash, a token) is not the PIN.
    assert card_codes_at_rest(session, "0000 0000 0000 0001", card.pin, f"ab{card.pin}cd 1{card.pin} 0f3c-{card.pin}-4e1a") == []


# --- the migration ------------------------------------------------------------------------------

MIGRATION = Path(__file__).resolve().parents[2] / "app/migrations/versions/0008_encrypt_redemption_links.py"


def run_migration(engine, step: str) -> None:
    """Run 0008's upgrade or downgrade alone on the test's database (not the revisions before or after it)."""
    spec = importlib.util.spec_from_file_location("migration_0008", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert (migration.revision, migration.down_revision) == ("0008", "0007")
    with engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
        getattr(migration, step)()


def stored_links(session, column: str) -> list[str]:
    session.rollback()
    links = session.connection().execute(text(f"SELECT {column} FROM gift_order ORDER BY id")).scalars().all()
    session.rollback()
    return list(links)


def test_the_migration_encrypts_the_links_already_stored_and_its_downgrade_restores_them(
    app, session, make_partner, make_consumer, brand, make_brand, card, logged
):
    partner = make_partner(funds="1000")
    consumer = make_consumer(partner, funds="100")
    linkless = make_brand("Copper Kettle", has_pin=False)
    with write_transaction(session):
        linkless.redemption_url = None  # its cards have no link: nothing to encrypt
        session.add(linkless)
    for each in (brand, linkless):
        catalog.make_available(session, partner=partner, brand=each)
    with_link, without_link = (
        orders.place_order(
            session,
            consumer=consumer,
            offer=catalog.offer(session, session.get(Partner, partner.id), each.slug),
            face_value=Money(10_00, "USD"),
            recipient=orders.recipient_for(consumer, send_to="me"),
            idempotency_key=f"key-{each.slug}",
        )
        for each in (brand, linkless)
    )
    assert reload(session, Order, without_link.id).status == "completed"
    order_id = with_link.id
    engine = app.extensions["db_engine"]
    encryptor = current_app.extensions["encryptor"]
    session.close()

    try:
        # Before 0008: the link sat in a plain column, the card's number and PIN filled in (what the check refuses).
        run_migration(engine, "downgrade")
        assert stored_links(session, "redemption_url") == [card.redemption_url, ""]
        assert card_codes_at_rest(session, card.number, card.pin) == [
            f"gift_order.redemption_url (id {order_id}): {what}" for what in ("PIN", "number")
        ]

        run_migration(engine, "upgrade")
        encrypted, empty = stored_links(session, "redemption_url_encrypted")
        assert encryptor.decrypt(encrypted) == card.redemption_url and empty == ""
    finally:  # whatever failed, leave the schema the models describe (PostgreSQL's is shared by the next tests)
        session.rollback()
        if "redemption_url_encrypted" not in {column["name"] for column in inspect(engine).get_columns("gift_order")}:
            run_migration(engine, "upgrade")
    assert_no_card_code_at_rest(session, card.number, card.pin, logged.text)
    # The orders read as before: the API shows the link the provider issued.
    assert order_with_card(session, reload(session, Order, order_id))["card"]["redemptionUrl"] == card.redemption_url
