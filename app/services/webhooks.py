"""Webhooks: a partner's endpoints hear about its orders (order.completed, order.failed, order.cancelled).

An event becomes one WebhookDelivery per subscribed endpoint, written in the same transaction
that changed the order, and a queued task POSTs it once that commits. The body is signed like
the partner's own requests, with the endpoint's secret:

    x-signature = base64(HMAC-SHA256(secret, "POST" + "\\n" + x-timestamp + "\\n" + x-client-id + "\\n" + body))

Each attempt is recorded (status code, error, duration). A failure is retried by the queue with
a doubling delay until WEBHOOK_MAX_ATTEMPTS; a 2xx delivers it. Delivery is at least once: the
receiver deduplicates on x-event-id, which stays the same across retries.

Outside development and tests a URL must be https and its host must resolve only to public
addresses; this is checked when it is registered and again before every attempt (DNS can change),
and the connection goes to the address that was checked. Redirects are never followed. The checks
and the HTTP call are app/outbound_http.py's; the body is app/representations.py's.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult, func, update
from sqlmodel import Session, col, select

from app import outbound_http
from app.clock import utcnow
from app.db import on_commit, write_transaction
from app.domain.errors import InvalidInput, NotFound
from app.domain.webhooks import DeliveryStatus
from app.models import Brand, Order, Partner, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.outbound_http import check_url
from app.queue import enqueue, enqueue_or_leave_for_sweep
from app.representations import campaign_event, order_event
from app.security import v1_signature
from app.services import partners
from app.services.rows import row_id

log = logging.getLogger(__name__)

ORDER_EVENTS = ("order.completed", "order.failed", "order.cancelled")
CAMPAIGN_EVENTS = ("campaign.ended", "campaign.budget_low")
EVENTS = ORDER_EVENTS + CAMPAIGN_EVENTS
MAX_ENDPOINTS = 10  # active webhooks per partner
USER_AGENT = "GiftStore-Webhooks/1"


@dataclass(frozen=True)
class Outcome:
    status: str  # a DeliveryStatus (delivered | pending | failed), or "skipped"
    retry_in: int | None = None  # seconds until the queue should try again


def local_urls_allowed() -> bool:
    """Plain http and local or private hosts: only while developing and testing."""
    return current_app.extensions["settings"].APP_ENV in ("development", "test")


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
        partners.hold_partner(session, row_id(partner))
        active = session.exec(
            select(WebhookEndpoint).where(WebhookEndpoint.partner_id == partner.id, WebhookEndpoint.is_active)
        ).all()
        if any(endpoint.url == url for endpoint in active):
            raise InvalidInput("url is already registered as a webhook.", field="url")
        if len(active) >= MAX_ENDPOINTS:
            raise InvalidInput(f"url: a partner can have at most {MAX_ENDPOINTS} webhooks; delete one first.", field="url")
        endpoint = WebhookEndpoint(
            partner_id=row_id(partner),
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
            .order_by(col(WebhookEndpoint.id))
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
        removed = cast(
            CursorResult,
            session.execute(
                update(WebhookEndpoint)
                .where(col(WebhookEndpoint.id) == endpoint.id, col(WebhookEndpoint.is_active))
                .values(is_active=False, disabled_at=now)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if not removed:
            raise NotFound(f"Webhook {endpoint_id} does not exist.", field="id")
        session.refresh(endpoint)
    return endpoint


# --- events ---------------------------------------------------------------------------------


def queue_order_event(session: Session, *, order: Order, brand: Brand, event_type: str) -> list[WebhookDelivery]:
    """Record the event for every endpoint of the order's partner that wants it, inside the
    caller's transaction; each is queued for delivery once that commits."""
    if event_type not in ORDER_EVENTS:
        raise ValueError(f"unknown webhook event {event_type}")
    return _queue_event(
        session,
        partner_id=order.partner_id,
        event_type=event_type,
        order_id=order.id,
        payload=lambda event_id, now: order_event(
            event_id=event_id, event_type=event_type, order=order, brand=brand, created_at=now
        ),
    )


def queue_campaign_event(session: Session, *, summary, event_type: str) -> list[WebhookDelivery]:
    """The same for a campaign's event (`summary`: app/services/campaigns.CampaignSummary, as of now),
    inside the campaign change's own transaction."""
    if event_type not in CAMPAIGN_EVENTS:
        raise ValueError(f"unknown webhook event {event_type}")
    return _queue_event(
        session,
        partner_id=summary.campaign.partner_id,
        event_type=event_type,
        order_id=None,
        payload=lambda event_id, now: campaign_event(event_id=event_id, event_type=event_type, summary=summary, created_at=now),
    )


def _queue_event(session: Session, *, partner_id: int, event_type: str, order_id: int | None, payload) -> list[WebhookDelivery]:
    endpoints = session.exec(
        select(WebhookEndpoint).where(WebhookEndpoint.partner_id == partner_id, WebhookEndpoint.is_active)
    ).all()
    deliveries = []
    now = utcnow()
    for endpoint in endpoints:
        if event_type not in endpoint.events.split(","):
            continue
        event_id = "evt_" + secrets.token_hex(12)
        delivery = WebhookDelivery(
            endpoint_id=row_id(endpoint),
            partner_id=partner_id,
            event_id=event_id,
            event_type=event_type,
            order_id=order_id,
            payload=payload(event_id, now),
            created_at=now,
        )
        session.add(delivery)
        deliveries.append(delivery)
    if deliveries:
        session.flush()
        for delivery in deliveries:
            # Queue down: the delivery stays pending and requeue_stuck_deliveries queues it later.
            on_commit(session, functools.partial(enqueue_or_leave_for_sweep, "deliver_webhook", delivery.id))
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
        "x-signature": v1_signature(secret, "POST", timestamp, client_id, body),
        "x-event-id": event_id,
        "x-event-type": event_type,
    }


def deliver(session: Session, delivery_id: int) -> Outcome:
    """One attempt at one delivery. Returns what became of it and, while it may be retried,
    when to try again. Two workers holding the same delivery never make the same attempt."""
    settings = current_app.extensions["settings"]
    delivery = session.get(WebhookDelivery, delivery_id, populate_existing=True)
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return Outcome("skipped")
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id, populate_existing=True)
    assert endpoint is not None  # endpoints are deactivated, never deleted
    if not endpoint.is_active:
        _finish(session, delivery, status=DeliveryStatus.FAILED, error="The webhook was deleted.")
        return Outcome(DeliveryStatus.FAILED)
    attempt = delivery.attempts + 1
    with write_transaction(session):
        claimed = cast(
            CursorResult,
            session.execute(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.id) == delivery.id,
                    col(WebhookDelivery.status) == DeliveryStatus.PENDING,
                    col(WebhookDelivery.attempts) == delivery.attempts,
                )
                .values(attempts=attempt)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
    if not claimed:
        return Outcome("skipped")

    partner = session.get(Partner, delivery.partner_id)
    assert partner is not None  # the delivery's partner (a foreign key)
    secret = current_app.extensions["encryptor"].decrypt(endpoint.secret_encrypted)
    body = delivery.payload.encode()
    timestamp = utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    headers = signed_headers(
        secret=secret,
        client_id=partner.client_id,
        body=body,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        timestamp=timestamp,
    )
    attempted_at = utcnow()
    started = time.monotonic()
    answer = outbound_http.post(
        endpoint.url, body, headers, allow_local=local_urls_allowed(), timeout=settings.WEBHOOK_TIMEOUT_SECONDS
    )
    duration_ms = int((time.monotonic() - started) * 1000)
    status_code, error, delivered = answer.status_code, answer.error, answer.ok

    if delivered:
        status = DeliveryStatus.DELIVERED
    elif attempt >= settings.WEBHOOK_MAX_ATTEMPTS:
        status = DeliveryStatus.FAILED
    else:
        status = DeliveryStatus.PENDING
    with write_transaction(session):
        session.add(
            WebhookAttempt(
                delivery_id=row_id(delivery),
                attempted_at=attempted_at,
                status_code=status_code,
                error=error[:500],
                duration_ms=duration_ms,
            )
        )
        _finish(session, delivery, status=status, error=error, status_code=status_code)
    if status == DeliveryStatus.PENDING:
        log.info("webhook delivery %s attempt %s failed (%s); retrying", delivery.id, attempt, error)
        return Outcome(DeliveryStatus.PENDING, retry_delay(attempt))
    if status == DeliveryStatus.FAILED:
        log.warning("webhook delivery %s gave up after %s attempts (%s)", delivery.id, attempt, error)
    return Outcome(status)


def _finish(session: Session, delivery: WebhookDelivery, *, status: str, error: str, status_code: int | None = None) -> None:
    with write_transaction(session):
        session.execute(
            update(WebhookDelivery)
            .where(col(WebhookDelivery.id) == delivery.id)
            .values(
                status=status,
                last_status_code=status_code,
                last_error=error[:500],
                delivered_at=utcnow() if status == DeliveryStatus.DELIVERED else None,
            )
            .execution_options(synchronize_session=False)
        )


def requeue_stuck_deliveries(session: Session) -> int:
    """Queue again the pending deliveries whose retry should long have run (a lost task)."""
    now = utcnow()
    last_attempt = (
        select(WebhookAttempt.delivery_id, func.max(WebhookAttempt.attempted_at).label("at"))
        .group_by(col(WebhookAttempt.delivery_id))
        .subquery()
    )
    rows = session.exec(
        select(WebhookDelivery.id, WebhookDelivery.attempts, WebhookDelivery.created_at, last_attempt.c.at)
        .join(last_attempt, last_attempt.c.delivery_id == WebhookDelivery.id, isouter=True)
        .where(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.created_at < now - timedelta(minutes=15))
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


def delivery_payload(delivery: WebhookDelivery) -> dict:
    return json.loads(delivery.payload, parse_float=Decimal)
