"""Orders in the portal: everyone on the team finds and reads them; operators retry a failed one
and send a card again; only admins send it to a corrected address (the buyer is told)."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for

from app.db import db_session
from app.domain.errors import DomainError, InvalidInput
from app.domain.paging import list_position
from app.pages import wants_partial
from app.portal import current_member, current_partner, portal_route
from app.services import order_support


@portal_route("/orders", role="viewer")
def orders():
    session = db_session()
    partner = current_partner()
    error, results = None, None
    try:
        filter = order_support.order_filter(request.args)
        results = order_support.order_page(session, partner=partner, filter=filter, position=list_position(request.args))
    except InvalidInput as problem:
        filter, error = order_support.OrderFilter(), problem.message
    context = dict(results=results, filter=filter, error=error, form=request.args, statuses=order_support.ORDER_STATUSES)
    if wants_partial():
        body = render_template("portal/orders/_rows.html", **context)
    else:
        body = render_template("portal/orders/list.html", brands=order_support.partner_brands(session, partner), **context)
    response = make_response(body, 422 if error else 200)
    response.vary.add("HX-Request")
    return response


def _detail(public_id: str, *, error: str | None = None, email: str = "", status: int = 200):
    details = order_support.order_details(db_session(), partner=current_partner(), public_id=public_id)
    return render_template("portal/orders/detail.html", details=details, order=details.order, error=error, email=email), status


@portal_route("/orders/<public_id>", role="viewer")
def order(public_id: str):
    return _detail(public_id)


def _partner_order(public_id: str):
    return order_support.partner_order(db_session(), partner=current_partner(), public_id=public_id)


@portal_route("/orders/<public_id>/retry", role="operator", methods=("POST",))
def retry_order(public_id: str):
    failed = _partner_order(public_id)
    try:
        new = order_support.retry_order(db_session(), partner=current_partner(), order=failed, by=current_member())
    except DomainError as problem:
        return _detail(public_id, error=problem.message, status=422)
    flash(f"{failed.public_id} was retried as this new order, charged to the consumer's wallet.", "success")
    return redirect(url_for("portal.order", public_id=new.public_id), 303)


@portal_route("/orders/<public_id>/resend", role="operator", methods=("POST",))
def resend_card(public_id: str):
    order = _partner_order(public_id)
    try:
        order_support.resend_card(db_session(), partner=current_partner(), order=order, by=current_member())
    except DomainError as problem:
        return _detail(public_id, error=problem.message, status=422)
    flash(f"The card was sent again to {order.recipient_email}.", "success")
    return redirect(url_for("portal.order", public_id=public_id), 303)


@portal_route("/orders/<public_id>/recipient", role="admin", methods=("POST",))
def change_recipient(public_id: str):
    order = _partner_order(public_id)
    email = request.form.get("email", "")
    try:
        order_support.change_recipient(db_session(), partner=current_partner(), order=order, email=email, by=current_member())
    except DomainError as problem:
        return _detail(public_id, error=problem.message, email=email, status=422)
    flash(
        f"The recipient is now {order.recipient_email}, and the card was sent there. The consumer was told by email.", "success"
    )
    return redirect(url_for("portal.order", public_id=public_id), 303)


@portal_route("/orders/<public_id>/cancel", role="operator", methods=("POST",))
def cancel_order(public_id: str):
    order = _partner_order(public_id)
    try:
        order_support.cancel_scheduled(db_session(), partner=current_partner(), order=order, by=current_member())
    except DomainError as problem:
        return _detail(public_id, error=problem.message, status=422)
    flash(
        "The gift was cancelled before it was sent; its price is back in the consumer's wallet and they were told by email.",
        "success",
    )
    return redirect(url_for("portal.order", public_id=public_id), 303)
