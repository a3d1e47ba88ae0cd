"""Consumer sign-in: first login with a temporary password, trusted password, terms, reset."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import cast

from flask import current_app
from sqlalchemy import CursorResult, update
from sqlmodel import Session, col, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain.errors import InvalidCredentials, InvalidInput, InvalidResetLink, TemporaryPasswordExpired
from app.domain.passwords import password_problems
from app.emails import build_password_reset_email
from app.links import external_url
from app.models import Consumer, Partner, PasswordReset, TermsVersion
from app.queue import enqueue
from app.security import hash_password, new_token, token_hash, verify_password
from app.services import sign_in_sessions
from app.services.consumers import find_consumer, normalize_email
from app.services.emails import queue_email
from app.services.partners import current_terms
from app.services.rows import row_id

log = logging.getLogger(__name__)

WRONG_CREDENTIALS = "That email and password don't match an account in this store."


def authenticate(session: Session, *, partner: Partner, email: str, password: str) -> Consumer:
    """The consumer with this email and password, or InvalidCredentials. Timing-safe."""
    try:
        email = normalize_email(email)
    except InvalidInput:
        email = ""
    consumer = find_consumer(session, partner_id=row_id(partner), email=email) if email else None
    # (None after the check, not before it: the check takes as long without a consumer.)
    if not verify_password(consumer.password_hash if consumer else None, password or "") or consumer is None:
        raise InvalidCredentials(WRONG_CREDENTIALS)
    if (
        consumer.must_change_password
        and consumer.temporary_password_expires_at
        and (consumer.temporary_password_expires_at < utcnow())
    ):
        raise TemporaryPasswordExpired(
            "Your temporary password has expired. Use “Forgot password?” to get a link to choose a new one."
        )
    return consumer


def start_sign_in(session: Session, *, consumer: Consumer, replacing: str | None = None) -> str:
    """The consumer signed in: a new sign-in session. Returns its token, for this browser's cookie.

    `replacing`: the token this browser held until now, if any (signing in again): that session ends.
    """
    with write_transaction(session):
        return sign_in_sessions.start(session, consumer_id=consumer.id, replacing=replacing)


def sign_out(session: Session, *, token: str | None) -> None:
    """This browser's sign-in session ends: its cookie, or any copy of it, signs nobody in any more."""
    if token:
        with write_transaction(session):
            sign_in_sessions.end(session, token)


def sign_in_is_live(session: Session, *, consumer: Consumer, token: str | None) -> bool:
    """Whether `token` (from the cookie) is a live sign-in session of this consumer.

    The store reads the session with the consumer (`partners.PARTNER_AND_CONSUMER`): no query of its own.
    """
    record = sign_in_sessions.find(session, sign_in_sessions.hash_of(token))
    return record is not None and record.consumer_id == consumer.id and sign_in_sessions.is_live(session, record)


def signed_in_consumer(session: Session, *, consumer_id: int, epoch: int, token: str | None) -> Consumer | None:
    """The consumer whose live sign-in session `token` (from the cookie) is, or None.

    A password change bumps the epoch: cookies from before it load nobody; so does a session signed out,
    idle or too old. In the store the consumer and the session came with the partner (`partners.partner_and_consumer`):
    `session.get` finds the consumer in the session and `sign_in_is_live` the remembered session, no query of their own.
    """
    consumer = session.get(Consumer, consumer_id)
    if consumer is None or consumer.session_epoch != epoch:
        return None
    if not sign_in_is_live(session, consumer=consumer, token=token):
        return None
    return consumer


def _store_password(session: Session, consumer: Consumer, password: str, *, keeping: str | None = None) -> None:
    """The new password; every sign-in session of the consumer ends, but `keeping` (the browser that changed it)."""
    problems = password_problems(password, email=consumer.email)
    if problems:
        raise InvalidInput("Choose a stronger password: " + "; ".join(problems).lower() + ".", field="password")
    consumer.password_hash = hash_password(password)
    consumer.must_change_password = False
    consumer.temporary_password_expires_at = None
    consumer.session_epoch += 1  # every session of this consumer ends here (the one kept gets the new epoch)
    session.add(consumer)
    sign_in_sessions.end_all(session, consumer_id=consumer.id, keeping=keeping)
    # Any reset link still out there dies with the old password.
    session.execute(
        update(PasswordReset)
        .where(col(PasswordReset.consumer_id) == consumer.id, col(PasswordReset.used_at).is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def set_trusted_password(
    session: Session, *, consumer: Consumer, password: str, confirmation: str, current_sign_in: str | None = None
) -> Consumer:
    """First login: replace the temporary password with one the consumer chose.

    Every other sign-in session of the consumer ends; `current_sign_in` (this browser's token) goes on.
    """
    if password != confirmation:
        raise InvalidInput("The two passwords don't match.", field="confirmation")
    if verify_password(consumer.password_hash, password):
        raise InvalidInput("Choose a new password, not the temporary one.", field="password")
    with write_transaction(session):
        session.refresh(consumer)
        _store_password(session, consumer, password, keeping=current_sign_in)
    return consumer


def must_accept_terms(consumer: Consumer, partner: Partner) -> bool:
    """Whether the partner published terms this consumer has not accepted yet (no query)."""
    return (consumer.accepted_terms_version or 0) < partner.terms_version


def terms_to_accept(session: Session, consumer: Consumer) -> TermsVersion | None:
    """The partner's current terms if this consumer has not accepted that version yet."""
    terms = current_terms(session, consumer.partner_id)
    if terms is None or (consumer.accepted_terms_version or 0) >= terms.version:
        return None
    return terms


def accept_terms(session: Session, *, consumer: Consumer, version: int | None, accepted: bool) -> Consumer:
    if not accepted:
        raise InvalidInput("Tick the box to accept the terms before you continue.", field="accept")
    with write_transaction(session):
        terms = current_terms(session, consumer.partner_id)
        if terms is None or version != terms.version:
            raise InvalidInput("The terms have just been updated. Please read the new version.", field="accept")
        consumer.accepted_terms_version = terms.version
        consumer.accepted_terms_at = utcnow()
        session.add(consumer)
    return consumer


def ask_for_password_reset(session: Session, *, partner: Partner, email: str) -> None:
    """The forgot page's request: queue `send_password_reset` for any well-formed address.

    The request itself never looks the consumer up nor writes anything: the queue does, so an
    address that has an account and one that hasn't take the same time to answer. With the queue down
    (Redis unreachable) the request does the lookup itself: the reset email is recorded, and the stuck-email
    sweep sends it once the queue is back; only during that outage can the answer's timing tell the two apart.
    """
    try:
        email = normalize_email(email)
    except InvalidInput:
        return
    try:
        enqueue("send_password_reset", partner.id, email)
    except Exception:  # noqa: BLE001  (any failure of the queue's storage)
        log.warning("could not queue send_password_reset: the queue is unreachable; recording the email here", exc_info=True)
        request_password_reset(session, partner=partner, email=email)


def request_password_reset(session: Session, *, partner: Partner, email: str) -> None:
    """Email a single-use reset link if the account exists (in the queue). Says nothing either way."""
    try:
        email = normalize_email(email)
    except InvalidInput:
        return
    with write_transaction(session):
        consumer = find_consumer(session, partner_id=row_id(partner), email=email)
        if consumer is None:
            return
        token = new_token()
        minutes = current_app.config["RESET_LINK_MINUTES"]
        session.add(
            PasswordReset(
                consumer_id=row_id(consumer), token_hash=token_hash(token), expires_at=utcnow() + timedelta(minutes=minutes)
            )
        )
        reset_url = external_url("store.reset_password", slug=partner.slug, token=token)
        message = build_password_reset_email(partner=partner, consumer=consumer, reset_url=reset_url, valid_minutes=minutes)
        queue_email(session, message, partner_id=partner.id, consumer_id=consumer.id)


INVALID_LINK = "This reset link has expired or was already used. Ask for a new one below."


def consumer_for_reset_token(session: Session, *, partner: Partner, token: str) -> Consumer:
    reset = session.exec(select(PasswordReset).where(PasswordReset.token_hash == token_hash(token or ""))).first()
    if reset is None or reset.used_at is not None or reset.expires_at < utcnow():
        raise InvalidResetLink(INVALID_LINK)
    consumer = session.get(Consumer, reset.consumer_id)
    if consumer is None or consumer.partner_id != partner.id:
        raise InvalidResetLink(INVALID_LINK)
    return consumer


def reset_password(session: Session, *, partner: Partner, token: str, password: str, confirmation: str) -> Consumer:
    if password != confirmation:
        raise InvalidInput("The two passwords don't match.", field="confirmation")
    with write_transaction(session):
        consumer = consumer_for_reset_token(session, partner=partner, token=token)
        # Use the link up first: a second request with the same link finds nothing to claim.
        claimed = cast(
            CursorResult,
            session.execute(
                update(PasswordReset)
                .where(col(PasswordReset.token_hash) == token_hash(token), col(PasswordReset.used_at).is_(None))
                .values(used_at=utcnow())
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if not claimed:
            raise InvalidResetLink(INVALID_LINK)
        _store_password(session, consumer, password)
    return consumer
