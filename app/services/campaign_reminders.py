"""Expiry reminders (issue #17): a consumer who still holds a campaign balance gets one email a few days before
it expires (its campaign's end), linking to the store filtered to what that balance can buy
(`/s/<slug>/?campaign=<id>`, app/services/catalog_search.py).

How many days before is the partner's setting (`Partner.reminder_days`, default 3; 0: no reminders). Once per
member: the email is queued in the same transaction that claims the member's `expiry_reminded_at` (a
conditional UPDATE), so two sweeps running at once send it once. Only a balance that can be spent now gets one:
an active campaign inside its window, a member not removed, an active consumer, more than zero left. The
campaign sweep (app/services/campaigns.py, `sweep`) runs it every minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain import campaign_periods as periods
from app.domain import campaigns as rules
from app.domain.campaigns import CampaignStatus
from app.domain.money import Money
from app.emails import build_campaign_expiry_reminder_email
from app.links import external_url
from app.models import Account, Brand, Campaign, CampaignMember, Consumer, Partner
from app.services.emails import queue_email
from app.services.rows import referenced

_CANDIDATES = (
    sa_select(col(CampaignMember.id), col(Campaign.ends_at), col(Partner.reminder_days))
    .join(Campaign, col(Campaign.id) == CampaignMember.campaign_id)
    .join(Account, col(Account.id) == CampaignMember.account_id)
    .join(Consumer, col(Consumer.id) == CampaignMember.consumer_id)
    .join(Partner, col(Partner.id) == Campaign.partner_id)
    .where(
        col(Campaign.status) == CampaignStatus.ACTIVE.value,
        col(CampaignMember.removed_at).is_(None),
        col(CampaignMember.expiry_reminded_at).is_(None),
        col(Account.balance) > 0,
        col(Consumer.is_active).is_(True),
        col(Partner.reminder_days) > 0,
    )
)


def send_due_reminders(session: Session, *, now: datetime | None = None) -> list[int]:
    """Queue the reminders that are due now; the ids of the members reminded."""
    now = now or utcnow()
    rows: Sequence[Any] = session.execute(
        _CANDIDATES.where(
            col(Campaign.starts_at) <= now,
            col(Campaign.ends_at).is_not(None),
            col(Campaign.ends_at) > now,
            col(Campaign.ends_at) <= now + timedelta(days=periods.REMINDER_DAYS_MAX),
        ).order_by(col(CampaignMember.id))
    ).all()
    reminded = []
    for row in rows:
        if periods.reminder_due(row.ends_at, now, row.reminder_days) and _remind(session, member_id=row.id, now=now):
            reminded.append(row.id)
    return reminded


def _remind(session: Session, *, member_id: int, now: datetime) -> bool:
    """Claim the member's one reminder and queue its email, in one transaction; False when it was claimed already
    or there is nothing left to remind them of."""
    with write_transaction(session):
        member = referenced(session, CampaignMember, member_id, populate_existing=True)
        campaign = referenced(session, Campaign, member.campaign_id, populate_existing=True)
        wallet = referenced(session, Account, member.account_id, populate_existing=True)
        if wallet.balance <= 0 or campaign.ends_at is None:
            return False
        if not rules.is_spendable(campaign.status, campaign.starts_at, campaign.ends_at, now):
            return False
        claimed = cast(
            CursorResult,
            session.execute(
                update(CampaignMember)
                .where(col(CampaignMember.id) == member_id, col(CampaignMember.expiry_reminded_at).is_(None))
                .values(expiry_reminded_at=now)
                .execution_options(synchronize_session=False)
            ),
        ).rowcount
        if not claimed:
            return False
        partner = referenced(session, Partner, campaign.partner_id)
        consumer = referenced(session, Consumer, member.consumer_id)
        names = dict(
            session.exec(select(Brand.slug, Brand.name).where(col(Brand.slug).in_(campaign.brand_slug_list))).all()
            if campaign.brand_slug_list
            else []
        )
        time_zone = partner.time_zone or periods.DEFAULT_TIME_ZONE
        email = build_campaign_expiry_reminder_email(
            partner=partner,
            consumer=consumer,
            campaign_name=campaign.name,
            balance=Money(wallet.balance, campaign.currency),
            can_buy=rules.scope_label([names.get(s, s) for s in campaign.brand_slug_list], campaign.category_list),
            expires_at=campaign.ends_at.astimezone(periods.zone(time_zone)),
            time_zone=time_zone,
            store_url=external_url("store.home", slug=partner.slug, campaign=campaign.id),
        )
        queue_email(session, email, partner_id=partner.id, consumer_id=consumer.id)
    return True
