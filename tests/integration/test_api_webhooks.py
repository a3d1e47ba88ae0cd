"""Webhooks: registered through the partner API (secret shown once, stored encrypted), told about
completed and failed orders by a signed POST the receiver can verify, retried by the queue with a
growing delay after a failure, every attempt recorded, and never sent to private addresses
outside development and tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update
from sqlmodel import select

from app import outbound_http
from app.db import db_session, write_transaction
from app.models import Order, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.services import catalog, webhooks
from tests.conftest import build_app
from tests.integration.api_client import (
    call,
    counts,
    failed,
    ok,
)

ENCRYPTION_KEY = Fernet.generate_key().decode()  # shared with the production-like app below


@pytest.fixture
def app_config():
    return {"WEBHOOK_MAX_ATTEMPTS": 3, "WEBHOOK_TIMEOUT_SECONDS": 1, "ENCRYPTION_KEYS": ENCRYPTION_KEY}


# --- a partner's receiver -----------------------------------------------------------------


class Receiver:
    """A real HTTP server in a thread: answers each POST with the next scripted status and keeps
    what it received."""

    def __init__(self):
        self.answers: list[int | tuple[int, dict] | float] = []
        self.requests: list[dict] = []
        self.stopping = threading.Event()  # ends a slow answer's wait: the caller has long given up by then
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": self.headers, "body": body})  # case-insensitive
                answer = receiver.answers.pop(0) if receiver.answers else 200
                if isinstance(answer, float):  # seconds to keep the caller waiting
                    receiver.stopping.wait(answer)
                    answer = 200
                status, headers = answer if isinstance(answer, tuple) else (answer, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )  # stops within 50 ms
        self.thread.start()

    def url(self, path: str = "/hooks/giftstore", scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def stop(self):
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture
def shop(session, partner_with_key, make_consumer, make_brand):
    partner, credentials = partner_with_key(funds="1000")
    consumer = make_consumer(partner, funds="100", email="robin@example.com", name="Robin Buyer")
    brand = make_brand("Bluefin Sushi", denominations="1000,2500,5000")
    catalog.make_available(session, partner=partner, brand=brand)
    return partner, credentials, consumer


def order_body(consumer, ref: str = "PO-1") -> dict:
    return {"customerId": consumer.id, "brand": "bluefin-sushi", "amount": 25, "currency": "USD", "externalRefId": ref}


def register(client, credentials, url: str, events=None) -> dict:
    body = {"url": url} if events is None else {"url": url, "events": events}
    return ok(call(client, credentials, "POST", "/webhooks", body))


def deliveries(session, endpoint_id: int) -> list[WebhookDelivery]:
    session.rollback()
    return list(
        session.exec(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id).order_by(WebhookDelivery.id)).all()
    )


def attempts(session, delivery_id: int) -> list[WebhookAttempt]:
    session.rollback()
    return list(
        session.exec(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id)).all()
    )


def scheduled_retries(app) -> list:
    return [t for t in app.extensions["queue"].scheduled() if t.name == "deliver_webhook"]


def run_scheduled_retries(app) -> int:
    """Run the queue's scheduled retries now, as a worker would once their time came."""
    queue = app.extensions["queue"]
    later = (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None)  # huey keeps naive UTC
    due = queue.read_schedule(later)
    for task in due:
        queue.execute(task, timestamp=later)
    return len(due)


def signature_of(secret: str, request: dict) -> str:
    """What the receiver computes, from the seed's scheme, to check a delivery."""
    headers = request["headers"]
    to_sign = f"POST\n{headers['x-timestamp']}\n{headers['x-client-id']}\n".encode() + request["body"]
    return base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()).decode()


# --- registering ----------------------------------------------------------------------------


def test_a_webhook_is_registered_with_a_secret_shown_once_and_stored_encrypted(app, client, session, shop):
    _partner, credentials, _consumer = shop

    created = register(client, credentials, "https://partner.example.com/hooks")

    assert set(created) == {"id", "url", "events", "active", "createdAt", "secret"}
    assert created["url"] == "https://partner.example.com/hooks"
    assert created["events"] == ["order.completed", "order.failed"] and created["active"] is True
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    endpoint = session.get(WebhookEndpoint, created["id"])
    assert created["secret"] not in endpoint.secret_encrypted
    assert app.extensions["encryptor"].decrypt(endpoint.secret_encrypted) == created["secret"]

    listed = ok(call(client, credentials, "GET", "/webhooks"))
    assert listed == {"items": [{k: v for k, v in created.items() if k != "secret"}]}


def test_a_webhook_is_deleted_and_then_gone(client, session, shop):
    _partner, credentials, _consumer = shop
    created = register(client, credentials, "https://partner.example.com/hooks", events=["order.failed"])

    deleted = ok(call(client, credentials, "DELETE", f"/webhooks/{created['id']}"))

    assert deleted["active"] is False and deleted["events"] == ["order.failed"]
    assert ok(call(client, credentials, "GET", "/webhooks")) == {"items": []}
    failed(call(client, credentials, "DELETE", f"/webhooks/{created['id']}"), 404, "NOT_FOUND")
    failed(call(client, credentials, "GET", f"/webhooks/{created['id']}/deliveries"), 404, "NOT_FOUND")
    assert session.get(WebhookEndpoint, created["id"]).disabled_at is not None


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "url"),
        ({"url": ""}, "url"),
        ({"url": "ftp://partner.example.com/hooks"}, "url"),
        ({"url": "partner.example.com/hooks"}, "url"),
        ({"url": "https://user:password@partner.example.com/hooks"}, "url"),
        ({"url": "https://[::1/hooks"}, "url"),
        ({"url": "https://partner.example.com:99999/"}, "url"),
        ({"url": "https://partner.example.com/" + "x" * 500}, "url"),
        ({"url": "https://partner.example.com/hooks", "events": []}, "events"),
        ({"url": "https://partner.example.com/hooks", "events": ["order.shipped"]}, "events"),
        ({"url": "https://partner.example.com/hooks", "events": "order.failed"}, "events"),
        ({"url": "https://partner.example.com/hooks", "secret": "mine"}, "secret"),
    ],
)
def test_a_bad_webhook_is_a_400_naming_the_field_and_creates_nothing(client, session, shop, body, field):
    _partner, credentials, _consumer = shop
    before = counts(session)

    message = failed(call(client, credentials, "POST", "/webhooks", body), 400, "VALIDATION_ERROR")

    assert message.startswith(field), message
    assert counts(session) == before


def test_a_url_is_registered_once_and_a_partner_has_at_most_ten(client, session, shop):
    _partner, credentials, _consumer = shop
    for n in range(10):
        register(client, credentials, f"https://partner.example.com/hooks/{n}")
    before = counts(session)

    assert "already registered" in failed(
        call(client, credentials, "POST", "/webhooks", {"url": "https://partner.example.com/hooks/3"}), 400, "VALIDATION_ERROR"
    )
    assert "at most 10" in failed(
        call(client, credentials, "POST", "/webhooks", {"url": "https://partner.example.com/hooks/10"}), 400, "VALIDATION_ERROR"
    )
    assert counts(session) == before


# --- delivering -----------------------------------------------------------------------------


def test_a_completed_order_is_posted_signed_and_a_failed_attempt_is_retried_by_the_queue(app, client, session, shop, receiver):
    partner, credentials, consumer = shop
    webhook = register(client, credentials, receiver.url())
    receiver.answers = [500, 200]

    order = ok(call(client, credentials, "POST", "/orders", order_body(consumer)))

    # The first attempt ran when the order completed, and failed.
    [delivery] = deliveries(session, webhook["id"])
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.event_type) == (
        "pending",
        1,
        500,
        "order.completed",
    )
    [first] = attempts(session, delivery.id)
    assert (first.status_code, first.error) == (500, "HTTP 500") and first.duration_ms >= 0
    # The queue holds the retry, about WEBHOOK_RETRY_DELAY_SECONDS (30) from now.
    [retry] = scheduled_retries(app)
    wait = retry.eta - datetime.now(UTC).replace(tzinfo=None)
    assert timedelta(seconds=25) < wait <= timedelta(seconds=31)

    assert run_scheduled_retries(app) == 1

    [delivery] = deliveries(session, webhook["id"])
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == ("delivered", 2, 200, "")
    assert delivery.delivered_at is not None
    assert [(a.status_code, a.error) for a in attempts(session, delivery.id)] == [(500, "HTTP 500"), (200, "")]
    assert scheduled_retries(app) == []

    # What the receiver got, twice: the same event, each time signed so it can check it.
    assert len(receiver.requests) == 2
    for request in receiver.requests:
        headers = request["headers"]
        assert request["path"] == "/hooks/giftstore"
        assert headers["Content-Type"] == "application/json"
        assert headers["x-client-id"] == partner.client_id
        assert headers["x-event-id"] == delivery.event_id and headers["x-event-type"] == "order.completed"
        assert hmac.compare_digest(headers["x-signature"], signature_of(webhook["secret"], request))
        assert abs(datetime.fromisoformat(headers["x-timestamp"].replace("Z", "+00:00")) - datetime.now(UTC)) < timedelta(
            minutes=1
        )
        assert signature_of("another-secret", request) != headers["x-signature"]
    event = json.loads(receiver.requests[1]["body"], parse_float=Decimal)
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"] == delivery.payload.encode()
    assert (event["id"], event["type"]) == (delivery.event_id, "order.completed")
    assert event["data"]["order"]["id"] == order["id"] and event["data"]["order"]["status"] == "completed"
    assert event["data"]["order"]["amount"] == Decimal("25.00") and event["data"]["order"]["card"] is None
    assert order["card"]["number"].encode() not in receiver.requests[1]["body"]

    # The partner reads the same story through the API.
    [listed] = ok(call(client, credentials, "GET", f"/webhooks/{webhook['id']}/deliveries"))["items"]
    assert (listed["status"], listed["attemptCount"], listed["orderId"], listed["event"]) == (
        "delivered",
        2,
        order["id"],
        "order.completed",
    )
    assert [a["statusCode"] for a in listed["attempts"]] == [500, 200]
    assert listed["payload"] == event


def test_a_failed_order_is_posted_as_order_failed_and_only_to_webhooks_that_want_it(app, client, session, shop, receiver):
    _partner, credentials, consumer = shop
    wants_failures = register(client, credentials, receiver.url("/failures"), events=["order.failed"])
    wants_completions = register(client, credentials, receiver.url("/completions"), events=["order.completed"])
    app.extensions["provider"].failure_rate = 1.0  # the simulated provider declines every card

    order = ok(call(client, credentials, "POST", "/orders", order_body(consumer)))

    assert order["status"] == "failed"
    assert deliveries(session, wants_completions["id"]) == []
    [delivery] = deliveries(session, wants_failures["id"])
    assert delivery.status == "delivered"
    [request] = receiver.requests
    event = json.loads(request["body"])
    assert request["path"] == "/failures" and event["type"] == "order.failed"
    assert event["data"]["order"]["status"] == "failed" and event["data"]["order"]["failureReason"]


def test_delivery_gives_up_after_the_configured_attempts_with_a_doubling_delay(app, client, session, shop, receiver):
    _partner, credentials, consumer = shop
    webhook = register(client, credentials, receiver.url())
    receiver.answers = [503, 503, 503, 200]

    ok(call(client, credentials, "POST", "/orders", order_body(consumer)))
    [first_retry] = scheduled_retries(app)
    run_scheduled_retries(app)
    [second_retry] = scheduled_retries(app)
    assert timedelta(seconds=55) < second_retry.eta - datetime.now(UTC).replace(tzinfo=None) <= timedelta(seconds=61)
    run_scheduled_retries(app)

    [delivery] = deliveries(session, webhook["id"])
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 3, 503)  # WEBHOOK_MAX_ATTEMPTS = 3
    assert len(attempts(session, delivery.id)) == 3 and len(receiver.requests) == 3
    assert scheduled_retries(app) == []
    assert webhooks.deliver(db_session(), delivery.id).status == "skipped"


def test_a_redirect_is_not_followed_and_a_slow_receiver_times_out(app, client, session, shop, receiver):
    _partner, credentials, consumer = shop
    webhook = register(client, credentials, receiver.url())
    receiver.answers = [(302, {"Location": receiver.url("/elsewhere")}), 2.0, 200]

    ok(call(client, credentials, "POST", "/orders", order_body(consumer)))
    run_scheduled_retries(app)
    run_scheduled_retries(app)

    [delivery] = deliveries(session, webhook["id"])
    first, second, third = attempts(session, delivery.id)
    assert (first.status_code, first.error) == (302, "HTTP 302")
    assert second.status_code is None and "timed out" in second.error and 900 <= second.duration_ms < 1900
    assert (third.status_code, delivery.status) == (200, "delivered")
    assert [r["path"] for r in receiver.requests] == ["/hooks/giftstore"] * 3  # never /elsewhere


def test_a_deleted_webhooks_pending_deliveries_give_up(app, client, session, shop, receiver):
    _partner, credentials, consumer = shop
    webhook = register(client, credentials, receiver.url())
    receiver.answers = [500]
    ok(call(client, credentials, "POST", "/orders", order_body(consumer)))

    ok(call(client, credentials, "DELETE", f"/webhooks/{webhook['id']}"))
    run_scheduled_retries(app)

    [delivery] = deliveries(session, webhook["id"])
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 1, "The webhook was deleted.")
    assert len(receiver.requests) == 1


def test_the_sweep_requeues_a_delivery_whose_retry_was_lost(app, client, session, shop, receiver):
    _partner, credentials, consumer = shop
    webhook = register(client, credentials, receiver.url())
    receiver.answers = [500]
    ok(call(client, credentials, "POST", "/orders", order_body(consumer)))
    app.extensions["queue"].flush()  # the scheduled retry is lost (say, the queue's storage was wiped)
    [delivery] = deliveries(session, webhook["id"])
    assert webhooks.requeue_stuck_deliveries(db_session()) == 0  # not stuck yet: its retry is due in 30 s
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    with write_transaction(session):
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(created_at=an_hour_ago))
        session.execute(update(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id).values(attempted_at=an_hour_ago))

    assert webhooks.requeue_stuck_deliveries(db_session()) == 1

    [delivery] = deliveries(session, webhook["id"])
    assert (delivery.status, delivery.attempts) == ("delivered", 2)


# --- tenant isolation -----------------------------------------------------------------------


def test_another_partners_webhooks_are_404_and_never_hear_of_these_orders(app, client, session, shop, partner_with_key, receiver):
    _partner, credentials, consumer = shop
    mine = register(client, credentials, receiver.url("/mine"))
    _other, other_credentials = partner_with_key()
    theirs = register(client, other_credentials, receiver.url("/theirs"))
    before = counts(session)

    failed(call(client, other_credentials, "DELETE", f"/webhooks/{mine['id']}"), 404, "NOT_FOUND")
    failed(call(client, other_credentials, "GET", f"/webhooks/{mine['id']}/deliveries"), 404, "NOT_FOUND")
    assert [w["id"] for w in ok(call(client, other_credentials, "GET", "/webhooks"))["items"]] == [theirs["id"]]
    assert counts(session) == before
    assert session.get(WebhookEndpoint, mine["id"]).is_active is True

    ok(call(client, credentials, "POST", "/orders", order_body(consumer)))
    assert [r["path"] for r in receiver.requests] == ["/mine"]
    assert deliveries(session, theirs["id"]) == []


# --- private addresses outside development and tests ----------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",  # a name that resolves to loopback
        "https://10.1.2.3/hooks",
        "https://172.16.0.1/hooks",
        "https://192.168.0.10/hooks",
        "https://169.254.169.254/latest/meta-data",  # cloud metadata
        "https://100.64.0.1/hooks",  # carrier-grade NAT
        "https://0.0.0.0/hooks",
        "https://224.0.0.1/hooks",
        "https://240.0.0.1/hooks",
        "https://[::1]/hooks",
        "https://[fd00::1]/hooks",
        "https://[fe80::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://[64:ff9b::7f00:1]/hooks",  # NAT64 to 127.0.0.1
        "https://[64:ff9b::a9fe:a9fe]/hooks",  # NAT64 to 169.254.169.254
        "https://[64:ff9b::808:808]/hooks",  # NAT64 at all: refused, even to a public address
        "https://[2002:a00:1::1]/hooks",  # 6to4 from 10.0.0.1
        "https://[2002:7f00:1::1]/hooks",  # 6to4 from 127.0.0.1
        "https://[::7f00:1]/hooks",  # IPv4-compatible (deprecated) 127.0.0.1
        "http://8.8.8.8/hooks",  # public, but not https
        "https://user:secret@8.8.8.8/hooks",
        "https://no-such-host.invalid/hooks",
    ],
)
def test_outside_development_a_url_must_be_https_to_a_public_address(url):
    with pytest.raises(outbound_http.UnsafeUrl) as refusal:
        outbound_http.resolve(url, allow_local=False)
    assert refusal.value.field == "url" and refusal.value.message.startswith("url")


def test_outside_development_a_public_https_address_is_accepted():
    assert outbound_http.resolve("https://8.8.8.8/hooks", allow_local=False) == ["8.8.8.8"]
    assert outbound_http.resolve("https://[2001:4860:4860::8888]:8443/hooks", allow_local=False) == ["2001:4860:4860::8888"]


@pytest.fixture
def production_app(database_url, smtp_server, tmp_path):
    """The same database and keys, with APP_ENV=production."""
    controller, _ = smtp_server
    app = build_app(
        database_url,
        controller.port,
        tmp_path,
        APP_ENV="production",
        BASE_URL="https://store.example.com",
        ENCRYPTION_KEYS=ENCRYPTION_KEY,
    )
    yield app
    app.extensions["db_engine"].dispose()


def test_in_production_the_api_refuses_a_private_or_plain_http_url_and_creates_nothing(production_app, session, shop):
    _partner, credentials, _consumer = shop
    client = production_app.test_client()
    before = counts(session)

    for url, reason in [
        ("https://127.0.0.1/hooks", "loopback"),
        ("https://localhost:8443/hooks", "loopback"),
        ("https://10.0.0.7/hooks", "private"),
        ("http://8.8.8.8/hooks", "https"),
    ]:
        assert reason in failed(call(client, credentials, "POST", "/webhooks", {"url": url}), 400, "VALIDATION_ERROR")
    assert counts(session) == before
    assert ok(call(client, credentials, "POST", "/webhooks", {"url": "https://8.8.8.8/hooks"}))["url"] == "https://8.8.8.8/hooks"


def test_in_production_the_address_is_checked_again_before_each_attempt(app, production_app, client, session, shop, receiver):
    _partner, credentials, consumer = shop
    # Registered while the host was acceptable (here: in test mode); it now resolves to loopback.
    webhook = register(client, credentials, receiver.url(scheme="https", host="localhost"))
    ok(call(client, credentials, "POST", "/orders", order_body(consumer)))
    [delivery] = deliveries(session, webhook["id"])
    assert delivery.attempts == 1  # a TLS handshake with a plain HTTP server: failed, but tried

    with production_app.app_context():
        outcome = webhooks.deliver(db_session(), delivery.id)

    assert outcome.status == "pending" and outcome.retry_in == 60
    second = attempts(session, delivery.id)[-1]
    assert second.status_code is None
    assert second.error.startswith("Refused: url's host localhost resolves to a private, loopback")
    assert receiver.requests == []  # no POST ever reached it
    assert session.get(Order, delivery.order_id).status == "completed"
