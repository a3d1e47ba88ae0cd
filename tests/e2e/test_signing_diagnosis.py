"""The signing diagnosis in a real browser: an admin finds a refused request on the API keys page, opens
it in the signing playground, pastes the body and signature the client sent and learns (in place, by htmx)
that the client signed an empty body; with the right signature, the playground says it matches."""

from __future__ import annotations

import os
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from app.db import db_session, write_transaction
from app.domain.money import Money
from app.models import TeamMember
from app.security import hash_password
from app.services import partners, team
from tests.conftest import TEAM_PASSWORD
from tests.integration.api_client import seed_timestamp, sign

BODY = '{"fullName": "Ada Lovelace", "email": "ada@example.com", "currency": "usd", "initialFunds": 10}'


@pytest.fixture
def integrator(live_store):
    """A partner with an API key and an admin who has chosen a password."""
    with live_store.app.app_context():
        session = db_session()
        partner, _ = partners.create_partner(
            session, slug="signing", name="Signing Co", currency="USD", funds=Money(500_00, "USD")
        )
        credentials = partners.issue_api_key(session, partner=partner)
        member, _ = team.invite(
            session, partner=partner, email="ada.admin@example.com", full_name="Ada Admin", role="admin", actor="test"
        )
        with write_transaction(session):
            member = session.get(TeamMember, member.id)
            member.password_hash = hash_password(TEAM_PASSWORD)
            member.must_change_password = False
            session.add(member)
    return live_store, credentials


def post_signed_as_the_seeds_postman_script(url: str, credentials, timestamp: str) -> int:
    """The seed's script signs pm.request.data, undefined in current Postman: an empty body."""
    request = urllib.request.Request(
        f"{url}/api/partner/v1/customer",
        data=BODY.encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "x-api-key": credentials.api_key,
            "x-client-id": credentials.client_id,
            "x-timestamp": timestamp,
            "x-signature": sign("POST", credentials.client_id, "", credentials.hmac_secret, timestamp),
        },
    )
    try:
        with urllib.request.urlopen(request):
            return 200
    except urllib.error.HTTPError as error:
        return error.code


def test_an_admin_sees_why_a_request_was_refused_and_checks_a_signature_in_the_playground(integrator, page: Page):
    live, credentials = integrator
    timestamp = seed_timestamp()
    assert post_signed_as_the_seeds_postman_script(live.url, credentials, timestamp) == 403

    page.goto(f"{live.url}/portal/login")
    page.get_by_label("Email").fill("ada.admin@example.com")
    page.get_by_label("Password", exact=True).fill(TEAM_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto(f"{live.url}/portal/api-keys")
    refused = page.locator("#refused-requests")
    expect(refused).to_contain_text(
        "the signature matches an empty body: your client signed no body (in Postman use pm.request.body.raw)"
    )
    expect(refused).to_contain_text("POST /api/partner/v1/customer")

    refused.get_by_role("link", name="Check in the playground").click()
    playground = page.locator("#signing-playground")
    expect(playground.get_by_label("x-timestamp")).to_have_value(timestamp)
    playground.get_by_label("Body, exactly as sent").fill(BODY)
    playground.get_by_label("The x-signature your client sent").fill(
        sign("POST", credentials.client_id, "", credentials.hmac_secret, timestamp)
    )
    playground.get_by_role("button", name="Check").click()
    answer = page.locator("#playground-answer")
    expect(answer).to_contain_text("does not match")
    expect(answer).to_contain_text("the signature matches an empty body")
    assert page.url.endswith("/portal/api-keys#signing-playground") or "/portal/api-keys" in page.url

    page.locator("#signing-playground").get_by_label("The x-signature your client sent").fill(
        sign("POST", credentials.client_id, BODY, credentials.hmac_secret, timestamp)
    )
    page.locator("#signing-playground").get_by_role("button", name="Check").click()
    expect(page.locator("#playground-answer")).to_contain_text("matches")
    expect(page.locator("#playground-answer")).not_to_contain_text("does not match")
    assert credentials.hmac_secret not in page.content()
    if os.environ.get("SIGNING_SCREENSHOT"):
        page.screenshot(path=os.environ["SIGNING_SCREENSHOT"], full_page=True)
