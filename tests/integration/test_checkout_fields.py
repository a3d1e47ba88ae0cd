"""Checkout that senders trust (issue #18): every field survives a refused submit and "Change something", the
"Did you mean …?" hint on the form and the review, "I checked the address" over the store's threshold, the message's
character rules, a fixed-denomination brand's choices."""

import html
import re
from decimal import Decimal

import pytest
from sqlmodel import select

from app.db import write_transaction
from app.models import Order, Partner
from app.services import catalog
from tests.conftest import reload
from tests.integration.conftest import page

KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"


def plain(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page(response))).split())


@pytest.fixture
def brand(session, store, make_brand):
    brand = make_brand("Bluefin Sushi", denominations="1000,2500,5000")
    catalog.make_available(session, partner=store.partner, brand=brand, bonus_type="none", bonus_percent=Decimal(0))
    return brand


def set_threshold(session, partner, minor: int) -> None:
    with write_transaction(session):
        fresh = session.get(Partner, partner.id)
        fresh.confirm_recipient_over = minor
        session.add(fresh)


def fields(store, brand, **change) -> dict:
    key = KEY.search(page(store.get(f"/brands/{brand.slug}/checkout?amount=25.00"))).group(1)
    sent = {
        "amount": "25.00",
        "send_to": "someone",
        "email": "jordan@example.org",
        "name": "Jordan Friend",
        "sender_name": "Casey",
        "message": f"Happy birthday! {FAMILY}\nSee you soon",
        "idempotency_key": key,
    }
    return sent | change


def input_value(response, name: str) -> str | None:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page(response))
    return html.unescape(found.group(1)) if found else None


def textarea(response, name: str) -> str:
    return html.unescape(re.search(rf'<textarea[^>]*name="{name}"[^>]*>(.*?)</textarea>', page(response), re.S).group(1))


def checked_amount(response) -> str | None:
    found = re.search(r'<input type="radio" name="amount" value="([^"]+)"[^>]*\bchecked', page(response))
    return found.group(1) if found else None


def assert_form_keeps(response, sent: dict) -> None:
    assert checked_amount(response) == sent["amount"]
    assert re.search(r'name="send_to" value="someone" checked', page(response))
    assert input_value(response, "email") == sent["email"]
    assert input_value(response, "name") == sent["name"]
    assert input_value(response, "sender_name") == sent["sender_name"]
    assert textarea(response, "message") == sent["message"]


def test_a_refused_submit_keeps_every_field(store, signed_in, brand, session):
    sent = fields(store, brand, email="jordan@example")  # no dot in the domain: refused
    response = store.post(f"/brands/{brand.slug}/checkout/review", sent)
    assert response.status_code == 422
    assert_form_keeps(response, sent)
    confirm = store.post(f"/brands/{brand.slug}/orders", sent | {"message": "bad \u202e override"})
    assert confirm.status_code == 422
    assert "contains U+202E RIGHT-TO-LEFT OVERRIDE, which is not allowed" in plain(confirm)
    assert_form_keeps(confirm, sent | {"message": "bad \u202e override"})
    session.rollback()
    assert session.exec(select(Order)).all() == []


def test_change_something_brings_the_form_back_with_every_field_and_a_new_key(store, signed_in, brand):
    sent = fields(store, brand)
    review = store.post(f"/brands/{brand.slug}/checkout/review", sent)
    assert review.status_code == 200
    assert "Change something" in plain(review)
    assert f'formaction="/s/{store.partner.slug}/brands/{brand.slug}/checkout"' in page(review)
    # The review's form carries every field; its "Change something" sends them to the form.
    carried = {name: input_value(review, name) for name in sent}
    assert carried == sent
    again = store.post(f"/brands/{brand.slug}/checkout", carried)
    assert again.status_code == 200
    assert_form_keeps(again, sent)
    assert input_value(again, "idempotency_key") not in ("", sent["idempotency_key"])


def test_the_message_is_counted_in_code_points_and_emoji_with_joiners_go_through(store, signed_in, brand, session, mailbox):
    message = "x" * 295 + FAMILY  # 300 code points
    sent = fields(store, brand, message=message)
    form = store.get(f"/brands/{brand.slug}/checkout")
    assert 'data-count-max="300"' in page(form) and 'maxlength="300"' not in page(form)
    assert "Up to 300 characters" in plain(form)
    assert store.post(f"/brands/{brand.slug}/checkout/review", sent).status_code == 200
    too_long = store.post(f"/brands/{brand.slug}/checkout/review", sent | {"message": "y" + message})
    assert too_long.status_code == 422
    assert "The message has 301 characters; it can be at most 300 characters" in plain(too_long)
    assert textarea(too_long, "message") == "y" + message  # nothing cut


def test_the_review_hints_at_a_likely_typo_and_applies_it(store, signed_in, brand):
    sent = fields(store, brand, email="jordan@gmial.com")
    review = store.post(f"/brands/{brand.slug}/checkout/review", sent)
    assert review.status_code == 200
    assert "Did you mean jordan@gmail.com" in plain(review)
    applied = store.post(f"/brands/{brand.slug}/checkout/review", sent | {"apply_email": "jordan@gmail.com"})
    assert "Did you mean" not in plain(applied)
    assert input_value(applied, "email") == "jordan@gmail.com"
    # Not for a real, uncommon domain; not for a gift to oneself.
    assert "Did you mean" not in plain(store.post(f"/brands/{brand.slug}/checkout/review", sent | {"email": "jordan@proton.me"}))
    assert "Did you mean" not in plain(store.post(f"/brands/{brand.slug}/checkout/review", sent | {"send_to": "me"}))


def test_the_checkout_hint_for_htmx_and_after_a_refused_submit(store, signed_in, brand):
    hint = store.get(f"/brands/{brand.slug}/checkout/email-hint?email=jordan%40hotmial.com", headers={"HX-Request": "true"})
    assert hint.status_code == 200
    assert "Did you mean jordan@hotmail.com" in plain(hint)
    assert 'name="apply_email" value="jordan@hotmail.com"' in page(hint)
    assert plain(store.get(f"/brands/{brand.slug}/checkout/email-hint?email=jordan%40example.org")) == ""
    # Without JavaScript: the form comes back with the hint (here after a refused message), and its button applies it.
    sent = fields(store, brand, email="jordan@yaho.com", message="\x07")
    refused = store.post(f"/brands/{brand.slug}/checkout/review", sent)
    assert refused.status_code == 422 and "Did you mean jordan@yahoo.com" in plain(refused)
    applied = store.post(f"/brands/{brand.slug}/checkout", sent | {"apply_email": "jordan@yahoo.com"})
    assert input_value(applied, "email") == "jordan@yahoo.com" and "Did you mean" not in plain(applied)


def test_over_the_threshold_the_review_asks_to_check_the_address_and_confirm_insists(store, signed_in, brand, session):
    set_threshold(session, store.partner, 20_00)
    sent = fields(store, brand)
    review = store.post(f"/brands/{brand.slug}/checkout/review", sent)
    assert "I checked the address" in plain(review) and 'name="address_checked"' in page(review)
    refused = store.post(f"/brands/{brand.slug}/orders", sent)
    assert refused.status_code == 422
    assert "tick “I checked the address” to confirm" in plain(refused)
    session.rollback()
    assert session.exec(select(Order)).all() == []
    placed = store.post(f"/brands/{brand.slug}/orders", sent | {"address_checked": "yes"})
    assert placed.status_code == 303
    # Under the threshold, or for oneself: not asked.
    set_threshold(session, store.partner, 25_00)
    under = store.post(f"/brands/{brand.slug}/checkout/review", fields(store, brand))
    assert "I checked the address" not in plain(under)
    set_threshold(session, store.partner, 0)
    me = store.post(f"/brands/{brand.slug}/checkout/review", fields(store, brand, send_to="me"))
    assert "I checked the address" not in plain(me)


def test_a_fixed_denomination_brand_keeps_its_choices_on_checkout(store, signed_in, brand, session, make_brand):
    form = store.get(f"/brands/{brand.slug}/checkout?amount=50.00")
    assert checked_amount(form) == "50.00"
    assert re.findall(r'type="radio" name="amount" value="([^"]+)"', page(form)) == ["10.00", "25.00", "50.00"]
    assert 'id="amount" name="amount" type="text"' not in page(form)
    free = make_brand("Open Range", denominations="", min_amount=500, max_amount=20000)
    catalog.make_available(session, partner=store.partner, brand=free, bonus_type="none", bonus_percent=Decimal(0))
    assert 'id="amount" name="amount" type="text"' in page(store.get(f"/brands/{free.slug}/checkout?amount=12.00"))


def test_the_recipient_fields_are_ignored_for_me(store, signed_in, brand, session, mailbox):
    sent = fields(store, brand, send_to="me", email="not-an-address", name="\x07")
    placed = store.post(f"/brands/{brand.slug}/orders", sent)
    assert placed.status_code == 303
    session.rollback()
    order = session.exec(select(Order)).one()
    assert order.to_self and order.recipient_email == signed_in.email


def test_an_admin_sets_the_confirm_the_address_threshold_in_the_portal(session, store, make_team_member, portal_as):
    browser = portal_as(make_team_member(store.partner, "admin"))
    settings = browser.get("/settings")
    assert 'name="confirm_recipient_over"' in page(settings) and 'value="100.00"' in page(settings)
    base = {"time_zone": "UTC", "reminder_days": "3"}
    bad = browser.post("/settings", base | {"confirm_recipient_over": "lots"})
    assert bad.status_code == 422 and "must be a number like 100" in plain(bad)
    assert browser.post("/settings", base | {"confirm_recipient_over": "250"}).status_code == 303
    assert reload(session, Partner, store.partner.id).confirm_recipient_over == 250_00
