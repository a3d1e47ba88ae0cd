"""Development's own secrets and the development outbox.

No secret ships in the source: a development app makes a secret key and a Fernet key once, in its instance
folder (mode 0600), and every later start (and every process) reuses them. The outbox, which shows every
email with its temporary passwords, reset links and gift cards, exists in development only and answers only
this machine.
"""

from __future__ import annotations

import re
import stat
import subprocess
import sys

import pytest

from app import create_app
from app.config import PROJECT_ROOT
from tests.conftest import build_app
from tests.integration.conftest import page


@pytest.fixture
def app_config(tmp_path) -> dict:
    return {"APP_ENV": "development", "INSTANCE_PATH": str(tmp_path / "instance")}


def development_app(tmp_path, **overrides):
    """A development app configured with nothing but where its files go."""
    config = {
        "APP_ENV": "development",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/dev.db",
        "RUN_WORKER_IN_PROCESS": False,
    }
    config.update(overrides)
    return create_app(config)


def test_a_development_app_makes_its_secrets_once_and_reuses_them_on_the_next_start(tmp_path):
    first = development_app(tmp_path)
    try:
        instance = tmp_path / "instance"
        assert first.instance_path == str(instance)
        for name in ("secret_key", "encryption_key"):
            assert stat.S_IMODE((instance / name).stat().st_mode) == 0o600
        assert first.secret_key == (instance / "secret_key").read_text().strip()
        assert len(first.secret_key) >= 32
        sealed = first.extensions["encryptor"].encrypt("4111 1111 1111 1111")
        with first.test_request_context():
            cookie = first.session_interface.get_signing_serializer(first).dumps({"_user_id": "consumer:1:0"})
    finally:
        first.extensions["db_engine"].dispose()

    again = development_app(tmp_path)
    try:
        assert again.secret_key == first.secret_key
        assert again.extensions["encryptor"].decrypt(sealed) == "4111 1111 1111 1111"
        with again.test_request_context():
            assert again.session_interface.get_signing_serializer(again).loads(cookie) == {"_user_id": "consumer:1:0"}
    finally:
        again.extensions["db_engine"].dispose()

    # Another checkout (another instance folder) has secrets of its own: nothing is shared by default.
    other = development_app(tmp_path / "other", DATABASE_URL=f"sqlite:///{tmp_path}/other.db")
    try:
        assert other.secret_key != first.secret_key
    finally:
        other.extensions["db_engine"].dispose()


def test_processes_starting_at_once_agree_on_the_development_secrets(tmp_path):
    """Like `flask run` and `flask worker`, or gunicorn's workers, started together on a fresh checkout."""
    script = (
        "import sys; from app.config import Settings\n"
        "s = Settings(_env_file=None, INSTANCE_PATH=sys.argv[1]).with_instance_secrets()\n"
        "print(s.SECRET_KEY, s.ENCRYPTION_KEYS)\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path / "instance")], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    answers = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert all(process.returncode == 0 for process in processes)
    assert len(answers) == 1
    assert sorted(p.name for p in (tmp_path / "instance").iterdir()) == ["encryption_key", "secret_key"]


# --- the outbox --------------------------------------------------------------------------------


def test_the_dev_outbox_lists_sent_emails_and_shows_the_text_version(client, new_consumer):
    outbox = client.get("/dev/outbox")
    assert outbox.status_code == 200
    text = page(outbox)
    assert new_consumer.email in text
    assert "Your Test Partner account is ready" in text
    email_ids = re.findall(r'href="/dev/outbox/(\d+)"', text)
    assert len(email_ids) == 1
    # Opened with a full page load: a boosted swap would keep the list's style policy, and the email's
    # inline styles would not apply in its frame.
    assert f'href="/dev/outbox/{email_ids[0]}" hx-boost="false"' in text

    message = client.get(f"/dev/outbox/{email_ids[0]}")
    assert message.status_code == 200
    text = page(message)
    assert "Text version" in text
    assert f"Temporary password: {new_consumer.temporary_password}" in text
    assert "welcome · sent" in text

    missing = client.get("/dev/outbox/999999")
    assert missing.status_code == 404
    assert "No such email." in page(missing)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_the_dev_outbox_answers_this_machine(client, new_consumer, address):
    response = client.get("/dev/outbox", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200
    assert new_consumer.email in page(response)


@pytest.mark.parametrize("address", ["203.0.113.9", "10.0.0.7", "192.168.1.20", "2001:db8::1", "", "unix-socket"])
def test_the_dev_outbox_is_not_found_from_another_machine(client, new_consumer, address):
    for path in ("/dev/outbox", "/dev/outbox/1"):
        response = client.get(path, environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 404, path
        assert new_consumer.email not in page(response)


def test_the_dev_outbox_is_not_found_through_a_proxy_even_one_on_this_machine(
    app, database_url, smtp_server, tmp_path, new_consumer
):
    # A proxy on this machine connects from 127.0.0.1 for everyone: a forwarded request is not local.
    assert app.test_client().get("/dev/outbox", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    assert app.test_client().get("/dev/outbox", headers={"Forwarded": "for=203.0.113.9"}).status_code == 404

    # Behind trusted proxies request.remote_addr comes from X-Forwarded-For: a client claiming 127.0.0.1
    # through a proxy elsewhere is still not this machine.
    controller, _ = smtp_server
    proxied = build_app(
        database_url,
        controller.port,
        tmp_path,
        APP_ENV="development",
        TRUSTED_PROXIES=1,
        INSTANCE_PATH=str(tmp_path / "instance"),
    )
    try:
        response = proxied.test_client().get(
            "/dev/outbox", headers={"X-Forwarded-For": "127.0.0.1"}, environ_base={"REMOTE_ADDR": "203.0.113.9"}
        )
        assert response.status_code == 404
        assert new_consumer.email not in page(response)
    finally:
        proxied.extensions["db_engine"].dispose()


def test_there_is_no_dev_outbox_in_tests(database_url, smtp_server, tmp_path):
    controller, _ = smtp_server
    tested = build_app(database_url, controller.port, tmp_path)  # APP_ENV=test
    try:
        assert "dev" not in tested.blueprints
        assert tested.test_client().get("/dev/outbox").status_code == 404
    finally:
        tested.extensions["db_engine"].dispose()
