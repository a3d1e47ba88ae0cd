"""Sign-in security: CSRF, rate limits, one store per session, timing-safe login, no open redirect, dev outbox."""

from __future__ import annotations

import re

import pytest
from cryptography.fernet import Fernet
from sqlmodel import func, select

from app import create_app
from app.config import Settings
from app.db import write_transaction
from app.models import Consumer, EmailMessage, PasswordReset
from app.services import consumer_auth, consumers, partners
from app.services.consumer_auth import WRONG_CREDENTIALS
from tests.conftest import temporary_password_in
from tests.integration.conftest import StoreBrowser, page, redirect_path, reload

CSRF_MESSAGE = "This form expired or was not sent from this site. Reload the page and try again."
TOO_MANY = "Too many attempts. Wait a minute, then try again."
DEACTIVATED = "Your account is deactivated. You can look around and see your history, but you can't place orders."


def count(session, model) -> int:
    session.rollback()
    return session.exec(select(func.count()).select_from(model)).one()


@pytest.fixture
def signed_in(store, new_consumer, session):
    """Signed in past the first-login steps, set up in the database (the flow itself is in test_first_login.py).

    The temporary password stays the password: no Argon2 hashing spent on setting another one.
    """
    consumer = reload(session, Consumer, new_consumer.id)
    with write_transaction(session):
        consumer.must_change_password = False
        consumer.temporary_password_expires_at = None
        consumer.accepted_terms_version = 1
        session.add(consumer)
    new_consumer.password = new_consumer.temporary_password
    response = store.login(new_consumer.email, new_consumer.password)
    assert (response.status_code, redirect_path(response)) == (303, store.url("/"))
    return new_consumer


def assert_signed_out(store: StoreBrowser) -> None:
    response = store.get("/")
    assert response.status_code == 303
    assert redirect_path(response).startswith(store.url("/login"))


# --- CSRF --------------------------------------------------------------------------------


def test_a_login_without_a_valid_csrf_token_is_refused_and_nobody_is_signed_in(store, new_consumer):
    credentials = {"email": new_consumer.email, "password": new_consumer.temporary_password}
    for token in (None, "forged-token"):
        data = dict(credentials, **({"csrf_token": token} if token else {}))
        response = store.post("/login", data, csrf=False)
        assert response.status_code == 400, token
        assert "<h1>Please try again</h1>" in page(response)
        assert CSRF_MESSAGE in page(response)
        assert_signed_out(store)


def test_first_login_forms_without_the_csrf_token_are_refused_and_change_nothing(store, new_consumer, session):
    assert store.login(new_consumer.email, new_consumer.temporary_password).status_code == 303
    before = reload(session, Consumer, new_consumer.id).password_hash

    response = store.post("/welcome/password", {"password": "Correct-horse-42", "confirmation": "Correct-horse-42"}, csrf=False)
    assert response.status_code == 400
    assert CSRF_MESSAGE in page(response)
    consumer = reload(session, Consumer, new_consumer.id)
    assert (consumer.password_hash, consumer.must_change_password) == (before, True)

    response = store.post("/logout", csrf=False)
    assert response.status_code == 400
    assert CSRF_MESSAGE in page(response)
    assert store.get("/welcome/password").status_code == 200  # still signed in

    response = store.post("/password/rules", {"password": "x"}, csrf=False)
    assert response.status_code == 400


def test_accepting_the_terms_without_the_csrf_token_is_refused_and_accepts_nothing(store, signed_in, session):
    partners.publish_terms(session, partner=store.partner, body="Version two.")
    store.get("/terms")
    response = store.post("/terms", {"accept": "yes", "version": "2"}, csrf=False)
    assert response.status_code == 400
    assert CSRF_MESSAGE in page(response)
    assert reload(session, Consumer, signed_in.id).accepted_terms_version == 1
    assert redirect_path(store.get("/")) == store.url("/terms")


def test_a_forgot_password_request_without_the_csrf_token_sends_nothing(store, new_consumer, mailbox, session):
    mailbox.clear()
    emails = count(session, EmailMessage)
    response = store.post("/forgot", {"email": new_consumer.email}, csrf=False)
    assert response.status_code == 400
    assert CSRF_MESSAGE in page(response)
    assert mailbox.messages == []
    assert count(session, PasswordReset) == 0
    assert count(session, EmailMessage) == emails


# --- rate limits ----------------------------------------------------------------------


def test_the_eleventh_login_attempt_within_a_minute_is_refused(store, new_consumer, cheap_wrong_guesses):
    for attempt in range(10):
        response = store.login(new_consumer.email, f"wrong-guess-{attempt}")
        assert response.status_code == 422, attempt
        assert WRONG_CREDENTIALS in page(response)

    # Even the right password is refused now, and nobody is signed in.
    response = store.login(new_consumer.email, new_consumer.temporary_password)
    assert response.status_code == 429
    assert "<h1>Slow down</h1>" in page(response)
    assert TOO_MANY in page(response)
    assert_signed_out(store)
    # Looking at the form is still fine; only attempts are counted.
    assert store.get("/login").status_code == 200


def test_the_login_rate_limit_is_counted_per_store(app, store, make_partner, cheap_wrong_guesses):
    for attempt in range(10):
        assert store.login("someone@example.com", f"wrong-guess-{attempt}").status_code == 422
    assert store.login("someone@example.com", "wrong-guess-10").status_code == 429

    other = StoreBrowser(app.test_client(), make_partner())
    response = other.login("someone@example.com", "wrong-guess-0")
    assert response.status_code == 422
    assert WRONG_CREDENTIALS in page(response)


def test_the_sixth_reset_request_within_a_minute_is_refused(store, new_consumer, mailbox):
    mailbox.clear()
    store.get("/forgot")
    for attempt in range(5):
        assert store.post("/forgot", {"email": f"nobody-{attempt}@example.com"}).status_code == 200
    response = store.post("/forgot", {"email": new_consumer.email})
    assert response.status_code == 429
    assert TOO_MANY in page(response)
    assert mailbox.messages == []


# --- one store, one session -------------------------------------------------------------


def test_a_consumer_signed_in_to_one_store_is_not_signed_in_to_another(store, signed_in, make_partner, make_consumer, mailbox):
    other_partner = make_partner(name="Other Partner")
    other = StoreBrowser(store.client, other_partner)  # the same browser, so the same session cookie

    response = other.get("/")
    assert response.status_code == 303
    assert redirect_path(response) == other.url("/login") + "?next=" + other.url("/")
    login_page = other.get("/login")
    assert login_page.status_code == 200
    assert "Sign in to Other Partner" in page(login_page)
    assert other.get("/wallet").status_code == 303

    # The same email in the other store is another account, with its own password.
    make_consumer(other_partner, email=signed_in.email)
    response = other.login(signed_in.email, signed_in.password)
    assert response.status_code == 422
    assert WRONG_CREDENTIALS in page(response)

    assert store.get("/").status_code == 200  # still signed in where they signed in


def test_a_deactivated_consumer_keeps_their_session_and_sees_the_deactivated_notice(store, signed_in, session):
    assert DEACTIVATED not in page(store.get("/"))
    consumers.set_active(session, consumer=reload(session, Consumer, signed_in.id), active=False)

    home = store.get("/")
    assert home.status_code == 200
    assert DEACTIVATED in page(home)
    assert "Your wallet" in page(home)
    assert reload(session, Consumer, signed_in.id).is_active is False


def test_a_deactivated_consumer_can_sign_in_and_sees_the_deactivated_notice(store, signed_in, session):
    consumers.set_active(session, consumer=reload(session, Consumer, signed_in.id), active=False)
    store.post("/logout")

    response = store.login(signed_in.email, signed_in.password)
    assert (response.status_code, redirect_path(response)) == (303, store.url("/"))
    home = store.get("/")
    assert home.status_code == 200
    assert DEACTIVATED in page(home)


# --- timing-safe login ------------------------------------------------------------------


def test_login_verifies_exactly_one_password_hash_whether_or_not_the_email_exists(store, new_consumer, monkeypatch):
    calls = []
    real_verify = consumer_auth.verify_password

    def counting_verify(password_hash, password):
        calls.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(consumer_auth, "verify_password", counting_verify)
    known_hash = new_consumer.model.password_hash

    for email, expected_hash in (
        (new_consumer.email, known_hash),
        ("nobody-here@example.com", None),
        ("NOT AN EMAIL", None),
        ("", None),
    ):
        calls.clear()
        response = store.login(email, "wrong-guess-1")
        assert response.status_code == 422, email
        assert WRONG_CREDENTIALS in page(response), email
        assert calls == [expected_hash], email
    assert_signed_out(store)


def test_the_password_check_does_real_argon2_work_for_an_unknown_email(monkeypatch):
    """verify_password(None, ...) checks against a dummy hash instead of returning early."""
    from app import security

    checked = []

    class CountingHasher:
        def __init__(self, real):
            self.real = real

        def verify(self, password_hash, password):
            checked.append(password_hash)
            return self.real.verify(password_hash, password)

    monkeypatch.setattr(security, "_hasher", CountingHasher(security._hasher))
    assert security.verify_password(None, "not-a-real-password-just-for-timing") is False
    assert checked == [security._DUMMY_HASH]


# --- no open redirect -------------------------------------------------------------------


def test_the_login_next_parameter_never_leaves_the_store(app, store, signed_in, make_partner):
    home = store.url("/")
    other_store = make_partner().slug
    for target in (
        "https://evil.example/",
        "//evil.example/",
        "https:evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        f"/s/{other_store}/",
    ):
        response = store.post("/login", {"email": signed_in.email, "password": signed_in.password, "next": target})
        assert response.status_code == 303, target
        assert response.headers["Location"] == home, target

    # A page inside the store is fine: signing in from a protected page comes back to it.
    fresh = StoreBrowser(app.test_client(), store.partner)
    response = fresh.get("/wallet")
    assert response.status_code == 303
    login_url = redirect_path(response)
    assert login_url == store.url("/login") + "?next=" + store.url("/wallet")
    form = fresh.get(login_url[len(store.url("")) :])
    match = re.search(r'name="next" value="([^"]*)"', form.get_data(as_text=True))
    assert match and match.group(1) == store.url("/wallet")
    response = fresh.post("/login", {"email": signed_in.email, "password": signed_in.password, "next": match.group(1)})
    assert (response.status_code, response.headers["Location"]) == (303, store.url("/wallet"))
    assert fresh.get("/wallet").status_code == 200


def test_a_next_path_that_climbs_out_of_the_store_lands_on_the_store_home(store, signed_in):
    for target in (
        store.url("/../../hello"),
        store.url("/%2e%2e/%2e%2e/hello"),
        store.url("/..%2f..%2fhello"),
        store.url("/..\\..\\hello"),
    ):
        response = store.post("/login", {"email": signed_in.email, "password": signed_in.password, "next": target})
        assert response.status_code == 303
        assert response.headers["Location"] == store.url("/"), target


def test_the_login_page_shows_a_typed_email_back_escaped(store):
    response = store.login('"><script>alert(1)</script>@example.com', "whatever-123")
    assert response.status_code == 422
    raw = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw


# --- development outbox and production settings -------------------------------------------


# The outbox itself (development only, this machine only): tests/integration/test_dev_secrets.py.


def production_settings(**overrides) -> dict:
    settings = {
        "APP_ENV": "production",
        "SECRET_KEY": "p" * 48,
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "MAIL_SERVER": "smtp.example.com",
        "BASE_URL": "https://gifts.example.com",
        "RUN_WORKER_IN_PROCESS": False,
    }
    settings.update(overrides)
    return settings


@pytest.mark.parametrize(
    "secret_key", ["", "dev-only-" + "secret-key-change-me", "too-short"]
)  # unset, the old published default
def test_production_refuses_the_development_secret_key(secret_key):
    with pytest.raises(ValueError, match="SECRET_KEY must be set to a random value of 32\\+ characters"):
        Settings(**production_settings(SECRET_KEY=secret_key))


def test_production_has_no_dev_outbox(tmp_path):
    settings = Settings(**production_settings())
    assert settings.outbox_enabled is False
    app = create_app(production_settings(DATABASE_URL=f"sqlite:///{tmp_path}/prod.db", QUEUE_FILE=str(tmp_path / "queue.db")))
    try:
        assert "dev" not in app.blueprints
        assert app.test_client().get("/dev/outbox").status_code == 404
    finally:
        app.extensions["db_engine"].dispose()


def test_a_consumer_of_another_store_cannot_sign_in_here(app, store, make_partner, make_consumer, mailbox):
    """Their temporary password opens their own store only."""
    other_partner = make_partner()
    consumer = make_consumer(other_partner)
    temporary = temporary_password_in(mailbox.last_to(consumer.email))
    response = store.login(consumer.email, temporary)
    assert response.status_code == 422
    assert WRONG_CREDENTIALS in page(response)
    assert_signed_out(store)
