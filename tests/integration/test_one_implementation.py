"""One implementation per rule (issue #15): one pager (templates/_pager.html) under every HTML list, services
that speak in their own words while the API keeps its field names and the seed's wording, one way to issue a key."""

from __future__ import annotations

import re

import pytest
from flask import render_template_string

from app.api import api_message
from app.db import write_transaction
from app.domain.errors import DuplicateConsumer, InvalidInput
from app.domain.money import Money
from app.domain.paging import Page
from app.services import api_keys, audit, campaigns, consumers, funds, orders
from tests.integration.conftest import page

PAGER = '{% from "_pager.html" import pager %}'


def render(call: str, **context) -> str:
    return render_template_string(PAGER + call, **context)


def test_the_pager_links_each_page_with_the_lists_own_arguments(app):
    with app.test_request_context("/"):
        html = render(
            '{{ pager(results, "portal.orders", link_args=link_args) }}',
            results=Page([], 120, 2, 50),
            link_args=lambda number: {"page": number, "status": "completed"},
        )
        assert "Page 2 of 3" in html
        assert 'rel="prev" href="/portal/orders?page=1&amp;status=completed"' in html
        assert 'rel="next" href="/portal/orders?page=3&amp;status=completed"' in html
        assert "hx-get" not in html  # no target: plain links

        html = render(
            '{{ pager(history, "portal.campaigns_show", args={"campaign_id": 7}, param="history", anchor="campaign-budget") }}',
            history=Page([], 3, 1, 2),
        )
        assert 'href="/portal/campaigns/7?history=2#campaign-budget">Next</a>' in html and "Previous" not in html


def test_the_pager_swaps_its_target_with_htmx_and_can_keep_its_place(app):
    with app.test_request_context("/"):
        html = render(
            '{{ pager(results, "portal.consumers", args={"q": "pat"}, target="#consumer-rows", keep_place=true,'
            ' previous="← Previous", next="Next →") }}',
            results=Page([], 60, 3, 25),
        )
        assert (
            'hx-get="/portal/consumers?q=pat&amp;page=2" hx-target="#consumer-rows" hx-swap="outerHTML" hx-push-url="true"'
            in html
        )
        assert "← Previous</a>" in html and '<span class="page-link-disabled" aria-hidden="true">Next →</span>' in html


def test_a_list_of_one_page_shows_no_pager(app):
    with app.test_request_context("/"):
        assert render('{{ pager(results, "portal.orders") }}', results=Page([], 50, 1, 50)).strip() == ""


def test_the_audit_log_pages_with_the_one_pager(session, make_partner, make_team_member, portal_as):
    partner = make_partner()
    admin = make_team_member(partner, "admin")
    with write_transaction(session):
        for number in range(51):
            audit.record(session, partner_id=partner.id, member=admin, action="test.event", summary=f"Event {number}")
    html = page(portal_as(admin).get("/audit?who=admin"))
    assert "Page 1 of 2" in html
    assert re.search(r'<a rel="next" href="/portal/audit\?who=admin&page=2">Next</a>', html), html


def test_the_api_names_fields_its_way_and_keeps_the_seeds_wording():
    assert (
        api_message(InvalidInput(funds.KEY_REUSED, field="idempotency_key"))
        == "idempotencyKey was already used for a different request"
    )
    assert (
        api_message(InvalidInput(orders.EXTERNAL_REF_REUSED, field="external_ref"))
        == "externalRefId was already used for a different order"
    )
    assert api_message(InvalidInput("The amount per consumer must be more than zero.", field="per_consumer_amount")) == (
        "perCustomerAmount: The amount per consumer must be more than zero."
    )
    assert api_message(InvalidInput("amount must be more than zero.", field="amount")) == "amount must be more than zero."
    assert api_message(DuplicateConsumer("A consumer with this email already exists.", field="email")) == (
        "A consumer with this email already exists."
    )


CAMEL_CASE = re.compile(r"\b[a-z]+[A-Z][A-Za-z]*\b")


def test_services_refuse_in_their_own_words(session, make_partner, make_consumer):
    partner = make_partner()
    consumer = make_consumer(partner)
    refusals = []
    with pytest.raises(InvalidInput) as bad_key:
        campaigns.create_campaign(
            session,
            partner=partner,
            name="Spring",
            currency="USD",
            budget=Money.parse("10", "USD"),
            per_consumer_amount=Money.parse("5", "USD"),
            idempotency_key="no spaces allowed",
            actor="test",
        )
    refusals.append(bad_key.value)
    consumers.set_active(session, consumer=consumer, active=False)
    with pytest.raises(InvalidInput) as deactivated:
        orders.place_partner_order(
            session,
            partner=partner,
            consumer=consumer,
            brand_slug="any",
            face_value=Money.parse("10", "USD"),
            recipient=orders.recipient_for(consumer, send_to="me"),
            external_ref="ref-1",
            actor="test",
        )
    refusals.append(deactivated.value)
    assert [(refusal.field, CAMEL_CASE.findall(refusal.message)) for refusal in refusals] == [
        ("idempotency_key", []),
        ("consumer_id", []),
    ]


def test_a_key_made_on_the_command_line_is_issued_the_one_way(session, make_partner, monkeypatch):
    partner = make_partner()
    issued = []
    original = api_keys._issue
    monkeypatch.setattr(api_keys, "_issue", lambda *args, **kwargs: issued.append(kwargs) or original(*args, **kwargs))
    key, credentials = api_keys.create_outside_portal(session, partner=partner, label="ERP", require_signature_v2=True)
    assert [call["created_by"] for call in issued] == [None]
    assert (key.label, key.require_signature_v2, key.created_by_id) == ("ERP", True, None) and credentials.api_key


def test_the_apis_json_page_shows_a_service_page():
    from app.api import schemas

    shown = schemas.CatalogPage.shown(Page(["offer"], total=5, number=3, size=2), [{"name": "Alder Books"}])
    assert shown == {"items": [{"name": "Alder Books"}], "page": 3, "perPage": 2, "total": 5}
