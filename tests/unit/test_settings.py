import base64
import os
import re
import stat
import threading
import time

import pytest
from cryptography.fernet import Fernet

from app.config import PROJECT_ROOT, Settings, instance_secret

# The values earlier versions shipped as development defaults (public in the history), spelled so that
# no secret-looking literal sits in the tree.
PUBLISHED_SECRET_KEY = "dev-only-" + "secret-key-change-me"
PUBLISHED_ENCRYPTION_KEY = base64.urlsafe_b64encode(b"dev-only-encryption-key-change-m").decode()


def test_development_defaults_work_out_of_the_box():
    settings = Settings(_env_file=None)
    assert settings.DATABASE_URL.startswith("sqlite:///") and settings.DATABASE_URL.endswith("instance/giftstore.db")
    assert settings.outbox_enabled


def test_postgres_urls_use_the_psycopg_driver():
    assert Settings(DATABASE_URL="postgres://u@h/db").DATABASE_URL == "postgresql+psycopg://u@h/db"


def test_production_refuses_unsafe_defaults():
    with pytest.raises(ValueError) as error:
        Settings(APP_ENV="production", _env_file=None)
    for problem in ("SECRET_KEY", "ENCRYPTION_KEYS", "MAIL_SERVER", "BASE_URL"):
        assert problem in str(error.value)


def test_production_accepts_real_secrets():
    settings = Settings(
        APP_ENV="production",
        SECRET_KEY="x" * 40,
        ENCRYPTION_KEYS=Fernet.generate_key().decode() + "," + Fernet.generate_key().decode(),
        MAIL_SERVER="smtp.example.com",
        BASE_URL="https://gifts.example.com",
        _env_file=None,
    )
    assert not settings.outbox_enabled
    assert len(settings.encryption_keys) == 2


# --- no secret in the source: development makes its own, tests get random ones -------------------------


def test_the_source_holds_no_default_secret():
    settings = Settings(_env_file=None)
    assert settings.SECRET_KEY == "" and settings.ENCRYPTION_KEYS == ""
    for path in (PROJECT_ROOT / "app").rglob("*.py"):
        text = path.read_text()
        assert PUBLISHED_SECRET_KEY not in text and PUBLISHED_ENCRYPTION_KEY not in text, path


def test_development_makes_its_secrets_once_in_the_instance_folder_readable_by_its_owner_only(tmp_path):
    first = Settings(_env_file=None, INSTANCE_PATH=str(tmp_path)).with_instance_secrets()
    assert len(first.SECRET_KEY) >= 32
    Fernet(first.ENCRYPTION_KEYS.encode())  # a real Fernet key
    for name, value in (("secret_key", first.SECRET_KEY), ("encryption_key", first.ENCRYPTION_KEYS)):
        path = tmp_path / name
        assert path.read_text().strip() == value
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    # Later starts reuse them; another checkout (another instance folder) has its own.
    again = Settings(_env_file=None, INSTANCE_PATH=str(tmp_path)).with_instance_secrets()
    assert (again.SECRET_KEY, again.ENCRYPTION_KEYS) == (first.SECRET_KEY, first.ENCRYPTION_KEYS)
    elsewhere = Settings(_env_file=None, INSTANCE_PATH=str(tmp_path / "other")).with_instance_secrets()
    assert elsewhere.SECRET_KEY != first.SECRET_KEY and elsewhere.ENCRYPTION_KEYS != first.ENCRYPTION_KEYS
    assert elsewhere.DATABASE_URL == f"sqlite:///{tmp_path / 'other' / 'giftstore.db'}"


def test_development_keeps_secrets_it_is_given(tmp_path):
    key = Fernet.generate_key().decode()
    settings = Settings(_env_file=None, INSTANCE_PATH=str(tmp_path), SECRET_KEY="s" * 40, ENCRYPTION_KEYS=key)
    assert settings.with_instance_secrets().SECRET_KEY == "s" * 40
    assert settings.with_instance_secrets().ENCRYPTION_KEYS == key
    assert list(tmp_path.iterdir()) == []


def test_processes_starting_at_once_agree_on_one_secret(tmp_path):
    path = tmp_path / "instance" / "secret_key"
    start = threading.Barrier(8)
    made, seen = [], []

    def make():
        value = os.urandom(16).hex()
        made.append(value)
        time.sleep(0.05)  # everyone is writing a draft at the same time
        return value

    def starting():
        start.wait()
        seen.append(instance_secret(path, make))

    threads = [threading.Thread(target=starting) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and len(set(seen)) == 1 and seen[0] in made
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no draft left behind
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_tests_get_random_secrets_shared_by_every_app_of_the_process():
    first, second = Settings(APP_ENV="test", _env_file=None), Settings(APP_ENV="test", _env_file=None)
    assert len(first.SECRET_KEY) >= 32
    Fernet(first.ENCRYPTION_KEYS.encode())
    assert (first.SECRET_KEY, first.ENCRYPTION_KEYS) == (second.SECRET_KEY, second.ENCRYPTION_KEYS)
    assert first.SECRET_KEY not in (PUBLISHED_SECRET_KEY, "") and first.ENCRYPTION_KEYS != PUBLISHED_ENCRYPTION_KEY
    assert Settings(APP_ENV="test", SECRET_KEY="mine", _env_file=None).SECRET_KEY == "mine"
    assert not first.outbox_enabled  # the outbox is development's only


@pytest.mark.parametrize(
    "keys",
    [
        PUBLISHED_ENCRYPTION_KEY,
        Fernet.generate_key().decode() + "," + PUBLISHED_ENCRYPTION_KEY,
        "not-a-fernet-key",
        " , ",
    ],
)
def test_production_refuses_published_or_malformed_encryption_keys(keys):
    with pytest.raises(ValueError, match=re.escape("ENCRYPTION_KEYS must be set to one or more Fernet keys of your own")):
        Settings(
            APP_ENV="production",
            SECRET_KEY="x" * 40,
            ENCRYPTION_KEYS=keys,
            MAIL_SERVER="smtp.example.com",
            BASE_URL="https://gifts.example.com",
            _env_file=None,
        )
