"""The operator's view: /metrics (Prometheus), /healthz (liveness), /readyz (readiness), request ids and log lines.

/metrics is Prometheus' text format, written by prometheus_client:
  giftstore_http_requests_total{method,route,status}       requests by route (the URL rule, never the raw path)
  giftstore_http_request_duration_seconds{method,route}    latency histogram
  giftstore_queue_depth, giftstore_queue_scheduled         tasks waiting to run; retries waiting for their time
  giftstore_orders_pending, giftstore_oldest_pending_order_age_seconds
  giftstore_orders_last_24h{status}, giftstore_emails_last_24h{status}   (status="failed": what to alert on)
  giftstore_webhook_deliveries_failing, giftstore_webhook_deliveries_last_24h{status}
  giftstore_database_up, giftstore_queue_up                 1 when the scrape could read them, else 0
The request figures are counted per process; the rest are read from the database and the queue at scrape time.
Under gunicorn (several processes) set PROMETHEUS_MULTIPROC_DIR to an empty directory that only this app uses,
emptied before every start (prometheus_client's multiprocess mode): each process writes its counts there and any
process answering /metrics adds them all up. Without it every process counts and shows only its own requests.

Who may read it: with METRICS_TOKEN set, whoever sends `Authorization: Bearer <METRICS_TOKEN>` (from anywhere,
this machine included); without it, only this machine (the socket's peer on loopback, not forwarded by a proxy).

/healthz answers 200 while the process serves requests (no database, no queue: a liveness probe must not restart
every web process when the database blips). /readyz answers 200 when the database and the queue both answer, else
503 naming the one that failed. Neither needs a sign-in, a CSRF token or counts against a rate limit.
"""

from __future__ import annotations

import hmac
import logging
import os
import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from app.db import db_session
from app.extensions import csrf, limiter
from app.logs import REQUEST_ID_HEADER, reset_request_id, sane_request_id, set_request_id
from app.queue import queue_depth
from app.security import from_this_machine
from app.services import operations

log = logging.getLogger(__name__)
request_log = logging.getLogger("giftstore.requests")

bp = Blueprint("operations", __name__)
csrf.exempt(bp)
limiter.exempt(bp)

# One per process (a module's metrics outlive the apps tests build). In multiprocess mode prometheus_client keeps
# their values in PROMETHEUS_MULTIPROC_DIR (it reads the variable when it is imported).
REQUESTS = Counter("giftstore_http_requests", "HTTP requests answered, by route and status", ["method", "route", "status"])
LATENCY = Histogram(
    "giftstore_http_request_duration_seconds",
    "Time to answer an HTTP request, by route",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
UNMATCHED = "(unmatched)"  # a request no route took (404, 405): never its raw path, which anyone can make up


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or None


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route() -> str:
    return request.url_rule.rule if request.url_rule is not None else UNMATCHED


def _method() -> str:
    return request.method if request.method in METHODS else "OTHER"  # made-up methods are not new series either


def _start_request() -> None:
    g.request_started = time.perf_counter()
    g.request_id = sane_request_id(request.headers.get(REQUEST_ID_HEADER))
    g.request_id_token = set_request_id(g.request_id)


def _finish_request(response: Response) -> Response:
    started = g.pop("request_started", None)
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    if started is None:
        return response
    elapsed = time.perf_counter() - started
    route, method = _route(), _method()
    REQUESTS.labels(method, route, str(response.status_code)).inc()
    LATENCY.labels(method, route).observe(elapsed)
    if current_app.extensions["settings"].LOG_FORMAT == "json":
        request_log.info(
            "%s %s %s",
            method,
            route,
            response.status_code,
            extra={
                "method": method,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
            },
        )
    return response


def _end_request(_exc=None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        try:
            reset_request_id(token)
        except (ValueError, RuntimeError):  # set in another context, or undone already: nothing to undo here
            pass


class _ReadAtScrape:
    """The figures read from the database and the queue, each time /metrics is scraped."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        database_up = GaugeMetricFamily("giftstore_database_up", "1 when the database answered this scrape")
        queue_up = GaugeMetricFamily("giftstore_queue_up", "1 when the queue answered this scrape")
        try:
            waiting, scheduled = queue_depth(self.app)
        except Exception:  # noqa: BLE001  (unreachable: the scrape still shows everything else)
            log.warning("metrics: the queue did not answer", exc_info=True)
            queue_up.add_metric([], 0)
        else:
            queue_up.add_metric([], 1)
            yield GaugeMetricFamily("giftstore_queue_depth", "Queued tasks waiting for a worker", value=waiting)
            yield GaugeMetricFamily("giftstore_queue_scheduled", "Tasks scheduled for later (retries, delays)", value=scheduled)
        yield queue_up
        try:
            figures = operations.operating_figures(db_session())
        except Exception:  # noqa: BLE001
            log.warning("metrics: the database did not answer", exc_info=True)
            db_session().rollback()
            database_up.add_metric([], 0)
            yield database_up
            return
        database_up.add_metric([], 1)
        yield database_up
        yield GaugeMetricFamily("giftstore_orders_pending", "Orders waiting for their card", value=figures.orders_pending)
        yield GaugeMetricFamily(
            "giftstore_oldest_pending_order_age_seconds",
            "Age of the oldest pending order (0: none pending)",
            value=figures.oldest_pending_order_age_seconds,
        )
        for name, help_text, by_status in (
            ("giftstore_orders_last_24h", "Orders created in the last 24 hours, by status", figures.orders_last_day),
            ("giftstore_emails_last_24h", "Emails recorded in the last 24 hours, by status", figures.emails_last_day),
            (
                "giftstore_webhook_deliveries_last_24h",
                "Webhook deliveries of events of the last 24 hours, by status",
                figures.webhook_deliveries_last_day,
            ),
        ):
            family = GaugeMetricFamily(name, help_text, labels=["status"])
            for status, count in sorted(by_status.items()):
                family.add_metric([status], count)
            yield family
        yield GaugeMetricFamily(
            "giftstore_webhook_deliveries_failing",
            "Webhook deliveries being retried after a failed attempt",
            value=figures.webhook_deliveries_failing,
        )


class _ThisProcess:
    """This process's request figures (when not in multiprocess mode)."""

    def collect(self):
        yield from REQUESTS.collect()
        yield from LATENCY.collect()


def may_read_metrics() -> bool:
    token = current_app.extensions["settings"].METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    return from_this_machine(request.environ)


@bp.get("/metrics")
def metrics():
    if not may_read_metrics():
        if current_app.extensions["settings"].METRICS_TOKEN:
            return Response("Unauthorized\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"'}, mimetype="text/plain")
        return Response("Not found\n", 404, mimetype="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(_ReadAtScrape(current_app._get_current_object()))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/healthz")
def health():
    return {"status": "ok"}


@bp.get("/readyz")
def ready():
    checks: dict[str, str] = {}
    try:
        operations.check_database(db_session())
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001
        db_session().rollback()
        log.warning("readyz: the database did not answer: %s", error)
        checks["database"] = f"unavailable ({type(error).__name__})"
    try:
        queue_depth(current_app._get_current_object())
        checks["queue"] = "ok"
    except Exception as error:  # noqa: BLE001
        log.warning("readyz: the queue did not answer: %s", error)
        checks["queue"] = f"unavailable ({type(error).__name__})"
    ready_now = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready_now else "unavailable", **checks), 200 if ready_now else 503


def register_operations(app: Flask) -> None:
    """Request ids, request metrics and the three endpoints (create_app set the log format)."""
    # First of the before_request functions: the request is timed and has its id even when a later one refuses it.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_finish_request)
    app.teardown_request(_end_request)
    app.register_blueprint(bp)
