"""The signing diagnosis: a request the API refuses gets the seed's one 403, and the portal's API keys page
shows the key's last 50 refusals with what went wrong (also in the server log). The signing playground
computes the string to sign and the signature the verifier expects, with the verifier's own code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import func, select

from app.api import URL_PREFIX
from app.models import ApiRefusedRequest
from app.services import api_keys, api_refusals
from tests.integration.api_client import decoded, seed_timestamp, sign, sign_v2
from tests.integration.conftest import page

FORBIDDEN = {"Message": "User is not authorized to access this resource with an explicit deny in an identity-based policy"}
BODY = json.dumps({"fullName": "Ada Lovelace", "email": "ada@example.com", "currency": "usd", "initialFunds": 10})


@pytest.fixture
def partner_and_key(partner_with_key):
    return partner_with_key("1000")


@pytest.fixture
def admin(partner_and_key, make_team_member, portal_as):
    partner, _credentials = partner_and_key
    return portal_as(make_team_member(partner, "admin"))


def send(client, credentials, method="POST", path="/customer", body=BODY, *, signed_body=None, timestamp=None, **headers):
    """A v1 request whose signature covers `signed_body` (default: the body sent); headers override or drop (None)."""
    timestamp = timestamp or seed_timestamp()
    signature = sign(
        method, credentials.client_id, body if signed_body is None else signed_body, credentials.hmac_secret, timestamp
    )
    sent = {
        "x-api-key": credentials.api_key,
        "x-client-id": credentials.client_id,
        "x-timestamp": timestamp,
        "x-signature": signature,
        "Content-Type": "application/json",
    }
    sent.update({name.replace("_", "-"): value for name, value in headers.items()})
    sent = {name: value for name, value in sent.items() if value is not None}
    return client.open(URL_PREFIX + path, method=method, data=body.encode(), headers=sent)


def kept(session, credentials) -> list[ApiRefusedRequest]:
    session.rollback()
    key = api_keys.issued_key(session, credentials)
    return list(
        session.exec(select(ApiRefusedRequest).where(ApiRefusedRequest.api_key_id == key.id).order_by(ApiRefusedRequest.id))
    )


def refused_page(admin, session, credentials) -> str:
    session.rollback()
    key = api_keys.issued_key(session, credentials)
    response = admin.get(f"/api-keys?refused={key.id}")
    assert response.status_code == 200
    return page(response)


def hex_signature(credentials, timestamp: str, body: str = BODY) -> str:
    text = f"POST\n{timestamp}\n{credentials.client_id}\n{body}"
    return hmac.new(credentials.hmac_secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def v1_signed_as_v2(credentials, timestamp: str) -> str:
    return sign("POST", credentials.client_id, BODY, credentials.hmac_secret, timestamp)


# Each way to get it wrong, and what the portal says about it.
MISTAKES = {
    "empty_body_signed": (
        lambda client, c: send(client, c, signed_body=""),
        "the signature matches an empty body: your client signed no body (in Postman use pm.request.body.raw)",
    ),
    "body_changed": (
        lambda client, c: send(client, c, signed_body=json.dumps(json.loads(BODY), separators=(",", ":"))),
        "body changed after signing (whitespace or key order)",
    ),
    "body_pretty_printed_after_signing": (
        lambda client, c: send(client, c, body=json.dumps(json.loads(BODY), indent=2), signed_body=BODY),
        "body changed after signing (whitespace or key order)",
    ),
    "stale_timestamp": (
        lambda client, c: send(client, c, timestamp=seed_timestamp(datetime.now(UTC) - timedelta(minutes=7, seconds=5))),
        "timestamp 7 min in the past: check the clock",
    ),
    "future_timestamp": (
        lambda client, c: send(client, c, timestamp=seed_timestamp(datetime.now(UTC) + timedelta(minutes=9, seconds=5))),
        "timestamp 9 min in the future: check the clock",
    ),
    "missing_headers": (
        lambda client, c: send(client, c, x_signature=None, x_timestamp=None),
        "missing headers: x-timestamp, x-signature",
    ),
    "malformed_timestamp": (
        lambda client, c: send(client, c, timestamp="12/03/2026 10:00"),
        "x-timestamp is not ISO 8601 with Z or an offset",
    ),
    "unknown_version": (
        lambda client, c: send(client, c, x_signature_version="3"),
        "x-signature-version must be 1 or 2",
    ),
    "other_version_signed": (
        lambda client, c: send(client, c, x_signature_version="2"),
        "the signature is a v1 signature but x-signature-version says 2",
    ),
    "hex_signature": (
        lambda client, c: (lambda ts: send(client, c, timestamp=ts, x_signature=hex_signature(c, ts)))(seed_timestamp()),
        "the signature is hex-encoded",
    ),
    "wrong_secret": (
        lambda client, c: send(client, c, x_signature=base64.b64encode(b"x" * 32).decode()),
        "bad signature: check the HMAC secret",
    ),
    "wrong_client_id": (
        lambda client, c: send(client, c, x_client_id="00000000-0000-0000-0000-000000000000"),
        "x-client-id is not the client id of this key's partner",
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_refusal_gets_the_seeds_403_and_the_portal_shows_its_diagnosis(
    client, session, partner_and_key, admin, caplog, mistake
):
    _partner, credentials = partner_and_key
    make, diagnosis = MISTAKES[mistake]
    caplog.set_level(logging.INFO, logger="app.api.auth")
    response = make(client, credentials)
    assert response.status_code == 403 and decoded(response) == FORBIDDEN

    [row] = kept(session, credentials)
    assert diagnosis in row.diagnosis and row.method == "POST" and row.path == URL_PREFIX + "/customer"
    assert row.source_ip == "127.0.0.1"
    listing = refused_page(admin, session, credentials)
    assert diagnosis in listing and f"{URL_PREFIX}/customer" in listing and row.reason in listing and "127.0.0.1" in listing
    # The server log says it too.
    assert any(diagnosis in record.getMessage() for record in caplog.records if record.name == "app.api.auth")


def test_a_replayed_request_is_diagnosed_as_one_timestamp_used_twice(client, session, partner_and_key, admin):
    _partner, credentials = partner_and_key
    timestamp = seed_timestamp()
    first = send(client, credentials, "GET", "/balance", "", timestamp=timestamp)
    assert first.status_code == 200
    again = send(client, credentials, "GET", "/balance", "", timestamp=timestamp)
    assert again.status_code == 403 and decoded(again) == FORBIDDEN
    [row] = kept(session, credentials)
    assert row.reason == "replayed" and row.diagnosis == "signature seen before: each request needs its own timestamp"
    assert "signature seen before: each request needs its own timestamp" in refused_page(admin, session, credentials)


def test_a_v1_request_on_a_key_that_requires_v2_is_diagnosed(client, session, partner_and_key, admin):
    partner, credentials = partner_and_key
    api_keys.set_require_signature_v2(session, partner=partner, key=api_keys.issued_key(session, credentials), required=True)
    assert send(client, credentials).status_code == 403
    [row] = kept(session, credentials)
    assert row.reason == "v1_on_v2_key"
    assert "v1 signature on a key that requires v2" in refused_page(admin, session, credentials)


def test_a_revoked_key_is_diagnosed(client, session, partner_and_key, admin):
    partner, credentials = partner_and_key
    api_keys.revoke(session, partner=partner, key=api_keys.issued_key(session, credentials), by=admin.member)
    assert send(client, credentials).status_code == 403
    assert "the key is revoked: use an active key" in refused_page(admin, session, credentials)


def test_an_unknown_key_is_only_logged(client, session, partner_and_key, caplog):
    _partner, credentials = partner_and_key
    caplog.set_level(logging.INFO, logger="app.api.auth")
    before = session.exec(select(func.count()).select_from(ApiRefusedRequest)).one()
    response = send(client, credentials, x_api_key="gsk_" + "0" * 32)
    assert response.status_code == 403 and decoded(response) == FORBIDDEN
    session.rollback()
    assert session.exec(select(func.count()).select_from(ApiRefusedRequest)).one() == before
    assert any("unknown key" in record.getMessage() for record in caplog.records if record.name == "app.api.auth")


def test_a_v2_signature_with_the_body_left_out_is_diagnosed_like_v1(client, session, partner_and_key):
    _partner, credentials = partner_and_key
    timestamp = seed_timestamp()
    path = URL_PREFIX + "/customer"
    signature = sign_v2("POST", path, "", credentials.client_id, "", credentials.hmac_secret, timestamp)
    response = send(client, credentials, timestamp=timestamp, x_signature=signature, x_signature_version="2")
    assert response.status_code == 403
    [row] = kept(session, credentials)
    assert row.reason == "empty_body_signed" and row.signature_version == "2"


def test_only_the_last_50_refusals_of_a_key_are_kept(client, session, partner_and_key, partner_with_key, admin):
    _partner, credentials = partner_and_key
    _other_partner, other = partner_with_key()
    assert send(client, other, signed_body="").status_code == 403  # another key's refusals are its own
    for _ in range(api_refusals.KEEP_PER_KEY + 5):
        assert send(client, credentials, signed_body="").status_code == 403
    assert send(client, credentials, x_signature=None).status_code == 403  # the newest one
    rows = kept(session, credentials)
    assert len(rows) == api_refusals.KEEP_PER_KEY
    assert rows[-1].reason == "missing_headers"
    assert len(kept(session, other)) == 1
    listing = refused_page(admin, session, credentials)
    assert len(re.findall(r'<tr id="refused-\d+">', listing)) == api_refusals.KEEP_PER_KEY


def test_nothing_kept_or_logged_could_sign_a_request_or_shows_the_body(client, session, partner_and_key, caplog):
    _partner, credentials = partner_and_key
    caplog.set_level(logging.DEBUG)
    secret_body = json.dumps(
        {"fullName": "Private Person", "email": "private.person@example.com", "currency": "usd", "initialFunds": 1}
    )
    timestamp = seed_timestamp()
    signature = sign("POST", credentials.client_id, "", credentials.hmac_secret, timestamp)
    response = send(client, credentials, body=secret_body, timestamp=timestamp, x_signature=signature)
    assert response.status_code == 403
    [row] = kept(session, credentials)
    stored = " ".join(str(value) for value in row.model_dump().values())
    for secret in ("Private Person", "private.person", signature, credentials.hmac_secret, credentials.api_key):
        assert secret not in stored
        assert not [record for record in caplog.records if secret in record.getMessage()]
    assert row.body_length == len(secret_body.encode()) and row.body_sha256 == hashlib.sha256(secret_body.encode()).hexdigest()
    assert row.timestamp == timestamp and row.reason == "empty_body_signed"


def test_the_refusals_of_another_partners_key_are_not_shown(client, session, partner_and_key, partner_with_key, admin):
    _other_partner, other = partner_with_key()
    assert send(client, other, signed_body="").status_code == 403
    session.rollback()
    other_key = api_keys.issued_key(session, other)
    listing = page(admin.get(f"/api-keys?refused={other_key.id}"))
    assert "your client signed no body" not in listing and other_key.prefix not in listing


def test_htmx_asks_for_only_the_refused_requests_of_another_key(client, session, partner_and_key, admin):
    _partner, credentials = partner_and_key
    send(client, credentials, signed_body="")
    session.rollback()
    key = api_keys.issued_key(session, credentials)
    response = admin.get(f"/api-keys?refused={key.id}", headers={"HX-Request": "true", "HX-Target": "refused-requests"})
    text = page(response)
    assert response.status_code == 200 and text.lstrip().startswith('<section id="refused-requests"')
    assert "your client signed no body" in text and "<html" not in text and "HX-Request" in response.headers["Vary"]


# --- the signing playground --------------------------------------------------------------------------


def expected_signature(text: str) -> str:
    return re.search(r'<code class="expected-signature">([^<]+)</code>', text).group(1)


def string_shown(text: str) -> str:
    return re.search(r'<pre class="string-to-sign">(.*?)</pre>', text, re.S).group(1)


def ask(admin, key_id, **fields):
    admin.get("/api-keys")
    return admin.post("/api-keys/playground", {"key": key_id, "method": "POST", "version": "1", **fields})


def test_the_playgrounds_v1_string_and_signature_are_the_verifiers(client, session, partner_and_key, admin):
    _partner, credentials = partner_and_key
    key = api_keys.issued_key(session, credentials)
    timestamp = seed_timestamp()
    body = '{\n  "fullName": "Zoë Ä",\n  "email": "zoe@example.com",\n  "currency": "usd",\n  "initialFunds": 10\n}'
    response = ask(admin, key.id, path=URL_PREFIX + "/customer", timestamp=timestamp, body=body.replace("\n", "\r\n"))
    assert response.status_code == 200
    text = page(response)
    assert string_shown(text) == f"POST\n{timestamp}\n{credentials.client_id}\n{body}"  # a browser's CRLF read as LF
    signature = expected_signature(text)
    assert signature == sign("POST", credentials.client_id, body, credentials.hmac_secret, timestamp)
    assert credentials.hmac_secret not in text and credentials.api_key not in text
    # The API accepts exactly that signature.
    accepted = send(client, credentials, body=body, timestamp=timestamp, x_signature=signature)
    assert accepted.status_code == 200, accepted.get_data(as_text=True)


def test_the_playgrounds_v2_string_and_signature_are_the_verifiers(client, session, partner_and_key, admin):
    _partner, credentials = partner_and_key
    key = api_keys.issued_key(session, credentials)
    timestamp = seed_timestamp()
    path, query = URL_PREFIX + "/customers", "status=active&email=ada%40example.com&perPage=5"
    response = ask(admin, key.id, method="GET", version="2", path=f"{path}?{query}", timestamp=timestamp, body="")
    text = page(response)
    assert (
        string_shown(text)
        == f"GET\n{path}\nemail=ada%40example.com&perPage=5&status=active\n{timestamp}\n{credentials.client_id}\n"
    )
    signature = expected_signature(text)
    assert signature == sign_v2("GET", path, query, credentials.client_id, "", credentials.hmac_secret, timestamp)
    accepted = client.get(
        f"{path}?{query}",
        headers={
            "x-api-key": credentials.api_key,
            "x-client-id": credentials.client_id,
            "x-timestamp": timestamp,
            "x-signature": signature,
            "x-signature-version": "2",
        },
    )
    assert accepted.status_code == 200, accepted.get_data(as_text=True)


def test_the_playground_says_what_a_wrong_signature_matches_and_where_a_string_to_sign_differs(session, partner_and_key, admin):
    _partner, credentials = partner_and_key
    key = api_keys.issued_key(session, credentials)
    timestamp = seed_timestamp()
    empty = sign("POST", credentials.client_id, "", credentials.hmac_secret, timestamp)
    client_string = f"POST\n{timestamp}\n{credentials.client_id}\n"
    text = page(ask(admin, key.id, path="/x", timestamp=timestamp, body=BODY, signature=empty, client_string=client_string))
    assert "does not match" in text and "the signature matches an empty body" in text
    assert "differs</span> from line 4, column 1" in text
    right = sign("POST", credentials.client_id, BODY, credentials.hmac_secret, timestamp)
    text = page(ask(admin, key.id, path="/x", timestamp=timestamp, body=BODY, signature=right))
    assert '<span class="pill status-completed">matches</span>' in text


def test_the_playground_answers_htmx_with_its_section_and_refuses_bad_input_with_422(session, partner_and_key, admin):
    _partner, credentials = partner_and_key
    key = api_keys.issued_key(session, credentials)
    admin.get("/api-keys")
    fields = {"key": key.id, "method": "GET", "version": "1", "path": "/", "timestamp": seed_timestamp(), "body": ""}
    response = admin.post("/api-keys/playground", fields, headers={"HX-Request": "true"})
    text = page(response)
    assert response.status_code == 200 and text.lstrip().startswith('<section id="signing-playground"') and "<html" not in text
    bad = admin.post("/api-keys/playground", {**fields, "timestamp": ""}, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "Give the x-timestamp" in page(bad)
    full = admin.post("/api-keys/playground", {**fields, "method": "TRACE"})
    assert full.status_code == 422 and "The method must be one of" in page(full) and "<h1>API keys</h1>" in page(full)


def test_the_playground_refuses_another_partners_key_and_a_form_without_its_csrf_token(session, partner_with_key, admin):
    _other_partner, other = partner_with_key()
    other_key = api_keys.issued_key(session, other)
    admin.get("/api-keys")
    fields = {"key": other_key.id, "method": "GET", "version": "1", "path": "/", "timestamp": seed_timestamp()}
    response = admin.post("/api-keys/playground", fields)
    assert response.status_code == 422 and "Choose one of your active API keys" in page(response)
    assert "expected-signature" not in page(response)
    assert admin.post("/api-keys/playground", fields, csrf=False).status_code in (400, 403)


def test_a_refused_request_opens_in_the_playground_with_what_was_kept(client, session, partner_and_key, admin):
    _partner, credentials = partner_and_key
    timestamp = seed_timestamp()
    send(client, credentials, signed_body="", timestamp=timestamp)
    [row] = kept(session, credentials)
    text = page(admin.get(f"/api-keys?refused={row.api_key_id}&try={row.id}"))
    assert f'value="{URL_PREFIX}/customer"' in text and f'value="{timestamp}"' in text
