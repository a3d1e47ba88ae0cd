"""Store checkout and orders: review, place, watch the status, history, statement. Routes live on the store blueprint."""

from __future__ import annotations

from flask import Response, g, redirect, render_template, request, url_for

from app.db import db_session
from app.domain.errors import DomainError
from app.domain.money import Money
from app.domain.orders import OrderStatus
from app.extensions import limiter
from app.models import Brand, Order
from app.pages import wants_partial
from app.services import catalog, consumers, csv_export, orders, segments
from app.web.store import bp


def _wallet_currency() -> str:
    wallets = consumers.wallets(db_session(), g.consumer)
    return wallets[0].currency if wallets else g.partner.currency_list[0]


def _offer(brand_slug: str) -> catalog.Offer:
    """The brand as the signed-in consumer sees it: a bonus for a segment only when they have its tag."""
    session = db_session()
    return catalog.offer(session, g.partner, brand_slug, tags=segments.consumer_tag_set(session, g.consumer))


def _checkout_fields() -> dict:
    form = request.form
    return {
        "amount": form.get("amount", "").strip(),
        "send_to": form.get("send_to", "me"),
        "email": form.get("email", "").strip(),
        "name": form.get("name", "").strip(),
        "sender_name": form.get("sender_name", "").strip(),
        "message": form.get("message", ""),
        "idempotency_key": form.get("idempotency_key", ""),
        # What the review page showed (minor units): confirm refuses when the quote changed since.
        "reviewed_price": form.get("reviewed_price", ""),
        "reviewed_card_value": form.get("reviewed_card_value", ""),
        "reviewed_cash_back": form.get("reviewed_cash_back", ""),
    }


def _parse(offer, fields: dict):
    amount = Money.parse(fields["amount"], _wallet_currency())
    recipient = orders.recipient_for(
        g.consumer,
        send_to=fields["send_to"],
        email=fields["email"],
        name=fields["name"],
        sender_name=fields["sender_name"],
        message=fields["message"],
    )
    return amount, recipient


@bp.get("/brands/<brand_slug>/checkout")
def checkout(brand_slug: str):
    """Who gets the card: me, or someone else by email, with a message."""
    offer = _offer(brand_slug)
    fields = {
        "amount": request.args.get("amount", ""),
        "send_to": request.args.get("send_to", "me"),
        "email": "",
        "name": "",
        "sender_name": g.consumer.full_name,
        "message": "",
        "idempotency_key": orders.new_idempotency_key(),
    }
    return render_template("store/checkout.html", offer=offer, fields=fields, error=None, field=None)


def _review(session, offer, fields: dict, *, changed: str | None = None):
    """The review page with today's quote (after a refused confirm, `changed` says why: a 422)."""
    try:
        amount, _recipient = _parse(offer, fields)  # validates the recipient now, not at confirm
        preview = orders.preview(session, consumer=g.consumer, offer=offer, face_value=amount)
    except DomainError as error:
        message = f"{changed} {error.message}" if changed else error.message
        return render_template("store/checkout.html", offer=offer, fields=fields, error=message, field=error.field), 422
    return render_template(
        "store/review.html", offer=offer, fields=fields, preview=preview, error=changed
    ), 422 if changed else 200


@bp.post("/brands/<brand_slug>/checkout/review")
def review_order(brand_slug: str):
    """Exactly what will be charged, from which balance, and what the recipient gets."""
    session = db_session()
    return _review(session, _offer(brand_slug), _checkout_fields())


@bp.post("/brands/<brand_slug>/orders")
@limiter.limit("30 per minute", key_func=lambda: f"checkout:{g.consumer.id if g.get('consumer') else request.remote_addr}")
def place_order(brand_slug: str):
    session = db_session()
    offer = _offer(brand_slug)
    fields = _checkout_fields()
    try:
        amount, recipient = _parse(offer, fields)
        reviewed = orders.reviewed_quote(
            amount,
            price=fields["reviewed_price"],
            card_value=fields["reviewed_card_value"],
            cash_back=fields["reviewed_cash_back"],
        )
        order = orders.place_order(
            session,
            consumer=g.consumer,
            offer=offer,
            face_value=amount,
            recipient=recipient,
            idempotency_key=fields["idempotency_key"],
            reviewed=reviewed,
        )
    except orders.QuoteChanged as changed:
        # Nothing was charged: the review again, with today's figures in the form, and the same key.
        return _review(session, offer, fields, changed=changed.message)
    except DomainError as error:
        # The form keeps every field and the idempotency key: fix and send again, nothing was charged.
        return render_template("store/checkout.html", offer=offer, fields=fields, error=error.message, field=error.field), 422
    return redirect(url_for("store.order", public_id=order.public_id), 303)


def _order_context(order: Order, brand: Brand) -> dict:
    money = lambda amount: Money(amount, order.currency)  # noqa: E731
    return {
        "order": order,
        "brand": brand,
        "status": OrderStatus(order.status),
        "price": money(order.price),
        "card_value": money(order.card_value),
        "cash_back": money(order.cash_back),
    }


@bp.get("/orders/<public_id>")
def order(public_id: str):
    found, brand = orders.order_and_brand_for_consumer(db_session(), consumer=g.consumer, public_id=public_id)
    return render_template("store/order.html", **_order_context(found, brand))


@bp.get("/orders/<public_id>/status")
def order_status(public_id: str):
    """Polled while pending; when final it stops polling and tells the header wallet to refresh."""
    found, brand = orders.order_and_brand_for_consumer(db_session(), consumer=g.consumer, public_id=public_id, brief=True)
    response = Response(render_template("store/_order_status.html", **_order_context(found, brand)))
    if OrderStatus(found.status).is_final and request.headers.get("HX-Request"):
        response.headers["HX-Trigger"] = "wallet-changed"
    return response


@bp.post("/orders/<public_id>/card")
def reveal_card(public_id: str):
    """The card in place of the button (htmx), or, from a plain form (no JavaScript), the whole order page showing it."""
    session = db_session()
    number, pin = orders.reveal_card(session, consumer=g.consumer, public_id=public_id)
    if wants_partial():
        response = Response(render_template("store/_card.html", number=number, pin=pin))
    else:
        found, brand = orders.order_and_brand_for_consumer(session, consumer=g.consumer, public_id=public_id)
        response = Response(render_template("store/order.html", number=number, pin=pin, **_order_context(found, brand)))
    response.vary.add("HX-Request")
    return response


@bp.get("/orders")
def order_history():
    return render_template("store/orders.html", rows=consumers.order_history(db_session(), g.consumer))


@bp.get("/statement")
def statement():
    """The consumer's statement, newest first: each movement in plain words, with their balance in its currency after it."""
    return render_template("store/statement.html", lines=list(reversed(consumers.statement(db_session(), g.consumer))))


# The ledger's own columns, then the line in plain words (what the statement page says).
STATEMENT_COLUMNS = ["date", "type", "status", "balance", "amount", "currency", "balance_after", "order", "memo", "description"]


@bp.get("/statement.csv")
def statement_csv():
    rows = [
        [
            line.transaction.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            line.transaction.type,
            line.transaction.status,
            line.wallet,
            line.amount.to_decimal(),
            line.amount.currency,
            line.total_after.to_decimal(),
            line.order_public_id or "",
            line.transaction.memo,
            line.description,
        ]
        for line in consumers.statement(db_session(), g.consumer)
    ]
    return Response(
        csv_export.csv_text([STATEMENT_COLUMNS, *rows]),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{g.partner.slug}-statement.csv"'},
    )
