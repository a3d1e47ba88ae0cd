"""Why a partner API request was refused, in words a developer can act on (app/domain/signing_diagnosis.py)."""

import json

import pytest

from app.domain.signing_diagnosis import (
    REFORMAT_MAX_BYTES,
    RefusalReason,
    SignatureFacts,
    clock_skew,
    diagnosis,
    first_difference,
    refine,
    reformatted_bodies,
    visible,
)


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (
            RefusalReason.EMPTY_BODY_SIGNED,
            "the signature matches an empty body: your client signed no body (in Postman use pm.request.body.raw)",
        ),
        (RefusalReason.REPLAYED, "signature seen before: each request needs its own timestamp"),
        (RefusalReason.BODY_CHANGED, "body changed after signing (whitespace or key order): sign the exact bytes you send"),
        (RefusalReason.V1_ON_V2_KEY, "v1 signature on a key that requires v2"),
        (RefusalReason.UNKNOWN_KEY, "unknown key"),
        (RefusalReason.REVOKED_KEY, "the key is revoked: use an active key"),
        (RefusalReason.WRONG_CLIENT_ID, "x-client-id is not the client id of this key's partner"),
        (RefusalReason.UNKNOWN_VERSION, "x-signature-version must be 1 or 2 (or left out, which means 1)"),
        (RefusalReason.MALFORMED_TIMESTAMP, "x-timestamp is not ISO 8601 with Z or an offset (e.g. 2026-02-12T14:30:00.000Z)"),
        (RefusalReason.HEX_SIGNATURE, "the signature is hex-encoded: send base64(HMAC-SHA256(...))"),
        (RefusalReason.SECRET_UNREADABLE, "the key's secret cannot be read on our side: rotate the key"),
    ],
)
def test_each_reason_has_a_sentence_a_developer_can_act_on(reason, text):
    assert diagnosis(reason) == text


def test_a_plain_bad_signature_points_at_the_secret_the_client_id_and_the_playground():
    text = diagnosis(RefusalReason.BAD_SIGNATURE)
    assert text.startswith("bad signature:") and "HMAC secret" in text and "playground" in text


def test_missing_headers_are_named():
    assert (
        diagnosis(RefusalReason.MISSING_HEADERS, missing=("x-timestamp", "x-signature"))
        == "missing headers: x-timestamp, x-signature"
    )


def test_the_other_version_is_named_the_right_way_round():
    assert (
        diagnosis(RefusalReason.OTHER_VERSION_SIGNED, version="2")
        == "the signature is a v1 signature but x-signature-version says 2"
    )
    assert (
        diagnosis(RefusalReason.OTHER_VERSION_SIGNED, version="1")
        == "the signature is a v2 signature but x-signature-version says 1"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (7 * 60 + 10, "timestamp 7 min in the past: check the clock"),
        (-(6 * 60), "timestamp 6 min in the future: check the clock"),
        (
            2 * 3600 + 2,
            "timestamp 120 min in the past: check the clock (2 h off: a local time sent with Z, or the wrong offset?)",
        ),
        (
            -(5 * 3600 + 1800),
            "timestamp 330 min in the future: check the clock (5 h 30 min off: a local time sent with Z, or the wrong offset?)",
        ),
    ],
)
def test_a_stale_timestamp_says_how_far_off_and_which_way(seconds, text):
    assert clock_skew(seconds) == text
    assert diagnosis(RefusalReason.STALE_TIMESTAMP, skew_seconds=seconds) == text


def test_a_bad_signature_is_named_by_what_it_matches_instead():
    bad = RefusalReason.BAD_SIGNATURE
    assert refine(bad, SignatureFacts(matches_empty_body=True)) is RefusalReason.EMPTY_BODY_SIGNED
    assert refine(bad, SignatureFacts(matches_reformatted_body=True)) is RefusalReason.BODY_CHANGED
    assert refine(bad, SignatureFacts(matches_other_version=True)) is RefusalReason.OTHER_VERSION_SIGNED
    assert refine(bad, SignatureFacts(matches_as_hex=True)) is RefusalReason.HEX_SIGNATURE
    assert refine(bad, SignatureFacts()) is bad
    assert refine(bad, None) is bad
    # Other refusals keep their reason whatever the facts say.
    assert refine(RefusalReason.REPLAYED, SignatureFacts(matches_empty_body=True)) is RefusalReason.REPLAYED


def test_reformatted_bodies_cover_whitespace_key_order_escaping_and_line_endings():
    body = b'{"fullName": "Zo\xc3\xab", "email": "z@example.com"}'
    variants = reformatted_bodies(body)
    assert body not in variants and len(variants) == len(set(variants))
    document = json.loads(body)
    assert json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode() in variants
    assert json.dumps(document, indent=2, ensure_ascii=False).encode() in variants  # Postman's pretty body
    assert json.dumps(document, sort_keys=True).encode() in variants  # keys sorted, non-ASCII escaped
    assert body + b"\n" in variants
    pretty = b'{\n  "a": 1\n}'
    assert pretty.replace(b"\n", b"\r\n") in reformatted_bodies(pretty)


def test_no_reformatting_for_no_body_a_body_too_large_or_text_that_is_not_json():
    assert reformatted_bodies(b"") == []
    assert reformatted_bodies(b'{"a": "' + b"x" * REFORMAT_MAX_BYTES + b'"}') == []
    assert reformatted_bodies(b"not json") == [b"not json\n"]
    assert reformatted_bodies(b'{"n": ' + b"1" * 4301 + b"}")  # Python refuses to read it: line endings only, no error


def test_the_first_difference_is_found_by_line_and_column_with_invisible_characters_written_out():
    expected = 'POST\n2026-02-12T14:30:00.000Z\nclient\n{"a": 1}'
    given = 'POST\n2026-02-12T14:30:00.000Z\nclient\r\n{"a": 1}'
    found = first_difference(expected, given)
    assert found is not None
    assert (found.line, found.column, found.offset) == (3, 7, expected.index("\n{"))
    assert found.expected.startswith("\\n{") and found.given.startswith("\\r\\n{")
    assert first_difference(expected, expected) is None
    shorter = first_difference(expected, expected[:-3])
    assert shorter is not None and shorter.given == "" and shorter.expected == " 1}"


def test_visible_writes_control_characters_out():
    assert visible("a\tb\r\n\x00") == "a\\tb\\r\\n\\x00"
