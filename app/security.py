"""Secrets at rest: password hashes (Argon2), encryption (Fernet, rotatable), token hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app, has_app_context

# Hashes outside an app (OWASP's first profile: m=19 MiB, t=2, p=1, the same as the ARGON2_* settings'
# defaults), and verifies every hash: Argon2 reads the parameters from the hash, so hashes made with other
# parameters (older settings such as argon2-cffi's 64 MiB defaults, the tests' cheap ones) still verify.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_PASSWORD = "not-a-real-password-just-for-timing"
_dummy_hashes: dict[tuple[int, int, int], str] = {}


def password_hasher(*, time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    """The hasher for new password hashes (create_app keeps one made from the ARGON2_* settings)."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def _configured_hasher() -> PasswordHasher:
    if has_app_context():
        configured = current_app.extensions.get("password_hasher")
        if configured is not None:
            return configured
    return _hasher


def _dummy_hash() -> str:
    """Verified against when no account matches, so a missing email costs the same time: made once
    per set of parameters, with the ones real hashes get."""
    hasher = _configured_hasher()
    params = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if params not in _dummy_hashes:
        _dummy_hashes[params] = hasher.hash(_DUMMY_PASSWORD)
    return _dummy_hashes[params]


def __getattr__(name: str):
    if name == "_DUMMY_HASH":  # the dummy hash for the current app's parameters
        return _dummy_hash()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def hash_password(password: str) -> str:
    return _configured_hasher().hash(password)


# Temporary passwords (welcome emails, invitations, bulk onboarding) are random (~59 bits), short-lived and
# never chosen by a person: a keyed fast hash is enough for them, as for API keys and tokens. HMAC-SHA256 with
# a key derived from the app's SECRET_KEY: a copy of the database alone cannot be brute-forced. Argon2 stays
# for passwords people choose. (Changing SECRET_KEY voids outstanding temporary passwords: "resend welcome".)
TEMPORARY_HASH_PREFIX = "$hmac-sha256$"


def _temporary_password_key() -> bytes:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, b"giftstore temporary passwords v1", hashlib.sha256).digest()


def hash_temporary_password(password: str) -> str:
    """A temporary password's hash: microseconds, not Argon2's tens of milliseconds (needs an app context)."""
    digest = hmac.new(_temporary_password_key(), password.encode(), hashlib.sha256).hexdigest()
    return TEMPORARY_HASH_PREFIX + digest


def verify_password(password_hash: str | None, password: str) -> bool:
    """Timing-safe: always runs one Argon2 verification, even with no hash to check or a temporary
    password's keyed hash (so the time does not tell whether an account still has its temporary password).
    Argon2 hashes of temporary passwords made before they were keyed-hashed still verify."""
    if password_hash and password_hash.startswith(TEMPORARY_HASH_PREFIX):
        verify_password(None, password)  # the same Argon2 work as any other check
        expected = hash_temporary_password(password)
        return hmac.compare_digest(password_hash.encode(), expected.encode())
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def new_temporary_password() -> str:
    """Readable, typeable and strong: e.g. 'kfq7-m2xp-9tzr'."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """Tokens and API keys are long random strings: a plain SHA-256 is the right hash."""
    return hashlib.sha256(token.encode()).hexdigest()


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    a = a.encode() if isinstance(a, str) else a
    b = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a, b)


class Encryptor:
    """Encrypts with the first key, decrypts with any: add a new key first to rotate."""

    def __init__(self, keys: list[str]):
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("cannot decrypt: unknown key or tampered data") from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt with the newest key (ValueError when no key reads it)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("cannot decrypt: unknown key or tampered data") from exc


# --- partner API request signatures --------------------------------------------------------
# v1 (the seed's): METHOD, TIMESTAMP, CLIENT_ID and BODY. v2 adds the request's PATH and QUERY,
# so a signature made for one resource cannot be sent to another. Pure functions: the API checks
# with them (app/api/auth.py), webhooks sign with them (app/services/webhooks.py), and anything that
# shows or teaches signing can use the same ones.

SIGNATURE_VERSIONS = ("1", "2")


def canonical_query(query: str | bytes) -> bytes:
    """The query string as signed in v2: its `name=value` parameters sorted by name, then by value,
    each kept byte for byte as sent (still percent-encoded); empty parameters (`a=1&&b=2`) dropped.
    'b=2&a=%20x&a=1' -> b'a=%20x&a=1&b=2' (byte order: '%' < '1')."""
    raw = query.encode() if isinstance(query, str) else query
    parameters = [part.partition(b"=") for part in raw.lstrip(b"?").split(b"&") if part]
    return b"&".join(name + equals + value for name, equals, value in sorted(parameters, key=lambda p: (p[0], p[2])))


def string_to_sign(
    version: str | int,
    method: str,
    path: str,
    query: str | bytes,
    timestamp: str,
    client_id: str,
    body: str | bytes,
) -> bytes:
    """What a partner API request's x-signature is the HMAC-SHA256 of (ValueError for an unknown version).

    v1: METHOD + "\\n" + TIMESTAMP + "\\n" + CLIENT_ID + "\\n" + BODY                       (path and query unused)
    v2: METHOD + "\\n" + PATH + "\\n" + QUERY + "\\n" + TIMESTAMP + "\\n" + CLIENT_ID + "\\n" + BODY
    PATH as sent (/api/partner/v1/customers/1), QUERY as `canonical_query` makes it ("" when none),
    BODY the raw body bytes ("" when none).
    """
    version = str(version)
    body = body.encode() if isinstance(body, str) else body
    if version == "1":
        return f"{method}\n{timestamp}\n{client_id}\n".encode() + body
    if version == "2":
        return f"{method}\n{path}\n".encode() + canonical_query(query) + f"\n{timestamp}\n{client_id}\n".encode() + body
    raise ValueError(f"unknown signature version {version!r}")


def request_signature(secret: str | bytes, to_sign: bytes) -> str:
    """base64(HMAC-SHA256(secret, to_sign)): the x-signature header's value."""
    secret = secret.encode() if isinstance(secret, str) else secret
    return base64.b64encode(hmac.new(secret, to_sign, hashlib.sha256).digest()).decode()


def v1_signature(secret: str | bytes, method: str, timestamp: str, client_id: str, body: str | bytes) -> str:
    """A v1 x-signature (the seed's scheme): what webhooks are signed with, with the endpoint's secret."""
    return request_signature(secret, string_to_sign("1", method, "", b"", timestamp, client_id, body))


# --- requests from this machine (the development outbox, /metrics without a token) ------------------------

FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def from_this_machine(environ: dict) -> bool:
    """Whether the connection itself comes from this machine.

    The socket's peer, not request.remote_addr: with TRUSTED_PROXIES, ProxyFix rewrites that from
    X-Forwarded-For (keeping the original in werkzeug.proxy_fix.orig). And a proxy on this machine makes
    every client look local, so a request that says it was forwarded does not count as local either.
    """
    if any(environ.get(header) for header in FORWARDING_HEADERS):
        return False
    original = environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR", environ.get("REMOTE_ADDR"))
    try:
        address = ipaddress.ip_address((original or "").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
