"""Forgot password: a single-use emailed link, bound to one store; a password change ends every session."""

from __future__ import annotations

import logging
import re
import threading
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from sqlmodel import func, select
from werkzeug.serving import make_server

from app.clock import utcnow
from app.db import write_transaction
from app.models import Consumer, EmailMessage, PasswordReset
from app.security import token_hash
from app.services.consumer_auth import INVALID_LINK, WRONG_CREDENTIALS
from tests.conftest import first_link
from tests.integration.conftest import StoreBrowser, page, redirect_path, reload

NEW_PASSWORD = "Brand-new-pass-77"
SENT = "If an account exists for that email, we've sent a link to choose a new password. It works once, for 60 minutes."


def reset_row(session, path: str) -> PasswordReset:
    session.rollback()
    token = path.rstrip("/").rsplit("/", 1)[1]
    return session.exec(
        select(PasswordReset).where(PasswordReset.token_hash == token_hash(token)).execution_options(populate_existing=True)
    ).one()


def count(session, model) -> int:
    session.rollback()
    return session.exec(select(func.count()).select_from(model)).one()


def ask_for_reset(store: StoreBrowser, mailbox, email: str) -> str:
    """Ask for a link on the forgot page; the link in the email that arrives, as a path inside the store."""
    before = len(mailbox.to(email))
    store.get("/forgot")
    response = store.post("/forgot", {"email": email})
    assert response.status_code == 200
    assert SENT in page(response)
    assert len(mailbox.to(email)) == before + 1
    link = first_link(mailbox.last_to(email), r"http://store\.test/s/[^/\s]+/reset/\S+")
    prefix = f"http://store.test/s/{store.partner.slug}"
    assert link.startswith(prefix + "/reset/")
    return link[len(prefix) :]


def choose(store: StoreBrowser, path: str, password: str, confirmation: str | None = None):
    """As a browser does: open the emailed link (redirected to /reset), send the form it shows."""
    form = page(store.get(path, follow_redirects=True))
    assert '<form method="post" action="' + store.url("/reset") + '">' in form
    token = re.search(r'name="token" value="([^"]+)"', form).group(1)
    confirmation = password if confirmation is None else confirmation
    return store.post("/reset", {"token": token, "password": password, "confirmation": confirmation})


def test_the_forgot_page_answers_the_same_for_known_and_unknown_emails(store, new_consumer, mailbox, session):
    mailbox.clear()
    store.get("/forgot")
    answers = {}
    for email in (new_consumer.email, "nobody-here@example.com", "not-an-email"):
        response = store.post("/forgot", {"email": email})
        assert response.status_code == 200, email
        assert SENT in page(response), email
        answers[email] = re.sub(r"[\w.-]{40,}", "TOKEN", page(response))  # the CSRF token is signed with a timestamp
    assert len(set(answers.values())) == 1

    # Only the real consumer got an email and a reset link.
    assert len(mailbox.to(new_consumer.email)) == 1
    assert "Reset your Test Partner password" in mailbox.last_to(new_consumer.email)["Subject"]
    assert [m["To"] for m in mailbox.messages] == [new_consumer.email]
    assert count(session, PasswordReset) == 1
    assert session.exec(select(func.count()).select_from(EmailMessage).where(EmailMessage.kind == "password_reset")).one() == 1


def test_a_reset_link_works_only_once(store, new_consumer, mailbox, session):
    path = ask_for_reset(store, mailbox, new_consumer.email)
    form = store.get(path, follow_redirects=True)
    assert form.status_code == 200
    assert "Choose a new password" in page(form)

    response = store.post(path, {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert (response.status_code, redirect_path(response)) == (303, store.url("/login"))
    assert "Your password has been changed. Sign in with your new password." in page(store.get("/login"))
    changed = reload(session, Consumer, new_consumer.id).password_hash
    assert reset_row(session, path).used_at is not None

    again = store.get(path)
    assert again.status_code == 410
    assert INVALID_LINK in page(again)
    assert 'action="' + store.url("/forgot") + '"' in page(again)  # with the form to ask for a new one

    response = store.post(path, {"password": "Another-pass-88", "confirmation": "Another-pass-88"})
    assert response.status_code == 410
    assert INVALID_LINK in page(response)
    assert reload(session, Consumer, new_consumer.id).password_hash == changed


def test_an_expired_reset_link_is_refused(store, new_consumer, mailbox, session):
    path = ask_for_reset(store, mailbox, new_consumer.email)
    reset = reset_row(session, path)
    with write_transaction(session):
        reset.expires_at = utcnow() - timedelta(seconds=1)
        session.add(reset)
    before = reload(session, Consumer, new_consumer.id).password_hash

    response = store.get(path)
    assert response.status_code == 410
    assert INVALID_LINK in page(response)
    store.get("/forgot")  # a CSRF token, as a browser that kept an older page open would have
    response = store.post(path, {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert response.status_code == 410
    assert INVALID_LINK in page(response)

    assert reload(session, Consumer, new_consumer.id).password_hash == before
    assert reset_row(session, path).used_at is None


def test_a_weak_password_on_the_reset_form_is_refused_and_the_link_still_works(store, new_consumer, mailbox, session):
    path = ask_for_reset(store, mailbox, new_consumer.email)
    before = reload(session, Consumer, new_consumer.id).password_hash

    response = choose(store, path, "weakling")
    assert response.status_code == 422
    text = page(response)
    assert (
        "Choose a stronger password: at least 10 characters; at least one number or symbol; hard to guess (no common password, word or pattern, nor your email)."
        in text
    )
    assert 'class="unmet"' in text

    response = store.post(path, {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD + "!"})
    assert response.status_code == 422
    assert "The two passwords don't match." in page(response)

    assert reload(session, Consumer, new_consumer.id).password_hash == before
    assert reset_row(session, path).used_at is None

    response = store.post(path, {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert (response.status_code, redirect_path(response)) == (303, store.url("/login"))
    assert reload(session, Consumer, new_consumer.id).password_hash != before


def test_after_a_reset_the_old_password_fails_and_the_new_one_works(store, signed_in, mailbox):
    path = ask_for_reset(store, mailbox, signed_in.email)
    assert choose(store, path, NEW_PASSWORD).status_code == 303

    response = store.login(signed_in.email, signed_in.password)
    assert response.status_code == 422
    assert WRONG_CREDENTIALS in page(response)
    assert store.get("/").status_code == 303

    response = store.login(signed_in.email, NEW_PASSWORD)
    assert (response.status_code, redirect_path(response)) == (303, store.url("/"))
    assert store.get("/").status_code == 200


def test_a_reset_link_for_one_stores_consumer_does_not_work_in_another_store(
    app, store, new_consumer, mailbox, make_partner, session
):
    path = ask_for_reset(store, mailbox, new_consumer.email)
    other = StoreBrowser(app.test_client(), make_partner(name="Other Partner"))
    before = reload(session, Consumer, new_consumer.id).password_hash

    response = other.get(path)
    assert response.status_code == 410
    assert INVALID_LINK in page(response)
    other.get("/forgot")
    response = other.post(path, {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert response.status_code == 410
    assert INVALID_LINK in page(response)

    assert reload(session, Consumer, new_consumer.id).password_hash == before
    assert reset_row(session, path).used_at is None
    # Still good in its own store.
    assert store.get(path, follow_redirects=True).status_code == 200


def test_a_password_change_signs_out_every_other_session(app, store, signed_in, mailbox):
    phone = StoreBrowser(app.test_client(), store.partner)
    assert phone.login(signed_in.email, signed_in.password).status_code == 303
    assert phone.get("/").status_code == 200
    assert store.get("/").status_code == 200

    path = ask_for_reset(store, mailbox, signed_in.email)
    assert choose(store, path, NEW_PASSWORD).status_code == 303

    for browser in (phone, store):
        response = browser.get("/")
        assert response.status_code == 303
        assert redirect_path(response).startswith(store.url("/login"))


def test_changing_the_password_kills_every_other_reset_link(store, new_consumer, mailbox, session):
    first = ask_for_reset(store, mailbox, new_consumer.email)
    second = ask_for_reset(store, mailbox, new_consumer.email)
    assert choose(store, second, NEW_PASSWORD).status_code == 303
    changed = reload(session, Consumer, new_consumer.id).password_hash

    response = store.get(first)
    assert response.status_code == 410
    assert INVALID_LINK in page(response)
    assert store.post(first, {"password": "Another-pass-88", "confirmation": "Another-pass-88"}).status_code == 410
    assert reload(session, Consumer, new_consumer.id).password_hash == changed


def test_a_consumer_whose_temporary_password_expired_can_get_in_with_a_reset_link(store, new_consumer, mailbox, session):
    consumer = reload(session, Consumer, new_consumer.id)
    with write_transaction(session):
        consumer.temporary_password_expires_at = utcnow() - timedelta(days=1)
        session.add(consumer)
    assert store.login(new_consumer.email, new_consumer.temporary_password).status_code == 422

    path = ask_for_reset(store, mailbox, new_consumer.email)
    assert choose(store, path, NEW_PASSWORD).status_code == 303
    consumer = reload(session, Consumer, new_consumer.id)
    assert not consumer.must_change_password
    assert consumer.temporary_password_expires_at is None

    # The chosen password replaces the first-login step; the terms are still to accept.
    response = store.login(new_consumer.email, NEW_PASSWORD)
    assert (response.status_code, redirect_path(response)) == (303, store.url("/terms"))


def test_the_reset_pages_checklist_knows_whose_password_it_is_from_the_token(store, new_consumer, mailbox):
    path = ask_for_reset(store, mailbox, new_consumer.email)
    form = page(store.get(path, follow_redirects=True))
    token = path.rsplit("/", 1)[1]
    assert f'name="token" value="{token}"' in form
    guessable = new_consumer.email.split("@")[0] + "-Horse-42"
    rule = r'<li class="(met|unmet)"><span aria-hidden="true">[^<]*</span> ' + re.escape(
        "Hard to guess (no common password, word or pattern, nor your email)"
    )

    response = store.post("/password/rules", {"password": guessable, "token": token})
    assert response.status_code == 200
    assert re.search(rule, response.get_data(as_text=True)).group(1) == "unmet"
    # A token that names nobody tells nothing about any email.
    response = store.post("/password/rules", {"password": guessable, "token": "not-a-token"})
    assert re.search(rule, response.get_data(as_text=True)).group(1) == "met"


# --- the token stays out of URLs and logs ----------------------------------------------------------


def test_opening_the_emailed_link_moves_its_token_out_of_the_address_bar(store, new_consumer, mailbox, session):
    path = ask_for_reset(store, mailbox, new_consumer.email)
    token = path.rsplit("/", 1)[1]

    opened = store.get(path)
    # Straight to a URL without the token: it leaves the address bar, the history and every later Referer.
    assert (opened.status_code, opened.headers["Location"]) == (303, store.url("/reset"))
    assert opened.headers["Cache-Control"] == "no-store"
    form = store.get("/reset")
    assert form.status_code == 200
    assert "Choose a new password" in page(form)
    assert '<form method="post" action="' + store.url("/reset") + '">' in page(form)  # the form posts there too
    assert token not in "".join(re.findall(r'(?:href|action|src)="([^"]*)"', page(form)))

    # The session alone carries the link: no token in the URL or the form.
    response = store.post("/reset", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert (response.status_code, redirect_path(response)) == (303, store.url("/login"))
    assert reset_row(session, path).used_at is not None
    # Used up, it is gone from the session too.
    again = store.get("/reset")
    assert again.status_code == 410
    assert INVALID_LINK in page(again)


def test_the_reset_page_without_a_link_opened_says_the_link_is_invalid(store, new_consumer, mailbox):
    response = store.get("/reset")
    assert response.status_code == 410
    assert INVALID_LINK in page(response)
    response = store.post("/reset", {"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert response.status_code == 410


def test_the_servers_access_logs_show_a_reset_link_without_its_token(app, store, new_consumer, mailbox, caplog):
    path = ask_for_reset(store, mailbox, new_consumer.email)
    token = path.rsplit("/", 1)[1]
    caplog.set_level(logging.INFO)

    # werkzeug's server (flask run) logs each request line.
    server = make_server("127.0.0.1", 0, app)
    serving = threading.Thread(target=server.handle_request)
    serving.start()
    try:
        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as answer:
            opener.open(f"http://127.0.0.1:{server.server_port}{store.url(path)}", timeout=30)
        assert answer.value.code == 303
    finally:
        serving.join(timeout=30)
        server.server_close()
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert any(f"GET {store.url('/reset/[hidden]')} HTTP/1.1" in line for line in lines), lines

    # gunicorn's access log (--access-logfile) logs its request line and the Referer through gunicorn.access.
    atoms = {
        "h": "127.0.0.1",
        "r": f"GET {store.url(path)} HTTP/1.1",
        "s": "303",
        "f": f"https://mail.example/?u={store.url(path)}",
    }
    logging.getLogger("gunicorn.access").info('%(h)s "%(r)s" %(s)s "%(f)s"', atoms)
    assert any(record.name == "gunicorn.access" and "/reset/[hidden]" in record.getMessage() for record in caplog.records)

    assert not [record for record in caplog.records if token in record.getMessage()]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
