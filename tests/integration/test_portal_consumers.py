"""The portal's consumers: the list and its filters, one consumer's page, creating one with initial
funds, deactivating, resending the welcome email, and adding or removing funds once per form."""

from __future__ import annotations

import re

import pytest
from sqlmodel import func, select

from app.domain.ledger import AccountKind
from app.domain.money import Money
from app.models import AuditEvent, Consumer, EmailMessage, Transaction
from app.services import catalog, ledger, orders, partners
from tests.conftest import temporary_password_in
from tests.integration.conftest import StoreBrowser, page, redirect_path, reload

HTMX = {"HX-Request": "true"}
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


@pytest.fixture
def program(make_partner, make_team_member, portal_as):
    """A partner with $1,000.00 of funds and a signed-in browser for each role."""
    partner = make_partner(funds="1000")

    class Program:
        def browser(self, role: str):
            return portal_as(make_team_member(partner, role))

    program = Program()
    program.partner = partner
    return program


def count(session, model, *conditions) -> int:
    session.rollback()
    return session.exec(select(func.count()).select_from(model).where(*conditions)).one()


def actions(session, partner) -> list[str]:
    session.rollback()
    return list(session.exec(select(AuditEvent.action).where(AuditEvent.partner_id == partner.id).order_by(AuditEvent.id)).all())


def partner_available(session, partner) -> int:
    session.rollback()
    return partners.partner_funds(session, partner, "USD").amount


def general(session, consumer) -> int:
    session.rollback()
    account = ledger.find_account(session, AccountKind.GENERAL, "USD", partner_id=consumer.partner_id, consumer_id=consumer.id)
    return ledger.balance(account, "USD").amount


def funds_form(browser, consumer) -> str:
    """Open the consumer's page and return the idempotency key its funds form was drawn with."""
    response = browser.get(f"/consumers/{consumer.id}")
    assert response.status_code == 200
    return KEY.search(page(response)).group(1)


# --- the list -----------------------------------------------------------------------------


def test_the_list_searches_names_and_emails_filters_by_status_and_stays_in_its_partner(
    session, program, make_partner, make_consumer
):
    make_consumer(program.partner, name="Ada Lovelace", email="ada@example.com")
    grace = make_consumer(program.partner, name="Grace Hopper", email="grace@navy.example")
    make_consumer(make_partner(), name="Ada Elsewhere", email="ada@elsewhere.example")
    browser = program.browser("viewer")

    everyone = page(browser.get("/consumers"))
    assert "Ada Lovelace" in everyone and "Grace Hopper" in everyone and "Ada Elsewhere" not in everyone
    assert "$100.00" in everyone
    by_name = page(browser.get("/consumers?q=ADA"))
    assert "Ada Lovelace" in by_name and "Grace Hopper" not in by_name and "Ada Elsewhere" not in by_name
    by_email = page(browser.get("/consumers?q=navy"))
    assert "Grace Hopper" in by_email and "Ada Lovelace" not in by_email
    assert "No consumers match" in page(browser.get("/consumers?q=%25"))  # a LIKE wildcard is just a character

    browser.post(f"/consumers/{grace.id}/deactivate")  # a viewer can't: still active
    assert reload(session, Consumer, grace.id).is_active
    program.browser("operator").post(f"/consumers/{grace.id}/deactivate")
    inactive = page(browser.get("/consumers?status=inactive"))
    assert "Grace Hopper" in inactive and "Ada Lovelace" not in inactive
    active = page(browser.get("/consumers?status=active"))
    assert "Ada Lovelace" in active and "Grace Hopper" not in active


def test_the_filters_answer_htmx_with_the_rows_only_and_pages_keep_the_search(session, program, make_consumer):
    for number in range(27):
        make_consumer(program.partner, name=f"Pat Number{number:02d}", email=f"pat{number:02d}@example.com", funds="0")
    make_consumer(program.partner, name="Someone Else", funds="0")
    browser = program.browser("viewer")

    first = browser.get("/consumers?q=pat")
    assert "27 consumers" in page(first) and "1–25 of 27" in page(first)
    older = re.search(r'<a rel="next" href="/portal(/consumers\?q=pat&before=\d+)" hx-get=', page(first))
    partial = browser.get(older.group(1), headers=HTMX)
    body = page(partial)
    assert partial.status_code == 200 and "HX-Request" in partial.headers["Vary"]
    assert body.lstrip().startswith('<div id="consumer-rows"') and "<html" not in body
    assert "26–27 of 27" in body and body.count("Pat Number") == 2 and "Someone Else" not in body
    assert "26–27 of 27" in page(browser.get("/consumers?q=pat&page=999"))  # a link from before the cursors, past the end


# --- one consumer -------------------------------------------------------------------------


def test_a_viewer_sees_wallets_orders_and_statement_but_no_change_buttons(session, program, make_consumer, make_brand):
    consumer = make_consumer(program.partner, name="Robin Buyer", funds="100")
    brand = make_brand("Bluefin Sushi")
    catalog.make_available(session, partner=program.partner, brand=brand)
    offer = catalog.offer(session, program.partner, brand.slug)
    order = orders.place_order(
        session,
        consumer=consumer,
        offer=offer,
        face_value=Money.parse("25", "USD"),
        recipient=orders.recipient_for(consumer, send_to="me"),
        idempotency_key=orders.new_idempotency_key(),
    )
    browser = program.browser("viewer")

    response = browser.get(f"/consumers/{consumer.id}")
    body = page(response)
    assert response.status_code == 200
    assert "Robin Buyer" in body and consumer.email in body
    assert order.public_id in body and "Bluefin Sushi" in body
    # The statement, newest first, with the general wallet's balance after each movement.
    statement = body[body.index('id="consumer-statement"') :]
    assert statement.index("-$25.00") < statement.index("Initial funds")
    assert "$75.00" in statement and "$100.00" in statement
    for change in ("Deactivate", "Resend welcome email", "Add or remove funds", 'name="idempotency_key"', "/funds"):
        assert change not in body
    assert (
        browser.post(
            f"/consumers/{consumer.id}/funds",
            {"direction": "add", "amount": "5", "currency": "USD", "reason": "x", "idempotency_key": "k" * 20},
        ).status_code
        == 403
    )
    assert browser.get("/consumers/new").status_code == 403
    assert general(session, consumer) == 75_00


def test_another_partners_consumer_is_not_found_and_nothing_changes(session, program, make_partner, make_consumer, mailbox):
    stranger = make_consumer(make_partner(), name="Sam Stranger", funds="50")
    browser = program.browser("operator")
    before = (count(session, AuditEvent), count(session, Transaction), count(session, EmailMessage))
    assert browser.get(f"/consumers/{stranger.id}").status_code == 404
    assert browser.post(f"/consumers/{stranger.id}/deactivate").status_code == 404
    assert browser.post(f"/consumers/{stranger.id}/resend-welcome").status_code == 404
    response = browser.post(
        f"/consumers/{stranger.id}/funds",
        {"direction": "remove", "amount": "50", "currency": "USD", "reason": "Take it", "idempotency_key": "a" * 24},
    )
    assert response.status_code == 404
    assert "Sam Stranger" not in page(response)
    assert (count(session, AuditEvent), count(session, Transaction), count(session, EmailMessage)) == before
    assert reload(session, Consumer, stranger.id).is_active and general(session, stranger) == 50_00


# --- creating one -------------------------------------------------------------------------


def test_an_operator_creates_a_consumer_funded_from_the_partner_and_they_get_a_welcome_email(session, program, mailbox):
    browser = program.browser("operator")
    assert browser.get("/consumers/new").status_code == 200
    response = browser.post(
        "/consumers/new",
        {"full_name": " Noor  Newcomer ", "email": "Noor@Example.com", "currency": "usd", "initial_funds": "120.50"},
    )
    assert response.status_code == 303
    consumer = session.exec(
        select(Consumer).where(Consumer.partner_id == program.partner.id, Consumer.email == "noor@example.com")
    ).one()
    assert redirect_path(response) == f"/portal/consumers/{consumer.id}"
    assert consumer.full_name == "Noor Newcomer" and consumer.must_change_password
    assert general(session, consumer) == 120_50
    assert partner_available(session, program.partner) == 1000_00 - 120_50
    assert temporary_password_in(mailbox.last_to("noor@example.com"))
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "consumer.create")).one()
    assert event.subject_id == str(consumer.id) and event.team_member_id == browser.member.id
    assert "Noor Newcomer" in page(browser.get(f"/consumers/{consumer.id}"))


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"full_name": ""}, "Enter a full name"),
        ({"email": "not-an-email"}, "is not a valid email address"),
        ({"initial_funds": "ten"}, "Initial funds must be a number"),
        ({"initial_funds": "1.234"}, "more than 2 decimal places"),
        ({"initial_funds": "-5"}, "can't be negative"),
        ({"currency": "EUR"}, "EUR is not enabled"),
        ({"currency": "XYZ"}, "Currency 'XYZ' is not a currency we know: use its three-letter code, like USD or EUR."),
        ({"initial_funds": "1000.01"}, "Your partner funds are too low for these initial funds: $1,000.00 available"),
    ],
)
def test_creating_a_consumer_with_bad_input_says_why_and_changes_nothing(session, program, mailbox, fields, message):
    browser = program.browser("operator")
    before = (count(session, Consumer), count(session, AuditEvent), count(session, Transaction))
    form = {"full_name": "Val Idation", "email": "val@example.com", "currency": "USD", "initial_funds": "10"} | fields
    response = browser.post("/consumers/new", form)
    assert response.status_code == 422
    assert message in page(response)
    assert 'value="val@example.com"' in page(response) or fields.get("email")  # the form keeps what was typed
    assert (count(session, Consumer), count(session, AuditEvent), count(session, Transaction)) == before
    assert partner_available(session, program.partner) == 1000_00
    assert mailbox.to("val@example.com") == []


def test_a_duplicate_email_is_refused_in_the_portals_words(session, program, make_consumer):
    make_consumer(program.partner, email="dup@example.com")
    browser = program.browser("operator")
    before = (count(session, Consumer), count(session, AuditEvent), partner_available(session, program.partner))
    response = browser.post(
        "/consumers/new", {"full_name": "Dup Licate", "email": "DUP@example.com", "currency": "USD", "initial_funds": "5"}
    )
    assert response.status_code == 422
    assert "already has a USD wallet" in page(response)
    assert (count(session, Consumer), count(session, AuditEvent), partner_available(session, program.partner)) == before


# --- switching off and on, the welcome email -----------------------------------------------


def test_an_operator_deactivates_and_reactivates_a_consumer(session, program, make_consumer):
    consumer = make_consumer(program.partner, name="Dee Activated")
    browser = program.browser("operator")
    page_before = page(browser.get(f"/consumers/{consumer.id}"))
    assert "Deactivate" in page_before and "Reactivate" not in page_before

    assert browser.post(f"/consumers/{consumer.id}/deactivate").status_code == 303
    assert not reload(session, Consumer, consumer.id).is_active
    after = page(browser.get(f"/consumers/{consumer.id}"))
    assert "is deactivated" in after and "Reactivate" in after
    # Once more changes nothing and records nothing.
    assert browser.post(f"/consumers/{consumer.id}/deactivate").status_code == 303
    assert browser.post(f"/consumers/{consumer.id}/reactivate").status_code == 303
    assert reload(session, Consumer, consumer.id).is_active
    assert actions(session, program.partner).count("consumer.deactivate") == 1
    assert actions(session, program.partner)[-1] == "consumer.reactivate"


def test_resending_the_welcome_email_replaces_the_temporary_password_and_ends_sessions(
    app, session, program, make_consumer, mailbox
):
    consumer = make_consumer(program.partner, name="Wes Welcome")
    first_password = temporary_password_in(mailbox.last_to(consumer.email))
    store = StoreBrowser(app.test_client(), program.partner)
    assert store.login(consumer.email, first_password).status_code == 303
    assert store.get("/welcome/password").status_code == 200
    epoch = reload(session, Consumer, consumer.id).session_epoch
    browser = program.browser("operator")
    assert "Resend welcome email" in page(browser.get(f"/consumers/{consumer.id}"))

    mailbox.clear()
    assert browser.post(f"/consumers/{consumer.id}/resend-welcome").status_code == 303
    second_password = temporary_password_in(mailbox.last_to(consumer.email))
    assert second_password != first_password
    refreshed = reload(session, Consumer, consumer.id)
    assert refreshed.session_epoch == epoch + 1 and refreshed.must_change_password
    assert "/login" in store.get("/welcome/password").headers["Location"]  # the old session is over
    assert StoreBrowser(app.test_client(), program.partner).login(consumer.email, first_password).status_code == 422
    assert StoreBrowser(app.test_client(), program.partner).login(consumer.email, second_password).status_code == 303
    assert actions(session, program.partner)[-1] == "consumer.resend_welcome"


def test_the_welcome_email_is_not_resent_once_the_consumer_chose_a_password(app, session, program, make_consumer, mailbox):
    consumer = make_consumer(program.partner, name="Ciara Chosen")
    store = StoreBrowser(app.test_client(), program.partner)
    store.login(consumer.email, temporary_password_in(mailbox.last_to(consumer.email)))
    store.get("/welcome/password")
    assert (
        store.post("/welcome/password", {"password": "Correct-horse-42", "confirmation": "Correct-horse-42"}).status_code == 303
    )
    browser = program.browser("operator")
    assert "Resend welcome email" not in page(browser.get(f"/consumers/{consumer.id}"))
    before = (reload(session, Consumer, consumer.id).password_hash, count(session, AuditEvent), count(session, EmailMessage))

    response = browser.post(f"/consumers/{consumer.id}/resend-welcome")
    assert response.status_code == 422 and "already chosen their own password" in page(response)
    assert response.headers["HX-Push-Url"] == f"/portal/consumers/{consumer.id}"
    assert (
        reload(session, Consumer, consumer.id).password_hash,
        count(session, AuditEvent),
        count(session, EmailMessage),
    ) == before
    assert StoreBrowser(app.test_client(), program.partner).login(consumer.email, "Correct-horse-42").status_code == 303


# --- funds --------------------------------------------------------------------------------


def test_an_operator_adds_and_removes_funds_and_the_partner_funds_follow(session, program, make_consumer):
    consumer = make_consumer(program.partner, funds="100")
    browser = program.browser("operator")
    key = funds_form(browser, consumer)
    assert "Your partner funds: $900.00" in re.sub(r"<[^>]+>", "", page(browser.get(f"/consumers/{consumer.id}")))

    added = browser.post(
        f"/consumers/{consumer.id}/funds",
        {"direction": "add", "amount": "40.25", "currency": "USD", "reason": "Spot award", "idempotency_key": key},
    )
    assert added.status_code == 303
    assert general(session, consumer) == 140_25 and partner_available(session, program.partner) == 859_75
    shown = page(browser.get(f"/consumers/{consumer.id}"))
    assert "$40.25 added to the general wallet. It now holds $140.25." in shown
    assert "Your partner funds: $859.75" in re.sub(r"<[^>]+>", "", shown) and "Spot award" in shown

    key = funds_form(browser, consumer)
    removed = browser.post(
        f"/consumers/{consumer.id}/funds",
        {"direction": "remove", "amount": "0.25", "currency": "USD", "reason": "Correction", "idempotency_key": key},
    )
    assert removed.status_code == 303
    assert general(session, consumer) == 140_00 and partner_available(session, program.partner) == 860_00
    assert actions(session, program.partner)[-2:] == ["funds.credit", "funds.debit"]
    transaction = session.exec(select(Transaction).where(Transaction.memo == "Correction")).one()
    assert transaction.actor.startswith(f"team:{browser.member.id} ")


def test_with_htmx_the_funds_section_the_header_and_the_statement_update_in_place(session, program, make_consumer):
    consumer = make_consumer(program.partner, funds="100")
    browser = program.browser("operator")
    key = funds_form(browser, consumer)
    response = browser.post(
        f"/consumers/{consumer.id}/funds",
        {"direction": "add", "amount": "50", "currency": "USD", "reason": "Welcome bonus", "idempotency_key": key},
        headers=HTMX,
    )
    body = page(response)
    assert response.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section id="consumer-funds"')
    assert "It now holds $150.00" in body and "Your partner funds: <strong>$850.00</strong>" in body
    assert re.search(r'id="portal-funds"[^>]*hx-swap-oob="true">Funds: <strong>\$850\.00</strong>', body)
    assert re.search(r'id="consumer-statement"[^>]*hx-swap-oob="true"', body) and "Welcome bonus" in body
    new_key = KEY.search(body).group(1)
    assert new_key != key  # the next change is a new request


def test_a_double_submit_moves_money_once(session, program, make_consumer):
    consumer = make_consumer(program.partner, funds="100")
    browser = program.browser("operator")
    key = funds_form(browser, consumer)
    form = {"direction": "add", "amount": "30", "currency": "USD", "reason": "Double click", "idempotency_key": key}
    assert browser.post(f"/consumers/{consumer.id}/funds", form).status_code == 303
    again = browser.post(f"/consumers/{consumer.id}/funds", form, headers=HTMX)
    assert again.status_code == 200 and "already made" in page(again)
    assert general(session, consumer) == 130_00 and partner_available(session, program.partner) == 870_00
    assert count(session, Transaction, Transaction.memo == "Double click") == 1
    assert actions(session, program.partner).count("funds.credit") == 1
    # The same key with other values is not a double click: refused, nothing moves.
    other = browser.post(f"/consumers/{consumer.id}/funds", form | {"amount": "31"})
    assert other.status_code == 422 and "already sent with other values" in page(other)
    assert general(session, consumer) == 130_00


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"direction": "remove", "amount": "100.01"}, "Insufficient wallet balance: the general wallet holds $100.00"),
        ({"direction": "add", "amount": "900.01"}, "Your partner funds are too low: $900.00 available"),
        ({"amount": ""}, "Enter an amount"),
        ({"amount": "abc"}, "Amount must be a number"),
        ({"amount": "1.005"}, "more than 2 decimal places"),
        ({"amount": "0"}, "Amount must be more than zero"),
        ({"amount": "-3"}, "Amount must be more than zero"),
        ({"reason": "   "}, "Reason is required"),
        ({"direction": "steal"}, "Choose whether to add or remove funds"),
        ({"currency": "EUR"}, "EUR is not enabled"),
        ({"idempotency_key": ""}, "This form has expired"),
    ],
)
def test_bad_funds_changes_say_why_in_place_and_move_nothing(session, program, make_consumer, fields, message):
    consumer = make_consumer(program.partner, funds="100")
    browser = program.browser("operator")
    key = funds_form(browser, consumer)
    form = {"direction": "add", "amount": "10", "currency": "USD", "reason": "Because", "idempotency_key": key} | fields
    before = (count(session, Transaction), count(session, AuditEvent))
    for headers in ({}, HTMX):
        response = browser.post(f"/consumers/{consumer.id}/funds", form, headers=headers)
        assert response.status_code == 422
        assert message in page(response)
    assert page(response).lstrip().startswith('<section id="consumer-funds"')  # htmx: the section, error in place
    assert f'value="{key}"' in page(response) or not fields.get("idempotency_key", key)  # the form keeps its key
    assert (count(session, Transaction), count(session, AuditEvent)) == before
    assert general(session, consumer) == 100_00 and partner_available(session, program.partner) == 900_00
