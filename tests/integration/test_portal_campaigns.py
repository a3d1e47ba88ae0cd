"""Campaigns in the partner portal: admins create, edit, fund, pause, resume, end and return unused budget;
operators add and remove members; viewers look. Every change is audited with the member who made it."""

from __future__ import annotations

import io
import re
from datetime import UTC, timedelta
from types import SimpleNamespace

import pytest
from sqlmodel import func, select

from app.clock import utcnow
from app.models import Account, AuditEvent, Campaign, CampaignMember
from app.services import campaigns, catalog, consumers, partners
from tests.integration.conftest import page, redirect_path, reload

HTMX = {"HX-Request": "true"}


@pytest.fixture
def programme(session, make_partner, make_brand, make_consumer, make_team_member):
    """A partner with $1,000 of funds, two brands in two categories, three consumers (one deactivated),
    and a team member of each role."""
    partner = make_partner(funds="1000")
    spa = make_brand("Calm Spa Portal", category="Health & Beauty")
    pizza = make_brand("Pizza Portal", category="Food & Dining")
    for brand in (spa, pizza):
        catalog.make_available(session, partner=partner, brand=brand)
    robin = make_consumer(partner, funds="0", email="robin@example.com", name="Robin Member")
    sam = make_consumer(partner, funds="0", email="sam@example.com", name="Sam Member")
    cara = make_consumer(partner, funds="0", email="cara@example.com", name="Cara Member")
    dee = make_consumer(partner, funds="0", email="dee@example.com", name="Dee Gone")
    consumers.set_active(session, consumer=dee, active=False)
    return SimpleNamespace(
        partner=partner,
        spa=spa,
        pizza=pizza,
        robin=robin,
        sam=sam,
        cara=cara,
        dee=dee,
        admin=make_team_member(partner, "admin"),
        operator=make_team_member(partner, "operator"),
        viewer=make_team_member(partner, "viewer"),
    )


def funds(session, partner) -> int:
    session.rollback()
    return partners.partner_funds(session, partner, "USD").amount


def campaign_count(session) -> int:
    session.rollback()
    return session.exec(select(func.count()).select_from(Campaign)).one()


def audit_actions(session, partner) -> list[tuple[str, int | None]]:
    session.rollback()
    return [
        (e.action, e.team_member_id)
        for e in session.exec(select(AuditEvent).where(AuditEvent.partner_id == partner.id).order_by(AuditEvent.id))
    ]


def summary(session, campaign_id: int):
    session.rollback()
    return campaigns.campaign_summary(session, session.get(Campaign, campaign_id, populate_existing=True))


def form(**overrides) -> dict:
    values = {
        "name": "Wellness",
        "currency": "USD",
        "budget": "100",
        "per_consumer_amount": "20",
        "priority": "0",
        "idempotency_key": f"key-{utcnow().timestamp()}",
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def create(browser, **overrides) -> int:
    response = browser.post("/campaigns", form(**overrides))
    assert response.status_code == 303, page(response)
    return int(re.fullmatch(r"/portal/campaigns/(\d+)", redirect_path(response)).group(1))


@pytest.fixture
def wellness(programme, portal_as):
    """An active campaign with a $100 budget, $20 per consumer, for Health & Beauty brands."""
    return create(portal_as(programme.admin), categories="Health & Beauty")


def member_balance(session, campaign_id: int, consumer_id: int) -> int | None:
    session.rollback()
    member = session.exec(
        select(CampaignMember).where(CampaignMember.campaign_id == campaign_id, CampaignMember.consumer_id == consumer_id)
    ).first()
    if member is None or member.removed_at is not None:
        return None
    return session.get(Account, member.account_id, populate_existing=True).balance


# --- creating -------------------------------------------------------------------------------


def test_an_admin_creates_a_campaign_from_partner_funds_and_it_is_listed(session, programme, portal_as):
    browser = portal_as(programme.admin)
    new_form = page(browser.get("/campaigns"))
    assert "New campaign" in new_form and 'name="idempotency_key"' in new_form
    assert "Calm Spa Portal" in new_form and "Health & Beauty" in new_form  # the partner's brands and categories to choose
    ends = (utcnow() + timedelta(days=30)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    data = form(
        name="Spring Wellness",
        budget="150",
        brands=programme.spa.slug,
        categories="Food & Dining",
        ends_at=ends,
        priority="5",
        return_unused_on_end="yes",
    )
    response = browser.post("/campaigns", data)
    assert response.status_code == 303
    campaign_id = int(redirect_path(response).rsplit("/", 1)[1])
    campaign = reload(session, Campaign, campaign_id)
    assert (campaign.name, campaign.status, campaign.per_consumer_amount, campaign.priority) == (
        "Spring Wellness",
        "active",
        20_00,
        5,
    )
    assert campaign.brand_slug_list == [programme.spa.slug] and campaign.category_list == ["Food & Dining"]
    assert campaign.return_unused_on_end and campaign.ends_at.strftime("%Y-%m-%dT%H:%M") == ends
    assert funds(session, programme.partner) == 850_00
    assert ("campaign.create", programme.admin.id) in audit_actions(session, programme.partner)

    # The same form sent again (a double click) creates nothing more.
    again = browser.post("/campaigns", data)
    assert again.status_code == 303 and redirect_path(again) == f"/portal/campaigns/{campaign_id}"
    assert campaign_count(session) == 1 and funds(session, programme.partner) == 850_00

    listed = page(portal_as(programme.viewer).get("/campaigns"))
    assert "Spring Wellness" in listed and "$150.00" in listed and "active" in listed
    assert "New campaign" not in listed  # viewers look only
    shown = page(browser.get(f"/campaigns/{campaign_id}"))
    assert "Spring Wellness" in shown and "$150.00" in shown and "Calm Spa Portal" in shown
    assert 'href="/portal/campaigns"' in shown  # the nav link


def test_operators_and_viewers_may_not_create_or_fund_a_campaign(session, programme, portal_as, wellness):
    before = funds(session, programme.partner)
    for member in (programme.operator, programme.viewer):
        browser = portal_as(member)
        assert browser.post("/campaigns", form()).status_code == 403
        assert (
            browser.post(
                f"/campaigns/{wellness}/budget", {"direction": "increase", "amount": "10", "idempotency_key": "k" * 20}
            ).status_code
            == 403
        )
        assert browser.post(f"/campaigns/{wellness}/end", {"confirm": "yes"}).status_code == 403
        assert "Create the campaign" not in page(browser.get("/campaigns"))
    assert browser.post(f"/campaigns/{wellness}/members", {"email": "robin@example.com"}).status_code == 403  # the viewer
    assert campaign_count(session) == 1 and funds(session, programme.partner) == before


def test_partner_funds_too_low_is_shown_in_place_and_nothing_moves(session, programme, portal_as):
    browser = portal_as(programme.admin)
    before = audit_actions(session, programme.partner)
    response = browser.post("/campaigns", form(budget="5000", name="Too big"))
    assert response.status_code == 422
    assert "Your partner funds are too low: $1,000.00 available. Nothing was moved." in page(response)
    assert 'value="Too big"' in page(response)  # the form as typed, to correct
    partial = browser.post("/campaigns", form(budget="5000"), headers=HTMX)
    assert (
        partial.status_code == 422
        and page(partial).lstrip().startswith('<section id="new-campaign"')
        and "<h1>" not in page(partial)
    )

    now = utcnow().astimezone(UTC)
    for bad, message in [
        (
            dict(
                starts_at=(now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
                ends_at=(now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            ),
            "The campaign must end after it starts.",
        ),
        (dict(ends_at="tomorrow"), "The end must be a date and time"),
        (dict(per_consumer_amount="0"), "The amount per consumer must be more than zero."),
        (dict(budget="ten"), "Budget must be a number"),
        (dict(priority="high"), "Priority must be a whole number"),
        (dict(brands="not-ours"), "is not one of your store"),
        (dict(name=""), "name must be 1-120 characters"),
    ]:
        refused = browser.post("/campaigns", form(**bad))
        assert refused.status_code == 422 and message in page(refused), (bad, page(refused))
    assert campaign_count(session) == 0 and funds(session, programme.partner) == 1000_00
    assert audit_actions(session, programme.partner) == before


def test_a_campaign_that_starts_later_is_scheduled(session, programme, portal_as):
    later = (utcnow() + timedelta(days=3)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    campaign_id = create(portal_as(programme.admin), starts_at=later)
    assert reload(session, Campaign, campaign_id).status == "scheduled"


# --- members --------------------------------------------------------------------------------


def test_an_operator_adds_a_member_by_email_and_removes_them(session, programme, portal_as, wellness):
    browser = portal_as(programme.operator)
    added = browser.post(f"/campaigns/{wellness}/members", {"email": " Robin@Example.com "})
    assert added.status_code == 303
    assert member_balance(session, wellness, programme.robin.id) == 20_00
    shown = page(browser.get(f"/campaigns/{wellness}"))
    assert "robin@example.com is a member now, with $20.00 to spend." in shown
    assert "Robin Member" in shown and "$80.00" in shown  # the member, and the budget left to allocate
    found = browser.get(f"/campaigns/{wellness}?q=robin", headers=HTMX)
    assert page(found).lstrip().startswith('<section id="campaign-members"') and "Robin Member" in page(found)
    assert "HX-Request" in found.headers["Vary"]
    assert "Robin Member" not in page(browser.get(f"/campaigns/{wellness}?q=nobody", headers=HTMX))

    removed = browser.post(f"/campaigns/{wellness}/members/{programme.robin.id}/remove")
    assert removed.status_code == 303
    assert member_balance(session, wellness, programme.robin.id) is None
    assert "$20.00 of unused balance went back to the budget" in page(browser.get(f"/campaigns/{wellness}"))
    figures = summary(session, wellness)
    assert (figures.remaining.amount, figures.members) == (100_00, 0)
    again = browser.post(f"/campaigns/{wellness}/members/{programme.robin.id}/remove")
    assert again.status_code == 422 and "not a member" in page(again)
    actions = audit_actions(session, programme.partner)
    assert ("campaign.add_members", programme.operator.id) in actions and (
        "campaign.remove_member",
        programme.operator.id,
    ) in actions


def test_adding_many_gives_a_result_for_each_address(session, programme, portal_as):
    browser = portal_as(programme.admin)
    campaign_id = create(browser, budget="50", per_consumer_amount="20")
    operator = portal_as(programme.operator)
    assert operator.post(f"/campaigns/{campaign_id}/members", {"email": "robin@example.com"}).status_code == 303

    emails = "robin@example.com\nsam@example.com, nobody@example.com; dee@example.com\ncara@example.com\nsam@example.com"
    response = operator.post(f"/campaigns/{campaign_id}/members", {"emails": emails}, headers=HTMX)
    assert response.status_code == 200
    body = page(response)
    assert (
        body.lstrip().startswith('<section id="campaign-members"')
        and 'id="campaign-summary" aria-labelledby="campaign-title" hx-swap-oob="true"' in body
    )
    rows = dict(re.findall(r"<tr><td>([^<]+)</td><td><span class=\"pill member-[a-z_]+\">([^<]+)</span>", body))
    assert rows == {
        "robin@example.com": "already a member",
        "sam@example.com": "allocated",
        "nobody@example.com": "not found",
        "dee@example.com": "inactive",
        "cara@example.com": "not enough budget",
    }
    assert "1 of 5 added, $20.00 allocated from the budget." in body
    assert member_balance(session, campaign_id, programme.sam.id) == 20_00
    assert (
        member_balance(session, campaign_id, programme.cara.id) is None
        and member_balance(session, campaign_id, programme.dee.id) is None
    )
    assert summary(session, campaign_id).remaining.amount == 10_00

    # A CSV file, sent without htmx: a summary and the addresses not added, after a redirect.
    browser.post(f"/campaigns/{campaign_id}/budget", {"direction": "increase", "amount": "20", "idempotency_key": "budget-key-1"})
    csv = b"email,full_name\ncara@example.com,Cara Member\nghost@example.com,Nobody\n"
    uploaded = operator.post(
        f"/campaigns/{campaign_id}/members", {"file": (io.BytesIO(csv), "members.csv")}, content_type="multipart/form-data"
    )
    assert uploaded.status_code == 303
    shown = page(operator.get(f"/campaigns/{campaign_id}"))
    assert "1 of 2 added" in shown and "ghost@example.com: not found" in shown
    assert member_balance(session, campaign_id, programme.cara.id) == 20_00

    empty = operator.post(f"/campaigns/{campaign_id}/members", {"emails": "no addresses here"}, headers=HTMX)
    assert empty.status_code == 422 and "Enter at least one email address" in page(empty)


# --- the budget -----------------------------------------------------------------------------


def test_an_admin_changes_the_budget_up_and_down_and_sees_its_history(session, programme, portal_as, wellness):
    browser = portal_as(programme.admin)
    shown = page(browser.get(f"/campaigns/{wellness}"))
    key = re.search(r'name="idempotency_key" value="([^"]+)"', shown).group(1)
    up = browser.post(f"/campaigns/{wellness}/budget", {"direction": "increase", "amount": "40", "idempotency_key": key})
    assert up.status_code == 303
    assert funds(session, programme.partner) == 860_00 and summary(session, wellness).remaining.amount == 140_00
    twice = browser.post(f"/campaigns/{wellness}/budget", {"direction": "increase", "amount": "40", "idempotency_key": key})
    assert twice.status_code == 303 and funds(session, programme.partner) == 860_00  # once per form

    down = browser.post(
        f"/campaigns/{wellness}/budget",
        {"direction": "decrease", "amount": "25.50", "idempotency_key": "down-key-1"},
        headers=HTMX,
    )
    assert down.status_code == 200
    body = page(down)
    assert (
        body.lstrip().startswith('<section id="campaign-budget"')
        and "The budget was decreased by $25.50. $114.50 is left to allocate." in body
    )
    assert 'id="portal-funds" title="Partner funds available" hx-swap-oob="true"' in body and "$885.50" in body
    assert funds(session, programme.partner) == 885_50

    too_much = browser.post(
        f"/campaigns/{wellness}/budget", {"direction": "decrease", "amount": "500", "idempotency_key": "down-key-2"}, headers=HTMX
    )
    assert too_much.status_code == 422 and "Only the unallocated budget can be returned" in page(too_much)
    too_big = browser.post(
        f"/campaigns/{wellness}/budget", {"direction": "increase", "amount": "5000", "idempotency_key": "up-key-big"}
    )
    assert too_big.status_code == 422 and "Your partner funds are too low: $885.50 available" in page(too_big)
    zero = browser.post(
        f"/campaigns/{wellness}/budget", {"direction": "increase", "amount": "0", "idempotency_key": "up-key-zero"}
    )
    assert zero.status_code == 422 and "more than zero" in page(zero)
    assert funds(session, programme.partner) == 885_50

    history = page(browser.get(f"/campaigns/{wellness}"))
    section = history[history.index('id="budget-history"') :]
    assert (
        section.index("Campaign budget decreased")
        < section.index("Campaign budget increased")
        < section.index("Campaign budget: Wellness")
    )
    assert "-$25.50" in section and "+$40.00" in section and "+$100.00" in section
    assert [a for a in audit_actions(session, programme.partner) if a[0] == "campaign.budget"] == [
        ("campaign.budget", programme.admin.id)
    ] * 2


# --- pause, resume, end, return -------------------------------------------------------------


def test_an_admin_pauses_resumes_and_ends_a_campaign_after_confirming(session, programme, portal_as, wellness):
    browser = portal_as(programme.admin)
    assert portal_as(programme.operator).post(f"/campaigns/{wellness}/members", {"email": "robin@example.com"}).status_code == 303

    assert browser.post(f"/campaigns/{wellness}/pause").status_code == 303
    assert reload(session, Campaign, wellness).status == "paused"
    assert "Resume" in page(browser.get(f"/campaigns/{wellness}"))
    refused = browser.post(f"/campaigns/{wellness}/pause")
    assert refused.status_code == 422 and "A campaign that is paused cannot become paused." in page(refused)
    assert browser.post(f"/campaigns/{wellness}/resume").status_code == 303
    assert reload(session, Campaign, wellness).status == "active"

    unconfirmed = browser.post(f"/campaigns/{wellness}/end")
    assert unconfirmed.status_code == 422 and "Tick the box to confirm" in page(unconfirmed)
    assert reload(session, Campaign, wellness).status == "active"
    ended = browser.post(f"/campaigns/{wellness}/end", {"confirm": "yes"})
    assert ended.status_code == 303
    assert reload(session, Campaign, wellness).status == "ended"
    assert "$20.00 of unused balances went back to the budget" in page(browser.get(f"/campaigns/{wellness}"))
    assert member_balance(session, wellness, programme.robin.id) == 0
    assert summary(session, wellness).remaining.amount == 100_00
    assert browser.post(f"/campaigns/{wellness}/resume").status_code == 422
    late = portal_as(programme.operator).post(f"/campaigns/{wellness}/members", {"email": "sam@example.com"})
    assert late.status_code == 422 and "This campaign has ended" in page(late)
    actions = [action for action, member_id in audit_actions(session, programme.partner) if member_id == programme.admin.id]
    for action in ("campaign.pause", "campaign.resume", "campaign.end"):
        assert action in actions


def test_an_admin_returns_the_unused_budget_to_partner_funds(session, programme, portal_as, wellness):
    browser = portal_as(programme.admin)
    assert portal_as(programme.operator).post(f"/campaigns/{wellness}/members", {"email": "robin@example.com"}).status_code == 303
    assert funds(session, programme.partner) == 900_00
    assert browser.post(f"/campaigns/{wellness}/return-unused").status_code == 303
    assert funds(session, programme.partner) == 980_00  # the $20 allocated to Robin stays with Robin
    assert "$80.00 of unallocated budget went back to your partner funds." in page(browser.get(f"/campaigns/{wellness}"))
    figures = summary(session, wellness)
    assert (figures.remaining.amount, figures.returned.amount, figures.allocated.amount) == (0, 80_00, 20_00)
    assert browser.post(f"/campaigns/{wellness}/return-unused").status_code == 303
    assert "There was no unallocated budget to return." in page(browser.get(f"/campaigns/{wellness}"))
    assert ("campaign.return_unused", programme.admin.id) in audit_actions(session, programme.partner)


# --- editing --------------------------------------------------------------------------------


def test_an_admin_edits_the_settings_and_bad_input_is_shown_in_place(session, programme, portal_as, wellness):
    browser = portal_as(programme.admin)
    ends = (utcnow() + timedelta(days=10)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    saved = browser.post(
        f"/campaigns/{wellness}/edit",
        {
            "name": "Wellness Plus",
            "per_consumer_amount": "15",
            "brands": programme.pizza.slug,
            "ends_at": ends,
            "priority": "7",
            "return_unused_on_end": "yes",
        },
    )
    assert saved.status_code == 303
    campaign = reload(session, Campaign, wellness)
    assert (campaign.name, campaign.per_consumer_amount, campaign.priority, campaign.return_unused_on_end) == (
        "Wellness Plus",
        15_00,
        7,
        True,
    )
    assert campaign.brand_slug_list == [programme.pizza.slug] and campaign.category_list == []  # no category chosen: none kept
    assert campaign.ends_at.strftime("%Y-%m-%dT%H:%M") == ends
    shown = page(browser.get(f"/campaigns/{wellness}"))
    assert "Pizza Portal" in shown and 'value="Wellness Plus"' in shown

    bad = browser.post(
        f"/campaigns/{wellness}/edit", {"name": "Renamed", "per_consumer_amount": "15", "priority": "5000", "ends_at": ends}
    )
    assert bad.status_code == 422 and "Priority must be a whole number from 0 to 1000." in page(bad)
    assert 'value="Renamed"' in page(bad) and 'aria-invalid="true"' in page(bad)
    assert reload(session, Campaign, wellness).name == "Wellness Plus"
    past = browser.post(
        f"/campaigns/{wellness}/edit",
        {"name": "Renamed", "per_consumer_amount": "15", "priority": "1", "ends_at": "2020-01-01T00:00"},
    )
    assert past.status_code == 422 and "The campaign must end after it starts." in page(past)
    assert ("campaign.update", programme.admin.id) in audit_actions(session, programme.partner)
    assert portal_as(programme.operator).post(f"/campaigns/{wellness}/edit", {"name": "Nope"}).status_code == 403


def test_another_partners_campaign_is_not_found(session, programme, make_partner, make_team_member, portal_as, wellness):
    stranger = portal_as(make_team_member(make_partner(), "admin"))
    assert stranger.get(f"/campaigns/{wellness}").status_code == 404
    assert stranger.post(f"/campaigns/{wellness}/end", {"confirm": "yes"}).status_code == 404
    assert stranger.post(f"/campaigns/{wellness}/return-unused").status_code == 404
    assert reload(session, Campaign, wellness).status == "active"
    assert f"/portal/campaigns/{wellness}" not in page(stranger.get("/campaigns"))


# --- every campaign route, every role, on a real campaign -------------------------------------


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_campaign_route_refuses_exactly_the_roles_below_its_own(session, programme, portal_as, wellness, role):
    from app.portal import ROUTE_ROLES
    from app.services.team import role_allows

    assert portal_as(programme.operator).post(f"/campaigns/{wellness}/members", {"email": "robin@example.com"}).status_code == 303
    browser = portal_as(getattr(programme, role))
    browser.get("/campaigns")
    rules = [rule for rule in browser.client.application.url_map.iter_rules() if rule.endpoint.startswith("portal.campaigns")]
    assert len(rules) >= 10
    for rule in sorted(rules, key=lambda rule: rule.rule):
        method = "GET" if "GET" in rule.methods else "POST"
        url = rule.build({"campaign_id": wellness, "consumer_id": programme.robin.id}, append_unknown=False)[1]
        response = browser.client.open(url, method=method, data={"csrf_token": browser.token})
        where = f"{method} {url} as {role}"
        assert response.status_code < 500, where
        assert (response.status_code == 403) == (not role_allows(role, ROUTE_ROLES[rule.endpoint])), where
