"""Retiring an encryption key: `flask reencrypt` writes every encrypted value (card numbers, PINs and links, email
bodies, HMAC and webhook secrets) again under the first of ENCRYPTION_KEYS, after which the old key can go."""

from __future__ import annotations

from cryptography.fernet import Fernet
from sqlalchemy import update
from sqlmodel import select

from app.db import write_transaction
from app.domain.money import Money
from app.models import ApiKey, EmailMessage, Order
from app.security import Encryptor
from app.services import catalog, orders, webhooks
from app.services.key_rotation import ENCRYPTED


def stored_values(session) -> dict[str, str]:
    session.expire_all()
    values = {}
    for model, columns in ENCRYPTED:
        for row in session.exec(select(model)).all():
            for column in columns:
                if getattr(row, column):
                    values[f"{model.__tablename__}.{column}.{row.id}"] = getattr(row, column)
    return values


def test_reencrypt_moves_every_encrypted_value_to_the_newest_key(
    app, session, make_partner, make_consumer, make_brand, monkeypatch
):
    partner = make_partner(funds="1000")  # an API key (its HMAC secret)
    consumer = make_consumer(partner, funds="100")  # a welcome email
    brand = make_brand("Bluefin Sushi", denominations="1000,2500")
    catalog.make_available(session, partner=partner, brand=brand)
    order = orders.place_order(
        session,
        consumer=consumer,
        offer=catalog.offer(session, partner, brand.slug),
        face_value=Money.parse("25", "USD"),
        recipient=orders.recipient_for(consumer, send_to="me", email="", name="", message=""),
        idempotency_key=orders.new_idempotency_key(),
    )  # completed: card number, PIN, gift email
    webhooks.register_endpoint(session, partner=partner, url="https://hooks.example.com/giftstore", events=["order.completed"])
    with write_transaction(session):  # a redemption link too
        session.execute(
            update(Order)
            .where(Order.id == order.id)
            .values(redemption_url_encrypted=app.extensions["encryptor"].encrypt("https://r.example/x"))
        )

    old = app.extensions["encryptor"]
    before = stored_values(session)
    plain = {name: old.decrypt(value) for name, value in before.items()}
    tables = {name.split(".")[0] for name in before}
    assert {"gift_order", "emailmessage", "apikey", "webhook_endpoint"} <= tables
    assert any(".card_pin_encrypted." in name for name in before) and any(".redemption_url_encrypted." in name for name in before)

    new_key = Fernet.generate_key().decode()
    old_keys = app.extensions["settings"].encryption_keys
    monkeypatch.setitem(app.extensions, "encryptor", Encryptor([new_key, *old_keys]))
    result = app.test_cli_runner().invoke(args=["reencrypt"])
    assert result.exit_code == 0, result.output
    assert "can be removed" in result.output

    after = stored_values(session)
    assert set(after) == set(before) and all(after[name] != before[name] for name in before)
    only_new = Encryptor([new_key])
    assert {name: only_new.decrypt(value) for name, value in after.items()} == plain
    assert app.test_cli_runner().invoke(args=["reencrypt"]).exit_code == 0  # again: still readable, nothing lost
    assert {name: only_new.decrypt(value) for name, value in stored_values(session).items()} == plain


def test_a_value_no_key_reads_is_named_and_left_alone(app, session, make_partner, make_consumer):
    partner = make_partner(funds="1000")
    make_consumer(partner, funds="100")
    foreign = Encryptor([Fernet.generate_key().decode()]).encrypt("<p>from another installation</p>")
    with write_transaction(session):
        email = session.exec(select(EmailMessage)).first()
        session.execute(update(EmailMessage).where(EmailMessage.id == email.id).values(html_encrypted=foreign))
    result = app.test_cli_runner().invoke(args=["reencrypt"])
    assert result.exit_code != 0 and f"emailmessage.html_encrypted id={email.id}" in result.output
    session.expire_all()
    assert session.get(EmailMessage, email.id).html_encrypted == foreign
    assert session.exec(select(ApiKey)).first().hmac_secret_encrypted  # the rest was still done
