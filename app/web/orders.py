"""Store checkout and orders: review, place, watch the status, history, statement. Routes live on the store blueprint."""
from __future__ import annotations

from flask import Response, g, redirect, render_template, request, url_for
from sqlmodel import select

from app.db import db_session
from app.domain.errors import DomainError
from app.domain.money import Money
from app.domain.orders import OrderStatus
from app.extensions import limiter
from app.models import Account, Brand, Entry, Order, Transaction
from app.services import catalog, consumers, csv_export, orders
from app.web.store import bp


def _wallet_currency() -> str:
    wallets = consumers.wallets(db_session(), g.consumer)
    return wallets[0].currency if wallets else g.partner.currency_list[0]


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
    offer = catalog.offer(db_session(), g.partner, brand_slug)
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
    return render_template("store/review.html", offer=offer, fields=fields, preview=preview, error=changed), 422 if changed else 200


@bp.post("/brands/<brand_slug>/checkout/review")
def review_order(brand_slug: str):
    """Exactly what will be charged, from which balance, and what the recipient gets."""
    session = db_session()
    return _review(session, catalog.offer(session, g.partner, brand_slug), _checkout_fields())


@bp.post("/brands/<brand_slug>/orders")
@limiter.limit("30 per minute", key_func=lambda: f"checkout:{g.consumer.id if g.get('consumer') else request.remote_addr}")
def place_order(brand_slug: str):
    session = db_session()
    offer = catalog.offer(session, g.partner, brand_slug)
    fields = _checkout_fields()
    try:
        amount, recipient = _parse(offer, fields)
        reviewed = orders.reviewed_quote(
            amount, price=fields["reviewed_price"], card_value=fields["reviewed_card_value"], cash_back=fields["reviewed_cash_back"]
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
    number, pin = orders.reveal_card(db_session(), consumer=g.consumer, public_id=public_id)
    return render_template("store/_card.html", number=number, pin=pin)


@bp.get("/orders")
def order_history():
    session = db_session()
    rows = session.exec(
        select(Order, Brand).join(Brand, Brand.id == Order.brand_id).where(Order.consumer_id == g.consumer.id).order_by(Order.id.desc()).limit(200)
    ).all()
    return render_template("store/orders.html", rows=[(o, b, Money(o.card_value, o.currency), Money(o.price, o.currency)) for o, b in rows])


def _statement_rows():
    """The consumer's wallet transactions, oldest first, each with the balance after it."""
    session = db_session()
    wallet_ids = [a.id for a in session.exec(select(Account).where(Account.consumer_id == g.consumer.id)).all()]
    if not wallet_ids:
        return []
    lines = session.exec(
        select(Transaction, Entry.amount, Account.currency, Account.kind)
        .join(Entry, Entry.transaction_id == Transaction.id)
        .join(Account, Account.id == Entry.account_id)
        .where(Entry.account_id.in_(wallet_ids))
        .order_by(Transaction.id, Entry.id)
    ).all()
    order_ids = {t.order_id for t, *_ in lines if t.order_id}
    public_ids = dict(session.exec(select(Order.id, Order.public_id).where(Order.id.in_(order_ids))).all()) if order_ids else {}
    rows, running = [], {}
    for transaction, amount, currency, kind in lines:
        running[currency] = running.get(currency, 0) + amount
        rows.append(
            {
                "date": transaction.created_at,
                "type": transaction.type,
                "status": transaction.status,
                "memo": transaction.memo,
                "balance_kind": kind,
                "amount": Money(amount, currency),
                "balance": Money(running[currency], currency),
                "order": public_ids.get(transaction.order_id),
            }
        )
    return rows


@bp.get("/statement")
def statement():
    return render_template("store/statement.html", rows=list(reversed(_statement_rows())))


STATEMENT_COLUMNS = ["date", "type", "status", "balance", "amount", "currency", "balance_after", "order", "memo"]


@bp.get("/statement.csv")
def statement_csv():
    rows = [
        [
            row["date"].strftime("%Y-%m-%d %H:%M:%S"),
            row["type"],
            row["status"],
            row["balance_kind"],
            row["amount"].to_decimal(),
            row["amount"].currency,
            row["balance"].to_decimal(),
            row["order"] or "",
            row["memo"],
        ]
        for row in _statement_rows()
    ]
    return Response(
        csv_export.csv_text([STATEMENT_COLUMNS, *rows]),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{g.partner.slug}-statement.csv"'},
    )
