"""Behind reverse proxies (TRUSTED_PROXIES=N): the client's address and scheme come from the proxies' headers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.config import Settings
from tests.integration.conftest import StoreBrowser, page
from tests.integration.test_sign_in_security import TOO_MANY


@pytest.fixture
def app_config() -> dict:
    return {"TRUSTED_PROXIES": 1}


def login_from(store: StoreBrowser, client_ip: str, attempt: int):
    """A login through a TLS-terminating proxy: a browser sends its page's address as the Referer."""
    forwarded = {"X-Forwarded-For": client_ip, "X-Forwarded-Proto": "https", "Referer": f"https://localhost{store.url('/login')}"}
    store.get("/login", headers=forwarded)
    return store.post("/login", {"email": "someone@example.com", "password": f"wrong-guess-{attempt}"}, headers=forwarded)


def test_behind_a_proxy_the_login_limit_counts_each_client_not_the_proxy(store, cheap_wrong_guesses):
    for attempt in range(10):
        assert login_from(store, "203.0.113.7", attempt).status_code == 422
    refused = login_from(store, "203.0.113.7", 10)
    assert refused.status_code == 429
    assert TOO_MANY in page(refused)

    # Another client behind the same proxy still gets its own ten tries.
    assert login_from(store, "198.51.100.20", 0).status_code == 422


def test_only_the_hop_the_proxy_added_counts_not_what_the_client_claims(store, cheap_wrong_guesses):
    # The proxy appends the address it saw; a client's own X-Forwarded-For entries before it are ignored.
    for attempt in range(10):
        assert login_from(store, f"10.9.9.{attempt}, 203.0.113.7", attempt).status_code == 422
    assert login_from(store, "10.9.9.99, 203.0.113.7", 10).status_code == 429


def test_the_forwarded_scheme_is_https_so_a_form_from_another_site_is_refused(store, cheap_wrong_guesses):
    # Over HTTPS, CSRF protection also wants the Referer to be this site (Flask-WTF's strict check):
    # it applies because the app knows the request came over HTTPS.
    https = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    store.get("/login", headers=https)
    form = {"email": "someone@example.com", "password": "wrong-guess-0"}
    elsewhere = store.post("/login", form, headers={**https, "Referer": "https://evil.example/login"})
    assert elsewhere.status_code == 400
    assert "This form expired or was not sent from this site" in page(elsewhere)
    assert store.post("/login", form, headers={**https, "Referer": f"https://localhost{store.url('/login')}"}).status_code == 422


def test_a_negative_number_of_proxies_is_refused():
    with pytest.raises(ValidationError):
        Settings(TRUSTED_PROXIES=-1)
