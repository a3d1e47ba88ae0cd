"""The partner's ledger transactions: a filtered list with pages, and the same list as a CSV of any size."""

from __future__ import annotations

from flask import Response, make_response, render_template, request

from app.db import db_session
from app.domain.errors import InvalidInput
from app.domain.paging import list_position
from app.pages import wants_partial
from app.portal import current_partner, portal_route
from app.services import reports


def _list(filter, error: str | None):
    results = (
        None
        if error
        else reports.transaction_page(
            db_session(), partner=current_partner(), filter=filter, position=list_position(request.args)
        )
    )
    context = dict(
        results=results,
        filter=filter,
        error=error,
        form=request.args,
        types=reports.TRANSACTION_TYPES,
        statuses=reports.TRANSACTION_STATUSES,
    )
    template = "portal/transactions/_rows.html" if wants_partial() else "portal/transactions/list.html"
    response = make_response(render_template(template, **context), 422 if error else 200)
    response.vary.add("HX-Request")
    return response


@portal_route("/transactions", role="viewer")
def transactions():
    try:
        return _list(reports.transaction_filter(request.args), None)
    except InvalidInput as problem:
        return _list(reports.TransactionFilter(), problem.message)


@portal_route("/transactions.csv", role="viewer")
def transactions_csv():
    try:
        filter = reports.transaction_filter(request.args)
    except InvalidInput as problem:
        return _list(reports.TransactionFilter(), problem.message)
    partner = current_partner()
    return Response(
        reports.transaction_csv(partner=partner, filter=filter),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{partner.slug}-transactions.csv"'},
    )
