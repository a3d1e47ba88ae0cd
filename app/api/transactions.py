"""The partner's ledger through the API: GET /transactions lists every transaction of the partner
(its own funding, its customers' credits, debits, rebates and refunds), newest first."""

from __future__ import annotations

from flask import g, request
from sqlmodel import col, select

from app.api import bp, schemas
from app.api.auth import signed
from app.api.orders import day_range, newest_first_page, partner_customer
from app.api.responses import iso_utc, money_number, success
from app.db import db_session
from app.domain.money import Money
from app.models import Order, Transaction


@bp.get("/transactions")
@signed
def list_transactions():
    query = schemas.validate(schemas.TransactionQuery, request.args.to_dict())
    session = db_session()
    conditions = [Transaction.partner_id == g.api_partner.id]
    if query.customerId is not None:
        conditions.append(Transaction.consumer_id == partner_customer(session, query.customerId, field="customerId").id)
    if query.type is not None:
        conditions.append(Transaction.type == query.type)
    if query.status is not None:
        conditions.append(Transaction.status == query.status)
    conditions += day_range(query.from_, query.to, Transaction.created_at)
    found = newest_first_page(
        session,
        select(Transaction, Order.public_id).join(Order, col(Order.id) == Transaction.order_id, isouter=True).where(*conditions),
        key=col(Transaction.id),
        key_of=lambda row: row[0].id,
        where=conditions,
        query=query,
    )
    items = [
        schemas.LedgerTransaction(
            id=t.id,
            type=t.type,
            status=t.status,
            customerId=t.consumer_id,
            orderId=public_id,
            currency=t.currency,
            amount=money_number(Money(t.amount, t.currency)),
            memo=t.memo,
            createdAt=iso_utc(t.created_at),
        ).model_dump()
        for t, public_id in found.rows
    ]
    return success(schemas.TransactionPage.shown(found, items))
