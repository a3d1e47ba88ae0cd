"""Money through the partner API: POST /customers/<id>/funds/credit|debit move money between the
partner's funds and a customer's general wallet (once per idempotency key, app/services/funds.py);
GET /balance shows the partner's funds per currency."""

from __future__ import annotations

from flask import g

from app.api import bp, schemas
from app.api.auth import signed
from app.api.customers import json_body, money_number
from app.api.responses import success
from app.db import db_session
from app.domain.ledger import TransactionType
from app.domain.money import Money, normalize_currency
from app.services.funds import change_funds
from app.services.partners import partner_funds


def _change(customer_id: int, type: TransactionType):
    body = schemas.validate(schemas.FundsChange, json_body())
    currency = normalize_currency(body.currency)
    amount = Money.parse(body.amount, currency, field="amount")
    result = change_funds(
        db_session(),
        partner=g.api_partner,
        consumer_id=customer_id,
        type=type,
        amount=amount,
        reason=body.reason,
        idempotency_key=body.idempotencyKey,
        actor=f"api:{g.api_key.prefix}",
    )
    return success(
        schemas.FundsResult(
            transactionId=result.transaction.id,
            customerId=result.consumer.id,
            walletBalance=money_number(result.wallet_balance),
            currency=currency,
        ).model_dump()
    )


@bp.post("/customers/<api_id:customer_id>/funds/credit")
@signed
def credit_customer(customer_id: int):
    return _change(customer_id, TransactionType.CREDIT)


@bp.post("/customers/<api_id:customer_id>/funds/debit")
@signed
def debit_customer(customer_id: int):
    return _change(customer_id, TransactionType.DEBIT)


@bp.get("/balance")
@signed
def balance():
    session = db_session()
    partner = g.api_partner
    balances = [
        schemas.CurrencyBalance(currency=currency, available=money_number(partner_funds(session, partner, currency)))
        for currency in sorted(partner.currency_list)
    ]
    return success(schemas.Balance(balances=balances).model_dump())
