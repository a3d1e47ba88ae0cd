"""The partner's ledger transactions: a filtered list with pages, and the same list as a CSV of any size."""
from __future__ import annotations

import csv
import io

from flask import Response, make_response, render_template, request
from sqlmodel import Session

from app.db import db_session, engine as database_engine
from app.domain.errors import InvalidInput
from app.portal import current_partner, portal_route
from app.services import reports
from app.web import wants_partial

CSV_COLUMNS = ["id", "date", "type", "status", "amount", "currency", "consumer_email", "order", "memo", "actor"]
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection): a leading ' keeps it text.
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


def _csv_text(buffer: io.StringIO, writer, rows) -> str:
    for row in rows:
        writer.writerow(reports.spreadsheet_safe(cell) for cell in row)
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _cells(row: reports.TransactionRow) -> list:
    return [
        row.id, row.created_at.strftime("%Y-%m-%d %H:%M:%S"), row.type, row.status,
        format(row.amount.to_decimal(), "f"), row.amount.currency, row.consumer_email or "", row.order or "", row.memo, row.actor,
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
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            yield _csv_text(buffer, writer, [CSV_COLUMNS])
            chunk = []
            for row in reports.transaction_export(session, partner=partner, filter=filter):
                chunk.append(_cells(row))
                if len(chunk) == ROWS_PER_CHUNK:
                    yield _csv_text(buffer, writer, chunk)
                    chunk = []
            yield _csv_text(buffer, writer, chunk)

    return Response(
        lines(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{partner.slug}-transactions.csv"'},
    )
