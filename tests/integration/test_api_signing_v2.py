"""Signature v2 (x-signature-version: 2) covers the request's path and query, so a signature made for
one resource is refused on another; a key can require it. And every API request counts against its
client IP's budget (API_IP_RATE_LIMIT) before the key is even looked at."""

from __future__ import annotations

import json
import secrets

import pytest
from sqlmodel import select

from app.api import URL_PREFIX
from app.models import ApiKey, AuditEvent
from app.security import string_to_sign
from app.services import api_keys, partners
from tests.integration.api_client import (
    call,
    decoded,
    failed,
    ok,
    seed_headers,
    seed_timestamp,
    sign_v2,
    v2_headers,
)
from tests.integration.conftest import page, reload
from tests.integration.test_cli import run

FORBIDDEN = {"Message": "User is not authorized to access this resource with an explicit deny in an identity-based policy"}


def refused(response) -> bool:
    return response.status_code == 403 and decoded(response) == FORBIDDEN


def key_of(session, credentials) -> ApiKey:
    session.rollback()
    return api_keys.issued_key(session, credentials)


# --- the string to sign (pure) ---------------------------------------------------------------


def test_the_strings_to_sign_are_built_in_one_place_as_documented():
    ts, client = "2026-12-03T10:00:00.000Z", "client-1"
    assert (
        string_to_sign(1, "POST", "/ignored", "x=1", ts, client, '{"a":1}')
        == b'POST\n2026-12-03T10:00:00.000Z\nclient-1\n{"a":1}'
    )
    assert string_to_sign(
        "2", "GET", "/api/partner/v1/customers", b"status=active&email=a%40b.example&page=1", ts, client, b""
    ) == (b"GET\n/api/partner/v1/customers\nemail=a%40b.example&page=1&status=active\n2026-12-03T10:00:00.000Z\nclient-1\n")
    # Sorted by name, then value, each as sent; no query at all is an empty line.
    assert (
        string_to_sign("2", "GET", "/p", "b=2&a=z&a=%20&a=1", ts, client, "")
        == b"GET\n/p\na=%20&a=1&a=z&b=2\n" + f"{ts}\n{client}\n".encode()
    )
    assert string_to_sign("2", "GET", "/p", "", ts, client, "") == f"GET\n/p\n\n{ts}\n{client}\n".encode()
    with pytest.raises(ValueError):
        string_to_sign("3", "GET", "/p", "", ts, client, "")


# --- v2 accepted, and bound to its path and query ---------------------------------------------


def test_a_v2_signed_request_is_accepted_with_or_without_a_query_or_body(client, partner_with_key):
    _partner, credentials = partner_with_key()
    assert ok(call(client, credentials, "GET", "/balance", version=2))["balances"] is not None
    created = ok(
        call(
            client,
            credentials,
            "POST",
            "/customer",
            version=2,
            body={"fullName": "Ann Lee", "email": "ann@example.com", "currency": "usd", "initialFunds": 10},
        )
    )
    assert ok(call(client, credentials, "GET", f"/customers/{created['id']}", version=2))["email"] == "ann@example.com"
    listed = ok(call(client, credentials, "GET", "/customers?email=ann%40example.com&perPage=5", version=2))
    assert [c["id"] for c in listed["items"]] == [created["id"]]


def test_a_v2_signature_for_one_path_is_refused_on_another(client, session, partner_with_key, make_consumer):
    partner, credentials = partner_with_key()
    consumer = make_consumer(partner)
    headers = v2_headers(credentials, "GET", URL_PREFIX + "/balance")
    assert refused(client.get(URL_PREFIX + f"/customers/{consumer.id}", headers=headers))
    # The same headers on the path they were made for are fine (they were never used).
    assert client.get(URL_PREFIX + "/balance", headers=headers).status_code == 200

    # v1, for comparison, covers no path: that is why v2 exists.
    v1 = seed_headers(credentials, "", method="GET")
    assert client.get(URL_PREFIX + f"/customers/{consumer.id}", headers=v1).status_code == 200


def test_a_v2_signature_for_one_query_is_refused_on_another(client, partner_with_key, make_consumer):
    partner, credentials = partner_with_key()
    make_consumer(partner, email="mine@example.com")
    path = URL_PREFIX + "/customers"
    headers = v2_headers(credentials, "GET", path, "email=mine%40example.com")
    assert refused(client.get(path + "?email=other%40example.com", headers=headers))
    assert refused(client.get(path, headers=headers))  # dropping the query
    assert refused(client.get(path + "?email=mine%40example.com&status=active", headers=headers))  # adding to it
    assert refused(client.get(path + "?email=mine@example.com", headers=headers))  # encoded otherwise than signed
    assert ok(client.get(path + "?email=mine%40example.com", headers=headers))["total"] == 1

    # And no query signed means none may be added.
    bare = v2_headers(credentials, "GET", path)
    assert refused(client.get(path + "?status=inactive", headers=bare))


def test_the_query_is_signed_in_sorted_order_whatever_order_it_is_sent_in(client, partner_with_key):
    _partner, credentials = partner_with_key()
    path = URL_PREFIX + "/customers"
    sent = "status=active&perPage=5&page=1"
    timestamp = seed_timestamp()
    sorted_signature = sign_v2(
        "GET", path, "page=1&perPage=5&status=active", credentials.client_id, "", credentials.hmac_secret, timestamp
    )
    headers = {
        "x-api-key": credentials.api_key,
        "x-client-id": credentials.client_id,
        "x-timestamp": timestamp,
        "x-signature-version": "2",
        "x-signature": sorted_signature,
    }
    assert ok(client.get(f"{path}?{sent}", headers=headers))["perPage"] == 5

    # A signature over the query in the order sent, unsorted, is not v2's string.
    timestamp = seed_timestamp()
    to_sign = f"GET\n{path}\n{sent}\n{timestamp}\n{credentials.client_id}\n"
    import base64  # noqa: E401  (spelled out: the unsorted string, not the helper's)
    import hashlib
    import hmac

    unsorted = base64.b64encode(hmac.new(credentials.hmac_secret.encode(), to_sign.encode(), hashlib.sha256).digest()).decode()
    assert refused(client.get(f"{path}?{sent}", headers={**headers, "x-timestamp": timestamp, "x-signature": unsorted}))


def test_the_path_is_signed_as_sent(client, partner_with_key, make_consumer):
    partner, credentials = partner_with_key()
    consumer = make_consumer(partner)
    digits = "".join(f"%{ord(d):02X}" for d in str(consumer.id))  # /customers/%31 is /customers/1, spelled otherwise
    sent = URL_PREFIX + "/customers/" + digits
    assert refused(client.get(sent, headers=v2_headers(credentials, "GET", URL_PREFIX + f"/customers/{consumer.id}")))
    assert ok(client.get(sent, headers=v2_headers(credentials, "GET", sent)))["id"] == consumer.id


def test_v1_stays_the_default_and_may_be_named(client, partner_with_key):
    _partner, credentials = partner_with_key()
    assert ok(call(client, credentials, "GET", "/balance"))
    assert ok(
        client.get(URL_PREFIX + "/balance", headers=seed_headers(credentials, "", method="GET", **{"x-signature-version": "1"}))
    )


@pytest.mark.parametrize("version", ["3", "", "v2", " 2", "2.0", "0"])
def test_an_unknown_signature_version_is_the_seeds_403(client, partner_with_key, version):
    _partner, credentials = partner_with_key()
    # Signed correctly as v1 and as v2: the version itself is what is refused.
    assert refused(
        client.get(
            URL_PREFIX + "/balance", headers=seed_headers(credentials, "", method="GET", **{"x-signature-version": version})
        )
    )
    assert refused(
        client.get(
            URL_PREFIX + "/balance",
            headers=v2_headers(credentials, "GET", URL_PREFIX + "/balance", **{"x-signature-version": version}),
        )
    )


def test_a_v2_signature_sent_as_v1_or_the_other_way_round_is_refused(client, partner_with_key):
    _partner, credentials = partner_with_key()
    as_v1 = v2_headers(credentials, "GET", URL_PREFIX + "/balance")
    del as_v1["x-signature-version"]
    assert refused(client.get(URL_PREFIX + "/balance", headers=as_v1))
    as_v2 = seed_headers(credentials, "", method="GET", **{"x-signature-version": "2"})
    assert refused(client.get(URL_PREFIX + "/balance", headers=as_v2))


# --- keys that require v2 ---------------------------------------------------------------------


def test_a_key_that_requires_v2_refuses_v1_requests_and_accepts_v2(client, session, partner_with_key):
    partner, credentials = partner_with_key()
    other_partner, other_credentials = partner_with_key()
    api_keys.set_require_signature_v2(session, partner=partner, key=key_of(session, credentials), required=True)

    assert refused(call(client, credentials, "GET", "/balance"))
    assert refused(
        client.get(URL_PREFIX + "/balance", headers=seed_headers(credentials, "", method="GET", **{"x-signature-version": "1"}))
    )
    assert refused(
        call(
            client,
            credentials,
            "POST",
            "/customer",
            {"fullName": "Ann Lee", "email": "ann@example.com", "currency": "usd", "initialFunds": 10},
        )
    )
    assert ok(call(client, credentials, "GET", "/balance", version=2))
    # Only that key: the others still take v1.
    assert ok(call(client, other_credentials, "GET", "/balance"))
    # A new key is v1-or-v2 unless asked otherwise.
    assert key_of(session, other_credentials).require_signature_v2 is False


# --- the portal ---------------------------------------------------------------------------------


@pytest.fixture
def partner(make_partner):
    return make_partner(funds="500")


@pytest.fixture
def admin(partner, make_team_member, portal_as):
    return portal_as(make_team_member(partner, "admin"))


def audit_events(session, partner, action: str) -> list[AuditEvent]:
    session.rollback()
    return list(session.exec(select(AuditEvent).where(AuditEvent.partner_id == partner.id, AuditEvent.action == action)).all())


def test_an_admin_requires_v2_on_a_key_and_allows_v1_again_each_audited(app, session, partner, admin):
    credentials = partners.issue_api_key(session, partner=partner)
    key = key_of(session, credentials)
    api = app.test_client()
    listing = page(admin.get("/api-keys"))
    assert f"/api-keys/{key.id}/signature-version" in listing and "Require v2" in listing

    response = admin.post(f"/api-keys/{key.id}/signature-version", {"require_signature_v2": "1"})
    assert response.status_code == 303
    assert reload(session, ApiKey, key.id).require_signature_v2 is True
    assert refused(call(api, credentials, "GET", "/balance"))
    assert ok(call(api, credentials, "GET", "/balance", version=2))
    listing = page(admin.get("/api-keys"))
    assert "v2 only" in listing and "Allow v1" in listing
    [event] = audit_events(session, partner, "api_key.require_v2")
    assert event.team_member_id == admin.member.id and event.subject_id == str(key.id) and key.prefix in event.summary

    # Again: nothing changes, nothing more is recorded.
    assert admin.post(f"/api-keys/{key.id}/signature-version", {"require_signature_v2": "1"}).status_code == 303
    assert len(audit_events(session, partner, "api_key.require_v2")) == 1

    assert admin.post(f"/api-keys/{key.id}/signature-version", {"require_signature_v2": "0"}).status_code == 303
    assert reload(session, ApiKey, key.id).require_signature_v2 is False
    assert ok(call(api, credentials, "GET", "/balance"))
    [event] = audit_events(session, partner, "api_key.allow_v1")
    assert event.team_member_id == admin.member.id


def test_an_admin_creates_a_key_that_requires_v2_and_rotating_keeps_the_rule(app, session, partner, admin):
    from tests.integration.test_portal_api_keys import issued_credentials

    credentials = issued_credentials(admin.post("/api-keys", {"label": "Payroll", "require_signature_v2": "1"}))
    key = key_of(session, credentials)
    assert key.require_signature_v2 is True
    [event] = audit_events(session, partner, "api_key.create")
    assert json.loads(event.details)["requireSignatureV2"] is True
    api = app.test_client()
    assert refused(call(api, credentials, "GET", "/balance"))
    assert ok(call(api, credentials, "GET", "/balance", version=2))

    rotated = issued_credentials(admin.post(f"/api-keys/{key.id}/rotate"))
    assert key_of(session, rotated).require_signature_v2 is True
    assert refused(call(api, rotated, "GET", "/balance"))

    plain = issued_credentials(admin.post("/api-keys", {"label": "Plain"}))
    assert key_of(session, plain).require_signature_v2 is False


def test_a_revoked_keys_rule_cannot_change(session, partner, admin):
    credentials = partners.issue_api_key(session, partner=partner)
    key = key_of(session, credentials)
    assert admin.post(f"/api-keys/{key.id}/revoke").status_code == 303
    response = admin.post(f"/api-keys/{key.id}/signature-version", {"require_signature_v2": "1"})
    assert response.status_code == 422 and "revoked" in page(response)
    assert reload(session, ApiKey, key.id).require_signature_v2 is False
    assert audit_events(session, partner, "api_key.require_v2") == []


def test_only_admins_change_a_keys_signature_rule_and_only_their_partners(
    app, session, partner, make_partner, make_team_member, portal_as, admin
):
    credentials = partners.issue_api_key(session, partner=partner)
    key = key_of(session, credentials)
    for role in ("viewer", "operator"):
        browser = portal_as(make_team_member(partner, role))
        assert browser.post(f"/api-keys/{key.id}/signature-version", {"require_signature_v2": "1"}).status_code == 403
    other = make_partner()
    theirs = key_of(session, partners.issue_api_key(session, partner=other))
    assert admin.post(f"/api-keys/{theirs.id}/signature-version", {"require_signature_v2": "1"}).status_code == 404
    assert reload(session, ApiKey, key.id).require_signature_v2 is False
    assert reload(session, ApiKey, theirs.id).require_signature_v2 is False
    assert audit_events(session, partner, "api_key.require_v2") == [] and audit_events(session, other, "api_key.require_v2") == []


# --- the CLI --------------------------------------------------------------------------------------


def test_create_partner_with_require_v2_issues_a_key_that_refuses_v1(app, session):
    from app.services.partners import ApiCredentials

    result = run(app, "create-partner", "--slug", "strict", "--name", "Strict", "--funds", "100", "--require-v2")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    credentials = ApiCredentials(client_id=data["clientId"], api_key=data["apiKey"], hmac_secret=data["hmacSecret"])
    assert key_of(session, credentials).require_signature_v2 is True
    [event] = list(session.exec(select(AuditEvent).where(AuditEvent.action == "api_key.require_v2")).all())
    assert event.actor == "cli" and event.partner_id == data["partnerId"]
    api = app.test_client()
    assert refused(call(api, credentials, "GET", "/balance"))
    assert ok(call(api, credentials, "GET", "/balance", version=2))

    plain = json.loads(run(app, "create-partner", "--slug", "plain", "--name", "Plain").output.strip().splitlines()[-1])
    session.rollback()
    assert session.exec(select(ApiKey).where(ApiKey.partner_id == plain["partnerId"])).one().require_signature_v2 is False


# --- the per-IP budget ------------------------------------------------------------------------------


def made_up_key_headers() -> dict:
    return {
        "x-api-key": "gsk_" + secrets.token_urlsafe(24),
        "x-client-id": "nobody",
        "x-signature": "forged",
        "x-timestamp": seed_timestamp(),
    }


@pytest.mark.parametrize("app_config", [{"API_IP_RATE_LIMIT": "5/minute", "API_RATE_LIMIT": "1000/minute"}])
def test_made_up_keys_from_one_ip_share_its_budget(client, session, partner_with_key, app_config):
    for _ in range(5):
        assert refused(client.get(URL_PREFIX + "/balance", headers=made_up_key_headers()))

    response = client.get(URL_PREFIX + "/balance", headers=made_up_key_headers())
    message = failed(response, 429, "TOO_MANY_REQUESTS")
    assert "5/minute from one IP address" in message
    assert 0 < int(response.headers["Retry-After"]) <= 60
    # A real key from the same address waits too; another address does not.
    _partner, credentials = partner_with_key()
    failed(call(client, credentials, "GET", "/balance"), 429, "TOO_MANY_REQUESTS")
    elsewhere = client.get(
        URL_PREFIX + "/balance",
        headers=seed_headers(credentials, "", method="GET"),
        environ_base={"REMOTE_ADDR": "198.51.100.20"},
    )
    assert elsewhere.status_code == 200


@pytest.mark.parametrize("app_config", [{"API_IP_RATE_LIMIT": "3/minute", "TRUSTED_PROXIES": 1}])
def test_behind_a_proxy_the_ip_budget_counts_each_client(client, app_config):
    def from_client(ip: str):
        return client.get(URL_PREFIX + "/balance", headers={**made_up_key_headers(), "X-Forwarded-For": ip})

    for _ in range(3):
        assert refused(from_client("203.0.113.7"))
    failed(from_client("203.0.113.7"), 429, "TOO_MANY_REQUESTS")
    assert refused(from_client("198.51.100.20"))
