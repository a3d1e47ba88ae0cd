"""First login: temporary password, then a password of one's own, then the terms, then the store."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.clock import utcnow
from app.db import write_transaction
from app.models import Consumer
from app.services import consumers, partners
from app.services.consumer_auth import WRONG_CREDENTIALS
from tests.integration.conftest import StoreBrowser, page, redirect_path, reload

NEW_PASSWORD = "Correct-horse-42"


def without_values_and_tokens(response) -> str:
    return re.sub(r'value="[^"]*"|[\w.-]{40,}', "", page(response))


def rule_classes(text: str) -> dict[str, str]:
    return {
        re.sub(r"<[^>]+>", "", inner).strip(" ✓○"): cls
        for cls, inner in re.findall(r'<li class="(met|unmet)"><span aria-hidden="true">[^<]*</span>(.*?)<span', text)
    }


@pytest.fixture
def first_login(store, new_consumer):
    """Signed in with the temporary password, on the 'choose your password' step."""
    response = store.login(new_consumer.email, new_consumer.temporary_password)
    assert response.status_code == 303
    assert redirect_path(response) == store.url("/welcome/password")
    store.get("/welcome/password")
    return new_consumer


@pytest.fixture
def password_set(store, first_login):
    """Through the password step, on the terms step."""
    response = store.post("/welcome/password", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert response.status_code == 303
    first_login.password = NEW_PASSWORD
    store.get("/terms")
    return first_login


def test_the_temporary_password_only_lets_the_consumer_choose_a_new_password(store, first_login, session):
    for path in ("/", "/wallet", "/login", "/terms"):
        response = store.get(path)
        assert response.status_code == 303, path
        assert redirect_path(response) == store.url("/welcome/password"), path

    response = store.post("/terms", {"accept": "yes", "version": "1"})
    assert response.status_code == 303
    assert redirect_path(response) == store.url("/welcome/password")
    assert reload(session, Consumer, first_login.id).accepted_terms_version is None

    response = store.get("/welcome/password")
    assert response.status_code == 200
    assert "Replace your temporary password with one only you know." in page(response)
    # The header's account menu (wallet, sign out) stays hidden until the password is set.
    assert "Sign out" not in page(response)


def test_a_weak_new_password_is_refused_with_the_policy_and_the_hash_is_unchanged(store, first_login, session):
    before = reload(session, Consumer, first_login.id).password_hash
    local_part = first_login.email.split("@")[0]
    guess = "hard to guess (no common password, word or pattern, nor your email)"  # zxcvbn's estimate (app/domain/passwords.py)
    cases = {
        "short-1": f"Choose a stronger password: at least 10 characters; {guess}.",
        "abcdefghijkl": f"Choose a stronger password: at least one number or symbol; {guess}.",
        "1234567890": f"Choose a stronger password: at least one letter; {guess}.",
        "password123": f"Choose a stronger password: {guess}.",
        f"{local_part}-Horse-42": f"Choose a stronger password: {guess}.",
    }
    for password, message in cases.items():
        response = store.post("/welcome/password", {"password": password, "confirmation": password})
        assert response.status_code == 422, password
        text = page(response)
        assert f'<p class="form-error" role="alert" id="form-error">{message}</p>' in text, password
        # The checklist under the field shows which rules are still unmet.
        assert 'class="unmet"' in text

    consumer = reload(session, Consumer, first_login.id)
    assert consumer.password_hash == before
    assert consumer.must_change_password
    assert store.get("/").headers["Location"].endswith("/welcome/password")


def test_a_mismatched_confirmation_is_refused_and_the_hash_is_unchanged(store, first_login, session):
    before = reload(session, Consumer, first_login.id).password_hash
    response = store.post("/welcome/password", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD + "x"})
    assert response.status_code == 422
    assert "The two passwords don't match." in page(response)
    consumer = reload(session, Consumer, first_login.id)
    assert (consumer.password_hash, consumer.must_change_password) == (before, True)


def test_the_temporary_password_cannot_be_kept_as_the_new_password(store, first_login, session):
    before = reload(session, Consumer, first_login.id).password_hash
    temporary = first_login.temporary_password
    response = store.post("/welcome/password", {"password": temporary, "confirmation": temporary})
    assert response.status_code == 422
    assert "Choose a new password, not the temporary one." in page(response)
    consumer = reload(session, Consumer, first_login.id)
    assert (consumer.password_hash, consumer.must_change_password) == (before, True)


def test_after_choosing_a_password_the_consumer_is_sent_to_the_terms(app, store, first_login, session):
    before = reload(session, Consumer, first_login.id)
    old_hash, old_epoch = before.password_hash, before.session_epoch

    response = store.post("/welcome/password", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert response.status_code == 303
    assert redirect_path(response) == store.url("/terms")
    terms = store.get("/terms")
    assert terms.status_code == 200
    assert "Your password is set." in page(terms)
    assert "Terms of use" in page(terms)

    consumer = reload(session, Consumer, first_login.id)
    assert consumer.password_hash != old_hash
    assert not consumer.must_change_password
    assert consumer.temporary_password_expires_at is None
    assert consumer.session_epoch == old_epoch + 1
    # Still signed in, but the terms come before anything else.
    home = store.get("/")
    assert (home.status_code, redirect_path(home)) == (303, store.url("/terms"))

    # The temporary password is gone for good.
    elsewhere = StoreBrowser(app.test_client(), store.partner)
    response = elsewhere.login(first_login.email, first_login.temporary_password)
    assert response.status_code == 422
    assert WRONG_CREDENTIALS in page(response)


def test_choosing_a_password_ends_the_other_sessions_but_not_this_one(app, store, new_consumer):
    other = StoreBrowser(app.test_client(), store.partner)
    for browser in (store, other):
        assert browser.login(new_consumer.email, new_consumer.temporary_password).status_code == 303

    store.get("/welcome/password")
    assert store.post("/welcome/password", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD}).status_code == 303

    assert store.get("/terms").status_code == 200
    response = other.get("/welcome/password")
    assert response.status_code == 303
    assert redirect_path(response).startswith(store.url("/login"))


def test_a_deactivated_consumer_can_still_finish_the_first_login(store, new_consumer, session):
    consumers.set_active(session, consumer=reload(session, Consumer, new_consumer.id), active=False)
    assert store.login(new_consumer.email, new_consumer.temporary_password).status_code == 303
    store.get("/welcome/password")
    response = store.post("/welcome/password", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert (response.status_code, redirect_path(response)) == (303, store.url("/terms"))
    # Still signed in after the password change ended the old session.
    assert store.get("/terms").status_code == 200
    assert store.post("/terms", {"accept": "yes", "version": "1"}).status_code == 303
    assert "Your account is deactivated" in page(store.get("/"))


def test_the_terms_must_be_ticked_and_nothing_is_accepted_until_they_are(store, password_set, session):
    response = store.post("/terms", {"version": "1"})
    assert response.status_code == 422
    text = page(response)
    assert "Tick the box to accept the terms before you continue." in text
    assert "I have read and accept the terms of use (version 1)" in text

    consumer = reload(session, Consumer, password_set.id)
    assert (consumer.accepted_terms_version, consumer.accepted_terms_at) == (None, None)
    home = store.get("/")
    assert (home.status_code, redirect_path(home)) == (303, store.url("/terms"))


def test_accepting_the_terms_opens_the_store_home_with_the_wallet(store, password_set, session):
    response = store.post("/terms", {"accept": "yes", "version": "1"})
    assert response.status_code == 303
    assert redirect_path(response) == store.url("/")

    home = store.get("/")
    assert home.status_code == 200
    text = page(home)
    assert "Your wallet" in text
    assert "USD balance" in text
    assert "$100.00" in text
    assert "Sign out" in text
    assert "Your account is deactivated" not in text

    consumer = reload(session, Consumer, password_set.id)
    assert consumer.accepted_terms_version == 1
    assert consumer.accepted_terms_at is not None
    # Nothing left to accept: the terms page sends the consumer home.
    assert redirect_path(store.get("/terms")) == store.url("/")


def test_a_newer_terms_version_must_be_accepted_before_anything_else(store, signed_in, session):
    assert store.get("/").status_code == 200
    partners.publish_terms(session, partner=store.partner, body="Version two of the terms.")

    for path in ("/", "/wallet", "/login"):
        response = store.get(path)
        assert (response.status_code, redirect_path(response)) == (303, store.url("/terms")), path

    terms = store.get("/terms")
    assert terms.status_code == 200
    text = page(terms)
    assert "Our terms have changed" in text
    assert "Please read version 2 of the terms" in text
    assert "Version two of the terms." in text

    # Not ticked: refused.
    response = store.post("/terms", {"version": "2"})
    assert response.status_code == 422
    assert "Tick the box to accept the terms before you continue." in page(response)
    # Ticked, but for the version read before the update: refused too.
    response = store.post("/terms", {"accept": "yes", "version": "1"})
    assert response.status_code == 422
    assert "The terms have just been updated. Please read the new version." in page(response)
    assert reload(session, Consumer, signed_in.id).accepted_terms_version == 1
    assert redirect_path(store.get("/")) == store.url("/terms")

    response = store.post("/terms", {"accept": "yes", "version": "2"})
    assert (response.status_code, redirect_path(response)) == (303, store.url("/"))
    assert reload(session, Consumer, signed_in.id).accepted_terms_version == 2
    assert store.get("/").status_code == 200


def test_an_expired_temporary_password_is_refused_with_a_clear_message(store, new_consumer, session):
    consumer = reload(session, Consumer, new_consumer.id)
    with write_transaction(session):
        consumer.temporary_password_expires_at = utcnow() - timedelta(minutes=1)
        session.add(consumer)
    before = consumer.password_hash

    response = store.login(new_consumer.email, new_consumer.temporary_password)
    assert response.status_code == 422
    assert "Your temporary password has expired. Use “Forgot password?” to get a link to choose a new one." in page(response)
    # Not signed in, and nothing changed.
    home = store.get("/")
    assert home.status_code == 303
    assert redirect_path(home).startswith(store.url("/login"))
    consumer = reload(session, Consumer, new_consumer.id)
    assert (consumer.password_hash, consumer.must_change_password) == (before, True)


def test_a_wrong_password_and_an_unknown_email_get_the_same_generic_message(store, new_consumer, session):
    before = reload(session, Consumer, new_consumer.id).password_hash
    wrong = store.login(new_consumer.email, "not-the-password-1")
    unknown = store.login("nobody-here@example.com", new_consumer.temporary_password)
    for response in (wrong, unknown):
        assert response.status_code == 422
        assert f'<p class="form-error" role="alert" id="form-error">{WRONG_CREDENTIALS}</p>' in page(response)
    # The same answer apart from the email typed back into the field (and the time-stamped CSRF token).
    assert without_values_and_tokens(wrong) == without_values_and_tokens(unknown)

    assert store.get("/").status_code == 303
    assert reload(session, Consumer, new_consumer.id).password_hash == before


def test_an_unknown_store_slug_shows_the_not_found_page(client):
    for path in ("/s/no-such-store/", "/s/no-such-store/login", "/s/no-such-store/forgot"):
        response = client.get(path)
        assert response.status_code == 404, path
        text = page(response)
        assert "<h1>Not found</h1>" in text
        assert "There is no store at 'no-such-store'." in text


def test_the_password_checklist_is_returned_as_a_partial_with_each_rule_met_or_unmet(store):
    store.get("/login")
    response = store.post("/password/rules", {"password": "abc"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert text.lstrip().startswith('<ul id="password-rules"')
    assert "<html" not in text
    assert rule_classes(text) == {
        "At least 10 characters": "unmet",
        "At least one letter": "met",
        "At least one number or symbol": "unmet",
        "Hard to guess (no common password, word or pattern, nor your email)": "unmet",  # no tick for "abc"
    }

    # As htmx sends it: the token in the X-CSRFToken header.
    response = store.client.post(
        store.url("/password/rules"),
        data={"password": NEW_PASSWORD},
        headers={"HX-Request": "true", "X-CSRFToken": store.token},
    )
    assert response.status_code == 200
    assert set(rule_classes(response.get_data(as_text=True)).values()) == {"met"}

    response = store.post("/password/rules", {"password": ""})
    assert set(rule_classes(response.get_data(as_text=True)).values()) == {"unmet"}


def test_the_password_checklist_knows_the_signed_in_consumers_email(store, first_login):
    local_part = first_login.email.split("@")[0]
    response = store.post("/password/rules", {"password": f"{local_part}-Horse-42"})
    assert response.status_code == 200
    assert (
        rule_classes(response.get_data(as_text=True))["Hard to guess (no common password, word or pattern, nor your email)"]
        == "unmet"
    )
