"""Webhooks through the partner API: register an HTTPS URL for order events (its signing secret
is shown once), list and delete them, and read every delivery with its attempts
(app/services/webhooks.py sends them)."""

from __future__ import annotations

from flask import g, request
from sqlmodel import func, select

from app.api import bp, schemas
from app.api.auth import signed
from app.api.customers import json_body
from app.api.responses import iso_utc, success
from app.db import db_session
from app.models import Order, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.services import webhooks


def webhook_data(endpoint: WebhookEndpoint) -> dict:
    return schemas.Webhook(
        id=endpoint.id,
        url=endpoint.url,
        events=[e for e in endpoint.events.split(",") if e],
        active=endpoint.is_active,
        createdAt=iso_utc(endpoint.created_at),
    ).model_dump()


@bp.post("/webhooks")
@signed
def create_webhook():
    body = schemas.validate(schemas.WebhookCreate, json_body())
    endpoint, secret = webhooks.register_endpoint(db_session(), partner=g.api_partner, url=body.url, events=body.events)
    return success(schemas.CreatedWebhook(**webhook_data(endpoint), secret=secret).model_dump())


@bp.get("/webhooks")
@signed
def list_webhooks():
    endpoints = webhooks.partner_endpoints(db_session(), partner=g.api_partner)
    return success({"items": [webhook_data(e) for e in endpoints]})


@bp.delete("/webhooks/<api_id:webhook_id>")
@signed
def delete_webhook(webhook_id: int):
    endpoint = webhooks.remove_endpoint(db_session(), partner=g.api_partner, endpoint_id=webhook_id)
    return success(webhook_data(endpoint))


@bp.get("/webhooks/<api_id:webhook_id>/deliveries")
@signed
def list_deliveries(webhook_id: int):
    query = schemas.validate(schemas.DeliveryQuery, request.args.to_dict())
    session = db_session()
    endpoint = webhooks.partner_endpoint(session, partner=g.api_partner, endpoint_id=webhook_id)
    conditions = [WebhookDelivery.endpoint_id == endpoint.id]
    if query.status is not None:
        conditions.append(WebhookDelivery.status == query.status)
    total = session.exec(select(func.count()).select_from(WebhookDelivery).where(*conditions)).one()
    rows = session.exec(
        select(WebhookDelivery, Order.public_id)
        .join(Order, Order.id == WebhookDelivery.order_id, isouter=True)
        .where(*conditions)
        .order_by(WebhookDelivery.id.desc())
        .offset((query.page - 1) * query.perPage)
        .limit(query.perPage)
    ).all()
    ids = [delivery.id for delivery, _ in rows]
    attempts: dict[int, list[WebhookAttempt]] = {}
    if ids:
        for attempt in session.exec(
            select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)).order_by(WebhookAttempt.id)
        ).all():
            attempts.setdefault(attempt.delivery_id, []).append(attempt)
    items = [
        schemas.WebhookDelivery(
            id=delivery.id,
            eventId=delivery.event_id,
            event=delivery.event_type,
            orderId=public_id,
            status=delivery.status,
            attemptCount=delivery.attempts,
            lastStatusCode=delivery.last_status_code,
            lastError=delivery.last_error,
            createdAt=iso_utc(delivery.created_at),
            deliveredAt=iso_utc(delivery.delivered_at),
            payload=webhooks.delivery_payload(delivery),
            attempts=[
                schemas.WebhookAttempt(
                    attemptedAt=iso_utc(a.attempted_at), statusCode=a.status_code, error=a.error, durationMs=a.duration_ms
                )
                for a in attempts.get(delivery.id, [])
            ],
        )
        for delivery, public_id in rows
    ]
    return success(schemas.DeliveryPage(items=items, page=query.page, perPage=query.perPage, total=total).model_dump())
