"""Campaigns (issue #16): a partner's budget, allocated to chosen consumers, spent first on the brands it allows.

The money, all in the ledger (double entry, integer minor units), tagged with `Transaction.campaign_id`:

    partner funds --(funding, credit)--> budget (kind campaign_budget, one per campaign)
    budget --(allocation, credit)--> member's campaign wallet (kind campaign, one per consumer per campaign)
    campaign wallet --(checkout debit)--> card purchases            (orders.py; refunds reverse it)
    campaign wallet --(removal, end, refund after the end: debit)--> budget
    budget --(decrease, return unused: debit)--> partner funds

Neither the budget nor a wallet can go below zero: every move is the ledger's guarded UPDATE
(`balance >= amount`). Nothing is ever rewritten: ending, removing and returning are new transactions.

Every change is one `write_transaction` that first locks the campaign's row (`_lock`: an UPDATE of
`updated_at`), so changes to one campaign run one at a time and each sees what the previous one
committed; its audit row is written in the same transaction. Lock order, kept by every writer so
PostgreSQL can't deadlock: the campaign row, then consumers' wallets (id order), then the partner's
accounts (`ledger.record_transaction` moves wallets before partner accounts). A checkout spending a
campaign balance keeps it too: `checkout_balances(lock=True)` takes the campaign rows FOR SHARE before
the wallets FOR UPDATE, so a pause or an end waits for checkouts in flight, and checkouts after it see it.

Idempotency: `create_campaign` is once per (partner, key) (a unique constraint on the campaign);
`change_budget` is once per (campaign, key), the key kept on its ledger transaction. A repeat returns the
first result and moves nothing; the same key for a different request is refused.

Recurring allowances, the budget-low alert and auto-pause (issue #17): see the section "recurring allowances"
below; expiry reminders: app/services/campaign_reminders.py. The sweep (`sweep`) runs them every minute.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NoReturn, cast

from sqlalchemy import CursorResult, Select, bindparam, case, update
from sqlalchemy import select as sa_select  # typed for any number of columns (sqlmodel's for at most 4)
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, or_, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain import campaign_periods as periods
from app.domain import campaigns as rules
from app.domain.campaign_periods import Recurrence
from app.domain.campaigns import Balance, CampaignChangeRefused, CampaignRules, CampaignStatus
from app.domain.errors import InsufficientFunds, InvalidInput, NotFound, PartnerFundsTooLow
from app.domain.ledger import AccountKind, TransactionType, transfer
from app.domain.money import Money, normalize_currency
from app.domain.paging import Page
from app.domain.segments import check_eligibility, optional_tag
from app.emails import build_campaign_budget_low_email
from app.links import external_url
from app.models import Account, Brand, Campaign, CampaignMember, Consumer, Entry, Partner, PartnerBrand, TeamMember, Transaction
from app.models.campaign import CampaignPeriod
from app.models.segment import ConsumerTag
from app.services import audit, campaign_reminders, ledger, partners, webhooks
from app.services.emails import queue_email
from app.services.rows import referenced, row_id

log = logging.getLogger(__name__)
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,80}$")
KEY_REUSED = "This idempotency key was already used for a different request."
KEY_FORMAT = "The idempotency key must be 8-80 letters, digits or . _ : -"
PARTNER_FUNDS_TOO_LOW = "Partner funds are too low for this campaign budget: nothing was moved."
BUDGET_TOO_LOW = "Only the unallocated budget can be returned: this decrease is more than the budget has left."
ENDED = "This campaign has ended: it can't be changed."
KEEP = object()  # update_campaign: "leave this setting as it is" (None means "no end date" for ends_at)


class MemberOutcome(StrEnum):
    ALLOCATED = "allocated"  # a member now, with the per-consumer amount in their campaign wallet
    ALREADY_MEMBER = "already_member"  # nothing moved
    NOT_FOUND = "not_found"  # no such consumer of this partner
    INSUFFICIENT_BUDGET = "insufficient_budget"  # the budget can't pay the allocation: nothing moved
    INACTIVE = "inactive"  # the consumer is deactivated (can't order): nothing moved


@dataclass(frozen=True)
class MemberResult:
    consumer_id: int
    outcome: MemberOutcome
    allocated: Money | None = None


@dataclass(frozen=True)
class CampaignCreated:
    campaign: Campaign
    replayed: bool  # the key had been used: the first campaign, nothing moved this time


@dataclass(frozen=True)
class BudgetChanged:
    campaign: Campaign
    transaction: Transaction
    remaining: Money  # the unallocated budget after the change
    replayed: bool


@dataclass(frozen=True)
class MemberRemoved:
    member: CampaignMember
    returned: Money  # the unused balance moved back to the budget


@dataclass(frozen=True)
class CampaignEnded:
    campaign: Campaign
    returned_to_budget: Money  # members' unused balances
    returned_to_partner: Money  # the budget, when the campaign returns it at its end


# --- small shared steps ---------------------------------------------------------------------


def _actor(by: TeamMember | None, actor: str) -> str:
    return actor or audit.actor_label(by)


def _audit(
    session: Session,
    campaign: Campaign,
    *,
    by: TeamMember | None,
    actor: str,
    action: str,
    summary: str,
    details: dict | None = None,
) -> None:
    audit.record(
        session,
        partner_id=campaign.partner_id,
        member=by,
        actor=actor or None,
        action=action,
        subject_type="campaign",
        subject_id=row_id(campaign),
        summary=summary,
        details=details,
    )


def _lock(session: Session, campaign_id: int) -> Campaign:
    """Inside a write transaction: wait for, then hold, this campaign's row until commit; the campaign as
    committed now (PostgreSQL: the row lock; SQLite: the write lock is already held)."""
    session.execute(
        update(Campaign)
        .where(col(Campaign.id) == campaign_id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return referenced(session, Campaign, campaign_id, populate_existing=True)


def _money(campaign: Campaign, amount: int) -> Money:
    return Money(amount, campaign.currency)


def _funds(session: Session, campaign: Campaign) -> Account:
    return ledger.open_account(session, AccountKind.PARTNER_FUNDS, campaign.currency, partner_id=campaign.partner_id)


def _budget(session: Session, campaign: Campaign, *, fresh: bool = False) -> Account:
    account = referenced(session, Account, campaign.budget_account_id)
    if fresh:
        session.refresh(account, attribute_names=["balance"])
    return account


def _move(
    session: Session,
    campaign: Campaign,
    source: Account,
    target: Account,
    amount: int,
    *,
    type: TransactionType,
    memo: str,
    actor: str,
    consumer_id: int | None = None,
    order_id: int | None = None,
    idempotency_key: str | None = None,
) -> Transaction:
    return ledger.post_transaction(
        session,
        partner_id=campaign.partner_id,
        consumer_id=consumer_id,
        order_id=order_id,
        campaign_id=campaign.id,
        type=type,
        currency=campaign.currency,
        postings=transfer(row_id(source), row_id(target), amount),
        memo=memo,
        actor=actor,
        idempotency_key=idempotency_key,
    )


def _return_to_budget(
    session: Session,
    campaign: Campaign,
    *,
    memo: str,
    actor: str,
    consumer_id: int | None = None,
    order_id: int | None = None,
) -> int:
    """Move what the campaign's wallets hold (one consumer's, or every member's) back into its budget; the amount moved."""
    budget = _budget(session, campaign)
    moved = 0
    for wallet in _wallets(session, row_id(campaign), consumer_id=consumer_id):
        if wallet.balance > 0:
            moved += wallet.balance
            _move(
                session,
                campaign,
                wallet,
                budget,
                wallet.balance,
                type=TransactionType.DEBIT,
                memo=memo,
                actor=actor,
                consumer_id=wallet.consumer_id,
                order_id=order_id,
            )
    return moved


def _wallets(session: Session, campaign_id: int, *, consumer_id: int | None = None) -> list[Account]:
    """The campaign's member wallets (or one member's), locked in id order, with their balances as committed."""
    statement = select(Account).where(Account.campaign_id == campaign_id, Account.kind == AccountKind.CAMPAIGN.value)
    if consumer_id is not None:
        statement = statement.where(Account.consumer_id == consumer_id)
    return list(
        session.exec(statement.order_by(col(Account.id)).with_for_update().execution_options(populate_existing=True)).all()
    )


def _check_key(idempotency_key: str) -> str:
    if not IDEMPOTENCY_KEY.match(idempotency_key or ""):
        raise InvalidInput(KEY_FORMAT, field="idempotency_key")
    return idempotency_key


def _check_amount(amount: Money, currency: str, *, field: str) -> None:
    if amount.currency != currency:
        raise InvalidInput(f"{field} must be in the campaign's currency, {currency}.", field=field)


def _partner_lists(
    session: Session, partner_id: int, brand_slugs: Sequence[str], categories: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The lists cleaned and checked against the partner's own brands; categories in the catalog's spelling."""
    slugs = rules.clean_list(brand_slugs, field="brands", label="brand")
    cats = rules.clean_list(categories, field="categories", label="category")
    offered = session.exec(
        select(Brand.slug, Brand.category)
        .join(PartnerBrand, col(PartnerBrand.brand_id) == Brand.id)
        .where(col(PartnerBrand.partner_id) == partner_id)
    ).all()
    known_slugs = {slug for slug, _category in offered}
    known_categories = {category.casefold(): category for _slug, category in offered}
    for slug in slugs:
        if slug not in known_slugs:
            raise InvalidInput(f"'{slug}' is not one of your store's brands.", field="brands")
    for position, category in enumerate(cats):
        if category.casefold() not in known_categories:
            raise InvalidInput(f"'{category}' is not a category of your store's brands.", field="categories")
        cats[position] = known_categories[category.casefold()]
    return slugs, list(dict.fromkeys(cats))


def partner_campaign(session: Session, *, partner: Partner, campaign_id: int) -> Campaign:
    """The partner's own campaign; another partner's is simply not found (never 'forbidden')."""
    campaign = session.get(Campaign, campaign_id) if isinstance(campaign_id, int) else None
    if campaign is None or campaign.partner_id != partner.id:
        raise NotFound(f"Campaign {campaign_id} does not exist.", field="id")
    return campaign


# --- creating and changing a campaign ---------------------------------------------------------


def _create_key(partner_id: int, idempotency_key: str) -> str:
    # "/" is never in a caller's key (IDEMPOTENCY_KEY): no clash with funds.py's "<partner id>:<key>".
    return f"{partner_id}:campaign/new/{idempotency_key}"


def _budget_key(campaign: Campaign, idempotency_key: str) -> str:
    return f"{campaign.partner_id}:campaign/{campaign.id}/{idempotency_key}"


def _replay_create(
    session: Session, campaign: Campaign, *, name: str, currency: str, budget: Money, per_consumer_amount: Money
) -> CampaignCreated:
    assert campaign.idempotency_key is not None  # it was found by its key
    funded = (
        session.exec(
            select(Transaction.amount).where(
                Transaction.campaign_id == campaign.id,
                Transaction.idempotency_key == _create_key(campaign.partner_id, campaign.idempotency_key),
            )
        ).first()
        or 0
    )
    if (campaign.name, campaign.currency, campaign.per_consumer_amount, funded) != (
        name,
        currency,
        per_consumer_amount.amount,
        budget.amount,
    ):
        raise InvalidInput(KEY_REUSED, field="idempotency_key")
    return CampaignCreated(campaign, True)


def create_campaign(
    session: Session,
    *,
    partner: Partner,
    name: str,
    currency: str,
    budget: Money,
    per_consumer_amount: Money,
    idempotency_key: str,
    brand_slugs: Sequence[str] = (),
    categories: Sequence[str] = (),
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    priority: int = 0,
    eligible_tag: str | None = None,
    eligible_created_after: datetime | None = None,
    return_unused_on_end: bool = False,
    recurrence: Recurrence | None = None,
    low_budget_threshold: Money | None = None,
    pause_when_exhausted: bool = False,
    by: TeamMember | None = None,
    actor: str = "",
    now: datetime | None = None,
) -> CampaignCreated:
    """A new campaign, its budget funded from the partner's funds (partner funds -> budget) in the same
    transaction. Starts now unless `starts_at` is later (then `scheduled`). Partner funds too low:
    PartnerFundsTooLow, nothing created or moved. Once per (partner, idempotency key). With `eligible_tag`, everyone
    who has the tag (created after `eligible_created_after`) joins at once when it starts now, else when it starts."""
    now = now or utcnow()
    idempotency_key = _check_key(idempotency_key)
    name = rules.clean_name(name)
    currency = normalize_currency(currency)
    if currency not in partner.currency_list:
        raise InvalidInput(f"currency {currency} is not enabled for this partner.", field="currency")
    _check_amount(budget, currency, field="budget")
    _check_amount(per_consumer_amount, currency, field="per_consumer_amount")
    if budget.amount < 0:
        raise InvalidInput("The budget can't be negative.", field="budget")
    rules.check_per_consumer_amount(per_consumer_amount)
    rules.check_priority(priority)
    eligible_tag = optional_tag(eligible_tag, field="eligible_tag")
    check_eligibility(eligible_tag, eligible_created_after)
    _check_alerts(low_budget_threshold, currency)
    starts_at = starts_at or now
    rules.check_window(starts_at, ends_at, now)
    slugs, cats = _partner_lists(session, row_id(partner), brand_slugs, categories)
    find = select(Campaign).where(Campaign.partner_id == partner.id, Campaign.idempotency_key == idempotency_key)
    replay: dict[str, Any] = dict(name=name, currency=currency, budget=budget, per_consumer_amount=per_consumer_amount)

    existing = session.exec(find).first()
    if existing is not None:
        return _replay_create(session, existing, **replay)
    actor = _actor(by, actor)
    with write_transaction(session):
        # Serialise this partner's fund changes, then look again: a twin may have committed meanwhile.
        partners.hold_partner(session, row_id(partner))
        existing = session.exec(find.execution_options(populate_existing=True)).first()
        if existing is not None:
            return _replay_create(session, existing, **replay)
        campaign = Campaign(
            partner_id=row_id(partner),
            name=name,
            currency=currency,
            per_consumer_amount=per_consumer_amount.amount,
            brand_slugs=",".join(slugs),
            categories=",".join(cats),
            starts_at=starts_at,
            ends_at=ends_at,
            priority=priority,
            eligible_tag=eligible_tag,
            eligible_created_after=eligible_created_after,
            status=rules.initial_status(starts_at, now).value,
            return_unused_on_end=return_unused_on_end,
            **_recurrence_columns(recurrence),
            low_budget_threshold=low_budget_threshold.amount if low_budget_threshold is not None else None,
            pause_when_exhausted=bool(pause_when_exhausted),
            created_by_id=by.id if by is not None else None,
            created_by=actor,
            idempotency_key=idempotency_key,
            created_at=now,
            updated_at=now,
        )
        session.add(campaign)
        session.flush()
        budget_account = ledger.open_account(
            session, AccountKind.CAMPAIGN_BUDGET, currency, partner_id=row_id(partner), campaign_id=row_id(campaign)
        )
        campaign.budget_account_id = budget_account.id
        if budget.amount:
            try:
                _move(
                    session,
                    campaign,
                    _funds(session, campaign),
                    budget_account,
                    budget.amount,
                    type=TransactionType.CREDIT,
                    memo=f"Campaign budget: {name}",
                    actor=actor,
                    idempotency_key=_create_key(row_id(partner), idempotency_key),
                )
            except InsufficientFunds:
                raise PartnerFundsTooLow(PARTNER_FUNDS_TOO_LOW, field="budget") from None
        session.add(campaign)
        _audit(
            session,
            campaign,
            by=by,
            actor=actor,
            action="campaign.create",
            summary=f"Created campaign {name} with a budget of {budget}, {per_consumer_amount} per consumer",
            details={
                "name": name,
                "currency": currency,
                "budget": budget.amount,
                "per_consumer_amount": per_consumer_amount.amount,
                "brands": slugs,
                "categories": cats,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "priority": priority,
                "return_unused_on_end": return_unused_on_end,
            }
            | ({"eligible_tag": eligible_tag, "eligible_created_after": eligible_created_after} if eligible_tag else {})
            | _automation_details(campaign),
        )
        if eligible_tag:  # the partner is held (above): everyone with the tag now joins, if it starts now
            _allocate_to_eligible(session, campaign, actor=actor, now=now)
    return CampaignCreated(campaign, False)


def update_campaign(
    session: Session,
    *,
    campaign: Campaign,
    name: str | None = None,
    ends_at=KEEP,
    brand_slugs: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    per_consumer_amount: Money | None = None,
    priority: int | None = None,
    eligible_tag=KEEP,
    eligible_created_after=KEEP,
    return_unused_on_end: bool | None = None,
    recurrence=KEEP,
    low_budget_threshold=KEEP,
    pause_when_exhausted: bool | None = None,
    by: TeamMember | None = None,
    actor: str = "",
    now: datetime | None = None,
) -> Campaign:
    """Change the rules from now on (None / KEEP: unchanged; `ends_at=None` removes the end date). Allocations
    already made keep their amount; past transactions are never rewritten. An ended campaign can't change.
    `eligible_tag` / `eligible_created_after` (None: consumers chosen by hand / no date): members who no longer
    match are marked ineligible, and everyone who matches joins now if the campaign is active.
    `recurrence` (a Recurrence, or None: no repeat) and `low_budget_threshold` (Money, or None: none): KEEP leaves
    them; a new repeat counts from the current period (its next allocation comes at the next period start)."""
    now = now or utcnow()
    changes: dict = {}
    if recurrence is not KEEP:
        changes |= _recurrence_columns(recurrence)
    if low_budget_threshold is not KEEP:
        _check_alerts(low_budget_threshold, campaign.currency)
        changes["low_budget_threshold"] = low_budget_threshold.amount if low_budget_threshold is not None else None
    if pause_when_exhausted is not None:
        changes["pause_when_exhausted"] = bool(pause_when_exhausted)
    if name is not None:
        changes["name"] = rules.clean_name(name)
    if per_consumer_amount is not None:
        _check_amount(per_consumer_amount, campaign.currency, field="per_consumer_amount")
        rules.check_per_consumer_amount(per_consumer_amount)
        changes["per_consumer_amount"] = per_consumer_amount.amount
    if priority is not None:
        rules.check_priority(priority)
        changes["priority"] = priority
    if return_unused_on_end is not None:
        changes["return_unused_on_end"] = bool(return_unused_on_end)
    if brand_slugs is not None or categories is not None:
        slugs, cats = _partner_lists(
            session,
            campaign.partner_id,
            campaign.brand_slug_list if brand_slugs is None else brand_slugs,
            campaign.category_list if categories is None else categories,
        )
        changes["brand_slugs"], changes["categories"] = ",".join(slugs), ",".join(cats)
    eligibility = eligible_tag is not KEEP or eligible_created_after is not KEEP
    if eligible_tag is not KEEP:
        changes["eligible_tag"] = optional_tag(eligible_tag, field="eligible_tag")
    if eligible_created_after is not KEEP:
        changes["eligible_created_after"] = eligible_created_after
    elif eligible_tag is not KEEP and changes["eligible_tag"] is None:
        changes["eligible_created_after"] = None  # back to consumers chosen by hand: the date went with the tag
    if eligibility:
        check_eligibility(
            changes.get("eligible_tag", campaign.eligible_tag),
            changes.get("eligible_created_after", campaign.eligible_created_after),
        )
    with write_transaction(session):
        if eligibility:  # who has the tag is read below: the partner first (the lock order, see tags_changed)
            partners.hold_partner(session, campaign.partner_id)
        campaign = _lock(session, row_id(campaign))
        if campaign.status == CampaignStatus.ENDED.value:
            raise CampaignChangeRefused(ENDED)
        if ends_at is not KEEP:
            rules.check_window(campaign.starts_at, ends_at, now)
            changes["ends_at"] = ends_at
        changed = {key: value for key, value in changes.items() if getattr(campaign, key) != value}
        if not changed:
            return campaign
        before = {key: getattr(campaign, key) for key in changed}
        for key, value in changed.items():
            setattr(campaign, key, value)
        session.add(campaign)
        _audit(
            session,
            campaign,
            by=by,
            actor=actor,
            action="campaign.update",
            summary=f"Changed campaign {campaign.name}: {', '.join(sorted(changed))}",
            details={"before": before, "after": changed},
        )
        if "eligible_tag" in changed or "eligible_created_after" in changed:
            _sync_eligibility(session, campaign, actor=_actor(by, actor), now=now)
        if "recurrence_every" in changed:  # every member counts as paid for the current period of the new repeat
            _mark_members_paid_for_current_period(session, campaign, now=now)
        _tell_if_budget_low(session, campaign)  # the amount, the repeat or the threshold may have changed
    return campaign


def change_budget(
    session: Session,
    *,
    campaign: Campaign,
    amount: Money,
    idempotency_key: str,
    by: TeamMember | None = None,
    actor: str = "",
) -> BudgetChanged:
    """Positive: partner funds -> budget. Negative: budget -> partner funds, only what is not allocated yet.
    Neither goes below zero (PartnerFundsTooLow / InsufficientFunds, nothing moved). An ended campaign's
    budget can only decrease. Once per (campaign, key): a repeat returns the first result, moving nothing."""
    idempotency_key = _check_key(idempotency_key)
    _check_amount(amount, campaign.currency, field="amount")
    if amount.amount == 0:
        raise InvalidInput("amount must not be zero.", field="amount")
    key = _budget_key(campaign, idempotency_key)
    find = select(Transaction).where(Transaction.campaign_id == campaign.id, Transaction.idempotency_key == key)
    actor = _actor(by, actor)
    with write_transaction(session):
        if campaign.eligible_tag and amount.amount > 0:  # those the budget couldn't pay join below: the partner first
            partners.hold_partner(session, campaign.partner_id)
        campaign = _lock(session, row_id(campaign))
        existing = session.exec(find).first()
        if existing is not None:
            increase = existing.type == TransactionType.CREDIT.value
            if (existing.amount if increase else -existing.amount) != amount.amount:
                raise InvalidInput(KEY_REUSED, field="idempotency_key")
            return BudgetChanged(campaign, existing, _money(campaign, _budget(session, campaign, fresh=True).balance), True)
        budget, funds = _budget(session, campaign, fresh=True), _funds(session, campaign)
        before = budget.balance
        if amount.amount > 0:
            if campaign.status == CampaignStatus.ENDED.value:
                raise CampaignChangeRefused(ENDED)
            try:
                transaction = _move(
                    session,
                    campaign,
                    funds,
                    budget,
                    amount.amount,
                    type=TransactionType.CREDIT,
                    memo=f"Campaign budget increased: {campaign.name}",
                    actor=actor,
                    idempotency_key=key,
                )
            except InsufficientFunds:
                raise PartnerFundsTooLow(PARTNER_FUNDS_TOO_LOW, field="amount") from None
        else:
            try:
                transaction = _move(
                    session,
                    campaign,
                    budget,
                    funds,
                    -amount.amount,
                    type=TransactionType.DEBIT,
                    memo=f"Campaign budget decreased: {campaign.name}",
                    actor=actor,
                    idempotency_key=key,
                )
            except InsufficientFunds:
                raise InsufficientFunds(BUDGET_TOO_LOW, field="amount") from None
        remaining = _money(campaign, _budget(session, campaign).balance)
        _tell_if_budget_low(session, campaign, before=before, after=remaining.amount)
        _audit(
            session,
            campaign,
            by=by,
            actor=actor,
            action="campaign.budget",
            summary=f"{'Increased' if amount.amount > 0 else 'Decreased'} the budget of {campaign.name} by "
            f"{_money(campaign, abs(amount.amount))}",
            details={
                "amount": amount.amount,
                "currency": amount.currency,
                "remaining": remaining.amount,
                "transaction": transaction.id,
            },
        )
        if campaign.eligible_tag and amount.amount > 0:  # consumers with the tag that the budget couldn't pay join now
            if _allocate_to_eligible(session, campaign, actor=actor, now=utcnow()):
                remaining = _money(campaign, _budget(session, campaign, fresh=True).balance)
    return BudgetChanged(campaign, transaction, remaining, False)


def _tell_if_budget_low(session: Session, campaign: Campaign, *, before: int | None = None, after: int | None = None) -> None:
    """Inside a change's transaction, holding the campaign's row, after the change: the budget-low alert (admins'
    email and the `campaign.budget_low` webhook) once per crossing. The crossing is recorded on the campaign
    (`budget_low_since`), so it fires once however many changes find the budget low, and again only after the
    budget was enough in between (see `_budget_alert`). `after`: the budget's balance, when the caller has it
    (`before` is no longer needed: kept so callers may pass it)."""
    _budget_alert(session, campaign, remaining=after)


# --- members ---------------------------------------------------------------------------------


def add_members(
    session: Session,
    *,
    campaign: Campaign,
    consumer_ids: Sequence[int],
    by: TeamMember | None = None,
    actor: str = "",
) -> list[MemberResult]:
    """Allocate the per-consumer amount to each consumer (budget -> their campaign wallet): a result per id,
    in the order given (repeats once). Someone already in gets nothing more; another partner's consumer is
    `not_found`; when the budget runs out, the rest are `insufficient_budget` with nothing moved for them.
    Someone removed earlier who is added again gets a fresh allocation."""
    ids = list(dict.fromkeys(consumer_ids))
    if any(type(i) is not int for i in ids):
        raise InvalidInput("Consumer ids must be whole numbers.", field="consumer_ids")
    actor = _actor(by, actor)
    results: list[MemberResult] = []
    with write_transaction(session):
        campaign = _lock(session, row_id(campaign))
        if campaign.status == CampaignStatus.ENDED.value:
            raise CampaignChangeRefused(ENDED)
        amount = campaign.per_consumer_amount
        consumers = (
            {
                c.id: c
                for c in session.exec(
                    select(Consumer).where(col(Consumer.id).in_(ids), Consumer.partner_id == campaign.partner_id)
                )
            }
            if ids
            else {}
        )
        members = (
            {
                m.consumer_id: m
                for m in session.exec(
                    select(CampaignMember)
                    .where(CampaignMember.campaign_id == campaign.id, col(CampaignMember.consumer_id).in_(ids))
                    .execution_options(populate_existing=True)
                )
            }
            if ids
            else {}
        )
        budget = _budget(session, campaign, fresh=True)
        before = budget.balance
        out_of_budget = False
        joining_period = _joining_period(session, campaign)  # a recurring campaign's: paid for at joining
        for consumer_id in ids:
            consumer, member = consumers.get(consumer_id), members.get(consumer_id)
            if consumer is None:
                results.append(MemberResult(consumer_id, MemberOutcome.NOT_FOUND))
            elif member is not None and member.removed_at is None:
                results.append(MemberResult(consumer_id, MemberOutcome.ALREADY_MEMBER))
            elif not consumer.is_active:
                results.append(MemberResult(consumer_id, MemberOutcome.INACTIVE))
            elif out_of_budget:
                results.append(MemberResult(consumer_id, MemberOutcome.INSUFFICIENT_BUDGET))
            else:
                try:
                    with session.begin_nested():  # one consumer's allocation: all of it, or none of it
                        wallet = ledger.open_account(
                            session,
                            AccountKind.CAMPAIGN,
                            campaign.currency,
                            partner_id=campaign.partner_id,
                            consumer_id=consumer_id,
                            campaign_id=campaign.id,
                        )
                        if member is None:
                            member = CampaignMember(
                                campaign_id=row_id(campaign),
                                consumer_id=consumer_id,
                                account_id=row_id(wallet),
                                joined_at=utcnow(),
                            )
                        else:  # added again after a removal
                            member.removed_at, member.joined_at = None, utcnow()
                        member.allocated_period = joining_period
                        session.add(member)
                        session.flush()
                        _move(
                            session,
                            campaign,
                            budget,
                            wallet,
                            amount,
                            type=TransactionType.CREDIT,
                            memo=f"{campaign.name} allowance",
                            actor=actor,
                            consumer_id=consumer_id,
                        )
                    results.append(MemberResult(consumer_id, MemberOutcome.ALLOCATED, _money(campaign, amount)))
                except InsufficientFunds:
                    out_of_budget = True
                    results.append(MemberResult(consumer_id, MemberOutcome.INSUFFICIENT_BUDGET))
                except IntegrityError:  # a twin added them first (the campaign lock makes this a backstop only)
                    results.append(MemberResult(consumer_id, MemberOutcome.ALREADY_MEMBER))
        counts = {outcome.value: [r.consumer_id for r in results if r.outcome is outcome] for outcome in MemberOutcome}
        allocated = len(counts[MemberOutcome.ALLOCATED.value])
        _tell_if_budget_low(session, campaign, before=before, after=_budget(session, campaign, fresh=True).balance)
        _audit(
            session,
            campaign,
            by=by,
            actor=actor,
            action="campaign.add_members",
            summary=f"Added {allocated} of {len(ids)} consumers to {campaign.name} ({_money(campaign, amount * allocated)} allocated)",
            details={outcome: ids_ for outcome, ids_ in counts.items() if ids_} | {"amount": amount},
        )
        if out_of_budget:
            _pause_if_exhausted(session, campaign, actor=actor)
    return results


def remove_member(
    session: Session,
    *,
    campaign: Campaign,
    consumer_id: int,
    by: TeamMember | None = None,
    actor: str = "",
) -> MemberRemoved:
    """Take a consumer out of the campaign: their unused campaign balance goes back to the budget."""
    actor = _actor(by, actor)
    with write_transaction(session):
        campaign = _lock(session, row_id(campaign))
        member = session.exec(
            select(CampaignMember)
            .where(
                CampaignMember.campaign_id == campaign.id,
                CampaignMember.consumer_id == consumer_id,
                col(CampaignMember.removed_at).is_(None),
            )
            .execution_options(populate_existing=True)
        ).first()
        if member is None:
            raise NotFound("This consumer is not a member of the campaign.", field="consumer_id")
        returned = _return_to_budget(
            session,
            campaign,
            memo=f"{campaign.name} allowance returned: removed from the campaign",
            actor=actor,
            consumer_id=consumer_id,
        )
        member.removed_at = utcnow()
        session.add(member)
        _audit(
            session,
            campaign,
            by=by,
            actor=actor,
            action="campaign.remove_member",
            summary=f"Removed consumer {consumer_id} from {campaign.name}; {_money(campaign, returned)} back to the budget",
            details={"consumer_id": consumer_id, "returned": returned},
        )
        _tell_if_budget_low(session, campaign)  # fewer members to pay, their balance back: maybe enough again
    return MemberRemoved(member, _money(campaign, returned))


# --- who a campaign is for: everyone with a tag (issue #17) -----------------------------------
#
# A campaign with `eligible_tag` is for every consumer of the partner with that tag (created after
# `eligible_created_after`, when set): they join, with the per-consumer allocation (add_members, so the
# ledger moves are the usual ones), when they get the tag, when the campaign becomes active (created, started,
# resumed), when its eligibility changes and when its budget grows, and only while it is active, inside its
# window, with budget left. Someone who was ever a member (also one removed by hand) never joins again by a
# tag: one allocation each. A member who no longer matches is marked `ineligible_at`: they keep what they
# were given, but get no later allocation (`eligible_member_conditions`, `CampaignMember.is_eligible`).
#
# Lock order: the partner's row (partners.hold_partner) before the campaign's. Every writer that reads who
# has a tag (or changes it) holds the partner first, so a tag given while a campaign starts is seen by one of them.


def eligible_member_conditions() -> list:
    """SQL conditions on CampaignMember for members who get later allocations (not removed, not ineligible)."""
    return [col(CampaignMember.removed_at).is_(None), col(CampaignMember.ineligible_at).is_(None)]


def _matching_consumers(
    session: Session, campaign: Campaign, *, consumer_ids: Sequence[int] | None = None, active_only: bool = False
) -> list[int]:
    """The partner's consumers (among `consumer_ids`, when given) who match the campaign's tag and date now, in id order."""
    if not campaign.eligible_tag:
        return []
    statement = (
        select(Consumer.id)
        .join(ConsumerTag, col(ConsumerTag.consumer_id) == Consumer.id)
        .where(ConsumerTag.partner_id == campaign.partner_id, ConsumerTag.tag == campaign.eligible_tag)
    )
    if campaign.eligible_created_after is not None:
        statement = statement.where(col(Consumer.created_at) > campaign.eligible_created_after)
    if active_only:
        statement = statement.where(col(Consumer.is_active).is_(True))
    if consumer_ids is not None:
        if not consumer_ids:
            return []
        statement = statement.where(col(Consumer.id).in_(list(consumer_ids)))
    return cast(list[int], list(session.exec(statement.order_by(col(Consumer.id))).all()))


def _mark_eligibility(session: Session, campaign: Campaign, *, now: datetime, consumer_ids: Sequence[int] | None = None) -> None:
    """Inside the campaign's lock: members (among `consumer_ids`) who stopped matching get `ineligible_at`,
    those who match again lose it. A campaign for consumers chosen by hand marks nobody."""
    statement = select(CampaignMember).where(CampaignMember.campaign_id == campaign.id, col(CampaignMember.removed_at).is_(None))
    if consumer_ids is not None:
        statement = statement.where(col(CampaignMember.consumer_id).in_(list(consumer_ids)))
    members = list(session.exec(statement.execution_options(populate_existing=True)).all())
    if not members:
        return
    matching = (
        set(_matching_consumers(session, campaign, consumer_ids=[m.consumer_id for m in members]))
        if campaign.eligible_tag
        else {m.consumer_id for m in members}
    )
    for member in members:
        wanted = None if member.consumer_id in matching else (member.ineligible_at or now)
        if member.ineligible_at != wanted:
            member.ineligible_at = wanted
            session.add(member)
    session.flush()


def _allocate_to_eligible(
    session: Session, campaign: Campaign, *, actor: str, now: datetime, consumer_ids: Sequence[int] | None = None
) -> list[MemberResult]:
    """Inside a write transaction holding the partner: add the matching active consumers (among `consumer_ids`)
    who were never members, while the campaign is active and inside its window (add_members: the budget decides)."""
    campaign = referenced(session, Campaign, row_id(campaign), populate_existing=True)
    if not campaign.eligible_tag or not rules.is_spendable(campaign.status, campaign.starts_at, campaign.ends_at, now):
        return []
    matching = _matching_consumers(session, campaign, consumer_ids=consumer_ids, active_only=True)
    if not matching:
        return []
    known = set(
        session.exec(
            select(CampaignMember.consumer_id).where(
                CampaignMember.campaign_id == campaign.id, col(CampaignMember.consumer_id).in_(matching)
            )
        ).all()
    )
    joining = [consumer_id for consumer_id in matching if consumer_id not in known]
    if not joining:
        return []
    return add_members(session, campaign=campaign, consumer_ids=joining, actor=actor or "system")


def _sync_eligibility(session: Session, campaign: Campaign, *, actor: str, now: datetime) -> list[MemberResult]:
    """Inside a write transaction holding the partner, then the campaign: mark who no longer matches, add who joins."""
    if campaign.status == CampaignStatus.ENDED.value:
        return []
    _mark_eligibility(session, campaign, now=now)
    return _allocate_to_eligible(session, campaign, actor=actor, now=now)


def sync_eligibility(
    session: Session, *, campaign: Campaign, by: TeamMember | None = None, actor: str = "", now: datetime | None = None
) -> list[MemberResult]:
    """Bring a campaign's members in line with its eligibility now (what every change below does by itself)."""
    with write_transaction(session):
        partners.hold_partner(session, campaign.partner_id)
        locked = _lock(session, row_id(campaign))
        return _sync_eligibility(session, locked, actor=_actor(by, actor), now=now or utcnow())


def tags_changed(
    session: Session,
    *,
    partner_id: int,
    consumer_ids: Sequence[int],
    tags: Sequence[str],
    actor: str,
    now: datetime | None = None,
) -> dict[int, list[MemberResult]]:
    """For the tag changes (app/services/segments.py), inside their write transaction, which holds the partner:
    `consumer_ids` gained or lost some of `tags`. Each of the partner's campaigns (not ended) for one of those
    tags, in id order: those who stopped matching are marked, those who now match join (when it is active).
    What add_members said for those who joined (or that the budget couldn't pay), by campaign id."""
    if not consumer_ids or not tags:
        return {}
    now = now or utcnow()
    campaign_ids = session.exec(
        select(Campaign.id)
        .where(
            Campaign.partner_id == partner_id,
            col(Campaign.eligible_tag).in_(list(tags)),
            Campaign.status != CampaignStatus.ENDED.value,
        )
        .order_by(col(Campaign.id))
    ).all()
    results: dict[int, list[MemberResult]] = {}
    for campaign_id in cast(Sequence[int], campaign_ids):
        campaign = _lock(session, campaign_id)
        if campaign.status == CampaignStatus.ENDED.value:
            continue
        _mark_eligibility(session, campaign, now=now, consumer_ids=consumer_ids)
        joined = _allocate_to_eligible(session, campaign, actor=actor, now=now, consumer_ids=consumer_ids)
        if joined:
            results[campaign_id] = joined
    return results


# --- pause, resume, end -----------------------------------------------------------------------


def _change_status(
    session: Session, campaign: Campaign, *, to: CampaignStatus, allowed_from: Sequence[CampaignStatus], now: datetime, **values
) -> Campaign | None:
    """Move the campaign to `to` if it is in one of `allowed_from` (a conditional UPDATE: of two racing
    changes one wins); the campaign after the change, or None when it wasn't in one of them."""
    changed = cast(
        CursorResult,
        session.execute(
            update(Campaign)
            .where(col(Campaign.id) == campaign.id, col(Campaign.status).in_([s.value for s in allowed_from]))
            .values(status=to.value, updated_at=now, **values)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    fresh = session.get(Campaign, campaign.id, populate_existing=True)
    return fresh if changed else None


def _refuse(session: Session, campaign: Campaign, to: CampaignStatus) -> NoReturn:
    current = referenced(session, Campaign, campaign.id, populate_existing=True)
    rules.check_transition(current.status, to)
    raise CampaignChangeRefused(f"A campaign that is {current.status} cannot become {to}.")


def pause(session: Session, *, campaign: Campaign, by: TeamMember | None = None, actor: str = "") -> Campaign:
    """Stop spending at once. Checkouts in flight (they hold the campaign row FOR SHARE) commit first."""
    with write_transaction(session):
        paused = _change_status(session, campaign, to=CampaignStatus.PAUSED, allowed_from=[CampaignStatus.ACTIVE], now=utcnow())
        if paused is None:
            _refuse(session, campaign, CampaignStatus.PAUSED)
        _audit(session, paused, by=by, actor=actor, action="campaign.pause", summary=f"Paused campaign {paused.name}")
    return paused


def resume(session: Session, *, campaign: Campaign, by: TeamMember | None = None, actor: str = "") -> Campaign:
    with write_transaction(session):
        if campaign.eligible_tag:  # everyone who got the tag while it was paused joins: the partner first (lock order)
            partners.hold_partner(session, campaign.partner_id)
        resumed = _change_status(session, campaign, to=CampaignStatus.ACTIVE, allowed_from=[CampaignStatus.PAUSED], now=utcnow())
        if resumed is None:
            _refuse(session, campaign, CampaignStatus.ACTIVE)
        _audit(session, resumed, by=by, actor=actor, action="campaign.resume", summary=f"Resumed campaign {resumed.name}")
        _allocate_to_eligible(session, resumed, actor=_actor(by, actor), now=utcnow())
    return resumed


def _end(
    session: Session, campaign: Campaign, *, by: TeamMember | None, actor: str, now: datetime, reason: str
) -> CampaignEnded | None:
    """Inside a write transaction: end the campaign (None if it had already ended), return every member's
    unused balance to the budget and, if the campaign says so, the budget to the partner's funds."""
    ended = _change_status(
        session,
        campaign,
        to=CampaignStatus.ENDED,
        now=now,
        ended_at=now,
        allowed_from=[CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE, CampaignStatus.PAUSED],
    )
    if ended is None:
        return None
    actor = _actor(by, actor)
    to_budget = _return_to_budget(session, ended, memo=f"{ended.name} allowance returned: the campaign ended", actor=actor)
    to_partner = 0
    if ended.return_unused_on_end:
        to_partner = _return_budget(session, ended, actor=actor)
    _audit(
        session,
        ended,
        by=by,
        actor=actor,
        action="campaign.end",
        summary=f"Ended campaign {ended.name} ({reason}): {_money(ended, to_budget)} unused back to the budget"
        + (f", {_money(ended, to_partner)} back to partner funds" if ended.return_unused_on_end else ""),
        details={"reason": reason, "returned_to_budget": to_budget, "returned_to_partner": to_partner},
    )
    webhooks.queue_campaign_event(session, summary=campaign_summary(session, ended), event_type="campaign.ended")
    return CampaignEnded(ended, _money(ended, to_budget), _money(ended, to_partner))


def end(
    session: Session, *, campaign: Campaign, by: TeamMember | None = None, actor: str = "", now: datetime | None = None
) -> CampaignEnded:
    """End the campaign for good: spending stops, every member's unused balance returns to the budget, and
    the budget to partner funds when `return_unused_on_end` is set (else by `return_unused`)."""
    with write_transaction(session):
        ended = _end(session, campaign, by=by, actor=actor, now=now or utcnow(), reason="ended by hand")
        if ended is None:
            raise CampaignChangeRefused("This campaign has already ended.")
    return ended


def _return_budget(session: Session, campaign: Campaign, *, actor: str, order_id: int | None = None) -> int:
    budget = _budget(session, campaign, fresh=True)
    amount = budget.balance
    if amount > 0:
        _move(
            session,
            campaign,
            budget,
            _funds(session, campaign),
            amount,
            type=TransactionType.DEBIT,
            memo=f"Campaign budget returned: {campaign.name}",
            actor=actor,
            order_id=order_id,
        )
    return amount


def return_unused(session: Session, *, campaign: Campaign, by: TeamMember | None = None, actor: str = "") -> Money:
    """Move the whole unallocated budget back to the partner's funds (any status); what was moved (maybe zero)."""
    actor = _actor(by, actor)
    with write_transaction(session):
        campaign = _lock(session, row_id(campaign))
        amount = _return_budget(session, campaign, actor=actor)
        _audit(
            session,
            campaign,
            by=by,
            actor=actor,
            action="campaign.return_unused",
            summary=f"Returned {_money(campaign, amount)} of {campaign.name}'s budget to partner funds",
            details={"amount": amount},
        )
    return _money(campaign, amount)


def activate_due(session: Session, *, now: datetime | None = None) -> list[int]:
    """The queue's sweep: scheduled campaigns whose start has come become active (ids returned)."""
    now = now or utcnow()
    with write_transaction(session):
        due = session.exec(
            select(Campaign).where(
                Campaign.status == CampaignStatus.SCHEDULED.value,
                Campaign.starts_at <= now,
                or_(col(Campaign.ends_at).is_(None), col(Campaign.ends_at) > now),
            )
        ).all()
        # Campaigns for a tag read who has it: their partners first, in id order (the lock order, see tags_changed).
        for partner_id in sorted({campaign.partner_id for campaign in due if campaign.eligible_tag}):
            partners.hold_partner(session, partner_id)
        activated = []
        for campaign in due:
            if _change_status(session, campaign, to=CampaignStatus.ACTIVE, allowed_from=[CampaignStatus.SCHEDULED], now=now):
                activated.append(row_id(campaign))
                _audit(
                    session,
                    campaign,
                    by=None,
                    actor="system",
                    action="campaign.activate",
                    summary=f"Campaign {campaign.name} started",
                )
                _allocate_to_eligible(session, campaign, actor="system", now=now)  # everyone with its tag joins
    return activated


def end_due(session: Session, *, now: datetime | None = None) -> list[int]:
    """The queue's sweep: campaigns whose end date has passed end (ids returned), each in its own transaction."""
    now = now or utcnow()
    due = session.exec(
        select(Campaign.id)
        .where(Campaign.status != CampaignStatus.ENDED.value, col(Campaign.ends_at).is_not(None), col(Campaign.ends_at) <= now)
        .order_by(col(Campaign.id))
    ).all()
    ended = []
    for campaign_id in cast(Sequence[int], due):  # ids of rows: never None
        with write_transaction(session):
            campaign = _lock(session, campaign_id)
            if _end(session, campaign, by=None, actor="system", now=now, reason="end date reached") is not None:
                ended.append(campaign_id)
    return ended


def sweep(session: Session, *, now: datetime | None = None) -> tuple[list[int], list[int]]:
    """The queue's campaign sweep (every minute): campaigns past their end end, those whose start has come
    start, recurring ones give their members the new period's allowance (`run_due_periods`), and members
    whose balance expires soon get their reminder (app/services/campaign_reminders.py). (activated ids, ended ids)."""
    now = now or utcnow()
    ended = end_due(session, now=now)
    activated = activate_due(session, now=now)
    run_due_periods(session, now=now)
    campaign_reminders.send_due_reminders(session, now=now)
    return activated, ended


def return_ended_campaign_refund(session: Session, *, account_id: int, order_id: int | None = None) -> Money:
    """For the refund code, in the refund's own write transaction, after it has put money back into
    `account_id`: when that is a campaign wallet whose campaign has ended (or whose member was removed),
    the wallet's balance goes on to the budget and, when the campaign returns its budget at its end, on to
    partner funds. Returns what left the wallet (zero otherwise: e.g. a general wallet, a live campaign).

    The campaign row is read, not locked (the refund holds the wallet's row already; `end` locks the campaign
    first and then the wallets): an end committing meanwhile is seen, and one still running waits for the
    wallet and then returns what the refund put in itself."""
    with write_transaction(session):
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound(f"Account {account_id} does not exist.")
        if account.kind != AccountKind.CAMPAIGN.value or account.campaign_id is None:
            return Money.zero(account.currency)
        campaign = referenced(session, Campaign, account.campaign_id, populate_existing=True)
        member = session.exec(
            select(CampaignMember)
            .where(CampaignMember.campaign_id == campaign.id, CampaignMember.consumer_id == account.consumer_id)
            .execution_options(populate_existing=True)
        ).first()
        ended = campaign.status == CampaignStatus.ENDED.value
        if not ended and member is not None and member.removed_at is None:
            return Money.zero(campaign.currency)
        moved = _return_to_budget(
            session,
            campaign,
            memo=f"{campaign.name}: refund returned to the campaign budget",
            actor="system",
            consumer_id=account.consumer_id,
            order_id=order_id,
        )
        if moved and ended and campaign.return_unused_on_end:
            _move(
                session,
                campaign,
                _budget(session, campaign),
                _funds(session, campaign),
                moved,
                type=TransactionType.DEBIT,
                memo=f"Campaign budget returned: {campaign.name}",
                actor="system",
                order_id=order_id,
            )
    return Money(moved, campaign.currency)


# --- recurring allowances, budget alerts, auto-pause (issue #17) ---------------------------------
#
# A recurring campaign (`recurrence_every` week | month) gives every member its per-consumer amount again at
# each period start: calendar periods in the partner's time zone (app/domain/campaign_periods.py). The sweep
# runs `run_period` for each active recurring campaign whose current period still has members to pay. In one
# write transaction holding the campaign's row: the period's `CampaignPeriod` row (unique per campaign and
# period), then what each due member has left either expires back to the budget or rolls over (above the cap:
# back to the budget), then each due member who is still eligible (segments: not marked ineligible; an active
# consumer) gets the amount. Each member records the period it was paid for (`CampaignMember.allocated_period`):
# a second run, later or concurrent (it waits for the row), finds nobody due and moves nothing. Members who
# join during a period are paid at joining and count as paid for it.
#
# Catching up after downtime: one allocation, for the current period, leftover handled once; the periods
# missed are counted on the row (`missed_periods`), never paid (an allowance is for its own period).
# When the budget can't pay everyone, those left are paid by a later run once the budget allows (the sweep
# tries again while the period lasts), unless the campaign pauses itself (`pause_when_exhausted`): then after
# it is resumed.
#
# Alerts: when the budget can't pay the next allocations (recurring: every eligible member's at the next
# period start; else the next member's) or is below the admin's threshold, the partner's admins get one email
# and the `campaign.budget_low` webhook fires, once per crossing (`budget_low_since`, cleared when the budget is
# enough again). Every change that moves the budget, its need or its threshold checks it, once, at its end.


def _check_alerts(threshold: Money | None, currency: str) -> None:
    if threshold is not None:
        _check_amount(threshold, currency, field="low_budget_threshold")
    periods.check_threshold(threshold)


def _recurrence_columns(recurrence: Recurrence | None) -> dict[str, Any]:
    if recurrence is None:
        return {"recurrence_every": None, "leftover": periods.Leftover.EXPIRE.value, "rollover_cap": None}
    return {
        "recurrence_every": recurrence.every.value,
        "leftover": recurrence.leftover.value,
        "rollover_cap": recurrence.rollover_cap,
    }


def _automation_details(campaign: Campaign) -> dict[str, Any]:
    """The recurrence and alert settings for the create audit row (only those set)."""
    details: dict[str, Any] = {}
    if campaign.recurrence_every:
        details |= {"recurrence_every": campaign.recurrence_every, "leftover": campaign.leftover}
        if campaign.rollover_cap is not None:
            details["rollover_cap"] = campaign.rollover_cap
    if campaign.low_budget_threshold is not None:
        details["low_budget_threshold"] = campaign.low_budget_threshold
    if campaign.pause_when_exhausted:
        details["pause_when_exhausted"] = True
    return details


def recurrence_of(campaign: Campaign) -> Recurrence | None:
    """The campaign's repeat (None: it allocates once, when a member joins)."""
    return Recurrence.of(campaign.recurrence_every, campaign.leftover, campaign.rollover_cap)


def partner_time_zone(session: Session, partner_id: int) -> str:
    return referenced(session, Partner, partner_id).time_zone or periods.DEFAULT_TIME_ZONE


def _joining_period(session: Session, campaign: Campaign) -> date | None:
    """A recurring campaign's period that a member joining now is paid for: the current one, or the first one
    of a campaign that hasn't started yet. None for a campaign that doesn't repeat."""
    if not campaign.recurrence_every:
        return None
    moment = max(utcnow(), campaign.starts_at)
    return periods.period_of(moment, campaign.recurrence_every, periods.zone(partner_time_zone(session, campaign.partner_id)))


def _mark_members_paid_for_current_period(session: Session, campaign: Campaign, *, now: datetime) -> None:
    """After the repeat changed: every member counts as paid for the current period of the new repeat."""
    current = None
    if campaign.recurrence_every:
        current = periods.period_of(
            max(now, campaign.starts_at),
            campaign.recurrence_every,
            periods.zone(partner_time_zone(session, campaign.partner_id)),
        )
    session.execute(
        update(CampaignMember)
        .where(col(CampaignMember.campaign_id) == campaign.id, col(CampaignMember.removed_at).is_(None))
        .values(allocated_period=current)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class PeriodRun:
    """What one run of `run_period` did (amounts in the campaign's currency)."""

    campaign_id: int
    period: date
    members_allocated: int
    allocated: Money
    expired: Money  # leftover back to the budget (expired, or above the rollover cap)
    rolled_over: Money  # leftover kept by the members paid (or passed over) in this run
    members_unpaid: int  # due, eligible, not paid: the budget ran out
    missed_periods: int
    paused: bool  # the campaign paused itself (pause_when_exhausted)


def _member_is_due(member: CampaignMember, campaign: Campaign, current: date, tz) -> bool:
    assert campaign.recurrence_every is not None
    paid_for = member.allocated_period or periods.period_of(
        max(member.joined_at, campaign.starts_at), campaign.recurrence_every, tz
    )
    return paid_for < current


def _gets_period_allocation(members: Sequence[CampaignMember], active_consumers: set[int]) -> set[int]:
    """The members (ids) who get a new period's allocation. HOOK for segments (issue #17): `is_eligible` is
    False for a member who lost the campaign's tag (app/domain/segments.py); a deactivated consumer gets
    nothing either. What they already have follows the leftover rule like everyone's."""
    return {row_id(m) for m in members if m.is_eligible and m.consumer_id in active_consumers}


def run_period(session: Session, *, campaign_id: int, now: datetime | None = None) -> PeriodRun | None:
    """Give a recurring campaign's due members the current period's allowance (see the section's comment).
    None when there is nothing to do: not active, not recurring, outside its window, still its first period."""
    now = now or utcnow()
    with write_transaction(session):
        campaign = _lock(session, campaign_id)
        recurrence = recurrence_of(campaign)
        if recurrence is None or not rules.is_spendable(campaign.status, campaign.starts_at, campaign.ends_at, now):
            return None
        tz = periods.zone(partner_time_zone(session, campaign.partner_id))
        current = periods.period_of(now, recurrence.every, tz)
        first = periods.period_of(campaign.starts_at, recurrence.every, tz)
        if current <= first:
            return None
        row = session.exec(
            select(CampaignPeriod)
            .where(CampaignPeriod.campaign_id == campaign.id, CampaignPeriod.period == current)
            .execution_options(populate_existing=True)
        ).first()
        new_period = row is None
        if row is None:
            last = session.exec(select(func.max(CampaignPeriod.period)).where(CampaignPeriod.campaign_id == campaign.id)).one()
            row = CampaignPeriod(
                campaign_id=row_id(campaign),
                period=current,
                starts_at=periods.period_starts_at(current, tz),
                missed_periods=max(periods.periods_between(last or first, current, recurrence.every) - 1, 0),
                first_run_at=now,
                last_run_at=now,
            )
            session.add(row)
            session.flush()
        members = session.exec(
            select(CampaignMember)
            .where(CampaignMember.campaign_id == campaign.id, col(CampaignMember.removed_at).is_(None))
            .order_by(col(CampaignMember.id))
            .execution_options(populate_existing=True)
        ).all()
        due = [m for m in members if _member_is_due(m, campaign, current, tz)]
        active = (
            set(
                session.exec(
                    select(Consumer.id).where(
                        col(Consumer.id).in_([m.consumer_id for m in due]), col(Consumer.is_active).is_(True)
                    )
                ).all()
            )
            if due
            else set()
        )
        eligible = _gets_period_allocation(due, cast(set[int], active))
        wallets = {w.consumer_id: w for w in _wallets(session, row_id(campaign))} if due else {}
        budget = _budget(session, campaign, fresh=True)
        label = current.isoformat()  # the period's first local day
        # The leftover first, everyone's: what expires helps pay the new allowances.
        expired, kept_by = 0, {}
        for member in due:
            wallet = wallets.get(member.consumer_id)
            if wallet is None:
                continue
            split = periods.split_leftover(wallet.balance, recurrence)
            kept_by[member.consumer_id] = split.kept
            if split.returned:
                expired += split.returned
                _move(
                    session,
                    campaign,
                    wallet,
                    budget,
                    split.returned,
                    type=TransactionType.DEBIT,
                    memo=f"{campaign.name}: unused allowance "
                    + ("expired" if recurrence.leftover is periods.Leftover.EXPIRE else "above the rollover cap returned"),
                    actor="system",
                    consumer_id=member.consumer_id,
                )
        remaining = _budget(session, campaign, fresh=True).balance
        amount = campaign.per_consumer_amount
        paid = unpaid = kept = 0
        for member in due:
            if row_id(member) in eligible:
                if remaining < amount:
                    unpaid += 1
                    continue
                try:
                    with session.begin_nested():  # one member's allowance: all of it, or none of it
                        _move(
                            session,
                            campaign,
                            budget,
                            wallets[member.consumer_id],
                            amount,
                            type=TransactionType.CREDIT,
                            memo=f"{campaign.name} allowance from {label}",
                            actor="system",
                            consumer_id=member.consumer_id,
                        )
                except InsufficientFunds:  # the budget moved under us after all: the guarded update is the judge
                    remaining = 0
                    unpaid += 1
                    continue
                remaining -= amount
                paid += 1
            kept += kept_by.get(member.consumer_id, 0)
            member.allocated_period = current
            session.add(member)
        row.members_allocated += paid
        row.allocated += paid * amount
        row.expired += expired
        row.rolled_over += kept
        row.members_unpaid = unpaid
        row.last_run_at = now
        session.add(row)
        if new_period or paid or expired:
            _audit(
                session,
                campaign,
                by=None,
                actor="system",
                action="campaign.period",
                summary=f"{campaign.name}: allowance for the {recurrence.every.value} from {label}: {paid} members got "
                f"{_money(campaign, paid * amount)}"
                + (f", {_money(campaign, expired)} of leftover back to the budget" if expired else "")
                + (f"; {unpaid} not paid: the budget is too low" if unpaid else "")
                + (f" ({row.missed_periods} missed periods not paid)" if new_period and row.missed_periods else ""),
                details={
                    "period": current.isoformat(),
                    "members_allocated": paid,
                    "allocated": paid * amount,
                    "expired": expired,
                    "rolled_over": kept,
                    "members_unpaid": unpaid,
                    "missed_periods": row.missed_periods,
                },
            )
        _tell_if_budget_low(session, campaign)
        paused = _pause_if_exhausted(session, campaign, actor="system") if unpaid else False
    return PeriodRun(
        row_id(campaign),
        current,
        paid,
        _money(campaign, paid * amount),
        _money(campaign, expired),
        _money(campaign, kept),
        unpaid,
        row.missed_periods,
        paused,
    )


def run_due_periods(session: Session, *, now: datetime | None = None) -> list[PeriodRun]:
    """The sweep's part: `run_period` for every active recurring campaign whose current period hasn't run yet,
    or ran without paying everyone and now has the budget for at least one more allowance. Each in its own
    transaction; a campaign's failure doesn't stop the others' (it is tried again at the next sweep)."""
    now = now or utcnow()
    candidates = session.exec(
        select(Campaign).where(
            Campaign.status == CampaignStatus.ACTIVE.value,
            col(Campaign.recurrence_every).is_not(None),
            Campaign.starts_at <= now,
            or_(col(Campaign.ends_at).is_(None), col(Campaign.ends_at) > now),
        )
    ).all()
    if not candidates:
        return []
    zones = {
        partner_id: periods.zone(name)
        for partner_id, name in session.exec(
            select(Partner.id, Partner.time_zone).where(col(Partner.id).in_(sorted({c.partner_id for c in candidates})))
        ).all()
    }
    runs = session.exec(
        select(col(CampaignPeriod.campaign_id), col(CampaignPeriod.period), col(CampaignPeriod.members_unpaid)).where(
            col(CampaignPeriod.campaign_id).in_([c.id for c in candidates])
        )
    ).all()
    unpaid_by_period = {(campaign_id, period): unpaid for campaign_id, period, unpaid in runs}
    budgets = dict(
        session.exec(
            select(Account.id, Account.balance).where(col(Account.id).in_([c.budget_account_id for c in candidates]))
        ).all()
    )
    done = []
    for campaign in sorted(candidates, key=lambda c: row_id(c)):
        every, tz = cast(str, campaign.recurrence_every), zones[campaign.partner_id]
        current = periods.period_of(now, every, tz)
        if current <= periods.period_of(campaign.starts_at, every, tz):
            continue
        unpaid = unpaid_by_period.get((row_id(campaign), current))
        if unpaid == 0 or (unpaid and int(budgets.get(campaign.budget_account_id) or 0) < campaign.per_consumer_amount):
            continue
        try:
            run = run_period(session, campaign_id=row_id(campaign), now=now)
        except Exception:  # logged by the caller's task; the others still get their allowance
            log.exception("campaign %s: the period run failed", campaign.id)
            continue
        if run is not None:
            done.append(run)
    return done


def _pause_if_exhausted(session: Session, campaign: Campaign, *, actor: str) -> bool:
    """Inside the change that couldn't pay a member's allocation: pause the campaign if it says so (audited, by
    the system; `actor` set it off). Whether it paused."""
    fresh = referenced(session, Campaign, row_id(campaign))
    if not fresh.pause_when_exhausted or fresh.status != CampaignStatus.ACTIVE.value:
        return False
    paused = _change_status(session, fresh, to=CampaignStatus.PAUSED, allowed_from=[CampaignStatus.ACTIVE], now=utcnow())
    if paused is None:
        return False
    remaining = _budget(session, paused, fresh=True).balance
    _audit(
        session,
        paused,
        by=None,
        actor="system",
        action="campaign.auto_pause",
        summary=f"Paused campaign {paused.name} by itself: its budget ({_money(paused, remaining)}) can't pay a member's "
        f"allocation of {_money(paused, paused.per_consumer_amount)}",
        details={"remaining": remaining, "per_consumer_amount": paused.per_consumer_amount, "set_off_by": actor},
    )
    return True


@dataclass(frozen=True)
class BudgetNeed:
    """What a campaign's budget must hold, and whether it does (app/domain/campaign_periods.py)."""

    remaining: Money
    need: Money  # for the next allocation(s)
    threshold: Money | None
    members: int  # who the next period pays (recurring)
    reason: periods.LowBudget | None  # None: enough


def budget_need(session: Session, campaign: Campaign, *, remaining: int | None = None) -> BudgetNeed:
    if remaining is None:
        remaining = _budget(session, campaign, fresh=True).balance
    recurring = bool(campaign.recurrence_every)
    members = (
        session.exec(
            select(func.count(col(CampaignMember.id))).where(
                CampaignMember.campaign_id == campaign.id, *eligible_member_conditions()
            )
        ).one()
        if recurring
        else 0
    )
    need = periods.next_allocations_need(_money(campaign, campaign.per_consumer_amount), members=members, recurring=recurring)
    threshold = _money(campaign, campaign.low_budget_threshold) if campaign.low_budget_threshold is not None else None
    reason = periods.budget_low_reason(_money(campaign, remaining), need, threshold)
    return BudgetNeed(_money(campaign, remaining), need, threshold, members, reason)


def _budget_alert(session: Session, campaign: Campaign, *, remaining: int | None = None) -> bool:
    """See `_tell_if_budget_low`. Whether the alert went out now."""
    if campaign.status == CampaignStatus.ENDED.value:
        return False
    state = budget_need(session, campaign, remaining=remaining)
    if state.reason is None:
        if campaign.budget_low_since is not None:  # enough again: the next crossing alerts again
            campaign.budget_low_since = None
            session.add(campaign)
        return False
    if campaign.budget_low_since is not None:  # this crossing was told already
        return False
    campaign.budget_low_since = utcnow()
    session.add(campaign)
    session.flush()
    webhooks.queue_campaign_event(session, summary=campaign_summary(session, campaign), event_type="campaign.budget_low")
    partner = referenced(session, Partner, campaign.partner_id)
    admins = session.exec(
        select(TeamMember)
        .where(TeamMember.partner_id == campaign.partner_id, TeamMember.role == "admin", col(TeamMember.is_active).is_(True))
        .order_by(col(TeamMember.id))
    ).all()
    url = external_url("portal.campaigns_show", campaign_id=campaign.id)
    for admin in admins:
        email = build_campaign_budget_low_email(
            partner=partner,
            to=admin.email,
            admin_name=admin.full_name,
            campaign_name=campaign.name,
            remaining=state.remaining,
            need=state.need,
            threshold=state.threshold,
            reason=state.reason.value,
            members=state.members,
            recurring=bool(campaign.recurrence_every),
            will_pause=campaign.pause_when_exhausted,
            campaign_url=url,
        )
        queue_email(session, email, partner_id=campaign.partner_id)
    return True


@dataclass(frozen=True)
class RecurrenceInfo:
    """A recurring campaign as its page shows it: the repeat, the partner's time zone, when the next allowance
    comes, and the latest periods' runs (newest first)."""

    recurrence: Recurrence
    time_zone: str
    next_allocation_at: datetime  # UTC
    recent: list[CampaignPeriod]


def recurrence_info(
    session: Session, campaign: Campaign, *, now: datetime | None = None, recent: int = 6
) -> RecurrenceInfo | None:
    recurrence = recurrence_of(campaign)
    if recurrence is None:
        return None
    now = now or utcnow()
    name = partner_time_zone(session, campaign.partner_id)
    tz = periods.zone(name)
    upcoming = periods.next_period(periods.period_of(max(now, campaign.starts_at), recurrence.every, tz), recurrence.every)
    rows = session.exec(
        select(CampaignPeriod)
        .where(CampaignPeriod.campaign_id == campaign.id)
        .order_by(col(CampaignPeriod.period).desc())
        .limit(recent)
    ).all()
    return RecurrenceInfo(recurrence, name, periods.period_starts_at(upcoming, tz), list(rows))


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignSummary:
    """A campaign's money, from the ledger (gross amounts since it began, in its currency):

    - budget: everything moved from partner funds into the budget (funding and increases);
    - returned: everything moved from the budget back to partner funds (decreases, return unused);
    - remaining: the budget account's balance now: funded, not returned, not allocated;
    - allocated: given to members, net of what came back from them (removal, end, refunds after the end)
      = budget - returned - remaining;
    - unused: what members have left in their campaign wallets now (sum of their balances);
    - spent: what members paid for gift cards, net of refunds (pending orders included) = allocated - unused;
    - members: current members (not removed).

    So budget = returned + remaining + unused + spent, always.
    """

    campaign: Campaign
    budget: Money
    returned: Money
    remaining: Money
    allocated: Money
    unused: Money
    spent: Money
    members: int

    @property
    def status(self) -> CampaignStatus:
        return CampaignStatus(self.campaign.status)


def summaries(session: Session, campaigns: Sequence[Campaign]) -> list[CampaignSummary]:
    """Each campaign's summary, with a few grouped queries for all of them."""
    campaigns = list(campaigns)
    if not campaigns:
        return []
    budget_ids = [c.budget_account_id for c in campaigns]
    balances = dict(session.exec(select(Account.id, Account.balance).where(col(Account.id).in_(budget_ids))).all())
    unused = dict(
        session.exec(
            select(Account.campaign_id, func.sum(Account.balance))
            .where(col(Account.campaign_id).in_([c.id for c in campaigns]), Account.kind == AccountKind.CAMPAIGN.value)
            .group_by(col(Account.campaign_id))
        ).all()
    )
    members = dict(
        session.exec(
            select(CampaignMember.campaign_id, func.count(col(CampaignMember.id)))
            .where(col(CampaignMember.campaign_id).in_([c.id for c in campaigns]), col(CampaignMember.removed_at).is_(None))
            .group_by(col(CampaignMember.campaign_id))
        ).all()
    )
    # Budget entries whose transaction has no consumer: the moves between the budget and partner funds.
    flows: dict[int | None, tuple[int, int]] = {
        account_id: (int(funded or 0), int(returned or 0))
        for account_id, funded, returned in session.exec(
            select(
                Entry.account_id,
                func.sum(case((col(Entry.amount) > 0, Entry.amount), else_=0)),
                func.sum(case((col(Entry.amount) < 0, -Entry.amount), else_=0)),
            )
            .join(Transaction, col(Transaction.id) == Entry.transaction_id)
            .where(col(Entry.account_id).in_(budget_ids), col(Transaction.consumer_id).is_(None))
            .group_by(col(Entry.account_id))
        ).all()
    }
    result = []
    for c in campaigns:
        funded, returned = flows.get(c.budget_account_id, (0, 0))
        remaining = int(balances.get(c.budget_account_id) or 0)
        allocated = funded - returned - remaining
        left = int(unused.get(c.id) or 0)
        money = lambda amount, currency=c.currency: Money(amount, currency)  # noqa: E731
        result.append(
            CampaignSummary(
                c,
                money(funded),
                money(returned),
                money(remaining),
                money(allocated),
                money(left),
                money(allocated - left),
                int(members.get(row_id(c)) or 0),
            )
        )
    return result


def campaign_summary(session: Session, campaign: Campaign) -> CampaignSummary:
    return summaries(session, [campaign])[0]


def _partner_campaigns(partner: Partner, status: str) -> list:
    where = [col(Campaign.partner_id) == partner.id]
    if status:
        where.append(col(Campaign.status) == CampaignStatus(status).value)
    return where


def list_campaigns(session: Session, *, partner: Partner, status: str = "") -> list[CampaignSummary]:
    """The partner's campaigns, newest first, with their summaries; `status` narrows them."""
    statement = select(Campaign).where(*_partner_campaigns(partner, status))
    return summaries(session, session.exec(statement.order_by(col(Campaign.id).desc())).all())


def campaigns_page(
    session: Session, *, partner: Partner, status: str = "", page: int = 1, size: int = 50
) -> Page[CampaignSummary]:
    """One page of `list_campaigns` (the partner API's list)."""
    where = _partner_campaigns(partner, status)
    total = session.exec(select(func.count()).select_from(Campaign).where(*where)).one()
    found = session.exec(
        select(Campaign).where(*where).order_by(col(Campaign.id).desc()).offset((page - 1) * size).limit(size)
    ).all()
    return Page(summaries(session, found), total, page, size)


@dataclass(frozen=True)
class MemberRow:
    member: CampaignMember
    email: str
    full_name: str
    balance: Money


def members_page(
    session: Session, *, campaign: Campaign, search: str = "", page: int = 1, size: int = 50, include_removed: bool = False
) -> Page[MemberRow]:
    """A page of the campaign's members (email or name containing `search`), newest first, with their balances."""
    where = [col(CampaignMember.campaign_id) == campaign.id]
    if not include_removed:
        where.append(col(CampaignMember.removed_at).is_(None))
    search = (search or "").strip()[:254]
    if search:
        where.append(
            or_(
                func.lower(Consumer.email).contains(search.lower(), autoescape=True),
                func.lower(Consumer.full_name).contains(search.lower(), autoescape=True),
            )
        )
    joined = (
        select(CampaignMember, Consumer.email, Consumer.full_name, Account.balance)
        .join(Consumer, col(Consumer.id) == CampaignMember.consumer_id)
        .join(Account, col(Account.id) == CampaignMember.account_id)
    )
    total = session.exec(
        select(func.count(col(CampaignMember.id))).join(Consumer, col(Consumer.id) == CampaignMember.consumer_id).where(*where)
    ).one()
    page = max(1, page)
    rows = session.exec(joined.where(*where).order_by(col(CampaignMember.id).desc()).offset((page - 1) * size).limit(size)).all()
    return Page(
        [MemberRow(m, email, name, Money(balance, campaign.currency)) for m, email, name, balance in rows], total, page, size
    )


@dataclass(frozen=True)
class BudgetLine:
    transaction: Transaction
    amount: Money  # + into the budget, - out of it


def budget_history(
    session: Session, *, campaign: Campaign, include_allocations: bool = False, page: int = 1, size: int = 50
) -> Page[BudgetLine]:
    """The budget's movements, newest first: funding, increases, decreases and returns to partner funds
    (and, with `include_allocations`, the members' allocations and what came back from them)."""
    where = [col(Entry.account_id) == campaign.budget_account_id]
    if not include_allocations:
        where.append(col(Transaction.consumer_id).is_(None))
    total = session.exec(
        select(func.count(col(Entry.id))).join(Transaction, col(Transaction.id) == Entry.transaction_id).where(*where)
    ).one()
    page = max(1, page)
    rows = session.exec(
        select(Transaction, Entry.amount)
        .join(Entry, col(Entry.transaction_id) == Transaction.id)
        .where(*where)
        .order_by(col(Transaction.id).desc())
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    return Page([BudgetLine(t, Money(amount, campaign.currency)) for t, amount in rows], total, page, size)


@dataclass(frozen=True)
class CampaignBalance:
    """One of a consumer's campaign balances, as the store and the API show it."""

    campaign_id: int
    account_id: int
    name: str
    balance: Money
    can_buy: str  # "Health & Beauty brands", "All brands"
    brand_slugs: tuple[str, ...]
    categories: tuple[str, ...]
    status: CampaignStatus
    starts_at: datetime
    spendable_until: datetime | None
    spendable_now: bool

    @property
    def label(self) -> str:
        """As the store names it: "Wellness balance"."""
        return f"{self.name} balance"

    def allows(self, brand) -> bool:
        """Whether this balance pays for `brand` (anything with a slug and a category), by its campaign's lists."""
        return rules.allows_brand(self.brand_slugs, self.categories, brand.slug, brand.category)


# The names of the brands a campaign lists, read with it (one query for the store's wallet): "slug<US>name" pairs
# joined by <RS>. Matched with LIKE on ",<list>,": a slug's "_" may match more brands than listed, which is
# harmless (names are looked up by the listed slugs).
_NAME_SEP, _PAIR_SEP = "\x1f", "\x1e"
_LISTED_BRAND_NAMES = (
    select(func.aggregate_strings(col(Brand.slug) + _NAME_SEP + col(Brand.name), _PAIR_SEP))
    .where(Campaign.brand_slugs != "", ("," + col(Campaign.brand_slugs) + ",").contains("," + col(Brand.slug) + ","))
    .correlate(Campaign)
    .scalar_subquery()
)
# Built once, columns not entities (the store's header runs it on every page for a consumer with campaign money).
_CONSUMER_CAMPAIGN_BALANCES: Select[*tuple[Any, ...]] = (
    sa_select(
        col(Campaign.id),
        col(Campaign.name),
        col(Campaign.currency),
        col(Campaign.brand_slugs),
        col(Campaign.categories),
        col(Campaign.status),
        col(Campaign.starts_at),
        col(Campaign.ends_at),
        col(Campaign.priority),
        col(Account.id).label("account_id"),
        col(Account.balance),
        _LISTED_BRAND_NAMES.label("listed"),
    )
    .join(CampaignMember, col(CampaignMember.campaign_id) == Campaign.id)
    .join(Account, col(Account.id) == CampaignMember.account_id)
    .where(
        col(CampaignMember.consumer_id) == bindparam("consumer_id"),
        col(CampaignMember.removed_at).is_(None),
        col(Campaign.status) != CampaignStatus.ENDED.value,
    )
)


def consumer_campaign_balances(
    session: Session, *, consumer: Consumer, currency: str | None = None, now: datetime | None = None
) -> list[CampaignBalance]:
    """The consumer's balances in campaigns that haven't ended and that they are still in, in spending order
    (priority, then ending soonest)."""
    now = now or utcnow()
    rows: Sequence[Any] = session.execute(_CONSUMER_CAMPAIGN_BALANCES, {"consumer_id": consumer.id}).all()
    if currency:
        rows = [row for row in rows if row.currency == currency]
    rows = sorted(rows, key=lambda row: (-row.priority, row.ends_at is None, row.ends_at or 0, row.id))
    result = []
    for row in rows:
        names = dict(pair.split(_NAME_SEP, 1) for pair in (row.listed or "").split(_PAIR_SEP) if _NAME_SEP in pair)
        slugs, categories = [s for s in row.brand_slugs.split(",") if s], [c for c in row.categories.split(",") if c]
        result.append(
            CampaignBalance(
                campaign_id=row.id,
                account_id=row.account_id,
                name=row.name,
                balance=Money(row.balance, row.currency),
                can_buy=rules.scope_label([names.get(s, s) for s in slugs], categories),
                brand_slugs=tuple(slugs),
                categories=tuple(categories),
                status=CampaignStatus(row.status),
                starts_at=row.starts_at,
                spendable_until=row.ends_at,
                spendable_now=rules.is_spendable(row.status, row.starts_at, row.ends_at, now),
            )
        )
    return result


def _rules(campaign: Campaign) -> CampaignRules:
    return CampaignRules(
        campaign_id=row_id(campaign),
        name=campaign.name,
        status=campaign.status,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        priority=campaign.priority,
        brand_slugs=tuple(campaign.brand_slug_list),
        categories=tuple(campaign.category_list),
    )


def checkout_balances(session: Session, *, consumer_id: int, currency: str, lock: bool = False) -> list[Balance]:
    """The consumer's balances in `currency` that a checkout may draw on (general, bonus, and each campaign
    wallet with its campaign's rules), for `app.domain.campaigns.spending_order` / `split_price`; each
    Balance's key is its account id.

    With `lock` (inside the checkout's write transaction): the campaigns' rows FOR SHARE first, then the
    wallets FOR UPDATE, both in id order, the lock order every campaign change keeps. A pause or an end
    then waits for this checkout, and this checkout waits for a pause or end in flight and sees it."""
    kinds = (AccountKind.CAMPAIGN.value, AccountKind.GENERAL.value, AccountKind.BONUS.value)
    accounts = select(Account).where(
        Account.consumer_id == consumer_id, Account.currency == currency, col(Account.kind).in_(kinds)
    )
    campaign_ids = sorted({a.campaign_id for a in session.exec(accounts).all() if a.campaign_id is not None})
    campaigns = {}
    if campaign_ids:
        statement = select(Campaign).where(col(Campaign.id).in_(campaign_ids)).order_by(col(Campaign.id))
        if lock:
            statement = statement.with_for_update(read=True)
        campaigns = {c.id: c for c in session.exec(statement.execution_options(populate_existing=True)).all()}
        removed = set(
            session.exec(
                select(CampaignMember.campaign_id).where(
                    CampaignMember.consumer_id == consumer_id,
                    col(CampaignMember.campaign_id).in_(campaign_ids),
                    col(CampaignMember.removed_at).is_not(None),
                )
            ).all()
        )
        campaigns = {cid: c for cid, c in campaigns.items() if cid not in removed}
    if lock:
        accounts = accounts.order_by(col(Account.id)).with_for_update()
    result = []
    for account in session.exec(accounts.execution_options(populate_existing=True)).all():
        if account.kind == AccountKind.CAMPAIGN.value:
            campaign = campaigns.get(account.campaign_id)
            if campaign is None:  # a removed member's wallet: never spent
                continue
            result.append(Balance(account.id, account.kind, Money(account.balance, currency), _rules(campaign)))
        else:
            result.append(Balance(account.id, account.kind, Money(account.balance, currency)))
    return result


def consumer_ids_by_email(session: Session, *, partner: Partner, emails: Sequence[str]) -> dict[str, int]:
    """The partner's consumers among `emails` (compared in lower case, as addresses are stored): email -> id.
    For the portal's "add members by email"; an address that isn't one of the partner's consumers is left out."""
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e and e.strip()))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):  # keep each IN (...) list a reasonable size
        chunk = wanted[start : start + 500]
        found.update(
            cast(
                Sequence[tuple[str, int]],  # ids of rows: never None
                session.exec(
                    select(Consumer.email, Consumer.id).where(Consumer.partner_id == partner.id, col(Consumer.email).in_(chunk))
                ).all(),
            )
        )
    return found
