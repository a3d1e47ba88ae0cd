"""The operator's view: /metrics (who may read it, what it shows), /healthz, /readyz, JSON log lines and request ids."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta

import pytest
from huey import RedisHuey
from sqlalchemy import create_engine

from app.clock import utcnow
from app.db import write_transaction
from app.domain.money import Money
from app.logs import _Stderr
from app.models import EmailMessage, Order, WebhookDelivery, WebhookEndpoint
from app.providers import ProviderError
from app.services import catalog, orders
from tests.conftest import free_port

REMOTE = {"REMOTE_ADDR": "203.0.113.7"}


@pytest.fixture(autouse=True)
def no_log_handler_left_behind():
    """A test that builds a JSON-logging app adds a handler to the root logger: take it away afterwards."""
    before = list(logging.getLogger().handlers)
    yield
    for handler in logging.getLogger().handlers:
        if handler not in before and isinstance(handler, _Stderr):
            logging.getLogger().removeHandler(handler)


def metric(text: str, name: str, **labels) -> float | None:
    """The value of one sample in Prometheus' text format, or None when it is not there."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if found == {k: str(v) for k, v in labels.items()}:
            return float(match.group(4))
    return None


# --- who may read /metrics --------------------------------------------------------------------------------


def test_without_a_token_metrics_answer_this_machine_only(client):
    assert client.get("/metrics").status_code == 200  # the test client connects from 127.0.0.1
    assert client.get("/metrics", environ_base=REMOTE).status_code == 404
    # A proxy on this machine forwards everyone's requests from loopback: a forwarded request is not local.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 404


@pytest.mark.parametrize("app_config", [{"METRICS_TOKEN": "scrape-" + "k" * 40}])
def test_with_a_token_metrics_want_it_from_everyone(client, app_config):
    token = app_config["METRICS_TOKEN"]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}, {"Authorization": f"Basic {token}"}):
        local = client.get("/metrics", headers=headers)
        assert local.status_code == 401, headers  # this machine too
        assert local.headers["WWW-Authenticate"].startswith("Bearer")
        assert client.get("/metrics", headers=headers, environ_base=REMOTE).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}, environ_base=REMOTE)
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    assert "giftstore_database_up 1.0" in answer.get_data(as_text=True)


# --- what /metrics shows --------------------------------------------------------------------------------------


class _Down:
    def issue(self, **_):
        raise ProviderError("provider timeout", permanent=False)


def test_metrics_show_requests_by_route_and_the_state_of_orders_emails_and_webhooks(
    app, client, session, make_partner, make_brand, make_consumer
):
    partner = make_partner()
    brand = make_brand()
    catalog.make_available(session, partner=partner, brand=brand)
    consumer = make_consumer(partner, funds="100")
    before = client.get("/metrics").get_data(as_text=True)
    store_page = {"method": "GET", "route": "/s/<slug>/login", "status": "200"}
    seen_before = metric(before, "giftstore_http_requests_total", **store_page) or 0

    assert client.get(f"/s/{partner.slug}/login").status_code == 200
    assert client.get("/no/such/page/" + secrets.token_hex(4)).status_code == 404
    assert client.open(f"/s/{partner.slug}/login", method="BREW").status_code == 405

    # An order the provider keeps failing (pending), placed ten minutes ago; a failed email; a failing webhook.
    app.extensions["provider"] = _Down()
    order = orders.place_order(
        session,
        consumer=consumer,
        offer=catalog.offer(session, partner, brand.slug),
        face_value=Money(25_00, "USD"),
        recipient=orders.recipient_for(consumer, send_to="me"),
        idempotency_key="metrics-test-order",
    )
    with write_transaction(session):
        session.get(Order, order.id).created_at = utcnow() - timedelta(minutes=10)
        session.add(
            EmailMessage(kind="welcome", to="x@example.com", subject="Hi", html_encrypted="", text_encrypted="", status="failed")
        )
        endpoint = WebhookEndpoint(partner_id=partner.id, url="http://127.0.0.1:9/hook", secret_encrypted="x")
        session.add(endpoint)
        session.flush()
        session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id,
                partner_id=partner.id,
                event_id="evt_metrics",
                event_type="order.failed",
                payload="{}",
                attempts=2,
            )
        )

    text = client.get("/metrics").get_data(as_text=True)
    assert metric(text, "giftstore_http_requests_total", **store_page) == seen_before + 1
    # The URL rule, never the raw path: a made-up path is not a new series.
    assert metric(text, "giftstore_http_requests_total", method="GET", route="(unmatched)", status="404") >= 1
    assert partner.slug not in text and "/no/such/page" not in text
    assert metric(text, "giftstore_http_requests_total", method="OTHER", route="(unmatched)", status="405") >= 1
    assert "BREW" not in text
    assert metric(text, "giftstore_http_request_duration_seconds_count", method="GET", route="/s/<slug>/login") >= 1
    assert metric(text, "giftstore_http_request_duration_seconds_bucket", method="GET", route="/s/<slug>/login", le="+Inf") >= 1
    assert metric(text, "giftstore_queue_up") == 1
    assert metric(text, "giftstore_queue_depth") == 0
    assert metric(text, "giftstore_database_up") == 1
    assert metric(text, "giftstore_orders_pending") == 1
    assert 600 <= metric(text, "giftstore_oldest_pending_order_age_seconds") < 700
    assert metric(text, "giftstore_orders_last_24h", status="pending") == 1
    assert metric(text, "giftstore_emails_last_24h", status="failed") == 1
    assert metric(text, "giftstore_emails_last_24h", status="sent") >= 1  # the welcome email
    assert metric(text, "giftstore_webhook_deliveries_failing") == 1
    assert metric(text, "giftstore_webhook_deliveries_last_24h", status="pending") == 1


def break_the_database(app, monkeypatch):
    """Every new session of the app talks to a port where no database listens (undone after the test)."""
    broken = create_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none?connect_timeout=2")
    monkeypatch.setitem(app.extensions, "db_engine", broken)
    monkeypatch.setitem(app.extensions, "db_reads_engine", broken)


def test_metrics_still_answer_when_the_database_does_not(app, client, monkeypatch):
    break_the_database(app, monkeypatch)
    text = client.get("/metrics").get_data(as_text=True)
    assert metric(text, "giftstore_database_up") == 0
    assert metric(text, "giftstore_queue_up") == 1
    assert metric(text, "giftstore_orders_pending") is None


# --- health and readiness -----------------------------------------------------------------------------------


def test_healthz_and_readyz_answer_when_all_is_well(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz", environ_base=REMOTE)
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready", "database": "ok", "queue": "ok"}


def test_readyz_names_the_database_when_it_does_not_answer_and_healthz_does_not_ask_it(app, client, monkeypatch):
    break_the_database(app, monkeypatch)
    assert client.get("/healthz").status_code == 200  # liveness: the process serves
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["status"] == "unavailable"
    assert ready.get_json()["database"].startswith("unavailable (")
    assert ready.get_json()["queue"] == "ok"


def test_readyz_names_the_queue_when_redis_does_not_answer(app, client, monkeypatch):
    monkeypatch.setitem(app.extensions, "queue", RedisHuey("giftstore", url=f"redis://127.0.0.1:{free_port()}/0", results=False))
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json() == {"status": "unavailable", "database": "ok", "queue": "unavailable (ConnectionError)"}
    assert "giftstore_queue_up 0.0" in client.get("/metrics").get_data(as_text=True)


# --- request ids and JSON logs ---------------------------------------------------------------------------------


def json_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


@pytest.mark.parametrize("app_config", [{"LOG_FORMAT": "json"}])
def test_with_log_format_json_each_request_logs_a_json_line_with_its_request_id(client, capsys, app_config):
    capsys.readouterr()
    answer = client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.42"})
    assert answer.headers["X-Request-Id"] == "lb-7f3a.42"
    lines = [line for line in json_lines(capsys.readouterr().err) if line["logger"] == "giftstore.requests"]
    assert len(lines) == 1
    line = lines[0]
    assert (line["request_id"], line["route"], line["status"], line["method"]) == ("lb-7f3a.42", "/healthz", 200, "GET")
    assert line["level"] == "INFO" and line["time"].endswith("Z") and isinstance(line["duration_ms"], float)


@pytest.mark.parametrize("incoming", ["", "has space", 'quote"', "x" * 101, "tab\there", "semi;colon", "-starts-with-dash"])
def test_an_insane_incoming_request_id_is_replaced_by_a_new_one(client, incoming):
    answer = client.get("/healthz", headers={"X-Request-Id": incoming} if incoming else {})
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-Id"])


def test_the_request_id_travels_with_the_task_it_queued_into_the_task_log_lines(app, store, make_consumer, capsys):
    consumer = make_consumer(store.partner)  # its welcome email waits in the queue
    huey = app.extensions["queue"]
    huey.flush()
    store.get("/forgot")
    store.post("/forgot", {"email": consumer.email}, headers={"X-Request-Id": "req-forgot-1"})
    task = huey.dequeue()
    assert task.name == "send_password_reset"
    assert task.kwargs["_request_id"] == "req-forgot-1"

    capsys.readouterr()
    contextvars.Context().run(huey.execute, task)  # as a worker thread would, with nothing of the request around
    lines = json_lines(capsys.readouterr().err)
    huey_lines = [line for line in lines if line["logger"] == "huey"]
    assert any("Executing" in line["message"] for line in huey_lines)
    assert any("executed in" in line["message"] for line in huey_lines)
    assert {line["request_id"] for line in huey_lines} == {"req-forgot-1"}
    # The task itself queued the reset email: its delivery carries the same id on.
    email_task = huey.dequeue()
    assert (email_task.name, email_task.kwargs["_request_id"]) == ("deliver_email", "req-forgot-1")


@pytest.fixture
def app_config(request, tmp_path):
    """JSON logs and a queue in a file (tasks wait there to be looked at) for the request-id test; the parameter
    where a test gives one."""
    if request.node.name.startswith("test_the_request_id_travels"):
        return {"QUEUE_IMMEDIATE": False, "QUEUE_FILE": str(tmp_path / "queue.db"), "LOG_FORMAT": "json"}
    return getattr(request, "param", {})


PROCESS = """
import sys
from sqlmodel import SQLModel
from app import create_app

app = create_app({"APP_ENV": "test", "DATABASE_URL": sys.argv[2], "QUEUE_IMMEDIATE": True, "RUN_WORKER_IN_PROCESS": False})
SQLModel.metadata.create_all(app.extensions["db_engine"])
client = app.test_client()
if sys.argv[1] == "serve":
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
else:
    print(client.get("/metrics").get_data(as_text=True))
"""


def test_with_prometheus_multiproc_dir_any_process_shows_every_process_requests(tmp_path, database_url):
    """gunicorn runs several processes: one scrape must count what all of them answered."""
    if not database_url.startswith("sqlite"):
        pytest.skip("processes of their own: one backend is enough")
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    database = f"sqlite:///{tmp_path}/processes.db"
    for role in ("serve", "serve", "scrape"):
        ran = subprocess.run(
            [sys.executable, "-c", PROCESS, role, database], env=env, capture_output=True, text=True, timeout=120
        )
        assert ran.returncode == 0, ran.stderr[-2000:]
    healthz = {"method": "GET", "route": "/healthz", "status": "200"}
    assert metric(ran.stdout, "giftstore_http_requests_total", **healthz) == 6  # 3 from each serving process
    assert metric(ran.stdout, "giftstore_database_up") == 1
