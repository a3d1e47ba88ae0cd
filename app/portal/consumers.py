"""Consumers in the portal: find them, look at one (wallets, orders, statement), create one with
initial funds, switch them off and on, resend the welcome email, add or remove funds.

Every change is one service call (app/services/consumers.py, funds.py) holding the change and its audit
record in one transaction. Funds forms carry an idempotency key made when the form is drawn, so a double
submit moves money once.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import flash, make_response, redirect, render_template, request, url_for

from app.db import db_session
from app.domain.errors import DomainError, InvalidFields
from app.domain.money import Money
from app.domain.paging import FIRST_PAGE, Position, list_position
from app.domain.segments import parse_tags
from app.models import Consumer
from app.pages import format_money, wants_partial
from app.portal import current_member, current_partner, portal_route
from app.services import consumers as consumer_service
from app.services import segments
from app.services.funds import add_or_remove_funds, partner_consumer
from app.services.orders import new_idempotency_key
from app.services.partners import partner_funds

PAGE_SIZE = 25
STATUSES = ("active", "inactive")
STATEMENT_LINES = 100
ORDER_LINES = 50


# --- the list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsumerSearch:
    """What the list was asked for, read from the query string."""

    q: str = ""
    status: str = ""
    position: Position = FIRST_PAGE

    @classmethod
    def from_args(cls, args) -> ConsumerSearch:
        status = args.get("status", "")
        return cls(
            q=args.get("q", "").strip()[:120],
            status=status if status in STATUSES else "",
            position=list_position(args),
        )

    def args(self) -> dict:
        """The search as query arguments, for links to other pages of the same list."""
        return {key: value for key, value in {"q": self.q, "status": self.status}.items() if value}


@portal_route("/consumers", role="viewer")
def consumers():
    """The list; only its results (#consumer-rows) for the filters' htmx requests."""
    search = ConsumerSearch.from_args(request.args)
    found = consumer_service.consumer_list(
        db_session(),
        partner=current_partner(),
        query=search.q,
        active=None if not search.status else search.status == "active",
        position=search.position,
        size=PAGE_SIZE,
    )
    context = dict(consumers=found, balances=found.balances, search=search)
    template = "portal/consumers/_rows.html" if wants_partial() else "portal/consumers/index.html"
    response = make_response(render_template(template, **context))
    response.vary.add("HX-Request")
    return response


# --- creating one -------------------------------------------------------------------------


def _new_form(
    form: dict, error: str | None = None, status: int = 200, problems: dict[str, str] | None = None, invalid: str | None = None
):
    """The form; `problems` holds each field's message when fields are wrong (all shown at once, each by its
    field); `invalid` names the one field a single refusal (#form-error) is about."""
    partner = current_partner()
    return render_template(
        "portal/consumers/new.html",
        form=form,
        error=error,
        problems=problems or {},
        invalid=invalid,
        currencies=partner.currency_list,
    ), status


@portal_route("/consumers/new", role="operator", methods=("GET", "POST"))
def consumers_new():
    partner = current_partner()
    if request.method == "GET":
        return _new_form({"full_name": "", "email": "", "currency": partner.currency_list[0], "initial_funds": "0"})
    form = {key: request.form.get(key, "").strip() for key in ("full_name", "email", "currency", "initial_funds")}
    try:
        created = consumer_service.add_consumer(
            db_session(),
            partner=partner,
            email=form["email"],
            full_name=form["full_name"],
            currency=form["currency"],
            initial_funds=form["initial_funds"],
            by=current_member(),
        )
    except InvalidFields as error:
        count = len(error.problems)
        return _new_form(
            form, f"{count} field{'' if count == 1 else 's'} need{'s' if count == 1 else ''} a change.", 422, error.problems
        )
    except DomainError as error:
        return _new_form(form, error.message, 422, invalid=error.field)
    consumer, currency = created.consumer, created.wallet_account.currency
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
    def fresh(cls, currency: str) -> FundsForm:
        return cls(currency=currency, idempotency_key=new_idempotency_key())

    @classmethod
    def from_request(cls) -> FundsForm:
        form = request.form
        return cls(
            **{key: form.get(key, "").strip()[:200] for key in ("direction", "amount", "currency", "reason", "idempotency_key")}
        )


def _consumer(consumer_id: int) -> Consumer:
    return partner_consumer(db_session(), partner=current_partner(), consumer_id=consumer_id)


def _funds_context(
    consumer: Consumer, form: FundsForm | None = None, *, error: str | None = None, notice: str | None = None
) -> dict:
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
    latest = consumer_service.latest_statement(db_session(), consumer, lines=STATEMENT_LINES)
    return dict(statement=latest.lines, statement_total=latest.total)


def _page(
    consumer: Consumer,
    *,
    form: FundsForm | None = None,
    funds_error: str | None = None,
    error: str | None = None,
    status: int = 200,
    tags_error: str | None = None,
    tags_typed: str = "",
):
    return render_template(
        "portal/consumers/show.html",
        error=error,
        tags=segments.tags_of(db_session(), consumer),
        partner_tags=segments.partner_tags(db_session(), consumer.partner_id),
        tags_error=tags_error,
        tags_typed=tags_typed,
        orders=consumer_service.order_history(db_session(), consumer, limit=ORDER_LINES),
        **_funds_context(consumer, form, error=funds_error),
        **_statement_context(consumer),
    ), status


@portal_route("/consumers/<int:consumer_id>", role="viewer")
def consumers_show(consumer_id: int):
    return _page(_consumer(consumer_id))


def _back_to(consumer: Consumer):
    return redirect(url_for("portal.consumers_show", consumer_id=consumer.id), 303)


def _set_active(consumer_id: int, active: bool):
    consumer = _consumer(consumer_id)
    unchanged = not consumer_service.change_consumer_status(
        db_session(), partner=current_partner(), consumer=consumer, active=active, by=current_member()
    )
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
    consumer = _consumer(consumer_id)
    try:
        consumer_service.resend_welcome(db_session(), partner=current_partner(), consumer=consumer, by=current_member())
    except DomainError as error:
        body, status = _page(consumer, error=error.message, status=422)
        return body, status, {"HX-Push-Url": url_for("portal.consumers_show", consumer_id=consumer.id)}
    flash(f"A new temporary password was sent to {consumer.email}.", "success")
    return _back_to(consumer)


# --- tags ---------------------------------------------------------------------------------


def _tags_changed(consumer: Consumer, changed: segments.TagsChanged):
    if not changed.changed:
        flash("Nothing changed: the tags were already so.", "info")
    else:
        parts = [
            f"Tagged {', '.join(changed.added)}" if changed.added else "",
            f"removed {', '.join(changed.removed)}" if changed.removed else "",
        ]
        message = "; ".join(part for part in parts if part)
        message = message[0].upper() + message[1:] + "."
        if changed.joined:
            count = len(changed.joined)
            message += f" They joined {count} campaign{'' if count == 1 else 's'} for a tag, with its allowance."
        flash(message, "success")
    return _back_to(consumer)


@portal_route("/consumers/<int:consumer_id>/tags", role="operator", methods=("POST",), endpoint="consumers_tag_add")
def consumers_tag_add(consumer_id: int):
    """Add one or more tags (separated by ; , or spaces): campaigns for those tags allocate to them now."""
    consumer = _consumer(consumer_id)
    typed = request.form.get("tags", "")[:1000]
    try:
        changed = segments.add_tags(db_session(), consumer=consumer, tags=parse_tags(typed), by=current_member())
    except DomainError as error:
        return _page(consumer, tags_error=error.message, tags_typed=typed[:200], status=422)
    return _tags_changed(consumer, changed)


@portal_route(
    "/consumers/<int:consumer_id>/tags/<tag>/remove", role="operator", methods=("POST",), endpoint="consumers_tag_remove"
)
def consumers_tag_remove(consumer_id: int, tag: str):
    """Remove a tag: campaigns for it stop giving them later allocations (what they were given stays)."""
    consumer = _consumer(consumer_id)
    try:
        changed = segments.remove_tag(db_session(), consumer=consumer, tag=tag, by=current_member())
    except DomainError as error:
        return _page(consumer, tags_error=error.message, status=422)
    return _tags_changed(consumer, changed)


# --- funds --------------------------------------------------------------------------------


@portal_route("/consumers/<int:consumer_id>/funds", role="operator", methods=("POST",))
def consumers_funds(consumer_id: int):
    """Add or remove funds. htmx gets the funds section back (and the header's and statement's
    new figures out of band); a plain form gets the page again (PRG)."""
    consumer = _consumer(consumer_id)
    form = FundsForm.from_request()
    try:
        result = add_or_remove_funds(
            db_session(),
            partner=current_partner(),
            consumer=consumer,
            direction=form.direction,
            amount=form.amount,
            currency=form.currency,
            reason=form.reason,
            idempotency_key=form.idempotency_key,
            by=current_member(),
        )
    except DomainError as error:
        problem = error.message
        if wants_partial():
            return render_template("portal/consumers/_funds.html", **_funds_context(consumer, form, error=problem)), 422
        return _page(consumer, form=form, funds_error=problem, status=422)
    if result.replayed:
        notice = "This change was already made (the form was sent twice): nothing more was moved."
    else:
        direction = "added to" if form.direction == "add" else "removed from"
        amount = Money(result.transaction.amount, result.transaction.currency)
        notice = f"{format_money(amount)} {direction} the general wallet. It now holds {format_money(result.wallet_balance)}."
    if wants_partial():
        return render_template(
            "portal/consumers/_funds_changed.html", **_funds_context(consumer, notice=notice), **_statement_context(consumer)
        )
    flash(notice, "success")
    return _back_to(consumer)
