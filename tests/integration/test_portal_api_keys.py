"""The portal's API keys (admins only): a new key's secrets are shown once; rotating and revoking
take effect at the partner API's next request."""

from __future__ import annotations

import json
import re

import pytest
from sqlmodel import func, select

from app.models import ApiKey, AuditEvent
from app.services import partners
from app.services.partners import ApiCredentials
from tests.integration.conftest import page, reload
from tests.integration.test_api_customer import FORBIDDEN, seed_headers


@pytest.fixture
def partner(make_partner):
    return make_partner(funds="500")


@pytest.fixture
def admin(partner, make_team_member, portal_as):
    return portal_as(make_team_member(partner, "admin"))


def balance(client, credentials: ApiCredentials):
    """GET /balance, signed as the seed's client signs."""
    return client.get("/api/partner/v1/balance", headers=seed_headers(credentials, "", method="GET"))


def issued_credentials(response) -> ApiCredentials:
    """The client id, key and secret as the page after creating or rotating shows them."""
    found = dict(re.findall(r"<dt>([^<(]+?) ?(?:\([^)]*\))?</dt><dd><code class=\"secret\">([^<]+)</code></dd>", page(response)))
    return ApiCredentials(client_id=found["Client id"], api_key=found["API key"], hmac_secret=found["HMAC secret"])


def keys_of(session, partner) -> list[ApiKey]:
    session.rollback()
    return list(session.exec(select(ApiKey).where(ApiKey.partner_id == partner.id).order_by(ApiKey.id)).all())


def audit_actions(session, partner) -> list[str]:
    session.rollback()
    return list(session.exec(select(AuditEvent.action).where(AuditEvent.partner_id == partner.id).order_by(AuditEvent.id)).all())


def test_an_admin_creates_a_key_whose_secrets_are_shown_once_and_which_works(app, session, partner, admin):
    response = admin.post("/api-keys", {"label": "  HR   system "})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store" and 'hx-history="false"' in page(response)
    assert response.headers["HX-Push-Url"] == "/portal/api-keys"  # a reload or going back shows the list, not the secrets
    credentials = issued_credentials(response)
    assert credentials.client_id == partner.client_id and credentials.api_key.startswith("gsk_")

    key = keys_of(session, partner)[-1]
    assert key.label == "HR system" and key.created_by_id == admin.member.id and key.last_used_at is None
    # Only the hash and the encrypted secret are kept, and the list never shows either in clear.
    assert credentials.api_key not in (key.key_hash, key.prefix) and credentials.hmac_secret not in key.hmac_secret_encrypted
    listing = page(admin.get("/api-keys"))
    assert key.prefix in listing and "HR system" in listing and admin.member.email in listing
    assert credentials.api_key not in listing and credentials.hmac_secret not in listing

    assert balance(app.test_client(), credentials).status_code == 200
    assert reload(session, ApiKey, key.id).last_used_at is not None
    session.rollback()
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "api_key.create")).one()
    assert event.team_member_id == admin.member.id and key.prefix in event.summary
    assert (
        credentials.api_key not in event.summary + event.details and credentials.hmac_secret not in event.summary + event.details
    )


def test_a_revoked_key_is_refused_by_the_api_at_once(app, session, partner, admin):
    credentials = issued_credentials(admin.post("/api-keys", {"label": "Payroll"}))
    api = app.test_client()
    assert balance(api, credentials).status_code == 200
    key = keys_of(session, partner)[-1]

    assert admin.post(f"/api-keys/{key.id}/revoke").status_code == 303
    refused = balance(api, credentials)
    assert refused.status_code == 403 and json.loads(refused.get_data()) == FORBIDDEN
    assert reload(session, ApiKey, key.id).revoked_at is not None
    listing = page(admin.get("/api-keys"))
    assert f"/api-keys/{key.id}/revoke" not in listing and "revoked" in listing

    again = admin.post(f"/api-keys/{key.id}/revoke")
    assert again.status_code == 422 and "already revoked" in page(again)
    assert audit_actions(session, partner).count("api_key.revoke") == 1


def test_rotating_issues_a_new_key_and_revokes_the_old_one_together(app, session, partner, admin):
    old_credentials = issued_credentials(admin.post("/api-keys", {"label": "Shop sync"}))
    old = keys_of(session, partner)[-1]
    api = app.test_client()

    response = admin.post(f"/api-keys/{old.id}/rotate")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert f"The key {old.prefix}… is revoked" in re.sub(r"<[^>]+>", "", page(response))
    new_credentials = issued_credentials(response)
    assert new_credentials.api_key != old_credentials.api_key and new_credentials.hmac_secret != old_credentials.hmac_secret

    assert balance(api, old_credentials).status_code == 403
    assert balance(api, new_credentials).status_code == 200
    new = keys_of(session, partner)[-1]
    assert new.id != old.id and new.label == "Shop sync" and new.revoked_at is None and new.created_by_id == admin.member.id
    assert reload(session, ApiKey, old.id).revoked_at is not None
    assert audit_actions(session, partner)[-1] == "api_key.rotate"

    # A revoked key can't be rotated: nothing is issued.
    before = len(keys_of(session, partner))
    refused = admin.post(f"/api-keys/{old.id}/rotate")
    assert refused.status_code == 422 and "Create a new key instead" in page(refused)
    assert len(keys_of(session, partner)) == before


@pytest.mark.parametrize("label, message", [("x" * 81, "at most 80 characters"), ("tab\x07bell", "not allowed")])
def test_a_bad_label_is_refused_in_place_and_creates_nothing(session, partner, admin, label, message):
    before = (len(keys_of(session, partner)), audit_actions(session, partner))
    response = admin.post("/api-keys", {"label": label})
    assert response.status_code == 422 and message in page(response)
    assert "gsk_" not in page(response).replace(keys_of(session, partner)[0].prefix, "")
    assert (len(keys_of(session, partner)), audit_actions(session, partner)) == before


def test_only_admins_see_or_touch_keys(session, partner, make_team_member, portal_as):
    key = keys_of(session, partner)[0]
    for role in ("viewer", "operator"):
        browser = portal_as(make_team_member(partner, role))
        assert browser.get("/api-keys").status_code == 403
        assert browser.post("/api-keys", {"label": "sneaky"}).status_code == 403
        assert browser.post(f"/api-keys/{key.id}/revoke").status_code == 403
        assert "API keys" not in page(browser.get("/consumers"))  # not in their navigation either
    assert len(keys_of(session, partner)) == 1 and reload(session, ApiKey, key.id).revoked_at is None


def test_another_partners_key_is_not_found_and_keeps_working(app, session, make_partner, admin):
    other = make_partner()
    credentials = partners.issue_api_key(session, partner=other)
    theirs = keys_of(session, other)[-1]
    before = session.exec(select(func.count()).select_from(AuditEvent)).one()
    assert admin.post(f"/api-keys/{theirs.id}/revoke").status_code == 404
    assert admin.post(f"/api-keys/{theirs.id}/rotate").status_code == 404
    assert theirs.prefix not in page(admin.get("/api-keys"))
    assert reload(session, ApiKey, theirs.id).revoked_at is None and len(keys_of(session, other)) == 2
    assert balance(app.test_client(), credentials).status_code == 200
    session.rollback()
    assert session.exec(select(func.count()).select_from(AuditEvent)).one() == before
