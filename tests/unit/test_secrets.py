import pytest
from cryptography.fernet import Fernet

from app import create_app
from app.config import Settings
from app.security import Encryptor, hash_password, new_temporary_password, verify_password


def test_passwords_are_hashed_with_argon2_and_verified():
    hashed = hash_password("Correct-horse-42")
    assert hashed.startswith("$argon2")
    assert verify_password(hashed, "Correct-horse-42")
    assert not verify_password(hashed, "wrong")
    assert not verify_password(None, "anything")


def test_encryption_keys_rotate_old_ciphertext_still_decrypts():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Encryptor([old]).encrypt("4111-1111")
    rotated = Encryptor([new, old])
    assert rotated.decrypt(token) == "4111-1111"
    assert Encryptor([new]).decrypt(rotated.rotate(token)) == "4111-1111"


def test_temporary_passwords_are_random_and_readable():
    passwords = {new_temporary_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) == 14 and p.count("-") == 2 for p in passwords)


def test_production_hashes_passwords_with_argon2id_at_owasp_strength_or_more():
    """The tests hash with Argon2's cheapest parameters (tests/conftest.py); production's are OWASP's first
    profile (2 passes, 19 MiB, 1 lane: cheap enough for a sign-in burst on 2 cores), and production refuses less."""
    defaults = Settings(_env_file=None)
    assert (defaults.ARGON2_TIME_COST, defaults.ARGON2_MEMORY_COST_KIB, defaults.ARGON2_PARALLELISM) == (2, 19456, 1)
    assert hash_password("Correct-horse-42").startswith("$argon2id$v=19$m=19456,t=2,p=1$")  # outside an app

    production = {
        "APP_ENV": "production",
        "SECRET_KEY": "x" * 40,
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "MAIL_SERVER": "smtp.example.com",
        "BASE_URL": "https://gifts.example.com",
        "_env_file": None,
    }
    assert Settings(**production).ARGON2_MEMORY_COST_KIB == 19456
    for weaker in ({"ARGON2_TIME_COST": 1}, {"ARGON2_MEMORY_COST_KIB": 19455}):
        with pytest.raises(ValueError, match="OWASP"):
            Settings(**production, **weaker)


def test_an_app_hashes_with_its_argon2_settings_and_verifies_hashes_made_with_any(tmp_path):
    app = create_app(
        {
            "APP_ENV": "test",
            "DATABASE_URL": f"sqlite:///{tmp_path}/unused.db",
            "RUN_WORKER_IN_PROCESS": False,
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST_KIB": 16,
            "ARGON2_PARALLELISM": 2,
        }
    )
    with app.app_context():
        cheap = hash_password("Correct-horse-42")
        assert cheap.startswith("$argon2id$v=19$m=16,t=1,p=2$")
        assert verify_password(cheap, "Correct-horse-42") and not verify_password(cheap, "wrong")
        assert not verify_password(None, "anything")
    app.extensions["db_engine"].dispose()
    strong = hash_password("Correct-horse-42")  # outside an app: the defaults
    assert verify_password(cheap, "Correct-horse-42") and verify_password(strong, "Correct-horse-42")
    with pytest.raises(ValueError, match="8 × ARGON2_PARALLELISM"):
        Settings(ARGON2_MEMORY_COST_KIB=8, ARGON2_PARALLELISM=2, _env_file=None)


def test_temporary_passwords_get_a_keyed_fast_hash_and_argon2_ones_still_verify(tmp_path):
    """A temporary password is hashed with HMAC-SHA256 under a key from SECRET_KEY (no Argon2 time), verifies
    only in an app with the same SECRET_KEY, and one hashed with Argon2 before this still verifies."""
    from app import security

    def app_with(secret):
        return create_app(
            {
                "APP_ENV": "test",
                "SECRET_KEY": secret,
                "DATABASE_URL": f"sqlite:///{tmp_path}/unused.db",
                "RUN_WORKER_IN_PROCESS": False,
            }
        )

    app, other = app_with("s" * 40), app_with("t" * 40)
    with app.app_context():
        hashed = security.hash_temporary_password("kfq7-m2xp-9tzr")
        assert hashed.startswith("$hmac-sha256$") and "kfq7" not in hashed
        assert verify_password(hashed, "kfq7-m2xp-9tzr") and not verify_password(hashed, "kfq7-m2xp-9tzs")
        older = hash_password("kfq7-m2xp-9tzr")  # an Argon2 one, from before
        assert verify_password(older, "kfq7-m2xp-9tzr")
    with other.app_context():
        assert not verify_password(hashed, "kfq7-m2xp-9tzr")
    for made in (app, other):
        made.extensions["db_engine"].dispose()


def test_checking_a_temporary_password_still_does_one_argon2_verification(app, monkeypatch):
    """Timing-safe: an account holding a temporary password takes as long to check as any other."""
    from app import security

    checked = []
    real = security._hasher

    class CountingHasher:
        def verify(self, password_hash, password):
            checked.append(password_hash)
            return real.verify(password_hash, password)

    with app.app_context():
        hashed = security.hash_temporary_password("kfq7-m2xp-9tzr")
        monkeypatch.setattr(security, "_hasher", CountingHasher())
        assert verify_password(hashed, "kfq7-m2xp-9tzr")
        assert len(checked) == 1 and checked[0].startswith("$argon2")
