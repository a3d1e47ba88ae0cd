"""Customers: POST /customer creates a consumer with a funded wallet (the seed's "Create Customer",
validated by hand to keep the seed's exact behaviour); GET /customers[/<id>] reads them and
POST /customers/<id>/deactivate|reactivate switches them off and on. Another partner's
customer is always 404, never 403."""

from __future__ import annotations

import json
from decimal import Decimal

from flask import g, request
from sqlmodel import func, select

from app.api import bp, schemas
from app.api.auth import signed
from app.api.responses import ApiError, iso_utc, money_number, success
from app.db import db_session
from app.domain.ledger import AccountKind
from app.domain.money import Money, normalize_currency
from app.models import Account, Consumer
from app.services.consumers import create_consumer, set_active
from app.services.funds import partner_consumer


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


# --- reading and (de)activating customers -------------------------------------------------


def customer_data(consumer: Consumer, accounts: list[Account]) -> dict:
    """The Customer schema for one consumer, from its ledger accounts."""
    by_currency: dict[str, dict[str, Account]] = {}
    for account in accounts:
        by_currency.setdefault(account.currency, {})[account.kind] = account
    wallets = []
    for currency in sorted(by_currency):
        kinds = by_currency[currency]
        general = kinds.get(AccountKind.GENERAL.value)
        if general is None:
            continue
        bonus = kinds.get(AccountKind.BONUS.value)
        wallets.append(
            schemas.WalletBalance(
                walletId=str(general.id),
                currency=currency,
                walletBalance=money_number(Money(general.balance, currency)),
                bonusBalance=money_number(Money(bonus.balance if bonus else 0, currency)),
            )
        )
    return schemas.Customer(
        id=consumer.id,
        fullName=consumer.full_name,
        email=consumer.email,
        status="active" if consumer.is_active else "inactive",
        createdAt=iso_utc(consumer.created_at),
        wallets=wallets,
    ).model_dump()


def customers_data(session, consumers: list[Consumer]) -> list[dict]:
    ids = [c.id for c in consumers]
    accounts = session.exec(select(Account).where(Account.consumer_id.in_(ids)).order_by(Account.id)).all() if ids else []
    by_consumer: dict[int, list[Account]] = {}
    for account in accounts:
        by_consumer.setdefault(account.consumer_id, []).append(account)
    return [customer_data(c, by_consumer.get(c.id, [])) for c in consumers]


@bp.get("/customers/<api_id:customer_id>")
@signed
def get_customer(customer_id: int):
    session = db_session()
    consumer = partner_consumer(session, partner=g.api_partner, consumer_id=customer_id)
    from app.api.campaigns import campaign_wallets  # (that module reads bodies with json_body from here)

    data = customers_data(session, [consumer])[0]
    data["wallets"] += campaign_wallets(session, consumer)
    return success(data)


@bp.get("/customers")
@signed
def list_customers():
    query = schemas.validate(schemas.CustomerQuery, request.args.to_dict())
    session = db_session()
    conditions = [Consumer.partner_id == g.api_partner.id]
    if query.email is not None:
        conditions.append(Consumer.email == query.email.strip().lower())
    if query.status is not None:
        conditions.append(Consumer.is_active == (query.status == "active"))
    total = session.exec(select(func.count()).select_from(Consumer).where(*conditions)).one()
    consumers = session.exec(
        select(Consumer).where(*conditions).order_by(Consumer.id).offset((query.page - 1) * query.perPage).limit(query.perPage)
    ).all()
    page = schemas.CustomerPage(items=[], page=query.page, perPage=query.perPage, total=total).model_dump()
    page["items"] = customers_data(session, list(consumers))
    return success(page)


def _set_active(customer_id: int, active: bool):
    session = db_session()
    consumer = partner_consumer(session, partner=g.api_partner, consumer_id=customer_id)
    set_active(session, consumer=consumer, active=active)
    return success(customers_data(session, [consumer])[0])


@bp.post("/customers/<api_id:customer_id>/deactivate")
@signed
def deactivate_customer(customer_id: int):
    return _set_active(customer_id, False)


@bp.post("/customers/<api_id:customer_id>/reactivate")
@signed
def reactivate_customer(customer_id: int):
    return _set_active(customer_id, True)
