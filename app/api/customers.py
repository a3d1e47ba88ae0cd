"""Customers: POST /customer creates a consumer with a funded wallet (the seed's "Create Customer",
validated by hand to keep the seed's exact behaviour); GET /customers[/<id>] reads them and
POST /customers/<id>/deactivate|reactivate switches them off and on; PUT /customers/<id>/tags replaces
their tags (app/services/segments.py). Another partner's customer is always 404, never 403."""

from __future__ import annotations

import json
from decimal import Decimal

from flask import Response, g, request
from sqlmodel import func, select

from app.api import bp, schemas
from app.api.auth import signed
from app.api.responses import ApiError, dumps, iso_utc, money_number, success
from app.db import db_session
from app.domain.ledger import AccountKind
from app.domain.money import Money, normalize_currency
from app.models import Account, Consumer
from app.services import segments
from app.services.campaigns import IDEMPOTENCY_KEY
from app.services.consumers import NewConsumer, create_consumer, set_active
from app.services.customer_creations import create_consumer_once
from app.services.funds import partner_consumer


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class _TooManyDigits:
    """A JSON integer longer than Python reads (sys.get_int_max_str_digits(), 4,300 digits): valid JSON, no valid value."""

    def __init__(self, digits: int):
        self.digits = digits


def _json_int(text: str) -> int | _TooManyDigits:
    try:
        return int(text)
    except ValueError:  # past the int-string conversion limit
        return _TooManyDigits(len(text.lstrip("-")))


def _too_many_digits_in(data, path: tuple = ()) -> tuple[tuple, _TooManyDigits] | None:
    """Where (the path to the field) an integer too long to read sits in `data`, or None."""
    if isinstance(data, _TooManyDigits):
        return path, data
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        found = _too_many_digits_in(value, path + (key,))
        if found is not None:
            return found
    return None


def json_body() -> dict:
    """The request body as a JSON object; numbers with a fraction become Decimal, never float."""
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_int=_json_int, parse_constant=_refuse_constant)
        too_long = _too_many_digits_in(body)
    except (UnicodeDecodeError, ValueError):  # JSONDecodeError is a ValueError
        raise ApiError(400, "VALIDATION_ERROR", "The request body is not valid JSON.") from None
    except RecursionError:  # arrays or objects nested hundreds deep
        raise ApiError(400, "VALIDATION_ERROR", "The request body is nested too deeply.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "VALIDATION_ERROR", "The request body must be a JSON object.")
    if too_long is not None:
        path, number = too_long
        field = ".".join(str(part) for part in path)
        raise ApiError(400, "VALIDATION_ERROR", f"{field}: is a number of {number.digits} digits, too long to be valid.")
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


IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"


def idempotency_key(body: dict) -> str | None:
    """The request's idempotency key: `idempotencyKey` in the body or the Idempotency-Key header (either,
    or both when they agree); None when there is neither. The header may be quoted (a structured-field string)."""
    in_body = body.get("idempotencyKey")
    if in_body is not None and not isinstance(in_body, str):
        raise ApiError(400, "VALIDATION_ERROR", "idempotencyKey must be a string.")
    in_header = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if in_header is not None:
        in_header = in_header.strip()
        if len(in_header) >= 2 and in_header[0] == in_header[-1] == '"':
            in_header = in_header[1:-1]
    if in_body is not None and in_header is not None and in_body != in_header:
        raise ApiError(400, "VALIDATION_ERROR", "idempotencyKey and the Idempotency-Key header differ: send one key.")
    if in_body is None and in_header is not None and not IDEMPOTENCY_KEY.match(in_header):
        raise ApiError(400, "VALIDATION_ERROR", "The Idempotency-Key header must be 8-80 letters, digits or . _ : -")
    return in_body if in_body is not None else in_header


def created_customer(result: NewConsumer, currency: str) -> str:
    """The seed's Create Customer answer, as the response body."""
    consumer, wallet = result.consumer, result.wallet_account
    data = {
        "id": consumer.id,
        "walletId": str(wallet.id),
        "fullName": consumer.full_name,
        "email": consumer.email,
        "walletBalance": money_number(Money(wallet.balance, currency)),
        "currency": currency,
    }
    return dumps({"success": True, "data": data})


@bp.post("/customer")
@signed
def create_customer():
    body = json_body()
    full_name = required_string(body, "fullName")
    email = required_string(body, "email")
    currency = normalize_currency(required_string(body, "currency"))
    initial_funds = required_amount(body, "initialFunds", currency)
    key = idempotency_key(body)
    arguments = dict(partner=g.api_partner, email=email, full_name=full_name, initial_funds=initial_funds)
    actor = f"api:{g.api_key.prefix}"

    if key is None:  # the seed's behaviour: a second request for the same email and currency is a 400
        answer = created_customer(create_consumer(db_session(), **arguments, actor=actor), currency)
    else:
        answer = create_consumer_once(
            db_session(),
            **arguments,
            idempotency_key=key,
            answer=lambda result: created_customer(result, currency),
            actor=actor,
        ).answer
    return Response(answer, status=200, mimetype="application/json")


# --- reading and (de)activating customers -------------------------------------------------


def customer_data(consumer: Consumer, accounts: list[Account], tags: list[str] | None = None) -> dict:
    """The Customer schema for one consumer, from its ledger accounts (and its tags)."""
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
        tags=tags or [],
    ).model_dump()


def customers_data(session, consumers: list[Consumer]) -> list[dict]:
    ids = [c.id for c in consumers]
    accounts = session.exec(select(Account).where(Account.consumer_id.in_(ids)).order_by(Account.id)).all() if ids else []
    by_consumer: dict[int, list[Account]] = {}
    for account in accounts:
        by_consumer.setdefault(account.consumer_id, []).append(account)
    tags = segments.tags_by_consumer(session, ids)
    return [customer_data(c, by_consumer.get(c.id, []), tags.get(c.id)) for c in consumers]


@bp.get("/customers/<api_id:customer_id>")
@signed
def get_customer(customer_id: int):
    session = db_session()
    consumer = partner_consumer(session, partner=g.api_partner, consumer_id=customer_id)
    return success(_customer_with_campaigns(session, consumer))


def _customer_with_campaigns(session, consumer: Consumer) -> dict:
    """GET /customers/<id>'s answer: the customer, with their campaign balances among the wallets."""
    from app.api.campaigns import campaign_wallets  # (that module reads bodies with json_body from here)

    data = customers_data(session, [consumer])[0]
    data["wallets"] += campaign_wallets(session, consumer)
    return data


@bp.put("/customers/<api_id:customer_id>/tags")
@signed
def put_customer_tags(customer_id: int):
    """Replace the customer's tags; campaigns for a tag they get now allocate to them (the answer lists it)."""
    body = schemas.validate(schemas.CustomerTags, json_body())
    session = db_session()
    consumer = partner_consumer(session, partner=g.api_partner, consumer_id=customer_id)
    segments.set_tags(session, consumer=consumer, tags=body.tags, actor=f"api:{g.api_key.prefix}")
    session.rollback()  # read what was committed (the change's session may hold older copies)
    return success(_customer_with_campaigns(session, consumer))


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
