"""Launch day (issue 21), small: the levers it needs and the scale benchmark's own code at hundreds of rows.

The full run is `make benchmark-scale` (tests/benchmarks/launch_day.py); here the same scenario functions run on a
SQLite stack (gunicorn, a separate `flask worker`, a real SMTP server), so the benchmark cannot rot unnoticed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import argon2
import pytest

from app.domain.money import Money
from app.models import Consumer
from app.services import bulk_upload as bulk
from app.services import consumers
from tests.conftest import temporary_password_in
from tests.integration.conftest import StoreBrowser, reload

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def partner(make_partner):
    return make_partner(funds="1000")


def test_bulk_welcome_emails_spend_no_argon2_time_and_their_passwords_sign_in(app, session, partner, mailbox, monkeypatch):
    created = consumers.create_consumers_in_bulk(
        session, partner=partner, wallets=[consumers.BulkWallet("launch@example.com", "Lau Nch", Money(1_00, "USD"))]
    )

    def no_argon2(*_args, **_kwargs):
        raise AssertionError("a temporary password was hashed with Argon2")

    with monkeypatch.context() as patched:
        patched.setattr(argon2.PasswordHasher, "hash", no_argon2)
        assert bulk.welcome(session, created.new_consumer_ids) == 1
    consumer = reload(session, Consumer, created.new_consumer_ids[0])
    assert consumer.password_hash.startswith("$hmac-sha256$")
    password = temporary_password_in(mailbox.last_to("launch@example.com"))
    store = StoreBrowser(app.test_client(), partner)
    assert store.login("launch@example.com", "wrong-guess-1").status_code == 422
    assert store.login("launch@example.com", password).status_code == 303


def test_a_temporary_password_hashed_with_argon2_before_still_signs_in(app, session, partner):
    from app.security import hash_password

    consumer = consumers.create_consumer(
        session, partner=partner, email="older@example.com", full_name="Old Er", initial_funds=Money(0, "USD")
    ).consumer
    consumer.password_hash = hash_password("kfq7-m2xp-9tzr")  # as welcome emails were hashed until now
    session.add(consumer)
    session.commit()
    store = StoreBrowser(app.test_client(), partner)
    assert store.login("older@example.com", "kfq7-m2xp-9tzr").status_code == 303


def test_the_worker_runs_the_setting_s_threads_unless_told(app, monkeypatch):
    import app.queue as queue

    ran = []
    monkeypatch.setattr(queue, "run_worker", lambda _app, workers: ran.append(workers))
    cli = app.test_cli_runner()
    assert cli.invoke(args=["worker"]).exit_code == 0
    assert cli.invoke(args=["worker", "--workers", "3"]).exit_code == 0
    assert ran == [app.extensions["settings"].WORKER_THREADS, 3]
    assert app.extensions["settings"].WORKER_THREADS >= 16  # 1,000 orders a minute at 800 ms each need ~14 at once


def test_pages_json_and_static_files_are_compressed_and_static_files_cached_for_good_under_their_version(app, partner):
    from flask import url_for

    client = app.test_client()
    login = client.get(f"/s/{partner.slug}/login", headers={"Accept-Encoding": "br, gzip"})
    assert login.status_code == 200 and login.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in login.headers["Vary"]
    assert client.get(f"/s/{partner.slug}/login", headers={"Accept-Encoding": "gzip"}).headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in client.get(f"/s/{partner.slug}/login").headers  # a client that asks for none
    with app.test_request_context():
        htmx = url_for("static", filename="vendor/htmx-2.0.11.min.js")
    assert "?v=" in htmx
    versioned = client.get(htmx, headers={"Accept-Encoding": "br"})
    assert versioned.headers["Content-Encoding"] == "br"
    assert "immutable" in versioned.headers["Cache-Control"] and "max-age=31536000" in versioned.headers["Cache-Control"]
    stale = client.get(htmx.split("?")[0] + "?v=not-this-one")
    assert "immutable" not in stale.headers["Cache-Control"]


@pytest.fixture
def launch_day():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import launch_day

        yield launch_day
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_the_launch_day_benchmark_runs_every_scenario_small(launch_day, tmp_path):
    """Onboarding (portal upload, check, commit, welcome emails over SMTP), a sign-in burst, the first page's bytes
    and an order burst with the 800 ms provider, through gunicorn and a separate worker: each figure reported."""
    stack = launch_day.Stack(f"sqlite:///{tmp_path}/launch.db", tmp_path, gunicorn_workers=2)
    try:
        stack.start()
        figures, lines = launch_day.run_scenarios(
            stack, consumers=30, sign_ins=10, sign_in_seconds=1, shoppers=3, each=2, order_seconds=1, onboarding_timeout=60
        )
    finally:
        stack.stop()
    report = "\n".join(lines)
    assert figures["onboarding"]["consumers_created"] == 30 and figures["onboarding"]["welcome_emails"] == 30, report
    assert len(figures["onboarding"]["passwords"]) == 30, report
    assert figures["sign_in"]["count"] == 10 and not figures["sign_in"]["errors"], report
    assert figures["orders"]["placed"] == 6 and figures["orders"]["card_emails"] == 6, report
    assert figures["orders"]["by_status"] == {"completed": 6} and figures["orders"]["issued_twice"] == 0, report
    assert 0 < figures["first_page"]["bytes"] <= 30 * 1024, report
    for name in ("onboarding", "sign-in", "bytes", "orders"):
        assert any(line.startswith(name) and line.rstrip().endswith(("PASS", "MISS")) for line in lines), report
