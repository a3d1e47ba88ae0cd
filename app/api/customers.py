"""POST /api/partner/v1/customer: create a consumer with a funded wallet (the seed's "Create Customer")."""
from __future__ import annotations

import json
from decimal import Decimal

from flask import g, request

from app.api import bp
from app.api.auth import signed
from app.api.responses import ApiError, success
from app.db import db_session
from app.domain.money import Money, minor_digits, normalize_currency
from app.services.consumers import create_consumer


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def json_body() -> dict:
    """The request body as a JSON object; numbers with a fraction become Decimal, never float."""
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError):  # JSONDecodeError is a ValueError
        raise ApiError(400, "VALIDATION_ERROR", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "VALIDATION_ERROR", "The request body must be a JSON object.")
    return body


def required_string(body: dict, field: str) -> str:
    value = body.get(field)
    if value is None:
        raise ApiError(400, "VALIDATION_ERROR", f"{field} is required.")
    if not isinstance(value, str):
        raise ApiError(400, "VALIDATION_ERROR", f"{field} must be a string.")
    if not value.strip():
        raise ApiError(400, "VALIDATION_ERROR", f"{field} is required.")
    return value


def required_amount(body: dict, field: str, currency: str) -> Money:
    value = body.get(field)
    if value is None:
        raise ApiError(400, "VALIDATION_ERROR", f"{field} is required.")
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ApiError(400, "VALIDATION_ERROR", f"{field} must be a number.")
    amount = Money.parse(value, currency, field=field)  # refuses more decimals than the currency has
    if amount.amount < 0:
        raise ApiError(400, "VALIDATION_ERROR", f"{field} cannot be negative.")
    return amount


def money_number(amount: Money) -> Decimal:
    """100.00 for USD, 100 for JPY: the currency's decimal places, written as a JSON number."""
    return amount.to_decimal().quantize(Decimal(1).scaleb(-minor_digits(amount.currency)))


@bp.post("/customer")
@signed
def create_customer():
    body = json_body()
    full_name = required_string(body, "fullName")
    email = required_string(body, "email")
    currency = normalize_currency(required_string(body, "currency"))
    initial_funds = required_amount(body, "initialFunds", currency)

    result = create_consumer(
        db_session(),
        partner=g.api_partner,
        email=email,
        full_name=full_name,
        initial_funds=initial_funds,
        actor=f"api:{g.api_key.prefix}",
    )
    consumer, wallet = result.consumer, result.wallet_account
    return success(
        {
            "id": consumer.id,
            "walletId": str(wallet.id),
            "fullName": consumer.full_name,
            "email": consumer.email,
            "walletBalance": money_number(Money(wallet.balance, currency)),
            "currency": currency,
        }
    )
