"""Segments (issue #17): consumer tags, campaigns for everyone with a tag (joining when they get it, once),
losing the tag (keeps what was given, no later allocations), the "created after" filter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import func, select

from app.clock import utcnow
from app.db import write_transaction
from app.domain.campaigns import CampaignStatus
from app.domain.errors import InvalidInput
from app.domain.ledger import AccountKind, TransactionType
from app.domain.money import Money
from app.models import Account, AuditEvent, Campaign, CampaignMember, Consumer, ConsumerTag, Transaction
from app.services import campaigns, segments
from tests.conftest import reload


def new_campaign(session, partner, *, budget="100", per_consumer="20", **settings):
    return campaigns.create_campaign(
        session,
        partner=partner,
        name=settings.pop("name", "Wellness"),
        currency="USD",
        budget=Money.parse(budget, "USD"),
        per_consumer_amount=Money.parse(per_consumer, "USD"),
        idempotency_key=f"create-{utcnow().timestamp()}",
        **settings,
    ).campaign


def allocations(session, campaign_id: int, consumer_id: int) -> int:
    """How many allocation credits the consumer's campaign wallet got."""
    session.rollback()
    return session.exec(
        select(func.count())
        .select_from(Transaction)
        .where(
            Transaction.campaign_id == campaign_id,
            Transaction.consumer_id == consumer_id,
            Transaction.type == TransactionType.CREDIT.value,
        )
    ).one()


def campaign_balance(session, campaign_id: int, consumer_id: int) -> int:
    session.rollback()
    return (
        session.exec(
            select(Account.balance).where(
                Account.campaign_id == campaign_id,
                Account.consumer_id == consumer_id,
                Account.kind == AccountKind.CAMPAIGN.value,
            )
        ).first()
        or 0
    )


def member(session, campaign_id: int, consumer_id: int) -> CampaignMember | None:
    session.rollback()
    return session.exec(
        select(CampaignMember).where(CampaignMember.campaign_id == campaign_id, CampaignMember.consumer_id == consumer_id)
    ).first()


@pytest.fixture
def partner(make_partner):
    return make_partner(funds="1000")


# --- the tags themselves ------------------------------------------------------------------------


def test_tags_are_cleaned_kept_once_and_refused_with_a_clear_reason(session, partner, make_consumer):
    consumer = make_consumer(partner)
    changed = segments.set_tags(session, consumer=consumer, tags=[" VIP", "new-york", "vip", "Team_2026"])
    assert changed.tags == ["new-york", "team_2026", "vip"]
    assert segments.tags_of(session, consumer) == ["new-york", "team_2026", "vip"]

    for bad, words in (("two words", "'two words' is not one"), ("x" * 41, "1-40"), ("café!", "is not one"), ("", "empty")):
        with pytest.raises(InvalidInput) as refused:
            segments.set_tags(session, consumer=consumer, tags=[bad])
        assert words in refused.value.message
    with pytest.raises(InvalidInput) as refused:
        segments.set_tags(session, consumer=consumer, tags=[f"t{n}" for n in range(21)])
    assert "at most 20 tags" in refused.value.message
    assert segments.tags_of(session, consumer) == ["new-york", "team_2026", "vip"]  # refusals changed nothing

    segments.remove_tag(session, consumer=consumer, tag="NEW-YORK")
    segments.add_tags(session, consumer=consumer, tags=["ny"])
    assert segments.tags_of(session, consumer) == ["ny", "team_2026", "vip"]
    session.rollback()
    actions = session.exec(
        select(AuditEvent.summary).where(AuditEvent.action == "consumer.tags", AuditEvent.subject_id == str(consumer.id))
    ).all()
    assert len(actions) == 3 and any("untagged new-york" in summary for summary in actions)


def test_a_consumer_of_another_partner_never_matches(session, make_partner, make_consumer, partner):
    other = make_partner()
    outsider = make_consumer(other)
    campaign = new_campaign(session, partner, eligible_tag="vip")
    segments.set_tags(session, consumer=outsider, tags=["vip"])
    assert member(session, campaign.id, outsider.id) is None


# --- campaigns for everyone with a tag ----------------------------------------------------------


def test_getting_the_tag_joins_an_active_campaign_once_with_its_allocation(session, partner, make_consumer):
    consumer = make_consumer(partner)
    campaign = new_campaign(session, partner, eligible_tag="VIP")  # kept in lower case
    assert reload(session, Campaign, campaign.id).eligible_tag == "vip"
    assert member(session, campaign.id, consumer.id) is None

    changed = segments.add_tags(session, consumer=consumer, tags=["vip"])
    assert changed.joined == [campaign.id]
    assert campaign_balance(session, campaign.id, consumer.id) == 20_00
    assert allocations(session, campaign.id, consumer.id) == 1

    # Tagged again (already has it), twice more, and after losing and regaining it: still one allocation.
    segments.add_tags(session, consumer=consumer, tags=["vip"])
    segments.set_tags(session, consumer=consumer, tags=["vip", "other"])
    segments.remove_tag(session, consumer=consumer, tag="vip")
    segments.add_tags(session, consumer=consumer, tags=["vip"])
    assert allocations(session, campaign.id, consumer.id) == 1
    assert campaign_balance(session, campaign.id, consumer.id) == 20_00
    assert member(session, campaign.id, consumer.id).is_eligible


def test_losing_the_tag_keeps_the_balance_and_marks_the_member(session, partner, make_consumer):
    consumer = make_consumer(partner)
    segments.set_tags(session, consumer=consumer, tags=["vip"])
    campaign = new_campaign(session, partner, eligible_tag="vip")  # created with the tag: everyone with it joins
    assert campaign_balance(session, campaign.id, consumer.id) == 20_00

    segments.set_tags(session, consumer=consumer, tags=[])
    kept = member(session, campaign.id, consumer.id)
    assert kept.removed_at is None and kept.ineligible_at is not None and not kept.is_eligible
    assert campaign_balance(session, campaign.id, consumer.id) == 20_00  # what was given stays
    session.rollback()
    eligible = session.exec(
        select(func.count())
        .select_from(CampaignMember)
        .where(CampaignMember.campaign_id == campaign.id, *campaigns.eligible_member_conditions())
    ).one()
    assert eligible == 0

    segments.add_tags(session, consumer=consumer, tags=["vip"])  # back: eligible again, nothing more allocated
    assert member(session, campaign.id, consumer.id).is_eligible
    assert allocations(session, campaign.id, consumer.id) == 1


def test_created_after_only_takes_consumers_created_after_the_date(session, partner, make_consumer):
    old, new = make_consumer(partner), make_consumer(partner)
    with write_transaction(session):
        session.get(Consumer, old.id).created_at = utcnow() - timedelta(days=30)
    with pytest.raises(InvalidInput) as refused:
        new_campaign(session, partner, eligible_created_after=utcnow() - timedelta(days=7))  # a date without a tag
    assert "choose the tag" in refused.value.message
    campaign = new_campaign(session, partner, eligible_tag="hires", eligible_created_after=utcnow() - timedelta(days=7))
    for consumer in (old, new):
        segments.add_tags(session, consumer=consumer, tags=["hires"])
    assert member(session, campaign.id, old.id) is None
    assert campaign_balance(session, campaign.id, new.id) == 20_00


def test_a_scheduled_campaign_allocates_to_everyone_with_the_tag_when_it_starts(session, partner, make_consumer):
    tagged, untagged = make_consumer(partner), make_consumer(partner)
    campaign = new_campaign(session, partner, eligible_tag="vip", starts_at=utcnow() + timedelta(hours=1))
    segments.add_tags(session, consumer=tagged, tags=["vip"])
    assert member(session, campaign.id, tagged.id) is None  # not started: nobody joins yet

    assert campaigns.activate_due(session, now=utcnow() + timedelta(hours=2)) == [campaign.id]
    assert campaign_balance(session, campaign.id, tagged.id) == 20_00
    assert member(session, campaign.id, untagged.id) is None
    assert campaigns.activate_due(session, now=utcnow() + timedelta(hours=3)) == []
    assert allocations(session, campaign.id, tagged.id) == 1


def test_paused_campaigns_and_an_empty_budget_wait_then_allocate(session, partner, make_consumer):
    first, second, third = (make_consumer(partner) for _ in range(3))
    campaign = new_campaign(session, partner, budget="40", eligible_tag="vip")
    segments.add_tags(session, consumer=first, tags=["vip"])
    segments.add_tags(session, consumer=second, tags=["vip"])
    segments.add_tags(session, consumer=third, tags=["vip"])  # the budget (2 x $20) is spent: nothing for them yet
    assert member(session, campaign.id, third.id) is None
    campaigns.change_budget(session, campaign=campaign, amount=Money(20_00, "USD"), idempotency_key="more-budget-1")
    assert campaign_balance(session, campaign.id, third.id) == 20_00  # the budget grew: they join

    fourth = make_consumer(partner)
    campaigns.pause(session, campaign=campaign)
    campaigns.change_budget(session, campaign=campaign, amount=Money(20_00, "USD"), idempotency_key="more-budget-2")
    segments.add_tags(session, consumer=fourth, tags=["vip"])
    assert member(session, campaign.id, fourth.id) is None  # paused: nothing is allocated
    campaigns.resume(session, campaign=campaign)
    assert campaign_balance(session, campaign.id, fourth.id) == 20_00
    assert all(allocations(session, campaign.id, c.id) == 1 for c in (first, second, third, fourth))


def test_changing_a_campaigns_tag_marks_and_adds_members(session, partner, make_consumer):
    chosen, vip = make_consumer(partner), make_consumer(partner)
    segments.add_tags(session, consumer=vip, tags=["vip"])
    campaign = new_campaign(session, partner)  # chosen consumers (the default)
    assert reload(session, Campaign, campaign.id).eligible_tag is None
    campaigns.add_members(session, campaign=campaign, consumer_ids=[chosen.id])

    campaigns.update_campaign(session, campaign=campaign, eligible_tag="vip")
    assert campaign_balance(session, campaign.id, vip.id) == 20_00
    assert not member(session, campaign.id, chosen.id).is_eligible  # chosen by hand, no tag: no later allocations
    assert campaign_balance(session, campaign.id, chosen.id) == 20_00

    campaigns.update_campaign(session, campaign=campaign, eligible_tag=None)  # back to chosen consumers
    assert member(session, campaign.id, chosen.id).is_eligible
    assert member(session, campaign.id, vip.id).is_eligible


def test_an_ended_campaign_takes_nobody_and_a_removed_member_does_not_come_back_by_tag(session, partner, make_consumer):
    removed, late = make_consumer(partner), make_consumer(partner)
    segments.add_tags(session, consumer=removed, tags=["vip"])
    campaign = new_campaign(session, partner, eligible_tag="vip")
    campaigns.remove_member(session, campaign=campaign, consumer_id=removed.id)
    segments.remove_tag(session, consumer=removed, tag="vip")
    segments.add_tags(session, consumer=removed, tags=["vip"])
    assert member(session, campaign.id, removed.id).removed_at is not None
    assert allocations(session, campaign.id, removed.id) == 1

    campaigns.end(session, campaign=campaign)
    segments.add_tags(session, consumer=late, tags=["vip"])
    assert member(session, campaign.id, late.id) is None
    assert reload(session, Campaign, campaign.id).status == CampaignStatus.ENDED.value
    session.rollback()
    assert session.exec(select(func.count()).select_from(ConsumerTag).where(ConsumerTag.consumer_id == late.id)).one() == 1


def test_a_deactivated_consumer_joins_when_reactivated_not_before(session, partner, make_consumer):
    from app.services import consumers

    consumer = make_consumer(partner)
    consumers.set_active(session, consumer=consumer, active=False)
    campaign = new_campaign(session, partner, eligible_tag="vip")
    segments.add_tags(session, consumer=consumer, tags=["vip"])
    assert member(session, campaign.id, consumer.id) is None  # deactivated: can't order, gets nothing
    consumers.set_active(session, consumer=reload(session, Consumer, consumer.id), active=True)
    assert campaign_balance(session, campaign.id, consumer.id) == 20_00
    consumers.set_active(session, consumer=reload(session, Consumer, consumer.id), active=True)
    assert allocations(session, campaign.id, consumer.id) == 1
