"""Webhooks: a partner's endpoints hear about its orders (order.completed, order.failed).

An event becomes one WebhookDelivery per subscribed endpoint, written in the same transaction
that changed the order, and a queued task POSTs it once that commits. The body is signed like
the partner's own requests, with the endpoint's secret:

    x-signature = base64(HMAC-SHA256(secret, "POST" + "\\n" + x-timestamp + "\\n" + x-client-id + "\\n" + body))

Each attempt is recorded (status code, error, duration). A failure is retried by the queue with
a doubling delay until WEBHOOK_MAX_ATTEMPTS; a 2xx delivers it. Delivery is at least once: the
receiver deduplicates on x-event-id, which stays the same across retries.

Outside development and tests a URL must be https and its host must resolve only to public
addresses; this is checked when it is registered and again before every attempt (DNS can change),
and the connection goes to the address that was checked. Redirects are never followed.
"""
from __future__ import annotations

import functools
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, update
from sqlmodel import Session, select

from app.api.auth import compute_signature
from app.api.responses import dumps, iso_utc
from app.api.schemas import order_data
from app.clock import utcnow
from app.db import on_commit, write_transaction
from app.domain.errors import InvalidInput, NotFound
from app.models import Brand, Order, Partner, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.services import partners
from app.queue import enqueue

log = logging.getLogger(__name__)

EVENTS = ("order.completed", "order.failed")
MAX_ENDPOINTS = 10  # active webhooks per partner
URL_MAX = 500
USER_AGENT = "GiftStore-Webhooks/1"


class UnsafeUrl(InvalidInput):
    """A webhook URL we will not call."""


@dataclass(frozen=True)
class Outcome:
    status: str  # delivered | pending | failed | skipped
    retry_in: int | None = None  # seconds until the queue should try again


def local_urls_allowed() -> bool:
    """Plain http and local or private hosts: only while developing and testing."""
    return current_app.extensions["settings"].APP_ENV in ("development", "test")


# --- which URLs may be called ---------------------------------------------------------------


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address):
        # The IPv4 address inside ::ffff:a.b.c.d, or inside 6to4's 2002:aabb:ccdd::/48 (a relay would call
        # a.b.c.d). NAT64's 64:ff9b:: forms lie in ::/8, which counts as reserved: refused whatever they carry.
        ip = ip.ipv4_mapped or ip.sixtofour or ip
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_private or ip.is_loopback or ip.is_link_local)


def _parse(url: str, *, allow_local: bool):
    if not isinstance(url, str) or not url.strip():
        raise UnsafeUrl("url is required.", field="url")
    if len(url) > URL_MAX:
        raise UnsafeUrl(f"url can be at most {URL_MAX} characters.", field="url")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"url is not a valid URL ({exc}).", field="url") from None
    schemes = ("https", "http") if allow_local else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeUrl("url must use https.", field="url")
    if not parts.hostname:
        raise UnsafeUrl("url must name a host.", field="url")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("url must not contain a user name or password.", field="url")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise UnsafeUrl("url must not contain spaces or control characters.", field="url")
    return parts, port or (443 if parts.scheme == "https" else 80)


def resolve(url: str, *, allow_local: bool) -> list[str]:
    """The addresses `url`'s host resolves to, all of them public unless `allow_local`.

    Raises UnsafeUrl when the URL is not https (outside development), the host does not
    resolve, or any address is private, loopback, link-local, multicast or reserved.
    """
    parts, port = _parse(url, allow_local=allow_local)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl(f"url's host {parts.hostname} does not resolve ({exc}).", field="url") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeUrl(f"url's host {parts.hostname} does not resolve.", field="url")
    if not allow_local:
        refused = [a for a in addresses if not _is_public(a)]
        if refused:
            raise UnsafeUrl(
                f"url's host {parts.hostname} resolves to a private, loopback, link-local or reserved address ({refused[0]}).",
                field="url",
            )
    return addresses


def check_url(url: str, *, allow_local: bool) -> str:
    """The URL, cleaned, if a webhook may be registered with it. Development and tests skip DNS."""
    if allow_local:
        _parse(url, allow_local=True)
    else:
        resolve(url, allow_local=False)
    return url.strip()


# --- endpoints ------------------------------------------------------------------------------


def register_endpoint(session: Session, *, partner: Partner, url: str, events: list[str]) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (returned once; only its encryption is stored)."""
    url = check_url(url, allow_local=local_urls_allowed())
    unknown = [e for e in events if e not in EVENTS]
    if not events or unknown:
        raise InvalidInput(f"events must be some of {', '.join(EVENTS)}.", field="events")
    chosen = ",".join(e for e in EVENTS if e in events)
    secret = "whsec_" + secrets.token_urlsafe(32)
    with write_transaction(session):
        # Serialise registrations of this partner, so the limit and the duplicate check hold.
        partners.hold_partner(session, partner.id)
        active = session.exec(
            select(WebhookEndpoint).where(WebhookEndpoint.partner_id == partner.id, WebhookEndpoint.is_active)
        ).all()
        if any(endpoint.url == url for endpoint in active):
            raise InvalidInput("url is already registered as a webhook.", field="url")
        if len(active) >= MAX_ENDPOINTS:
            raise InvalidInput(f"url: a partner can have at most {MAX_ENDPOINTS} webhooks; delete one first.", field="url")
        endpoint = WebhookEndpoint(
            partner_id=partner.id,
            url=url,
            events=chosen,
            secret_encrypted=current_app.extensions["encryptor"].encrypt(secret),
        )
        session.add(endpoint)
    return endpoint, secret


def partner_endpoints(session: Session, *, partner: Partner) -> list[WebhookEndpoint]:
    return list(
        session.exec(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.partner_id == partner.id, WebhookEndpoint.is_active)
            .order_by(WebhookEndpoint.id)
        ).all()
    )


def partner_endpoint(session: Session, *, partner: Partner, endpoint_id: int) -> WebhookEndpoint:
    """The partner's own active endpoint; another partner's (or a deleted one) is not found."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.partner_id != partner.id or not endpoint.is_active:
        raise NotFound(f"Webhook {endpoint_id} does not exist.", field="id")
    return endpoint


def remove_endpoint(session: Session, *, partner: Partner, endpoint_id: int) -> WebhookEndpoint:
    """Stop sending to an endpoint; its deliveries are kept, the pending ones give up."""
    now = utcnow()
    with write_transaction(session):
        endpoint = partner_endpoint(session, partner=partner, endpoint_id=endpoint_id)
        removed = session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint.id, WebhookEndpoint.is_active)
            .values(is_active=False, disabled_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not removed:
            raise NotFound(f"Webhook {endpoint_id} does not exist.", field="id")
        session.refresh(endpoint)
    return endpoint


# --- events ---------------------------------------------------------------------------------


def event_payload(*, event_id: str, event_type: str, order: Order, brand: Brand, created_at) -> str:
    """The exact JSON body of an event (the WebhookEvent schema); the card itself never travels."""
    return dumps(
        {
            "id": event_id,
            "type": event_type,
            "createdAt": iso_utc(created_at),
            "data": {"order": order_data(order, brand)},
        }
    )


def queue_order_event(session: Session, *, order: Order, brand: Brand, event_type: str) -> list[WebhookDelivery]:
    """Record the event for every endpoint of the order's partner that wants it, inside the
    caller's transaction; each is queued for delivery once that commits."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown webhook event {event_type}")
    endpoints = session.exec(
        select(WebhookEndpoint).where(WebhookEndpoint.partner_id == order.partner_id, WebhookEndpoint.is_active)
    ).all()
    deliveries = []
    now = utcnow()
    for endpoint in endpoints:
        if event_type not in endpoint.events.split(","):
            continue
        event_id = "evt_" + secrets.token_hex(12)
        delivery = WebhookDelivery(
            endpoint_id=endpoint.id,
            partner_id=order.partner_id,
            event_id=event_id,
            event_type=event_type,
            order_id=order.id,
            payload=event_payload(event_id=event_id, event_type=event_type, order=order, brand=brand, created_at=now),
            created_at=now,
        )
        session.add(delivery)
        deliveries.append(delivery)
    if deliveries:
        session.flush()
        for delivery in deliveries:
            on_commit(session, functools.partial(enqueue, "deliver_webhook", delivery.id))
    return deliveries


# --- delivery -------------------------------------------------------------------------------


def retry_delay(attempts: int) -> int:
    """Seconds to wait after the `attempts`-th failed attempt: the base delay, doubling."""
    settings = current_app.extensions["settings"]
    return settings.WEBHOOK_RETRY_DELAY_SECONDS * 2 ** max(attempts - 1, 0)


def signed_headers(*, secret: str, client_id: str, body: bytes, event_id: str, event_type: str, timestamp: str) -> dict:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "x-client-id": client_id,
        "x-timestamp": timestamp,
        "x-signature": compute_signature(secret.encode(), "POST", timestamp, client_id, body),
        "x-event-id": event_id,
        "x-event-type": event_type,
    }


def deliver(session: Session, delivery_id: int) -> Outcome:
    """One attempt at one delivery. Returns what became of it and, while it may be retried,
    when to try again. Two workers holding the same delivery never make the same attempt."""
    settings = current_app.extensions["settings"]
    delivery = session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None or delivery.status != "pending":
        return Outcome("skipped")
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id, populate_existing=True)
    if not endpoint.is_active:
        _finish(session, delivery, status="failed", error="The webhook was deleted.")
        return Outcome("failed")
    attempt = delivery.attempts + 1
    with write_transaction(session):
        claimed = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id, WebhookDelivery.status == "pending", WebhookDelivery.attempts == delivery.attempts)
            .values(attempts=attempt)
            .execution_options(synchronize_session=False)
        ).rowcount
    if not claimed:
        return Outcome("skipped")

    partner = session.get(Partner, delivery.partner_id)
    secret = current_app.extensions["encryptor"].decrypt(endpoint.secret_encrypted)
    body = delivery.payload.encode()
    timestamp = utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    headers = signed_headers(secret=secret, client_id=partner.client_id, body=body, event_id=delivery.event_id,
                             event_type=delivery.event_type, timestamp=timestamp)
    attempted_at = utcnow()
    started = time.monotonic()
    status_code, error = None, ""
    try:
        addresses = resolve(endpoint.url, allow_local=local_urls_allowed())
        status_code = post(endpoint.url, body, headers, address=addresses[0], timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except UnsafeUrl as exc:
        error = f"Refused: {exc.message}"
    except urllib.error.HTTPError as exc:  # 3xx (never followed), 4xx, 5xx
        status_code, error = exc.code, f"HTTP {exc.code}"
        exc.close()
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        error = f"{type(reason).__name__}: {reason}".strip()
    duration_ms = int((time.monotonic() - started) * 1000)
    delivered = status_code is not None and 200 <= status_code < 300

    if delivered:
        status = "delivered"
    elif attempt >= settings.WEBHOOK_MAX_ATTEMPTS:
        status = "failed"
    else:
        status = "pending"
    with write_transaction(session):
        session.add(WebhookAttempt(delivery_id=delivery.id, attempted_at=attempted_at, status_code=status_code,
                                   error=error[:500], duration_ms=duration_ms))
        _finish(session, delivery, status=status, error=error, status_code=status_code)
    if status == "pending":
        log.info("webhook delivery %s attempt %s failed (%s); retrying", delivery.id, attempt, error)
        return Outcome("pending", retry_delay(attempt))
    if status == "failed":
        log.warning("webhook delivery %s gave up after %s attempts (%s)", delivery.id, attempt, error)
    return Outcome(status)


def _finish(session: Session, delivery: WebhookDelivery, *, status: str, error: str, status_code: int | None = None) -> None:
    with write_transaction(session):
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id)
            .values(
                status=status,
                last_status_code=status_code,
                last_error=error[:500],
                delivered_at=utcnow() if status == "delivered" else None,
            )
            .execution_options(synchronize_session=False)
        )


def requeue_stuck_deliveries(session: Session) -> int:
    """Queue again the pending deliveries whose retry should long have run (a lost task)."""
    now = utcnow()
    last_attempt = (
        select(WebhookAttempt.delivery_id, func.max(WebhookAttempt.attempted_at).label("at"))
        .group_by(WebhookAttempt.delivery_id)
        .subquery()
    )
    rows = session.exec(
        select(WebhookDelivery.id, WebhookDelivery.attempts, WebhookDelivery.created_at, last_attempt.c.at)
        .join(last_attempt, last_attempt.c.delivery_id == WebhookDelivery.id, isouter=True)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.created_at < now - timedelta(minutes=15))
    ).all()
    session.rollback()
    stuck = [
        delivery_id
        for delivery_id, attempts, created_at, attempted_at in rows
        if (attempted_at or created_at) < now - timedelta(seconds=2 * retry_delay(attempts)) - timedelta(minutes=15)
    ]
    for delivery_id in stuck:
        enqueue("deliver_webhook", delivery_id)
    return len(stuck)


# --- the HTTP call --------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer, not a new address to call: it fails the attempt (HTTPError)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _pinned(connection_class, address: str):
    """`connection_class` that connects to `address` (the one checked) whatever DNS says now,
    while TLS still verifies the certificate for the URL's host name."""

    class Pinned(connection_class):
        def connect(self):
            self._create_connection = lambda where, *args: socket.create_connection((address, where[1]), *args)
            super().connect()

    return Pinned


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, address: str):
        super().__init__()
        self.address = address

    def http_open(self, req):
        return self.do_open(_pinned(http.client.HTTPConnection, self.address), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, address: str):
        super().__init__(context=ssl.create_default_context())
        self.address = address

    def https_open(self, req):
        return self.do_open(_pinned(http.client.HTTPSConnection, self.address), req, context=self._context)


def post(url: str, body: bytes, headers: dict, *, address: str, timeout: float) -> int:
    """POST `body` to `url` at `address`; the response status (HTTPError for >= 300). No proxies, no redirects."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), _NoRedirects(), _PinnedHTTPHandler(address), _PinnedHTTPSHandler(address)
    )
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    # The status is the whole answer: the body is not read, so a receiver can't hold the worker by trickling one.
    with opener.open(request, timeout=timeout) as response:
        return response.status


def delivery_payload(delivery: WebhookDelivery) -> dict:
    return json.loads(delivery.payload, parse_float=Decimal)
