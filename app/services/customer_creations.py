"""POST /customer with an idempotency key: one customer per (partner, key), and one answer.

A partner whose request timed out sends it again with the same key and gets the first answer, byte for
byte (app/models/customer_creation.py keeps it), instead of the seed's duplicate-customer 400; the same
key with another request is refused. Requests racing each other with one key make one customer: the
partner's write lock is taken first and the key looked up again inside the transaction (as funds and
campaigns do), and the unique (partner, key) index is the backstop. Without a key, create_consumer
behaves as the seed's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.db import write_transaction
from app.domain.errors import InvalidInput
from app.domain.money import Money
from app.models import CustomerCreation, Partner
from app.services import partners
from app.services.campaigns import IDEMPOTENCY_KEY, KEY_FORMAT
from app.services.consumers import NewConsumer, create_consumer
from app.services.funds import KEY_REUSED
from app.services.rows import row_id


@dataclass(frozen=True)
class CustomerCreated:
    answer: str  # the response body the first request got
    replayed: bool  # True when the key had been used: nothing was created this time


def request_fingerprint(*, email: str, full_name: str, initial_funds: Money) -> str:
    """What a request asks for, as sent (not its JSON's spacing or key order): repeats must match it."""
    asked = [email, full_name, initial_funds.currency, initial_funds.amount]
    return hashlib.sha256(json.dumps(asked, ensure_ascii=False).encode()).hexdigest()


def _find(session: Session, partner_id: int, idempotency_key: str) -> CustomerCreation | None:
    statement = select(CustomerCreation).where(
        CustomerCreation.partner_id == partner_id, CustomerCreation.idempotency_key == idempotency_key
    )
    return session.exec(statement.execution_options(populate_existing=True)).first()


def _replay(creation: CustomerCreation, fingerprint: str) -> CustomerCreated:
    if creation.request_sha256 != fingerprint:
        raise InvalidInput(KEY_REUSED, field="idempotency_key")
    return CustomerCreated(creation.answer, True)


def create_consumer_once(
    session: Session,
    *,
    partner: Partner,
    idempotency_key: str,
    email: str,
    full_name: str,
    initial_funds: Money,
    answer: Callable[[NewConsumer], str],
    actor: str = "",
) -> CustomerCreated:
    """`create_consumer` once per (partner, idempotency key). `answer` writes the response body for a new
    customer; it is kept in the same transaction and given again to every repeat of the same request.
    A refusal (duplicate email, funds too low, bad input) keeps nothing: it changed nothing either."""
    if not IDEMPOTENCY_KEY.match(idempotency_key or ""):
        raise InvalidInput(KEY_FORMAT, field="idempotency_key")
    partner_id = row_id(partner)
    fingerprint = request_fingerprint(email=email, full_name=full_name, initial_funds=initial_funds)
    existing = _find(session, partner_id, idempotency_key)
    if existing is not None:
        return _replay(existing, fingerprint)
    try:
        with write_transaction(session):
            # Serialise with this partner's other writers, then look again: a twin may have committed meanwhile.
            partners.hold_partner(session, partner_id)
            existing = _find(session, partner_id, idempotency_key)
            if existing is not None:
                return _replay(existing, fingerprint)
            created = create_consumer(
                session, partner=partner, email=email, full_name=full_name, initial_funds=initial_funds, actor=actor
            )
            body = answer(created)
            session.add(
                CustomerCreation(
                    partner_id=partner_id,
                    idempotency_key=idempotency_key,
                    request_sha256=fingerprint,
                    consumer_id=row_id(created.consumer),
                    answer=body,
                )
            )
    except IntegrityError:
        # The same key won a race in another request (the partner's lock makes this a backstop only).
        session.rollback()
        existing = _find(session, partner_id, idempotency_key)
        if existing is None:
            raise
        return _replay(existing, fingerprint)
    return CustomerCreated(body, False)
