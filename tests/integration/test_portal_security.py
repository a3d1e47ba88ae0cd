"""Security issue #14: a card can't be redirected silently, forgot-password does the same work for
every address, invitations don't reveal other partners' teams, page numbers are bounded, searches
match % and _ literally, and a change asked from another site is refused."""

from __future__ import annotations

import io
import re

import pytest
from flask import current_app
from sqlmodel import func, select

from app.domain.money import Money
from app.models import AuditEvent, BulkUpload, Consumer, EmailMessage, Order, PasswordReset, TeamMember
from app.services import catalog, orders
from tests.conftest import body_text
from tests.integration.api_client import failed, seed_headers
from tests.integration.conftest import page, redirect_path, reload, statements_run

HUGE_PAGE = str(10**30)


def count(session, model, *where) -> int:
    session.rollback()
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def decrypt(token: str) -> str:
    return current_app.extensions["encryptor"].decrypt(token)


@pytest.fixture
def shop(session, store, make_brand, make_team_member):
    """The store's partner with a brand on sale, an admin and an operator."""
    brand = make_brand("Bluefin Sushi", denominations="1000,2500,5000")
    catalog.make_available(session, partner=store.partner, brand=brand)
    admin = make_team_member(store.partner, "admin", name="Ada Admin")
    operator = make_team_member(store.partner, "operator")
    return brand, admin, operator


def buy_for_themselves(session, store, consumer: Consumer, brand) -> Order:
    offer = catalog.offer(session, store.partner, brand.slug)
    order = orders.place_order(
        session,
        consumer=consumer,
        offer=offer,
        face_value=Money.parse("25", "USD"),
        recipient=orders.recipient_for(consumer, send_to="me"),
        idempotency_key=orders.new_idempotency_key(),
    )
    return reload(session, Order, order.id)


# --- 1. correcting the recipient --------------------------------------------------------------------


def test_only_an_admin_may_send_a_card_to_another_address_and_operators_dont_see_the_form(
    session, store, signed_in, shop, portal_as
):
    brand, _admin, operator = shop
    order = buy_for_themselves(session, store, signed_in.model, brand)
    browser = portal_as(operator)
    text = page(browser.get(f"/orders/{order.public_id}"))
    assert "Resend the card" in text and 'name="email"' not in text
    before = (count(session, EmailMessage), count(session, AuditEvent))
    assert browser.post(f"/orders/{order.public_id}/recipient", {"email": "operator.friend@example.com"}).status_code == 403
    assert reload(session, Order, order.id).recipient_email == signed_in.email
    assert (count(session, EmailMessage), count(session, AuditEvent)) == before


def test_the_buyer_is_told_who_redirected_their_card_and_can_still_show_a_card_bought_for_themselves(
    session, store, signed_in, shop, portal_as, mailbox
):
    brand, admin, _operator = shop
    order = buy_for_themselves(session, store, signed_in.model, brand)
    mailbox.clear()
    response = portal_as(admin).post(f"/orders/{order.public_id}/recipient", {"email": "New.Address@Example.com"})
    assert response.status_code == 303
    changed = reload(session, Order, order.id)
    assert changed.recipient_email == "new.address@example.com" and changed.to_self

    # The card went to the new address; the buyer got a notice (never the card) naming who and when.
    number = decrypt(changed.card_number_encrypted)
    assert number in body_text(mailbox.last_to("new.address@example.com"))
    notice = mailbox.last_to(signed_in.email)
    text = body_text(notice)
    assert "now goes to new.address@example.com" in notice["Subject"]
    for expected in (
        signed_in.email,
        "new.address@example.com",
        "Ada Admin",
        admin.email,
        changed.updated_at.strftime("%Y-%m-%d %H:%M") + " UTC",
    ):
        assert expected in text, expected
    assert number not in text and number.replace(" ", "") not in text
    [row] = session.exec(select(EmailMessage).where(EmailMessage.kind == "recipient_changed")).all()
    assert row.to == signed_in.email and row.consumer_id == signed_in.id
    assert count(session, AuditEvent, AuditEvent.action == "order.change_recipient") == 1

    # The card is still the buyer's: the store's order page offers it and shows it.
    assert "Show card number and PIN" in page(store.get(f"/orders/{order.public_id}"))
    shown = store.post(f"/orders/{order.public_id}/card", {})
    assert shown.status_code == 200 and number in page(shown)


# --- 2. forgot password ------------------------------------------------------------------------------


def test_forgot_password_answers_alike_and_writes_nothing_during_the_request_for_known_and_unknown_emails(
    app, session, store, new_consumer, mailbox, monkeypatch
):
    queued = []
    real_task = app.extensions["queue_tasks"]["send_password_reset"]
    monkeypatch.setitem(app.extensions["queue_tasks"], "send_password_reset", lambda *args, **_: queued.append(args))
    store.get("/forgot")
    mailbox.clear()
    answers, writes = [], []
    for email in (new_consumer.email, "nobody-here@example.com"):
        with statements_run(app) as statements:
            response = store.post("/forgot", {"email": email.upper()})
        assert response.status_code == 200
        answers.append(re.sub(r"[\w.-]{40,}", "TOKEN", page(response)))  # the CSRF token is signed with a timestamp
        writes.append([s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))])
    assert answers[0] == answers[1] and "If an account exists for that email" in answers[0]
    assert writes == [[], []]
    # The same task for both, with the store and the address: the queue does the looking up.
    assert queued == [(store.partner.id, new_consumer.email), (store.partner.id, "nobody-here@example.com")]
    assert count(session, PasswordReset) == 0 and mailbox.messages == []

    for args in queued:
        real_task(*args)
    assert count(session, PasswordReset) == 1
    assert [message["To"] for message in mailbox.messages] == [new_consumer.email]
    assert "Reset your" in mailbox.last_to(new_consumer.email)["Subject"]


# --- 3. inviting a team member ------------------------------------------------------------------------


def test_inviting_someone_on_another_partners_team_answers_like_any_invitation_and_tells_only_them(
    app, session, make_partner, make_team_member, portal_as, mailbox
):
    mine, theirs = make_partner(name="Harbour Rewards"), make_partner()
    admin = make_team_member(mine, "admin", name="Ada Admin")
    elsewhere = make_team_member(theirs, "operator", email="sam.elsewhere@example.com")
    browser = portal_as(admin)
    browser.get("/team")
    mailbox.clear()

    answers = []
    for email in ("new.person@example.com", "Sam.Elsewhere@example.com"):
        response = browser.post("/team/invite", {"email": email, "full_name": "Sam", "role": "viewer"})
        assert response.status_code == 303 and redirect_path(response) == "/portal/team", email
        answers.append(page(browser.get("/team")))
    assert "Invitation sent to new.person@example.com." in answers[0]
    assert "Invitation sent to sam.elsewhere@example.com." in answers[1]
    assert "already" not in answers[1].lower() and "another" not in answers[1].lower()

    # Nothing changed for the existing member; they were told why no invitation came (no password in it).
    kept = reload(session, TeamMember, elsewhere.id)
    assert (kept.partner_id, kept.role, kept.password_hash, kept.session_epoch) == (
        theirs.id,
        "operator",
        elsewhere.password_hash,
        elsewhere.session_epoch,
    )
    assert count(session, TeamMember, TeamMember.email == "sam.elsewhere@example.com") == 1
    notice = mailbox.last_to("sam.elsewhere@example.com")
    assert "Harbour Rewards" in notice["Subject"] and "one team only" in body_text(notice)
    assert "Temporary password" not in body_text(notice)
    assert (
        count(session, AuditEvent, AuditEvent.partner_id == mine.id, AuditEvent.action == "team.invite") == 1 + 2
    )  # the admin, then both

    # Someone already on one's own team is shown on the team page anyway: that is still said.
    again = browser.post("/team/invite", {"email": "new.person@example.com", "full_name": "New Person", "role": "viewer"})
    assert again.status_code == 422 and "already on your team" in page(again)


# --- 4. page numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [HUGE_PAGE, "9" * 5000, "²", "-3", "0", "abc", "2"])
def test_every_portal_and_store_list_answers_any_page_number(session, store, signed_in, shop, portal_as, value):
    brand, admin, _operator = shop
    buy_for_themselves(session, store, signed_in.model, brand)
    browser = portal_as(admin)
    browser.get("/bulk-uploads")
    browser.post(
        "/bulk-uploads", {"file": (io.BytesIO(b"action,email,full_name,currency,initial_funds\n,bad,X,USD,1\n"), "x.csv")}
    )
    session.rollback()
    upload = session.exec(select(BulkUpload).where(BulkUpload.partner_id == store.partner.id)).one()
    for path in (
        "/audit",
        "/orders",
        "/transactions",
        "/consumers",
        "/brands",
        "/bulk-uploads",
        f"/bulk-uploads/{upload.public_id}",
        "/audit?action=order",
        "/orders?status=completed",
    ):
        separator = "&" if "?" in path else "?"
        response = browser.get(f"{path}{separator}page={value}")
        assert response.status_code == 200, path
        if value == HUGE_PAGE and path in ("/audit", "/orders", "/transactions"):
            assert "Page 1 of 1" in page(response) or "Page " not in page(response), path  # the last page, not page 10**30
    for headers in ({}, {"HX-Request": "true"}):
        assert store.get(f"/?page={value}", headers=headers).status_code == 200
        assert store.get(f"/?q=blue&page={value}", headers=headers).status_code == 200


@pytest.mark.parametrize("path", ["/customers", "/orders", "/transactions", "/catalog"])
def test_the_api_refuses_an_impossible_page_number_with_its_validation_error(client, partner_with_key, path):
    _partner, credentials = partner_with_key()
    headers = seed_headers(credentials, "", method="GET")
    response = client.get(f"/api/partner/v1{path}?page={HUGE_PAGE}", headers=headers)
    assert "page" in failed(response, 400, "VALIDATION_ERROR")


# --- 5. searches match % and _ literally -----------------------------------------------------------------


def test_a_store_search_for_percent_or_underscore_matches_those_characters(session, store, signed_in, make_brand):
    for name in ("Pure 100% Juice", "Half_Off Books", "Plain Bakery"):
        catalog.make_available(session, partner=store.partner, brand=make_brand(name))

    def found(query: str) -> set[str]:
        text = page(store.get("/", query_string={"q": query}))
        return {name for name in ("Pure 100% Juice", "Half_Off Books", "Plain Bakery") if name in text}

    assert found("%") == {"Pure 100% Juice"}
    assert found("_") == {"Half_Off Books"}
    assert found("f_o") == {"Half_Off Books"}
    assert found("l%n") == set()  # not "anything between l and n" (Plain)
    assert found("plain") == {"Plain Bakery"}


def test_the_audit_logs_filters_match_percent_and_underscore_literally(session, make_partner, make_team_member, portal_as):
    admin = make_team_member(make_partner(), "admin")
    browser = portal_as(admin)
    browser.post("/team/invite", {"email": "pat@example.com", "full_name": "Pat", "role": "viewer"})

    def listed(query: str) -> bool:
        return "<code>team.invite</code>" in page(browser.get(f"/audit?{query}", headers={"HX-Request": "true"}))

    assert listed("")
    for query in ("action=%25", "action=_", "who=%25", "who=_", "who=team%25example"):
        assert not listed(query), query
    assert listed("action=team.inv") and listed(f"who={admin.email}")


# --- 7. Origin -----------------------------------------------------------------------------------------


def test_a_change_asked_from_another_site_is_refused_even_with_a_valid_csrf_token(
    app, session, store, make_team_member, portal_as
):
    admin = make_team_member(store.partner, "admin")
    browser = portal_as(admin)
    browser.get("/team")
    for origin in ("https://evil.example", "null", "http://localhost.evil.example", "https://localhost"):
        response = browser.post(
            "/team/invite", {"email": "x@example.com", "full_name": "X", "role": "viewer"}, headers={"Origin": origin}
        )
        assert response.status_code == 403, origin
    assert count(session, TeamMember, TeamMember.email == "x@example.com") == 0
    store.get("/login")
    assert (
        store.post("/login", {"email": "a@example.com", "password": "x"}, headers={"Origin": "https://evil.example"}).status_code
        == 403
    )

    # The same request from the site itself (or with no Origin, as older browsers send it) goes through.
    same = browser.post(
        "/team/invite", {"email": "x@example.com", "full_name": "X", "role": "viewer"}, headers={"Origin": "http://localhost"}
    )
    assert same.status_code == 303
    assert browser.post("/team/invite", {"email": "y@example.com", "full_name": "Y", "role": "viewer"}).status_code == 303
    assert count(session, TeamMember, TeamMember.email.in_(["x@example.com", "y@example.com"])) == 2
    assert (
        store.post("/login", {"email": "a@example.com", "password": "x"}, headers={"Origin": "http://localhost"}).status_code
        == 422
    )


def test_the_partner_api_is_not_held_to_the_origin_check(client, session, partner_with_key):
    _partner, credentials = partner_with_key()
    body = '{"fullName": "John Doe", "email": "john.origin@example.com", "currency": "usd", "initialFunds": 10}'
    headers = seed_headers(credentials, body, Origin="https://evil.example")
    response = client.post("/api/partner/v1/customer", data=body.encode(), headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
