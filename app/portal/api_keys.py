"""API keys (admins): create, rotate, revoke, and require v2 signatures (which cover the path and
query) or allow the seed's v1 again. A new key's credentials are on the answer to the
form that made it, and nowhere else: that page is never stored (no-store, no htmx history), and
the address bar shows the list's URL, so reloading or going back shows the list, not the secrets.

The page also shows, per key, its last 50 refused requests with a diagnosis (app/services/api_refusals.py),
and a signing playground: a request pasted into a form gets the string to sign and the signature the API
expects for the chosen key, computed on the server with the verifier's own functions (the secret stays
there). Admins only, like the keys: the playground signs with the key's secret."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for

from app.db import db_session
from app.domain.errors import InvalidInput
from app.domain.signing_diagnosis import visible
from app.models import ApiKey, ApiRefusedRequest
from app.pages import wants_partial
from app.portal import current_member, current_partner, portal_route
from app.services import api_keys as api_key_service
from app.services import api_refusals
from app.services.api_refusals import SigningAnswer, SigningQuestion
from app.services.partners import ApiCredentials


def _at_the_list(status: int = 200, **headers) -> tuple[int, dict]:
    """Answers to the POSTs below: the address bar shows the list's URL (boosted forms push theirs)."""
    return status, {"HX-Push-Url": url_for("portal.api_keys"), **headers}


def _refused_context(keys: list[ApiKey], counts: dict[int, int]) -> dict:
    """Which key's refused requests to show (?refused=<key id>, else the newest key that has some) and them."""
    wanted = request.args.get("refused", type=int)
    shown = next((key for key in keys if key.id == wanted), None) or next((key for key in keys if counts.get(key.id or 0)), None)
    refused = api_refusals.refused_requests(db_session(), partner=current_partner(), key=shown) if shown else []
    return {"refused_key": shown, "refused": refused, "refusal_counts": counts}


def _question_from(refused: list[ApiRefusedRequest]) -> tuple[SigningQuestion, int | None]:
    """?try=<refused request id>: the playground filled in with what was kept of it (the body and signature are not)."""
    wanted = request.args.get("try", type=int)
    row = next((row for row in refused if row.id == wanted), None)
    if row is None:
        return SigningQuestion(), None
    version = row.signature_version if row.signature_version in ("1", "2") else "1"
    return SigningQuestion(method=row.method, path=row.path, timestamp=row.timestamp, version=version), row.api_key_id


def _list(
    error: str | None = None,
    label: str = "",
    status: int = 200,
    require_v2: bool = False,
    *,
    question: SigningQuestion | None = None,
    question_key: int | None = None,
    answer: SigningAnswer | None = None,
    playground_error: str | None = None,
):
    session = db_session()
    listing = api_key_service.key_list(session, current_partner())
    refused = _refused_context(listing.keys, api_refusals.refusal_counts(session, current_partner()))
    if question is None:
        question, question_key = _question_from(refused["refused"])
    return render_template(
        "portal/api_keys/index.html",
        keys=listing.keys,
        creators=listing.creators,
        error=error,
        label=label,
        require_v2=require_v2,
        **refused,
        **_playground_context(listing.keys, question, question_key, answer, playground_error),
    ), *_at_the_list(status)


def _playground_context(
    keys: list[ApiKey], question: SigningQuestion, key_id: int | None, answer: SigningAnswer | None, error: str | None
) -> dict:
    return {
        "playground_keys": [key for key in keys if key.revoked_at is None],
        "question": question,
        "question_key": key_id,
        "answer": answer,
        "playground_error": error,
        "methods": api_refusals.METHODS,
        "visible": visible,
    }


def _issued(key: ApiKey, credentials: ApiCredentials, *, replaced: ApiKey | None = None):
    body = render_template("portal/api_keys/issued.html", key=key, credentials=credentials, replaced=replaced)
    return body, *_at_the_list(**{"Cache-Control": "no-store"})


@portal_route("/api-keys", role="admin")
def api_keys():
    """The keys, a key's refused requests (?refused=<key id>; htmx asks for only that section) and the playground."""
    if wants_partial() and request.headers.get("HX-Target") == "refused-requests":
        session = db_session()
        listing = api_key_service.key_list(session, current_partner())
        context = _refused_context(listing.keys, api_refusals.refusal_counts(session, current_partner()))
        response = make_response(render_template("portal/api_keys/_refused.html", keys=listing.keys, **context))
    else:
        body, status, headers = _list()
        if request.args:  # ?refused= / ?try=: the address bar keeps them, so a reload shows the same
            headers.pop("HX-Push-Url")
        response = make_response(body, status, headers)
    response.vary.add("HX-Request")
    return response


@portal_route("/api-keys/playground", role="admin", methods=("POST",), endpoint="api_keys_playground")
def api_keys_playground():
    """The string to sign and expected signature for a pasted request: the playground's section (htmx) or the page."""
    form = request.form
    question = SigningQuestion(
        method=form.get("method", ""),
        path=form.get("path", ""),
        timestamp=form.get("timestamp", ""),
        body=form.get("body", ""),
        signature=form.get("signature", ""),
        version=form.get("version", "1"),
        client_string=form.get("client_string", ""),
        crlf=form.get("crlf") == "1",
    )
    key_id = form.get("key", type=int)
    answer, error = None, None
    try:
        answer = api_refusals.playground(db_session(), partner=current_partner(), key_id=key_id or 0, question=question)
    except InvalidInput as problem:
        error = problem.message
    status = 422 if error else 200
    if wants_partial():
        keys = api_key_service.key_list(db_session(), current_partner()).keys
        context = _playground_context(keys, question, key_id, answer, error)
        return render_template("portal/api_keys/_playground.html", **context), status
    return _list(status=status, question=question, question_key=key_id, answer=answer, playground_error=error)


@portal_route("/api-keys", role="admin", methods=("POST",), endpoint="api_keys_create")
def api_keys_create():
    label = request.form.get("label", "")
    require_v2 = request.form.get("require_signature_v2") == "1"
    try:
        key, credentials = api_key_service.create(
            db_session(), partner=current_partner(), label=label, require_signature_v2=require_v2, by=current_member()
        )
    except InvalidInput as error:
        return _list(error.message, label[:200], 422, require_v2=require_v2)
    return _issued(key, credentials)


def _key(key_id: int) -> ApiKey:
    return api_key_service.partner_key(db_session(), partner=current_partner(), key_id=key_id)


@portal_route("/api-keys/<int:key_id>/rotate", role="admin", methods=("POST",))
def api_keys_rotate(key_id: int):
    old = _key(key_id)
    try:
        key, credentials = api_key_service.rotate(db_session(), partner=current_partner(), key=old, by=current_member())
    except InvalidInput as error:
        return _list(error.message, status=422)
    return _issued(key, credentials, replaced=old)


@portal_route("/api-keys/<int:key_id>/revoke", role="admin", methods=("POST",))
def api_keys_revoke(key_id: int):
    key = _key(key_id)
    try:
        api_key_service.revoke(db_session(), partner=current_partner(), key=key, by=current_member())
    except InvalidInput as error:
        return _list(error.message, status=422)
    flash(f"Key {key.prefix}… is revoked: requests signed with it are refused from now on.", "success")
    return redirect(url_for("portal.api_keys"), 303)


@portal_route("/api-keys/<int:key_id>/signature-version", role="admin", methods=("POST",))
def api_keys_signature_version(key_id: int):
    """require_signature_v2=1: the key accepts only v2 signatures; 0: v1 (the seed's) again too."""
    key = _key(key_id)
    required = request.form.get("require_signature_v2") == "1"
    try:
        api_key_service.set_require_signature_v2(
            db_session(), partner=current_partner(), key=key, required=required, by=current_member()
        )
    except InvalidInput as error:
        return _list(error.message, status=422)
    if required:
        flash(f"Key {key.prefix}… now accepts only v2 signatures: v1 requests signed with it are refused.", "success")
    else:
        flash(f"Key {key.prefix}… accepts v1 signatures again.", "success")
    return redirect(url_for("portal.api_keys"), 303)
