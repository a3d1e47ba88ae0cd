"""The partner's ledger transactions: a filtered list with pages, and the same list as a CSV of any size."""
from __future__ import annotations

from itertools import chain

from flask import Response, make_response, render_template, request
from sqlmodel import Session

from app.db import db_session, engine as database_engine
from app.domain.errors import InvalidInput
from app.portal import current_partner, portal_route
from app.services import csv_export, reports
from app.web import wants_partial

CSV_COLUMNS = ["id", "date", "type", "status", "amount", "currency", "consumer_email", "order", "memo", "actor"]
ROWS_PER_CHUNK = 500


def _list(filter, error: str | None):
    results = None if error else reports.transaction_page(
        db_session(), partner=current_partner(), filter=filter, page=reports.page_number(request.args.get("page"))
    )
    context = dict(results=results, filter=filter, error=error, form=request.args,
                   types=reports.TRANSACTION_TYPES, statuses=reports.TRANSACTION_STATUSES)
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


def _cells(row: reports.TransactionRow) -> list:
    return [
        row.id, row.created_at.strftime("%Y-%m-%d %H:%M:%S"), row.type, row.status,
        row.amount.to_decimal(), row.amount.currency, row.consumer_email or "", row.order or "", row.memo, row.actor,
    ]


@portal_route("/transactions.csv", role="viewer")
def transactions_csv():
    try:
        filter = reports.transaction_filter(request.args)
    except InvalidInput as problem:
        return _list(reports.TransactionFilter(), problem.message)
    partner, engine = current_partner(), database_engine()

    def lines():
        # Sent after the view returned: the generator owns a session for as long as the download
        # lasts (closed when it ends or the client goes away) and needs no Flask context.
        with Session(engine) as session:
            rows = (_cells(row) for row in reports.transaction_export(session, partner=partner, filter=filter))
            yield from csv_export.csv_chunks(chain([CSV_COLUMNS], rows), rows_per_chunk=ROWS_PER_CHUNK)

    return Response(
        lines(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{partner.slug}-transactions.csv"'},
    )
