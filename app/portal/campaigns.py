"""Campaigns in the portal (issue #16): admins create, edit, fund, pause, resume and end them and return
their unused budget; operators add and remove members; viewers look.

Every change is one call to app/services/campaigns.py with `by=` the signed-in member: the service
writes the audit row in its own transaction. Views parse the form, call the service, render.
Forms that move money carry an idempotency key made when the form is drawn (like the funds form), so
a double submit moves money once. htmx gets the changed section back (422 with the form and its error
in place on bad input); a plain form gets 303 back to the page (PRG), or the page again with 422.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from flask import flash, make_response, redirect, render_template, request, url_for

from app.db import db_session
from app.domain.campaign_periods import Leftover, Recurrence
from app.domain.campaigns import PRIORITY_MAX, PRIORITY_MIN, CampaignStatus, scope_label
from app.domain.errors import DomainError, InvalidInput, PartnerFundsTooLow
from app.domain.money import Money, normalize_currency
from app.domain.paging import page_number
from app.models import Campaign
from app.pages import format_money, sentence, wants_partial
from app.portal import current_member, current_partner, portal_route
from app.portal.campaign_reports import burn_down_chart, sparklines
from app.services import campaigns as campaign_service
from app.services import order_support, segments
from app.services.campaigns import KEEP, KEY_REUSED, MemberOutcome
from app.services.orders import new_idempotency_key
from app.services.partners import partner_funds

DATE_FORMAT = "%Y-%m-%dT%H:%M"  # <input type="datetime-local">, read as UTC
MEMBERS_PAGE = 25
HISTORY_PAGE = 25
MAX_EMAILS = 2000  # addresses in one "add many"
MAX_UPLOAD = 1_000_000  # bytes of a CSV of emails
STATUSES = tuple(status.value for status in CampaignStatus)
DIRECTIONS = {"increase": 1, "decrease": -1}
OUTCOMES = {
    MemberOutcome.ALLOCATED: "allocated",
    MemberOutcome.ALREADY_MEMBER: "already a member",
    MemberOutcome.NOT_FOUND: "not found",
    MemberOutcome.INSUFFICIENT_BUDGET: "not enough budget",
    MemberOutcome.INACTIVE: "inactive",
}
_EMAIL_SPLIT = re.compile(r"[\s,;]+")
_FORM_EXPIRED = "This form has expired. Reload the page and try again."


def _moment(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime(DATE_FORMAT) if value else ""


def _when(text: str, *, label: str, field: str) -> datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(f"The {label} must be a date and time, like 2026-06-01T09:00.", field=field) from None


def _priority(text: str) -> int:
    text = (text or "").strip() or "0"
    if not (text.isascii() and text.isdigit()) or len(text) > 4:
        raise InvalidInput(f"Priority must be a whole number from {PRIORITY_MIN} to {PRIORITY_MAX}.", field="priority")
    return int(text)


def _amount(text: str, currency: str, *, label: str, field: str) -> Money:
    if not (text or "").strip():
        raise InvalidInput(f"Enter the {label.lower()}.", field=field)
    return Money.parse(text, currency, field=label)


def _problem(error: DomainError, currency: str) -> str:
    """The service's refusal as the page says it (with the partner's funds when they were too low)."""
    if isinstance(error, PartnerFundsTooLow):
        available = partner_funds(db_session(), current_partner(), currency)
        return f"Your partner funds are too low: {format_money(available)} available. Nothing was moved."
    if error.message == KEY_REUSED:
        return "This form was already sent with other values. Reload the page to start again."
    if error.field == "idempotency_key":
        return _FORM_EXPIRED
    return sentence(error.message)


def _partial_or_page(partial: str, page, context: dict, status: int = 200):
    response = make_response(render_template(partial, **context) if wants_partial() else page(), status)
    response.vary.add("HX-Request")
    return response


# --- the forms ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignForm:
    """The new-campaign and edit forms as typed (the edit form leaves currency, budget and start alone)."""

    name: str = ""
    currency: str = ""
    budget: str = ""
    per_consumer_amount: str = ""
    brands: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    starts_at: str = ""
    ends_at: str = ""
    priority: str = "0"
    # Who it is for (issue #17): "chosen" (members added by hand) | "tag" (everyone with eligible_tag).
    eligibility: str = "chosen"
    eligible_tag: str = ""
    eligible_created_after: str = ""  # datetime-local, UTC; optional with a tag
    return_unused_on_end: bool = False
    idempotency_key: str = ""
    # Recurring allowances and alerts (issue #17): "" | week | month; expire | rollover; amounts as typed.
    recurrence_every: str = ""
    leftover: str = "expire"
    rollover_cap: str = ""
    low_budget_threshold: str = ""
    pause_when_exhausted: bool = False

    @classmethod
    def fresh(cls, currency: str) -> CampaignForm:
        return cls(currency=currency, idempotency_key=new_idempotency_key())

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignForm:
        return cls(
            name=campaign.name,
            currency=campaign.currency,
            per_consumer_amount=f"{Money(campaign.per_consumer_amount, campaign.currency).to_decimal()}",
            brands=tuple(campaign.brand_slug_list),
            categories=tuple(campaign.category_list),
            starts_at=_moment(campaign.starts_at),
            ends_at=_moment(campaign.ends_at),
            priority=str(campaign.priority),
            eligibility="tag" if campaign.eligible_tag else "chosen",
            eligible_tag=campaign.eligible_tag or "",
            eligible_created_after=_moment(campaign.eligible_created_after),
            return_unused_on_end=campaign.return_unused_on_end,
            **_automation_form(campaign),
        )

    @classmethod
    def from_request(cls) -> CampaignForm:
        form = request.form
        text = lambda key, size=200: form.get(key, "").strip()[:size]  # noqa: E731
        return cls(
            name=text("name"),
            currency=text("currency", 3),
            budget=text("budget", 40),
            per_consumer_amount=text("per_consumer_amount", 40),
            brands=tuple(value[:200] for value in form.getlist("brands")[:500]),
            categories=tuple(value[:200] for value in form.getlist("categories")[:500]),
            starts_at=text("starts_at", 40),
            ends_at=text("ends_at", 40),
            priority=text("priority", 10),
            eligibility=text("eligibility", 10) or "chosen",
            eligible_tag=text("eligible_tag", 60),
            eligible_created_after=text("eligible_created_after", 40),
            return_unused_on_end=form.get("return_unused_on_end") == "yes",
            idempotency_key=text("idempotency_key", 100),
            recurrence_every=text("recurrence_every", 10),
            leftover=text("leftover", 10) or "expire",
            rollover_cap=text("rollover_cap", 40),
            low_budget_threshold=text("low_budget_threshold", 40),
            pause_when_exhausted=form.get("pause_when_exhausted") == "yes",
        )


def _automation_form(campaign: Campaign) -> dict:
    """The recurrence and alert fields of the edit form, from the campaign."""
    as_text = lambda amount: f"{Money(amount, campaign.currency).to_decimal()}" if amount is not None else ""  # noqa: E731
    return dict(
        recurrence_every=campaign.recurrence_every or "",
        leftover=campaign.leftover,
        rollover_cap=as_text(campaign.rollover_cap),
        low_budget_threshold=as_text(campaign.low_budget_threshold),
        pause_when_exhausted=campaign.pause_when_exhausted,
    )


def _eligibility(form: CampaignForm, campaign: Campaign | None = None) -> dict:
    """The service's eligible_tag and eligible_created_after from the form. Editing, a date shown to the minute
    and sent back as it was is "unchanged" (KEEP), so re-saving never moves it by its seconds."""
    if form.eligibility != "tag":
        return dict(eligible_tag=None, eligible_created_after=None)
    if not form.eligible_tag.strip():
        raise InvalidInput("Enter the tag of the consumers this campaign is for.", field="eligible_tag")
    after: Any = _when(form.eligible_created_after, label="'created after' date", field="eligible_created_after")
    if campaign is not None and form.eligible_created_after == _moment(campaign.eligible_created_after):
        after = KEEP
    return dict(eligible_tag=form.eligible_tag, eligible_created_after=after)


def _optional_amount(text: str, currency: str, *, label: str, field: str) -> Money | None:
    if not (text or "").strip():
        return None
    try:
        return Money.parse(text, currency, field=label)
    except InvalidInput as error:
        raise InvalidInput(error.message, field=field) from None


def _automation(form: CampaignForm, currency: str) -> dict:
    """The service's recurrence, low_budget_threshold and pause_when_exhausted from the form (checked)."""
    recurrence = None
    if form.recurrence_every:
        cap = None
        if form.leftover == Leftover.ROLLOVER.value:
            cap = _optional_amount(form.rollover_cap, currency, label="Rollover cap", field="rollover_cap")
        recurrence = Recurrence.of(form.recurrence_every, form.leftover, cap.amount if cap is not None else None)
    threshold = _optional_amount(form.low_budget_threshold, currency, label="Low-budget threshold", field="low_budget_threshold")
    return dict(recurrence=recurrence, low_budget_threshold=threshold, pause_when_exhausted=form.pause_when_exhausted)


@dataclass(frozen=True)
class BudgetForm:
    direction: str = "increase"
    amount: str = ""
    idempotency_key: str = ""

    @classmethod
    def fresh(cls) -> BudgetForm:
        return cls(idempotency_key=new_idempotency_key())

    @classmethod
    def from_request(cls) -> BudgetForm:
        return cls(**{key: request.form.get(key, "").strip()[:100] for key in ("direction", "amount", "idempotency_key")})


@dataclass(frozen=True)
class MemberLine:
    """One address of an "add members" request and what became of it."""

    email: str
    outcome: str  # MemberOutcome value
    allocated: Money | None = None

    @property
    def label(self) -> str:
        return OUTCOMES[MemberOutcome(self.outcome)]


@dataclass(frozen=True)
class CampaignView:
    """What the campaign page shows, and each section's form, error and notice."""

    error: str | None = None
    notice: str | None = None
    budget_form: BudgetForm | None = None
    budget_error: str | None = None
    budget_notice: str | None = None
    members_error: str | None = None
    members_notice: str | None = None
    emails: str = ""
    results: list[MemberLine] = field(default_factory=list)
    edit_form: CampaignForm | None = None
    edit_error: str | None = None
    edit_field: str | None = None
    confirm_error: str | None = None


# --- the list and creating one --------------------------------------------------------------------


def _choices() -> dict:
    """The partner's brands and their categories, for the multi-selects."""
    brands = order_support.partner_brands(db_session(), current_partner())
    return dict(
        brands=brands,
        categories=sorted({brand.category for brand in brands if brand.category}, key=str.casefold),
        segment_tags=segments.partner_tags(db_session(), current_partner().id),  # the eligibility field's suggestions
    )


def _list_context(form: CampaignForm | None = None, *, error: str | None = None, field: str | None = None) -> dict:
    partner = current_partner()
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    found = campaign_service.list_campaigns(db_session(), partner=partner, status=status)
    return dict(
        campaigns=found,
        sparklines=lambda: sparklines([summary.campaign for summary in found]),  # drawn by _rows.html only
        status=status,
        statuses=STATUSES,
        currencies=partner.currency_list,
        form=form or CampaignForm.fresh(partner.currency_list[0]),
        error=error,
        field=field,
        **_choices(),
    )


@portal_route("/campaigns", role="viewer")
def campaigns():
    """The list; only its rows (#campaign-rows) for the status filter's htmx requests."""
    context = _list_context()
    return _partial_or_page(
        "portal/campaigns/_rows.html", lambda: render_template("portal/campaigns/list.html", **context), context
    )


def _create(form: CampaignForm):
    currency = normalize_currency(form.currency or current_partner().currency_list[0])
    if not form.idempotency_key:
        raise InvalidInput(_FORM_EXPIRED, field="idempotency_key")
    return campaign_service.create_campaign(
        db_session(),
        partner=current_partner(),
        name=form.name,
        currency=currency,
        budget=_amount(form.budget, currency, label="Budget", field="budget"),
        per_consumer_amount=_amount(form.per_consumer_amount, currency, label="Amount per consumer", field="per_consumer_amount"),
        idempotency_key=form.idempotency_key,
        brand_slugs=form.brands,
        categories=form.categories,
        starts_at=_when(form.starts_at, label="start", field="starts_at"),
        ends_at=_when(form.ends_at, label="end", field="ends_at"),
        priority=_priority(form.priority),
        return_unused_on_end=form.return_unused_on_end,
        **_automation(form, currency),
        **_eligibility(form),
        by=current_member(),
    )


@portal_route("/campaigns", role="admin", methods=("POST",), endpoint="campaigns_create")
def campaigns_create():
    form = CampaignForm.from_request()
    try:
        created = _create(form)
    except DomainError as error:
        context = _list_context(
            form, error=_problem(error, form.currency or current_partner().currency_list[0]), field=error.field
        )
        return _partial_or_page(
            "portal/campaigns/_new.html", lambda: render_template("portal/campaigns/list.html", **context), context, 422
        )
    campaign = created.campaign
    if created.replayed:
        flash(f"{campaign.name} was already created (the form was sent twice): nothing more was moved.", "info")
    else:
        flash(
            f"{campaign.name} was created with a budget of {format_money(Money.parse(form.budget, campaign.currency))}, "
            "from your partner funds.",
            "success",
        )
    location = url_for("portal.campaigns_show", campaign_id=campaign.id)
    if wants_partial():  # the form was sent by htmx: a full page load of the new campaign
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, 303)


# --- one campaign ---------------------------------------------------------------------------------


def _campaign(campaign_id: int) -> Campaign:
    return campaign_service.partner_campaign(db_session(), partner=current_partner(), campaign_id=campaign_id)


def _context(campaign: Campaign, view: CampaignView | None = None) -> dict:
    session = db_session()
    view = view or CampaignView()
    search = request.args.get("q", "").strip()[:120]
    members = campaign_service.members_page(
        session, campaign=campaign, search=search, page=page_number(request.args.get("page")), size=MEMBERS_PAGE
    )
    history = campaign_service.budget_history(
        session, campaign=campaign, page=page_number(request.args.get("history")), size=HISTORY_PAGE
    )
    choices = _choices()
    names = {brand.slug: brand.name for brand in choices["brands"]}
    return dict(
        campaign=campaign,
        summary=campaign_service.campaign_summary(session, campaign),
        recurrence=campaign_service.recurrence_info(session, campaign),
        budget_need=campaign_service.budget_need(session, campaign),
        in_currency=lambda minor: Money(minor, campaign.currency),
        burn_down=lambda: burn_down_chart(campaign),  # drawn by portal/_burn_down.html only
        members=members,
        search=search,
        history=history,
        view=view,
        budget_form=view.budget_form or BudgetForm.fresh(),
        edit_form=view.edit_form or CampaignForm.of(campaign),
        per_consumer=Money(campaign.per_consumer_amount, campaign.currency),
        can_buy=scope_label([names.get(slug, slug) for slug in campaign.brand_slug_list], campaign.category_list),
        **choices,
    )


def _page(campaign: Campaign, view: CampaignView | None = None, status: int = 200):
    return render_template("portal/campaigns/show.html", **_context(campaign, view)), status


@portal_route("/campaigns/<int:campaign_id>", role="viewer")
def campaigns_show(campaign_id: int):
    """The campaign; only its members (#campaign-members) for the member search's htmx requests."""
    campaign = _campaign(campaign_id)
    context = _context(campaign)
    return _partial_or_page(
        "portal/campaigns/_members.html", lambda: render_template("portal/campaigns/show.html", **context), context
    )


def _back(campaign: Campaign):
    return redirect(url_for("portal.campaigns_show", campaign_id=campaign.id), 303)


def _section(campaign: Campaign, partial: str, view: CampaignView, status: int = 200):
    """htmx: the changed section, with the summary (and the header's funds) out of band; else the page."""
    if wants_partial():
        context = _context(campaign, view)
        body = render_template(partial, **context) + render_template("portal/campaigns/_summary.html", oob=True, **context)
        body += render_template("portal/_burn_down.html", oob=True, **context)
        if partial.endswith("_budget.html"):
            body += render_template(
                "portal/_partner_funds.html",
                balances=[partner_funds(db_session(), current_partner(), c) for c in current_partner().currency_list],
                oob=True,
            )
        return body, status
    return _page(campaign, view, status)


# --- members --------------------------------------------------------------------------------------


def _emails(text: str) -> list[str]:
    """The addresses in a pasted list or a CSV (one or more a line, any column): every cell with an @."""
    cells = (cell.strip().strip("\"'<>").lower() for cell in _EMAIL_SPLIT.split(text or ""))
    return list(dict.fromkeys(cell for cell in cells if "@" in cell and len(cell) <= 254))


def _submitted_emails() -> tuple[str, list[str]]:
    """The form's text (one address, or many) and any uploaded CSV, as one list of addresses."""
    text = "\n".join(request.form.get(key, "") for key in ("email", "emails")).strip()
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        content = upload.read(MAX_UPLOAD + 1)
        if len(content) > MAX_UPLOAD:
            raise InvalidInput("The file is too large: send at most 1 MB of addresses at a time.", field="file")
        try:
            text += "\n" + content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInput("The file must be a CSV or text file in UTF-8.", field="file") from None
    emails = _emails(text)
    if not emails:
        raise InvalidInput("Enter at least one email address, or choose a CSV file of them.", field="emails")
    if len(emails) > MAX_EMAILS:
        raise InvalidInput(f"At most {MAX_EMAILS:,} addresses at a time: this list has {len(emails):,}.", field="emails")
    return text.strip()[:20_000], emails


def _add(campaign: Campaign, emails: list[str]) -> list[MemberLine]:
    session = db_session()
    ids = campaign_service.consumer_ids_by_email(session, partner=current_partner(), emails=emails)
    results = {}
    if ids:
        in_order = [ids[email] for email in emails if email in ids]  # the budget goes to the first addresses given
        found = campaign_service.add_members(session, campaign=campaign, consumer_ids=in_order, by=current_member())
        results = {result.consumer_id: result for result in found}
    lines = []
    for email in emails:
        result = results.get(ids.get(email))
        if result is None:
            lines.append(MemberLine(email, MemberOutcome.NOT_FOUND.value))
        else:
            lines.append(MemberLine(email, result.outcome.value, result.allocated))
    return lines


def _added(lines: list[MemberLine], campaign: Campaign) -> str:
    allocated = [line for line in lines if line.outcome == MemberOutcome.ALLOCATED.value]
    total = (
        Money(campaign.per_consumer_amount * len(allocated), campaign.currency) if allocated else Money.zero(campaign.currency)
    )
    if len(lines) == 1:
        line = lines[0]
        if allocated:
            return f"{line.email} is a member now, with {format_money(line.allocated)} to spend."
        return f"{line.email}: {line.label}. Nothing was moved."
    return f"{len(allocated)} of {len(lines)} added, {format_money(total)} allocated from the budget."


@portal_route("/campaigns/<int:campaign_id>/members", role="operator", methods=("POST",))
def campaigns_add_members(campaign_id: int):
    """Add one member by email, or many (a pasted list or a CSV): a result for each address."""
    campaign = _campaign(campaign_id)
    text = ""
    try:
        text, emails = _submitted_emails()
        lines = _add(campaign, emails)
    except DomainError as error:
        view = CampaignView(members_error=_problem(error, campaign.currency), emails=text)
        return _section(campaign, "portal/campaigns/_members.html", view, 422)
    notice = _added(lines, campaign)
    if wants_partial():
        return _section(campaign, "portal/campaigns/_members.html", CampaignView(members_notice=notice, results=lines))
    flash(notice, "success")
    problems = [line for line in lines if line.outcome != MemberOutcome.ALLOCATED.value]
    if problems and len(lines) > 1:
        shown = "; ".join(f"{line.email}: {line.label}" for line in problems[:10])
        more = f" and {len(problems) - 10} more" if len(problems) > 10 else ""
        flash(f"Not added: {shown}{more}.", "info")
    return _back(campaign)


@portal_route("/campaigns/<int:campaign_id>/members/<int:consumer_id>/remove", role="operator", methods=("POST",))
def campaigns_remove_member(campaign_id: int, consumer_id: int):
    campaign = _campaign(campaign_id)
    try:
        removed = campaign_service.remove_member(db_session(), campaign=campaign, consumer_id=consumer_id, by=current_member())
    except DomainError as error:
        return _page(campaign, CampaignView(members_error=_problem(error, campaign.currency)), 422)
    flash(f"The member was removed; {format_money(removed.returned)} of unused balance went back to the budget.", "success")
    return _back(campaign)


# --- the budget -----------------------------------------------------------------------------------


def _change_budget(campaign: Campaign, form: BudgetForm):
    if form.direction not in DIRECTIONS:
        raise InvalidInput("Choose whether to increase or decrease the budget.", field="direction")
    if not form.idempotency_key:
        raise InvalidInput(_FORM_EXPIRED, field="idempotency_key")
    amount = _amount(form.amount, campaign.currency, label="Amount", field="amount")
    if amount.amount <= 0:
        raise InvalidInput("The amount must be more than zero.", field="amount")
    signed = Money(amount.amount * DIRECTIONS[form.direction], campaign.currency)
    return campaign_service.change_budget(
        db_session(), campaign=campaign, amount=signed, idempotency_key=form.idempotency_key, by=current_member()
    )


@portal_route("/campaigns/<int:campaign_id>/budget", role="admin", methods=("POST",))
def campaigns_budget(campaign_id: int):
    """Increase the budget (from partner funds) or decrease it (the unallocated part, back to them)."""
    campaign = _campaign(campaign_id)
    form = BudgetForm.from_request()
    try:
        changed = _change_budget(campaign, form)
    except DomainError as error:
        view = CampaignView(budget_form=form, budget_error=_problem(error, campaign.currency))
        return _section(campaign, "portal/campaigns/_budget.html", view, 422)
    if changed.replayed:
        notice = "This change was already made (the form was sent twice): nothing more was moved."
    else:
        verb = "increased" if form.direction == "increase" else "decreased"
        notice = (
            f"The budget was {verb} by {format_money(Money.parse(form.amount, campaign.currency))}. "
            f"{format_money(changed.remaining)} is left to allocate."
        )
    if wants_partial():
        return _section(changed.campaign, "portal/campaigns/_budget.html", CampaignView(budget_notice=notice))
    flash(notice, "success")
    return _back(campaign)


@portal_route("/campaigns/<int:campaign_id>/return-unused", role="admin", methods=("POST",))
def campaigns_return_unused(campaign_id: int):
    campaign = _campaign(campaign_id)
    try:
        returned = campaign_service.return_unused(db_session(), campaign=campaign, by=current_member())
    except DomainError as error:
        return _page(campaign, CampaignView(error=_problem(error, campaign.currency)), 422)
    if returned:
        flash(f"{format_money(returned)} of unallocated budget went back to your partner funds.", "success")
    else:
        flash("There was no unallocated budget to return.", "info")
    return _back(campaign)


# --- pause, resume, end ---------------------------------------------------------------------------


def _status_change(campaign_id: int, change, message: str):
    campaign = _campaign(campaign_id)
    try:
        changed = change(db_session(), campaign=campaign, by=current_member())
    except DomainError as error:
        return _page(campaign, CampaignView(error=_problem(error, campaign.currency)), 422)
    flash(message.format(name=campaign.name, changed=changed), "success")
    return _back(campaign)


@portal_route("/campaigns/<int:campaign_id>/pause", role="admin", methods=("POST",))
def campaigns_pause(campaign_id: int):
    return _status_change(
        campaign_id, campaign_service.pause, "{name} is paused: its balances can't be spent until it is resumed."
    )


@portal_route("/campaigns/<int:campaign_id>/resume", role="admin", methods=("POST",))
def campaigns_resume(campaign_id: int):
    return _status_change(campaign_id, campaign_service.resume, "{name} is active again: its balances can be spent.")


@portal_route("/campaigns/<int:campaign_id>/end", role="admin", methods=("POST",))
def campaigns_end(campaign_id: int):
    """End for good, once the box saying so is ticked: members' unused balances go back to the budget."""
    campaign = _campaign(campaign_id)
    if request.form.get("confirm") != "yes":
        return _page(campaign, CampaignView(confirm_error="Tick the box to confirm: ending a campaign can't be undone."), 422)
    try:
        ended = campaign_service.end(db_session(), campaign=campaign, by=current_member())
    except DomainError as error:
        return _page(campaign, CampaignView(error=_problem(error, campaign.currency)), 422)
    message = f"{campaign.name} has ended: {format_money(ended.returned_to_budget)} of unused balances went back to the budget"
    if ended.campaign.return_unused_on_end:
        message += f", and {format_money(ended.returned_to_partner)} of budget back to your partner funds"
    flash(message + ".", "success")
    return _back(campaign)


# --- editing --------------------------------------------------------------------------------------


def _edit(campaign: Campaign, form: CampaignForm) -> Campaign:
    # The end date as shown (to the minute) is "unchanged": re-saving never moves it by its seconds.
    ends_at = KEEP if form.ends_at == _moment(campaign.ends_at) else _when(form.ends_at, label="end", field="ends_at")
    return campaign_service.update_campaign(
        db_session(),
        campaign=campaign,
        name=form.name,
        ends_at=ends_at,
        brand_slugs=form.brands,
        categories=form.categories,
        per_consumer_amount=_amount(
            form.per_consumer_amount, campaign.currency, label="Amount per consumer", field="per_consumer_amount"
        ),
        priority=_priority(form.priority),
        return_unused_on_end=form.return_unused_on_end,
        **_automation(form, campaign.currency),
        **_eligibility(form, campaign),
        by=current_member(),
    )


@portal_route("/campaigns/<int:campaign_id>/edit", role="admin", methods=("POST",))
def campaigns_edit(campaign_id: int):
    """Change the rules from now on (allocations already made keep their amount)."""
    campaign = _campaign(campaign_id)
    form = replace(CampaignForm.from_request(), currency=campaign.currency)
    try:
        _edit(campaign, form)
    except DomainError as error:
        view = CampaignView(edit_form=form, edit_error=_problem(error, campaign.currency), edit_field=error.field)
        return _page(campaign, view, 422)
    flash("The campaign's settings were saved. Allocations already made keep their amount.", "success")
    return _back(campaign)
