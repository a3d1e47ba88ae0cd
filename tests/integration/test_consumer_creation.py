"""Creating a consumer moves money from the partner's funds to the wallet, in one transaction."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import func, select

from app.db import db_session
from app.domain.errors import DuplicateConsumer, InvalidInput, PartnerFundsTooLow
from app.domain.ledger import AccountKind
from app.domain.money import Money
from app.models import Account, Consumer, EmailMessage, Entry, Partner, Transaction
from app.services import consumers, ledger, partners
from tests.conftest import body_html, body_text


def counts(session):
    return {
        model.__name__: session.exec(select(func.count()).select_from(model)).one()
        for model in (Consumer, Transaction, Entry, EmailMessage)
    }


def test_initial_funds_move_from_partner_funds_to_the_general_wallet(session, make_partner):
    partner = make_partner(funds="1000")
    result = consumers.create_consumer(
        session, partner=partner, email="Jo.Doe@Example.com", full_name="  Jo   Doe ", initial_funds=Money.parse("100.00", "usd")
    )
    assert result.created
    assert result.consumer.email == "jo.doe@example.com"
    assert result.consumer.full_name == "Jo Doe"
    assert result.wallet_account.balance == 100_00
    assert partners.partner_funds(session, partner, "USD") == Money(900_00, "USD")
    wallet = consumers.wallets(session, result.consumer)[0]
    assert (wallet.general, wallet.bonus) == (Money(100_00, "USD"), Money(0, "USD"))
    assert ledger.ledger_problems(session) == []


def test_insufficient_partner_funds_refuses_the_whole_thing(session, make_partner, mailbox):
    partner = make_partner(funds="50")
    before = counts(session)
    with pytest.raises(PartnerFundsTooLow) as error:
        consumers.create_consumer(
            session, partner=partner, email="a@example.com", full_name="A", initial_funds=Money.parse("50.01", "USD")
        )
    assert error.value.message == "Unable to pre-charge all currency groups"
    assert counts(session) == before
    assert partners.partner_funds(session, partner, "USD") == Money(50_00, "USD")
    assert mailbox.to("a@example.com") == []
    assert ledger.ledger_problems(session) == []


def test_an_email_is_unique_per_partner_but_not_across_partners(session, make_partner):
    first, second = make_partner(), make_partner()
    consumers.create_consumer(session, partner=first, email="sam@example.com", full_name="Sam", initial_funds=Money(0, "USD"))
    before = counts(session)
    with pytest.raises(DuplicateConsumer) as error:
        consumers.create_consumer(
            session, partner=first, email="SAM@example.com", full_name="Sam", initial_funds=Money(1000, "USD")
        )
    assert error.value.message == "Some customers already have wallets in the requested currency"
    assert counts(session) == before
    other = consumers.create_consumer(
        session, partner=second, email="sam@example.com", full_name="Sam", initial_funds=Money(0, "USD")
    )
    assert other.created


def test_an_existing_consumer_gets_a_wallet_in_a_new_currency_without_a_second_account(session, make_partner):
    partner = make_partner(funds="100")
    partners.fund_partner(session, partner=partner, amount=Money(50_00, "EUR"))
    consumers.create_consumer(session, partner=partner, email="eu@example.com", full_name="Eu", initial_funds=Money(10_00, "USD"))
    again = consumers.create_consumer(
        session, partner=partner, email="eu@example.com", full_name="Eu", initial_funds=Money(20_00, "EUR")
    )
    assert not again.created
    assert {w.currency: w.general.amount for w in consumers.wallets(session, again.consumer)} == {"EUR": 20_00, "USD": 10_00}


def test_the_same_new_currency_wallet_asked_for_twice_at_once_is_opened_and_funded_once(app, session, make_partner):
    """A double submit (or the portal and the API at once) for an existing consumer's new wallet:
    each request checks there is no wallet yet, so without holding the partner both would fund one."""
    partner = make_partner(funds="100")
    partners.fund_partner(session, partner=partner, amount=Money(100_00, "EUR"))
    consumer = consumers.create_consumer(
        session, partner=partner, email="eu@example.com", full_name="Eu", initial_funds=Money(10_00, "USD")
    ).consumer
    partner_id, consumer_id = partner.id, consumer.id
    session.rollback()

    def open_eur_wallet(_):
        with app.app_context():
            own = db_session()
            try:
                consumers.create_consumer(
                    own,
                    partner=own.get(Partner, partner_id),
                    email="eu@example.com",
                    full_name="Eu",
                    initial_funds=Money(20_00, "EUR"),
                )
                return "opened"
            except DuplicateConsumer:
                return "duplicate"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = sorted(pool.map(open_eur_wallet, range(6)))

    assert outcomes == ["duplicate"] * 5 + ["opened"]
    consumer = session.get(Consumer, consumer_id)
    assert {w.currency: w.general.amount for w in consumers.wallets(session, consumer)} == {"EUR": 20_00, "USD": 10_00}
    assert partners.partner_funds(session, session.get(Partner, partner_id), "EUR") == Money(80_00, "EUR")


@pytest.mark.parametrize(
    "email, name, amount, field",
    [
        ("not-an-email", "Name", Money(0, "USD"), "email"),
        ("", "Name", Money(0, "USD"), "email"),
        ("x@example.com", "   ", Money(0, "USD"), "fullName"),
        ("x@example.com", "<script>", Money(0, "USD"), "fullName"),
        ("x@example.com", "Name", Money(-1, "USD"), "initialFunds"),
        ("x@example.com", "Name", Money(100, "EUR"), "currency"),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(session, make_partner, email, name, amount, field):
    partner = make_partner()
    before = counts(session)
    with pytest.raises(InvalidInput) as error:
        consumers.create_consumer(session, partner=partner, email=email, full_name=name, initial_funds=amount)
    assert error.value.field == field
    assert counts(session) == before


def test_the_welcome_email_goes_out_over_smtp_with_the_store_link_and_a_temporary_password(session, make_partner, mailbox):
    partner = make_partner()
    consumer = consumers.create_consumer(
        session, partner=partner, email="new@example.com", full_name="New Person", initial_funds=Money(0, "USD")
    ).consumer
    message = mailbox.last_to("new@example.com")
    assert "account is ready" in message["Subject"]
    assert f"http://store.test/s/{partner.slug}/login" in body_text(message)
    assert "Temporary password:" in body_text(message)
    assert partner.primary_color in body_html(message)
    record = session.exec(select(EmailMessage).where(EmailMessage.consumer_id == consumer.id)).one()
    assert (record.kind, record.status, record.delivered_via, record.attempts) == ("welcome", "sent", "smtp", 1)
    # The body holds a password: it is stored encrypted, never as clear text.
    assert "Temporary password" not in record.text_encrypted


def test_partner_funds_and_wallets_are_separate_accounts_per_currency(session, make_partner):
    partner = make_partner(funds="10")
    funds = ledger.find_account(session, AccountKind.PARTNER_FUNDS, "USD", partner_id=partner.id)
    assert funds.balance == 10_00
    assert (
        session.exec(select(Account).where(Account.partner_id == partner.id, Account.kind == "partner_deposits")).one().balance
        == -10_00
    )
