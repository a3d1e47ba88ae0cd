import pytest

from app.config import DEV_ENCRYPTION_KEY, Settings


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
    from cryptography.fernet import Fernet

    settings = Settings(
        APP_ENV="production",
        SECRET_KEY="x" * 40,
        ENCRYPTION_KEYS=Fernet.generate_key().decode() + "," + DEV_ENCRYPTION_KEY[:0] + Fernet.generate_key().decode(),
        MAIL_SERVER="smtp.example.com",
        BASE_URL="https://gifts.example.com",
        _env_file=None,
    )
    assert not settings.outbox_enabled
    assert len(settings.encryption_keys) == 2
