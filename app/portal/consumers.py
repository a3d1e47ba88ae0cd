"""Consumers in the portal: find them, look at one (wallets, orders, statement), create one with
initial funds, switch them off and on, resend the welcome email, add or remove funds.

Every change is one write transaction holding the service's work and its audit record. Funds
forms carry an idempotency key made when the form is drawn, so a double submit moves money once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from sqlalchemy import func, or_
from sqlmodel import select

from app.db import db_session, write_transaction
from app.domain.errors import DomainError, DuplicateConsumer, InsufficientFunds, InvalidInput, PartnerFundsTooLow
from app.domain.ledger import AccountKind, TransactionType
from app.domain.money import Money, normalize_currency
from app.domain.paging import page_number
from app.models import Account, Brand, Consumer, Order
from app.portal import audit, current_member, current_partner, portal_route
from app.services import consumers as consumer_service
from app.services.audit import actor_label
from app.services.funds import KEY_REUSED, change_funds, partner_consumer
from app.services.orders import new_idempotency_key
from app.services.partners import partner_funds
from app.web import format_money, wants_partial

PAGE_SIZE = 25
STATUSES = ("active", "inactive")
STATEMENT_LINES = 100
ORDER_LINES = 50
DIRECTIONS = {"add": TransactionType.CREDIT, "remove": TransactionType.DEBIT}
_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _sentence(message: str) -> str:
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


# --- the list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsumerSearch:
    """What the list was asked for, read from the query string."""

    q: str = ""
    status: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "ConsumerSearch":
        status = args.get("status", "")
        return cls(
            q=args.get("q", "").strip()[:120],
            status=status if status in STATUSES else "",
            page=page_number(args.get("page")),
        )

    def link_args(self, page: int) -> dict:
        return {key: value for key, value in {"q": self.q, "status": self.status, "page": page if page > 1 else None}.items() if value}


def _search(search: ConsumerSearch):
    session = db_session()
    conditions = [Consumer.partner_id == current_partner().id]
    if search.q:
        needle = search.q.lower()
        conditions.append(or_(func.lower(Consumer.full_name).contains(needle, autoescape=True), Consumer.email.contains(needle, autoescape=True)))
    if search.status:
        conditions.append(Consumer.is_active == (search.status == "active"))
    total = session.exec(select(func.count()).select_from(Consumer).where(*conditions)).one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(search.page, pages)
    rows = session.exec(
        select(Consumer).where(*conditions).order_by(Consumer.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    return rows, total, page, pages


def _general_balances(consumers: list[Consumer]) -> dict[int, list[Money]]:
    """Each consumer's general wallet balance per currency."""
    if not consumers:
        return {}
    accounts = db_session().exec(
        select(Account)
        .where(Account.consumer_id.in_([c.id for c in consumers]), Account.kind == AccountKind.GENERAL.value)
        .order_by(Account.currency)
    ).all()
    balances: dict[int, list[Money]] = {}
    for account in accounts:
        balances.setdefault(account.consumer_id, []).append(Money(account.balance, account.currency))
    return balances


@portal_route("/consumers", role="viewer")
def consumers():
    """The list; only its results (#consumer-rows) for the filters' htmx requests."""
    search = ConsumerSearch.from_args(request.args)
    rows, total, page, pages = _search(search)
    context = dict(consumers=rows, balances=_general_balances(rows), total=total, page=page, pages=pages, search=search)
    template = "portal/consumers/_rows.html" if wants_partial() else "portal/consumers/index.html"
    response = make_response(render_template(template, **context))
    response.vary.add("HX-Request")
    return response


# --- creating one -------------------------------------------------------------------------


def _new_form(form: dict, error: str | None = None, status: int = 200):
    partner = current_partner()
    return render_template("portal/consumers/new.html", form=form, error=error, currencies=partner.currency_list), status


@portal_route("/consumers/new", role="operator", methods=("GET", "POST"))
def consumers_new():
    partner = current_partner()
    if request.method == "GET":
        return _new_form({"full_name": "", "email": "", "currency": partner.currency_list[0], "initial_funds": "0"})
    form = {key: request.form.get(key, "").strip() for key in ("full_name", "email", "currency", "initial_funds")}
    session = db_session()
    try:
        currency = normalize_currency(form["currency"])
        initial_funds = Money.parse(form["initial_funds"] or "0", currency, field="initial funds")
        if initial_funds.amount < 0:
            raise InvalidInput("Initial funds can't be negative.", field="initial_funds")
        with write_transaction(session):
            created = consumer_service.create_consumer(
                session, partner=partner, email=form["email"], full_name=form["full_name"],
                initial_funds=initial_funds, actor=actor_label(current_member()),
            )
            consumer = created.consumer
            audit(session, "consumer.create" if created.created else "consumer.add_wallet", subject_type="consumer",
                  subject_id=consumer.id, summary=f"{consumer.email}: {currency} wallet with {initial_funds}",
                  details={"email": consumer.email, "currency": currency, "initial_funds": initial_funds.amount})
    except DuplicateConsumer:
        return _new_form(form, f"A consumer with this email already has a {form['currency'].upper()} wallet.", 422)
    except PartnerFundsTooLow:
        available = partner_funds(session, partner, currency)
        return _new_form(form, f"Your partner funds are too low for these initial funds: {format_money(available)} available. Nothing was created.", 422)
    except DomainError as error:
        return _new_form(form, _sentence(error.message), 422)
    if created.created:
        flash(f"{consumer.full_name} was created and will get a welcome email with a temporary password.", "success")
    else:
        flash(f"{consumer.email} already had an account: it now has a {currency} wallet too.", "success")
    return redirect(url_for("portal.consumers_show", consumer_id=consumer.id), 303)


# --- one consumer -------------------------------------------------------------------------


@dataclass(frozen=True)
class FundsForm:
    """The add/remove funds form as typed, and the idempotency key it was drawn with."""

    direction: str = "add"
    amount: str = ""
    currency: str = ""
    reason: str = ""
    idempotency_key: str = ""

    @classmethod
    def fresh(cls, currency: str) -> "FundsForm":
        return cls(currency=currency, idempotency_key=new_idempotency_key())

    @classmethod
    def from_request(cls) -> "FundsForm":
        form = request.form
        return cls(**{key: form.get(key, "").strip()[:200] for key in ("direction", "amount", "currency", "reason", "idempotency_key")})


def _consumer(consumer_id: int) -> Consumer:
    return partner_consumer(db_session(), partner=current_partner(), consumer_id=consumer_id)


def _orders(consumer: Consumer):
    rows = db_session().exec(
        select(Order, Brand).join(Brand, Brand.id == Order.brand_id)
        .where(Order.consumer_id == consumer.id).order_by(Order.id.desc()).limit(ORDER_LINES)
    ).all()
    return [(order, brand, Money(order.card_value, order.currency), Money(order.price, order.currency)) for order, brand in rows]


def _funds_context(consumer: Consumer, form: FundsForm | None = None, *, error: str | None = None, notice: str | None = None) -> dict:
    session = db_session()
    partner = current_partner()
    wallets = consumer_service.wallets(session, consumer)
    currencies = [w.currency for w in wallets] or partner.currency_list
    return dict(
        consumer=consumer,
        wallets=wallets,
        currencies=currencies,
        partner_balances=[partner_funds(session, partner, currency) for currency in partner.currency_list],
        funds_form=form or FundsForm.fresh(currencies[0]),
        funds_error=error,
        funds_notice=notice,
    )


def _statement_context(consumer: Consumer) -> dict:
    lines = consumer_service.statement(db_session(), consumer)
    return dict(
        statement=list(reversed(lines[-STATEMENT_LINES:])),
        statement_total=len(lines),
        order_links="portal.order" in current_app.view_functions,  # the orders area may not be there yet
    )


def _page(consumer: Consumer, *, form: FundsForm | None = None, funds_error: str | None = None, error: str | None = None, status: int = 200):
    return render_template(
        "portal/consumers/show.html",
        error=error,
        orders=_orders(consumer),
        **_funds_context(consumer, form, error=funds_error),
        **_statement_context(consumer),
    ), status


@portal_route("/consumers/<int:consumer_id>", role="viewer")
def consumers_show(consumer_id: int):
    return _page(_consumer(consumer_id))


def _back_to(consumer: Consumer):
    return redirect(url_for("portal.consumers_show", consumer_id=consumer.id), 303)


def _set_active(consumer_id: int, active: bool):
    session = db_session()
    consumer = _consumer(consumer_id)
    with write_transaction(session):
        session.refresh(consumer)
        unchanged = consumer.is_active == active
        if not unchanged:
            consumer_service.set_active(session, consumer=consumer, active=active)
            audit(session, "consumer.reactivate" if active else "consumer.deactivate", subject_type="consumer",
                  subject_id=consumer.id, summary=consumer.email)
    if unchanged:
        flash(f"{consumer.full_name} is already {'active' if active else 'deactivated'}.", "info")
    elif active:
        flash(f"{consumer.full_name} can order again.", "success")
    else:
        flash(f"{consumer.full_name} is deactivated: they can still sign in and look, but not order.", "success")
    return _back_to(consumer)


@portal_route("/consumers/<int:consumer_id>/deactivate", role="operator", methods=("POST",))
def consumers_deactivate(consumer_id: int):
    return _set_active(consumer_id, False)


@portal_route("/consumers/<int:consumer_id>/reactivate", role="operator", methods=("POST",))
def consumers_reactivate(consumer_id: int):
    return _set_active(consumer_id, True)


@portal_route("/consumers/<int:consumer_id>/resend-welcome", role="operator", methods=("POST",))
def consumers_resend_welcome(consumer_id: int):
    session = db_session()
    consumer = _consumer(consumer_id)
    try:
        with write_transaction(session):
            consumer_service.resend_welcome(session, partner=current_partner(), consumer=consumer)
            audit(session, "consumer.resend_welcome", subject_type="consumer", subject_id=consumer.id,
                  summary=f"New temporary password sent to {consumer.email}")
    except InvalidInput as error:
        body, status = _page(consumer, error=error.message, status=422)
        return body, status, {"HX-Push-Url": url_for("portal.consumers_show", consumer_id=consumer.id)}
    flash(f"A new temporary password was sent to {consumer.email}.", "success")
    return _back_to(consumer)


# --- funds --------------------------------------------------------------------------------


def _change_funds(consumer: Consumer, form: FundsForm):
    """Parse the form and move the money, with its audit record, in one transaction."""
    if form.direction not in DIRECTIONS:
        raise InvalidInput("Choose whether to add or remove funds.", field="direction")
    if not _KEY.fullmatch(form.idempotency_key):
        raise InvalidInput("This form has expired. Reload the page and try again.", field="idempotency_key")
    if not form.amount:
        raise InvalidInput("Enter an amount.", field="amount")
    amount = Money.parse(form.amount, normalize_currency(form.currency), field="amount")
    session = db_session()
    with write_transaction(session):
        result = change_funds(
            session, partner=current_partner(), consumer_id=consumer.id, type=DIRECTIONS[form.direction], amount=amount,
            reason=form.reason, idempotency_key=form.idempotency_key, actor=actor_label(current_member()),
        )
        if not result.replayed:
            verb = "Added" if form.direction == "add" else "Removed"
            audit(session, f"funds.{DIRECTIONS[form.direction].value}", subject_type="consumer", subject_id=consumer.id,
                  summary=f"{verb} {amount} ({consumer.email}): {result.transaction.memo}",
                  details={"amount": amount.amount, "currency": amount.currency, "transaction_id": result.transaction.id})
    return result, amount


def _funds_problem(error: DomainError, consumer: Consumer, form: FundsForm) -> str:
    """The service's message in the portal's words, with the balance that was too low."""
    session = db_session()
    currency = form.currency.upper()
    if isinstance(error, PartnerFundsTooLow):
        return f"Your partner funds are too low: {format_money(partner_funds(session, current_partner(), currency))} available. Nothing was moved."
    if isinstance(error, InsufficientFunds):
        held = next((w.general for w in consumer_service.wallets(session, consumer) if w.currency == currency), Money.zero(currency))
        return f"Insufficient wallet balance: the general wallet holds {format_money(held)}, so at most that can be removed. Nothing was moved."
    if error.message == KEY_REUSED:
        return "This form was already sent with other values. Reload the page to start again."
    return _sentence(error.message)


@portal_route("/consumers/<int:consumer_id>/funds", role="operator", methods=("POST",))
def consumers_funds(consumer_id: int):
    """Add or remove funds. htmx gets the funds section back (and the header's and statement's
    new figures out of band); a plain form gets the page again (PRG)."""
    consumer = _consumer(consumer_id)
    form = FundsForm.from_request()
    try:
        result, amount = _change_funds(consumer, form)
    except DomainError as error:
        problem = _funds_problem(error, consumer, form)
        if wants_partial():
            return render_template("portal/consumers/_funds.html", **_funds_context(consumer, form, error=problem)), 422
        return _page(consumer, form=form, funds_error=problem, status=422)
    if result.replayed:
        notice = "This change was already made (the form was sent twice): nothing more was moved."
    else:
        direction = "added to" if form.direction == "add" else "removed from"
        notice = f"{format_money(amount)} {direction} the general wallet. It now holds {format_money(result.wallet_balance)}."
    if wants_partial():
        return render_template("portal/consumers/_funds_changed.html", **_funds_context(consumer, notice=notice), **_statement_context(consumer))
    flash(notice, "success")
    return _back_to(consumer)
