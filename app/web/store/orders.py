"""Store checkout and orders: review, place, watch the status, history, statement. Routes live on the store blueprint."""

from __future__ import annotations

from flask import Response, g, redirect, render_template, request, url_for

from app.clock import utcnow
from app.db import db_session
from app.domain.email_typos import suggest_email
from app.domain.errors import DomainError
from app.domain.money import Money
from app.domain.orders import OrderStatus, local_delivery_time
from app.domain.recipient_checks import ADDRESS_NOT_CHECKED, address_check_needed
from app.extensions import limiter
from app.models import Brand, Order
from app.pages import holds_card_codes, wants_partial
from app.services import catalog, consumers, csv_export, order_support, orders, segments
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
        # A "Did you mean …?" button sends the address it suggests (without JavaScript: it applies on the server).
        "email": (form.get("apply_email") or form.get("email", "")).strip(),
        "name": form.get("name", "").strip(),
        "sender_name": form.get("sender_name", "").strip(),
        "message": form.get("message", ""),
        "idempotency_key": form.get("idempotency_key", ""),
        # "Deliver on": the sender's local date and time, their offset from UTC in minutes and their zone's name
        # (both from static/deliver_on.js; without JavaScript the time is read as UTC).
        "deliver_on": form.get("deliver_on", "").strip()[:40],
        "deliver_offset": form.get("deliver_offset", "").strip()[:8],
        "deliver_zone": form.get("deliver_zone", "").strip()[:64],
        # What the review page showed (minor units): confirm refuses when the quote changed since.
        "reviewed_price": form.get("reviewed_price", ""),
        "reviewed_card_value": form.get("reviewed_card_value", ""),
        "reviewed_cash_back": form.get("reviewed_cash_back", ""),
        "address_checked": form.get("address_checked", ""),  # "I checked the address", for gifts over the threshold
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
        "deliver_on": request.args.get("deliver_on", "")[:40],
        "deliver_offset": request.args.get("deliver_offset", "")[:8],
        "deliver_zone": request.args.get("deliver_zone", "")[:64],
    }
    return _checkout_page(offer, fields)


@bp.post("/brands/<brand_slug>/checkout")
def checkout_again(brand_slug: str):
    """The form again with every field as sent: the review's "Change something", a "Did you mean …?" applied without
    JavaScript. A new idempotency key: what is confirmed after a change is a new order."""
    fields = _checkout_fields() | {"idempotency_key": orders.new_idempotency_key()}
    return _checkout_page(_offer(brand_slug), fields)


@bp.get("/brands/<brand_slug>/checkout/email-hint")
def email_hint(brand_slug: str):
    """#email-hint's content for the address typed (htmx, on change): "Did you mean jordan@gmail.com?" or nothing."""
    return render_template("store/_email_hint.html", offer=_offer(brand_slug), hint=suggest_email(request.args.get("email", "")))


def _checkout_page(offer, fields: dict, *, error: str | None = None, field: str | None = None):
    """The checkout form with `fields`: a fixed-denomination brand's choices, the email hint, the message's limit."""
    currency = _wallet_currency()
    try:
        chosen = Money.parse(fields["amount"], currency).amount
    except DomainError:
        chosen = None
    return render_template(
        "store/checkout.html",
        offer=offer,
        fields=fields,
        error=error,
        field=field,
        denominations=[Money(amount, currency) for amount in offer.brand.denomination_list],
        chosen_amount=chosen,
        email_hint=suggest_email(fields["email"]) if fields["send_to"] == "someone" else None,
        message_max=orders.MESSAGE_MAX,
    )


def _review_extras(fields: dict, amount: Money, recipient: orders.Recipient) -> dict:
    """The review's "Did you mean …?" and whether it asks "I checked the address" (a gift over the store's threshold)."""
    return {
        "email_hint": None if recipient.to_self else suggest_email(fields["email"]),
        "confirm_address": address_check_needed(
            amount.amount, to_self=recipient.to_self, over_minor=g.partner.confirm_recipient_over
        ),
    }


def _deliver_at(fields: dict):
    """The chosen delivery time in UTC (checked: from now up to a year ahead), or None for now."""
    return local_delivery_time(fields["deliver_on"], fields["deliver_offset"], utcnow())


def delivery_in_senders_zone(fields: dict) -> str:
    """ "2026-12-24 09:00 (Europe/Paris)": the time as the sender chose it, in their zone (UTC without one)."""
    offset = fields["deliver_offset"] or "0"
    zone = fields["deliver_zone"] or (f"UTC{int(offset) // 60:+03d}:{abs(int(offset)) % 60:02d}" if offset != "0" else "UTC")
    return f"{fields['deliver_on'].replace('T', ' ')[:16]} ({zone})"


def _review(session, offer, fields: dict, *, changed: str | None = None):
    """The review page with today's quote (after a refused confirm, `changed` says why: a 422)."""
    try:
        amount, recipient = _parse(offer, fields)  # validates the recipient now, not at confirm
        deliver_at = _deliver_at(fields)
        preview = orders.preview(session, consumer=g.consumer, offer=offer, face_value=amount)
    except DomainError as error:
        message = f"{changed} {error.message}" if changed else error.message
        return _checkout_page(offer, fields, error=message, field=error.field), 422
    delivery = delivery_in_senders_zone(fields) if deliver_at is not None else None
    return render_template(
        "store/review.html",
        offer=offer,
        fields=fields,
        preview=preview,
        error=changed,
        delivery=delivery,
        **_review_extras(fields, amount, recipient),
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
        if not fields["address_checked"] and address_check_needed(
            amount.amount, to_self=recipient.to_self, over_minor=g.partner.confirm_recipient_over
        ):
            return _review(session, offer, fields, changed=ADDRESS_NOT_CHECKED)
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
            deliver_at=_deliver_at(fields),
        )
    except orders.QuoteChanged as changed:
        # Nothing was charged: the review again, with today's figures in the form, and the same key.
        return _review(session, offer, fields, changed=changed.message)
    except DomainError as error:
        # The form keeps every field and the idempotency key: fix and send again, nothing was charged.
        return _checkout_page(offer, fields, error=error.message, field=error.field), 422
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
    holds_card_codes()
    if wants_partial():
        response = Response(render_template("store/_card.html", number=number, pin=pin))
    else:
        found, brand = orders.order_and_brand_for_consumer(session, consumer=g.consumer, public_id=public_id)
        response = Response(render_template("store/order.html", number=number, pin=pin, **_order_context(found, brand)))
    response.vary.add("HX-Request")
    return response


def _after_sender_change(public_id: str, *, error: str | None = None, notice: str | None = None):
    """The order's status (htmx: in place, and the header wallet refreshes) or, without JavaScript, the whole page."""
    session = db_session()
    found, brand = orders.order_and_brand_for_consumer(session, consumer=g.consumer, public_id=public_id)
    context = _order_context(found, brand) | {"sender_error": error, "sender_notice": notice}
    status = 422 if error else 200
    if wants_partial():
        response = Response(render_template("store/_order_status.html", **context), status)
        response.headers["HX-Trigger"] = "wallet-changed"
    else:
        response = Response(render_template("store/order.html", **context), status)
    response.vary.add("HX-Request")
    return response


@bp.post("/orders/<public_id>/cancel")
def cancel_order(public_id: str):
    """Unsend a gift that is not delivered yet: the money goes back to the balances it came from."""
    try:
        orders.cancel_for_consumer(db_session(), consumer=g.consumer, public_id=public_id)
    except orders.AlreadyDelivered as refused:
        return _after_sender_change(public_id, error=refused.message)
    return _after_sender_change(public_id, notice="The gift was cancelled and its price is back in your wallet.")


@bp.post("/orders/<public_id>/resend")
def resend_gift(public_id: str):
    """Email the gift again to its recipient (the portal's limit for resends applies)."""
    try:
        order_support.sender_resend(db_session(), partner=g.partner, consumer=g.consumer, public_id=public_id)
    except DomainError as refused:
        return _after_sender_change(public_id, error=refused.message)
    return _after_sender_change(public_id, notice="The gift email was sent again.")


@bp.post("/orders/<public_id>/recipient")
def correct_recipient(public_id: str):
    """Correct the recipient's address, once, before they open the gift."""
    try:
        order = order_support.sender_correct_recipient(
            db_session(), partner=g.partner, consumer=g.consumer, public_id=public_id, email=request.form.get("email", "")[:300]
        )
    except DomainError as refused:
        return _after_sender_change(public_id, error=refused.message)
    sent = "will go" if order.status == OrderStatus.SCHEDULED.value else "was sent"
    return _after_sender_change(public_id, notice=f"The address was corrected: the gift {sent} to {order.recipient_email}.")


STATEMENT_LINES = 100


@bp.get("/orders")
def order_history():
    return render_template("store/orders.html", rows=consumers.order_history(db_session(), g.consumer))


@bp.get("/statement")
def statement():
    """The consumer's statement, newest first: each movement in plain words, with their balance in its currency after it.
    The newest STATEMENT_LINES of them; the CSV has them all."""
    latest = consumers.latest_statement(db_session(), g.consumer, lines=STATEMENT_LINES)
    return render_template("store/statement.html", lines=latest.lines, total=latest.total)


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
