"""Why a partner API request's authentication was refused, in words a developer can act on.

The API answers every refusal with the same 403 (a caller learns nothing about which check
failed); the reason and its diagnosis go to the server log and, for a known key, to the portal's
API keys page. Pure: the facts are gathered by app/services/api_refusals.py with the same
signing functions the verifier uses (app/security.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

# The JSON re-serializations tried on a bad signature are only worth it on small bodies.
REFORMAT_MAX_BYTES = 64 * 1024


class RefusalReason(StrEnum):
    MISSING_HEADERS = "missing_headers"
    UNKNOWN_VERSION = "unknown_version"
    MALFORMED_TIMESTAMP = "malformed_timestamp"
    STALE_TIMESTAMP = "stale_timestamp"
    UNKNOWN_KEY = "unknown_key"
    REVOKED_KEY = "revoked_key"
    WRONG_CLIENT_ID = "wrong_client_id"
    SECRET_UNREADABLE = "secret_unreadable"
    BAD_SIGNATURE = "bad_signature"
    # What a bad signature turns out to be, when the request's facts say so (see `refine`):
    EMPTY_BODY_SIGNED = "empty_body_signed"
    BODY_CHANGED = "body_changed"
    OTHER_VERSION_SIGNED = "other_version_signed"
    HEX_SIGNATURE = "hex_signature"
    V1_ON_V2_KEY = "v1_on_v2_key"
    REPLAYED = "replayed"


@dataclass(frozen=True)
class SignatureFacts:
    """What a bad signature does match, computed with the key's secret (never kept)."""

    matches_empty_body: bool = False  # the same request with no body
    matches_reformatted_body: bool = False  # the body's JSON with other whitespace, key order or escaping
    matches_other_version: bool = False  # the other x-signature-version's string to sign
    matches_as_hex: bool = False  # the right HMAC, hex-encoded instead of base64


def refine(reason: RefusalReason, facts: SignatureFacts | None) -> RefusalReason:
    """A bad signature, named by what it matches instead (the likeliest mistake first)."""
    if reason is not RefusalReason.BAD_SIGNATURE or facts is None:
        return reason
    if facts.matches_as_hex:
        return RefusalReason.HEX_SIGNATURE
    if facts.matches_empty_body:
        return RefusalReason.EMPTY_BODY_SIGNED
    if facts.matches_reformatted_body:
        return RefusalReason.BODY_CHANGED
    if facts.matches_other_version:
        return RefusalReason.OTHER_VERSION_SIGNED
    return reason


def clock_skew(seconds: float) -> str:
    """'timestamp 7 min in the past: check the clock' (seconds > 0: the timestamp is behind our clock)."""
    minutes = round(abs(seconds) / 60)
    when = "in the past" if seconds > 0 else "in the future"
    text = f"timestamp {minutes} min {when}: check the clock"
    hours, rest = divmod(minutes, 60)
    if hours and rest in (0, 30):  # a whole (or half) number of hours: a local time sent as UTC, most likely
        off = f"{hours} h" if rest == 0 else f"{hours} h 30 min"
        text += f" ({off} off: a local time sent with Z, or the wrong offset?)"
    return text


def diagnosis(
    reason: RefusalReason,
    *,
    skew_seconds: float | None = None,
    missing: tuple[str, ...] = (),
    version: str = "1",
) -> str:
    """The sentence the portal and the log show for a refusal."""
    other = "2" if version == "1" else "1"
    match reason:
        case RefusalReason.MISSING_HEADERS:
            return "missing headers: " + (", ".join(missing) or "x-api-key, x-client-id, x-timestamp, x-signature")
        case RefusalReason.UNKNOWN_VERSION:
            return "x-signature-version must be 1 or 2 (or left out, which means 1)"
        case RefusalReason.MALFORMED_TIMESTAMP:
            return "x-timestamp is not ISO 8601 with Z or an offset (e.g. 2026-02-12T14:30:00.000Z)"
        case RefusalReason.STALE_TIMESTAMP:
            return clock_skew(skew_seconds or 0.0)
        case RefusalReason.UNKNOWN_KEY:
            return "unknown key"
        case RefusalReason.REVOKED_KEY:
            return "the key is revoked: use an active key"
        case RefusalReason.WRONG_CLIENT_ID:
            return "x-client-id is not the client id of this key's partner"
        case RefusalReason.SECRET_UNREADABLE:
            return "the key's secret cannot be read on our side: rotate the key"
        case RefusalReason.EMPTY_BODY_SIGNED:
            return "the signature matches an empty body: your client signed no body (in Postman use pm.request.body.raw)"
        case RefusalReason.BODY_CHANGED:
            return "body changed after signing (whitespace or key order): sign the exact bytes you send"
        case RefusalReason.OTHER_VERSION_SIGNED:
            return f"the signature is a v{other} signature but x-signature-version says {version}"
        case RefusalReason.HEX_SIGNATURE:
            return "the signature is hex-encoded: send base64(HMAC-SHA256(...))"
        case RefusalReason.V1_ON_V2_KEY:
            return "v1 signature on a key that requires v2"
        case RefusalReason.REPLAYED:
            return "signature seen before: each request needs its own timestamp"
        case _:
            return "bad signature: check the HMAC secret, the client id and the string to sign (try the signing playground)"


def reformatted_bodies(body: bytes) -> list[bytes]:
    """The same JSON written other ways (compact or spaced, indented, keys sorted, non-ASCII escaped or
    not), and the body with its line endings or final newline changed: what a client that serialized
    twice, or whose HTTP library re-wrote the body, may have signed instead. The body itself is left out."""
    if not body or len(body) > REFORMAT_MAX_BYTES:
        return []
    variants: list[bytes] = [body.rstrip(b"\r\n"), body + b"\n", body.replace(b"\r\n", b"\n"), body.replace(b"\n", b"\r\n")]
    try:
        document = json.loads(body)
    except ValueError:  # not JSON (or not UTF-8, or a number too long to read)
        document = None
    else:
        layouts: list[dict] = [
            {"separators": (",", ":")},
            {"separators": (", ", ": ")},
            {"indent": 2},
            {"indent": 4},
            {"indent": "\t"},
        ]
        for layout in layouts:
            for sort_keys in (False, True):
                for ensure_ascii in (False, True):
                    text = json.dumps(document, sort_keys=sort_keys, ensure_ascii=ensure_ascii, **layout)
                    variants.append(text.encode())
    seen = {body}
    unique = []
    for variant in variants:
        if variant not in seen:
            seen.add(variant)
            unique.append(variant)
    return unique


@dataclass(frozen=True)
class Difference:
    """Where two strings to sign first differ: 1-based line and column, and a few characters of each from there."""

    offset: int
    line: int
    column: int
    expected: str
    given: str


def visible(text: str) -> str:
    """Line breaks, tabs and other control characters written out (\\n, \\r, \\t, \\x00), so they can be seen."""
    escapes = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return "".join(escapes.get(c, f"\\x{ord(c):02x}" if ord(c) < 32 or ord(c) == 127 else c) for c in text)


def first_difference(expected: str, given: str, *, context: int = 24) -> Difference | None:
    """None when equal; else where `given` first departs from `expected`."""
    if expected == given:
        return None
    offset = next((i for i, (a, b) in enumerate(zip(expected, given, strict=False)) if a != b), min(len(expected), len(given)))
    before = expected[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return Difference(
        offset=offset,
        line=line,
        column=column,
        expected=visible(expected[offset : offset + context]),
        given=visible(given[offset : offset + context]),
    )
