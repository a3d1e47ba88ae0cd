"""Orders through the partner API: POST /orders buys a gift card with a customer's wallet
balance (once per externalRefId), GET /orders[/<publicId>] reads them. Another partner's order
or customer is always 404. The card's number and PIN are shown only by GET /orders/<publicId>
(and the POST's answer) once the order is completed: never in lists or webhooks."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date

from flask import current_app, g, request
from sqlmodel import col, select

from app.api import api_field, bp, schemas
from app.api.auth import signed
from app.api.customers import json_body
from app.api.responses import error, success
from app.clock import utcnow
from app.db import db_session
from app.domain import paging
from app.domain.errors import InvalidInput, NotFound
from app.domain.money import Money, normalize_currency
from app.domain.orders import OrderStatus, parse_iso_delivery_time
from app.models import Brand, Consumer, Order
from app.services import list_pages, orders, reports

PUBLIC_ID = re.compile(r"ord_[0-9a-f]{16}\Z")


def partner_customer(session, customer_id: int, *, field: str) -> Consumer:
    """The partner's own customer named in a body or query; another partner's does not exist."""
    consumer = session.get(Consumer, customer_id)
    if consumer is None or consumer.partner_id != g.api_partner.id:
        raise NotFound(f"{field}: customer {customer_id} does not exist.", field=field)
    return consumer


def day_range(start: date | None, end: date | None, column) -> list:
    """Conditions for `column` between two whole UTC days, both included."""
    if start is not None and end is not None and start > end:
        raise InvalidInput("from must be on or before to.", field="from")
    return reports.DayRange(start, end).where(column)


def _recipient(consumer: Consumer, body: schemas.OrderCreate) -> orders.Recipient:
    try:
        if body.recipient is None:
            return orders.recipient_for(consumer, send_to="me", sender_name=body.senderName or "", message=body.message)
        return orders.recipient_for(
            consumer,
            send_to="someone",
            email=body.recipient.email,
            name=body.recipient.name,
            sender_name=body.senderName or "",
            message=body.message,
        )
    except InvalidInput as exc:
        field = api_field(exc.field)
        raise InvalidInput(f"{field}: {exc.message}", field=field) from None


def order_with_card(session, order: Order) -> dict:
    """The Order schema with the card decrypted, once there is one."""
    card = None
    if order.status == OrderStatus.COMPLETED.value and order.card_number_encrypted:
        encryptor = current_app.extensions["encryptor"]
        card = schemas.OrderCard(
            number=encryptor.decrypt(order.card_number_encrypted),
            pin=encryptor.decrypt(order.card_pin_encrypted) if order.card_pin_encrypted else None,
            redemptionUrl=encryptor.decrypt(order.redemption_url_encrypted) if order.redemption_url_encrypted else None,
        )
    return schemas.order_data(order, session.get(Brand, order.brand_id), card)


@bp.post("/orders")
@signed
def create_order():
    body = schemas.validate(schemas.OrderCreate, json_body())
    session = db_session()
    consumer = partner_customer(session, body.customerId, field="customerId")
    currency = normalize_currency(body.currency)
    face_value = Money.parse(body.amount, currency, field="amount")
    # A retry of an order already placed is checked against the moment that order was placed: its deliverAt was
    # in the future then, and the retry gets the first answer even once that time has passed.
    placed = orders.order_by_external_ref(session, partner_id=g.api_partner.id, external_ref=body.externalRefId)
    now = placed.created_at.replace(tzinfo=UTC) if placed is not None else utcnow()
    deliver_at = None if body.deliverAt is None else parse_iso_delivery_time(body.deliverAt, now, field="deliverAt")
    try:
        order = orders.place_partner_order(
            session,
            partner=g.api_partner,
            consumer=consumer,
            brand_slug=body.brand,
            face_value=face_value,
            recipient=_recipient(consumer, body),
            external_ref=body.externalRefId,
            actor=f"api:{g.api_key.prefix}",
            deliver_at=deliver_at,
        )
    except InvalidInput as exc:
        if exc.field != "consumer_id":
            raise
        # A deactivated customer: the seed's wording.
        raise InvalidInput(f"customer {consumer.id} is deactivated and cannot place orders.", field="customerId") from None
    # Fulfilment runs in the queue with its own session: show the order as it is now.
    session.rollback()
    order = session.get(Order, order.id, populate_existing=True)
    return success(order_with_card(session, order))


@bp.get("/orders/<public_id>")
@signed
def get_order(public_id: str):
    session = db_session()
    order = None
    if PUBLIC_ID.match(public_id):
        order = session.exec(select(Order).where(Order.public_id == public_id, Order.partner_id == g.api_partner.id)).first()
    if order is None:
        raise NotFound(f"Order {public_id[:40]} does not exist.", field="publicId")
    return success(order_with_card(session, order))


@bp.post("/orders/<public_id>/cancel")
@signed
def cancel_order(public_id: str):
    """Unsend a scheduled gift: refunded to exactly the balances charged. Again on a cancelled order: the same
    answer; once delivered (or being delivered): 402 BUSINESS_RULE_ERROR, nothing changes."""
    session = db_session()
    order = None
    if PUBLIC_ID.match(public_id):
        order = session.exec(select(Order).where(Order.public_id == public_id, Order.partner_id == g.api_partner.id)).first()
    if order is None:
        raise NotFound(f"Order {public_id[:40]} does not exist.", field="publicId")
    try:
        cancelled = orders.cancel(session, order.id, actor=f"api:{g.api_key.prefix}")
    except orders.AlreadyDelivered as refused:
        return error(402, "BUSINESS_RULE_ERROR", refused.message)
    return success(order_with_card(session, cancelled))


@bp.get("/orders")
@signed
def list_orders():
    query = schemas.validate(schemas.OrderQuery, request.args.to_dict())
    session = db_session()
    conditions = [Order.partner_id == g.api_partner.id]
    if query.customerId is not None:
        conditions.append(Order.consumer_id == partner_customer(session, query.customerId, field="customerId").id)
    if query.status is not None:
        conditions.append(Order.status == query.status)
    if query.externalRefId is not None:
        conditions.append(Order.external_ref == query.externalRefId)
    conditions += day_range(query.from_, query.to, Order.created_at)
    found = newest_first_page(
        session, select(Order).where(*conditions), key=col(Order.id), key_of=lambda order: order.id, where=conditions, query=query
    )
    brand_ids = {o.brand_id for o in found.rows}
    brands = {b.id: b for b in session.exec(select(Brand).where(col(Brand.id).in_(brand_ids))).all()} if brand_ids else {}
    return success(schemas.OrderPage.shown(found, [schemas.order_data(o, brands[o.brand_id]) for o in found.rows]))


def newest_first_page(
    session, rows, *, key, key_of, where: list, query: schemas.OrderQuery | schemas.TransactionQuery
) -> paging.CursorPage:
    """The page of `rows` (newest first by `key`, read from a row by `key_of`; `where` holds the list's filters)
    the query asks for: from its cursor, or by its page number (an offset: integrators page through to the end).
    Its `total` is counted up to COUNT_CAP."""
    if query.cursor is not None and query.page != 1:
        raise InvalidInput("page: leave page out when you send a cursor (the cursor says where the page starts).", field="page")
    found = list_pages.newest_first(
        session,
        rows,
        key=key,
        key_of=key_of,
        counted=select(key).where(*where),
        position=paging.Position(before=int(query.cursor)) if query.cursor else paging.Position(page=query.page),
        size=query.perPage,
        cap=schemas.COUNT_CAP,
        locate=False,
        open_ended_pages=True,
    )
    return replace(found, number=query.page)
