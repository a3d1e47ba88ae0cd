"""Campaigns through the partner API (app/services/campaigns.py does the work): create one funded from
the partner's funds, read and change it, fund or drain its budget, add and remove members, pause,
resume, end it and return its unused budget. Another partner's campaign is always 404. Every change
is audited with the API key as its actor."""

from __future__ import annotations

from contextlib import contextmanager

from flask import g, request

from app.api import API_WORDING, api_field, bp, schemas
from app.api.auth import signed
from app.api.customers import json_body
from app.api.responses import error, iso_utc, money_number, success
from app.db import db_session
from app.domain.campaign_periods import Recurrence
from app.domain.campaigns import CampaignChangeRefused
from app.domain.errors import InvalidInput
from app.domain.money import Money, normalize_currency
from app.models import Campaign
from app.representations import campaign_data
from app.services import campaigns


@bp.errorhandler(CampaignChangeRefused)
def _change_refused(exc: CampaignChangeRefused):
    """A rule of the campaign's state (resuming an ended campaign, adding to it): the seed's business-rule 402."""
    return error(402, "BUSINESS_RULE_ERROR", exc.message)


@contextmanager
def _body_fields():
    """The service's InvalidInput, its message starting with the field's name as the body spells it (app.api.api_field)."""
    try:
        yield
    except InvalidInput as exc:
        field = api_field(exc.field)
        if not field or API_WORDING.get(exc.message, exc.message).startswith(field):
            raise
        raise InvalidInput(f"{field}: {exc.message}", field=field) from None


def _actor() -> str:
    return f"api:{g.api_key.prefix}"


def _campaign(campaign_id: int) -> Campaign:
    return campaigns.partner_campaign(db_session(), partner=g.api_partner, campaign_id=campaign_id)


def _data(campaign: Campaign) -> dict:
    """The campaign as committed now (a change's own session may hold an older copy)."""
    session = db_session()
    session.rollback()
    fresh = session.get(Campaign, campaign.id, populate_existing=True)
    return campaign_data(campaigns.campaign_summary(session, fresh))


def _recurrence(recurrence: schemas.RecurrenceIn | None, currency: str) -> Recurrence | None:
    if recurrence is None:
        return None
    cap = recurrence.rolloverCap
    return Recurrence.of(
        recurrence.every,
        recurrence.leftover,
        Money.parse(cap, currency, field="recurrence.rolloverCap").amount if cap is not None else None,
    )


def _threshold(amount, currency: str) -> Money | None:
    return Money.parse(amount, currency, field="lowBudgetThreshold") if amount is not None else None


@bp.post("/campaigns")
@signed
def create_campaign():
    body = schemas.validate(schemas.CampaignCreate, json_body())
    currency = normalize_currency(body.currency)
    with _body_fields():
        created = campaigns.create_campaign(
            db_session(),
            partner=g.api_partner,
            name=body.name,
            currency=currency,
            budget=Money.parse(body.budget, currency, field="budget"),
            per_consumer_amount=Money.parse(body.perCustomerAmount, currency, field="perCustomerAmount"),
            idempotency_key=body.idempotencyKey,
            brand_slugs=body.brands,
            categories=body.categories,
            starts_at=body.startsAt,
            ends_at=body.endsAt,
            priority=body.priority,
            eligible_tag=body.eligibleTag,
            eligible_created_after=body.eligibleCreatedAfter,
            return_unused_on_end=body.returnUnusedOnEnd,
            recurrence=_recurrence(body.recurrence, currency),
            low_budget_threshold=_threshold(body.lowBudgetThreshold, currency),
            pause_when_exhausted=body.pauseWhenExhausted,
            actor=_actor(),
        )
    return success(_data(created.campaign))


@bp.get("/campaigns")
@signed
def list_campaigns():
    query = schemas.validate(schemas.CampaignQuery, request.args.to_dict())
    found = campaigns.campaigns_page(
        db_session(), partner=g.api_partner, status=query.status or "", page=query.page, size=query.perPage
    )
    page = schemas.CampaignPage(items=[], page=query.page, perPage=query.perPage, total=found.total).model_dump()
    page["items"] = [campaign_data(summary) for summary in found.rows]
    return success(page)


@bp.get("/campaigns/<api_id:campaign_id>")
@signed
def get_campaign(campaign_id: int):
    return success(_data(_campaign(campaign_id)))


@bp.patch("/campaigns/<api_id:campaign_id>")
@signed
def update_campaign(campaign_id: int):
    body = schemas.validate(schemas.CampaignUpdate, json_body())
    campaign = _campaign(campaign_id)
    given = body.model_fields_set
    with _body_fields():
        updated = campaigns.update_campaign(
            db_session(),
            campaign=campaign,
            name=body.name,
            ends_at=body.endsAt if "endsAt" in given else campaigns.KEEP,
            brand_slugs=body.brands,
            categories=body.categories,
            per_consumer_amount=(
                Money.parse(body.perCustomerAmount, campaign.currency, field="perCustomerAmount")
                if body.perCustomerAmount is not None
                else None
            ),
            priority=body.priority,
            eligible_tag=body.eligibleTag if "eligibleTag" in given else campaigns.KEEP,
            eligible_created_after=body.eligibleCreatedAfter if "eligibleCreatedAfter" in given else campaigns.KEEP,
            return_unused_on_end=body.returnUnusedOnEnd,
            recurrence=_recurrence(body.recurrence, campaign.currency) if "recurrence" in given else campaigns.KEEP,
            low_budget_threshold=(
                _threshold(body.lowBudgetThreshold, campaign.currency) if "lowBudgetThreshold" in given else campaigns.KEEP
            ),
            pause_when_exhausted=body.pauseWhenExhausted,
            actor=_actor(),
        )
    return success(_data(updated))


@bp.post("/campaigns/<api_id:campaign_id>/budget")
@signed
def change_campaign_budget(campaign_id: int):
    body = schemas.validate(schemas.CampaignBudgetChange, json_body())
    campaign = _campaign(campaign_id)
    changed = campaigns.change_budget(
        db_session(),
        campaign=campaign,
        amount=Money.parse(body.amount, campaign.currency, field="amount"),
        idempotency_key=body.idempotencyKey,
        actor=_actor(),
    )
    signed_amount = changed.transaction.amount if changed.transaction.type == "credit" else -changed.transaction.amount
    return success(
        schemas.CampaignBudgetResult(
            transactionId=changed.transaction.id,
            amount=money_number(Money(signed_amount, campaign.currency)),
            currency=campaign.currency,
            remaining=money_number(changed.remaining),
            campaign=_data(campaign),
        ).model_dump()
    )


@bp.post("/campaigns/<api_id:campaign_id>/members")
@signed
def add_campaign_members(campaign_id: int):
    body = schemas.validate(schemas.CampaignMembersAdd, json_body())
    campaign = _campaign(campaign_id)
    results = campaigns.add_members(db_session(), campaign=campaign, consumer_ids=body.customerIds, actor=_actor())
    return success(
        schemas.MemberResults(
            results=[
                schemas.MemberResult(
                    customerId=r.consumer_id,
                    result=r.outcome.value,
                    allocated=money_number(r.allocated) if r.allocated is not None else None,
                )
                for r in results
            ],
            campaign=_data(campaign),
        ).model_dump()
    )


@bp.delete("/campaigns/<api_id:campaign_id>/members/<api_id:customer_id>")
@signed
def remove_campaign_member(campaign_id: int, customer_id: int):
    campaign = _campaign(campaign_id)
    removed = campaigns.remove_member(db_session(), campaign=campaign, consumer_id=customer_id, actor=_actor())
    return success(
        schemas.MemberRemoved(
            customerId=customer_id, returned=money_number(removed.returned), campaign=_data(campaign)
        ).model_dump()
    )


@bp.post("/campaigns/<api_id:campaign_id>/pause")
@signed
def pause_campaign(campaign_id: int):
    return success(_data(campaigns.pause(db_session(), campaign=_campaign(campaign_id), actor=_actor())))


@bp.post("/campaigns/<api_id:campaign_id>/resume")
@signed
def resume_campaign(campaign_id: int):
    return success(_data(campaigns.resume(db_session(), campaign=_campaign(campaign_id), actor=_actor())))


@bp.post("/campaigns/<api_id:campaign_id>/end")
@signed
def end_campaign(campaign_id: int):
    ended = campaigns.end(db_session(), campaign=_campaign(campaign_id), actor=_actor())
    return success(
        schemas.CampaignEnded(
            returnedToBudget=money_number(ended.returned_to_budget),
            returnedToPartner=money_number(ended.returned_to_partner),
            campaign=_data(ended.campaign),
        ).model_dump()
    )


@bp.post("/campaigns/<api_id:campaign_id>/return-unused")
@signed
def return_unused_campaign_budget(campaign_id: int):
    campaign = _campaign(campaign_id)
    returned = campaigns.return_unused(db_session(), campaign=campaign, actor=_actor())
    return success(schemas.CampaignReturned(returned=money_number(returned), campaign=_data(campaign)).model_dump())


def campaign_wallets(session, consumer) -> list[dict]:
    """GET /customers/<id>'s campaign balances (the CampaignWallet schema): campaigns not ended that the customer
    is still in, in the order they are spent."""
    return [
        schemas.CampaignWallet(
            kind="campaign",
            campaignId=balance.campaign_id,
            name=balance.name,
            balance=money_number(balance.balance),
            currency=balance.balance.currency,
            spendableUntil=iso_utc(balance.spendable_until),
        ).model_dump()
        for balance in campaigns.consumer_campaign_balances(session, consumer=consumer)
    ]
