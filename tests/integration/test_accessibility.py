"""Accessibility and first-screen polish (issue #20), as the markup and the server show it: skip links and the
live region, the catalog's spoken summary, the brand page's amount field and warnings, what the first-login
steps show, the sign-in page after a reset, the address of a boosted page, the favicon, the branding
editor's focus-ring check, hex fields and acknowledged publishing, and the portal's forms and bulk pages.

What only a browser shows (focus moving, the live region speaking, axe-core) is in tests/e2e/test_accessibility.py.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from sqlmodel import select

from app.db import write_transaction
from app.models import AuditEvent, Brand, BrandingVersion, Partner
from app.services import catalog
from tests.conftest import first_link, unique
from tests.integration.conftest import page, redirect_path

HTMX = {"HX-Request": "true"}
BOOSTED = {"HX-Request": "true", "HX-Boosted": "true"}


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def add_brand(session, store):
    def add(name, *, category="Books", denominations="", min_amount=5_00, max_amount=500_00):
        brand = Brand(
            slug=unique(re.sub(r"\W+", "-", name.lower())),
            name=name,
            category=category,
            currencies="USD",
            denominations=denominations,
            min_amount=min_amount if not denominations else None,
            max_amount=max_amount if not denominations else None,
            has_pin=False,
        )
        with write_transaction(session):
            session.add(brand)
        catalog.make_available(session, partner=store.partner, brand=brand)
        return brand

    return add


def accent_of(session, partner) -> str:
    session.rollback()
    return session.exec(select(Partner.accent_color).where(Partner.id == partner.id)).one()


@pytest.fixture
def admin(store, make_team_member, portal_as):
    return portal_as(make_team_member(store.partner, "admin"))


# --- every page: skip link, main, live region, favicon ----------------------------------------


def test_store_and_portal_pages_open_with_a_skip_link_to_the_main_content_and_have_a_live_region(store, signed_in, client):
    for html in (page(store.get("/")), page(store.get("/forgot")), page(client.get("/portal/login"))):
        body = html[html.index("<body") :]
        first_link = re.search(r"<a [^>]*>", body).group(0)
        assert first_link == '<a class="skip-link" href="#main">', first_link
        assert '<main id="main" tabindex="-1"' in body
        assert '<div id="live-status" class="visually-hidden" role="status" aria-live="polite"></div>' in body
        # (static URLs carry their content's version, ?v=..., app/web/assets.py)
        assert re.search(r'<script src="/static/app\.js\?v=\w+" defer></script>', html)
        assert re.search(r'<link rel="icon" href="/static/favicon\.svg\?v=\w+" type="image/svg\+xml">', html)


def test_the_favicon_is_served_at_the_address_browsers_ask_for(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert client.get("/static/favicon.svg").mimetype == "image/svg+xml"


def test_the_script_the_pages_load_is_served_from_this_site(client):
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "htmx:afterSettle" in script.get_data(as_text=True)


# --- the catalog: a short spoken summary, not a live grid --------------------------------------


def test_the_catalog_is_not_a_live_region_and_carries_a_short_summary_to_announce(store, signed_in, add_brand):
    add_brand("Aurora Books")
    add_brand("Cedar Books")
    add_brand("Bramble Bistro", category="Food & Dining")
    summary = lambda html: re.search(r'<section id="catalog" class="catalog" data-announce="([^"]*)">', html).group(1)  # noqa: E731

    whole = page(store.get("/"))
    assert 'aria-live="polite"' not in whole[whole.index('id="catalog"') - 20 : whole.index('id="catalog"') + 200]
    assert summary(whole) == "3 gift cards"
    assert summary(page(store.get("/?q=book", headers=HTMX))) == "2 gift cards match “book”"
    assert summary(page(store.get("/?q=bramble", headers=HTMX))) == "1 gift card matches “bramble”"
    assert summary(page(store.get("/?q=zzz", headers=HTMX))) == "No gift cards match “zzz”"
    assert summary(page(store.get("/?category=Books", headers=HTMX))) == "2 gift cards in Books"
    # The search form follows the address after Back (static/app.js reads data-follows-url).
    assert re.search(r'<form class="catalog-search"[^>]*role="search" data-follows-url', whole)


# --- the brand page: the amount field, its messages, the wallet --------------------------------


def test_an_amount_over_what_the_wallet_can_pay_is_warned_about_in_the_quote(store, signed_in, add_brand):
    brand = add_brand("Summit Outfitters")  # $5 to $500; the consumer has $100
    over = store.get(f"/brands/{brand.slug}/quote?amount=150", headers=HTMX)
    assert over.status_code == 200  # a price, with a warning: the review would refuse it
    assert "That's more than your balance: you can spend $100.00 on this card. Choose a smaller amount." in text_of(page(over))
    within = store.get(f"/brands/{brand.slug}/quote?amount=100", headers=HTMX)
    assert "more than your balance" not in page(within)
    # Without JavaScript, the page priced from its query string says the same.
    assert "That's more than your balance" in text_of(page(store.get(f"/brands/{brand.slug}?amount=150")))


def test_amount_messages_use_the_money_format_of_the_page_and_a_negative_amount_gets_the_range(store, signed_in, add_brand):
    brand = add_brand("Summit Outfitters", min_amount=10_00, max_amount=500_00)
    html = page(store.get(f"/brands/{brand.slug}"))
    assert "Any amount from $10.00 to $500.00." in text_of(html)
    for typed in ("600", "-20", "5"):
        response = store.get(f"/brands/{brand.slug}/quote", query_string={"amount": typed}, headers=HTMX)
        assert response.status_code == 422
        assert text_of(page(response)) == "Enter an amount from $10.00 to $500.00.", typed


# --- first sign-in, terms, reset, the address bar -----------------------------------------------


def test_the_terms_step_shows_no_balance_and_no_navigation_until_the_terms_are_accepted(store, new_consumer):
    store.login(new_consumer.email, new_consumer.temporary_password)
    store.post("/welcome/password", {"password": "Correct-horse-42", "confirmation": "Correct-horse-42"})
    terms = page(store.get("/terms"))
    assert "Terms of use" in terms
    assert 'id="wallet"' not in terms and 'aria-label="Account"' not in terms and "$100.00" not in terms
    store.post("/terms", {"accept": "yes", "version": "1"})
    home = page(store.get("/"))
    assert 'id="wallet"' in home and 'aria-label="Account"' in home


def test_after_a_password_reset_the_sign_in_page_no_longer_speaks_of_a_temporary_password(store, signed_in, mailbox):
    hint = "First time here? Use the temporary password"
    store.post("/logout")
    assert hint in page(store.get("/login"))
    store.get("/forgot")
    store.post("/forgot", {"email": signed_in.email})
    link = first_link(mailbox.last_to(signed_in.email), r"http://store\.test/s/[^/\s]+/reset/\S+")
    store.client.get(link.removeprefix("http://store.test"), follow_redirects=True)
    changed = store.post("/reset", {"password": "Brand-new-pass-77", "confirmation": "Brand-new-pass-77"})
    assert redirect_path(changed) == store.url("/login")
    after_reset = page(store.get("/login"))
    assert "Your password has been changed" in after_reset and hint not in after_reset
    # A wrong try keeps it away too; a successful sign-in ends it.
    assert hint not in page(store.post("/login", {"email": signed_in.email, "password": "Wrong-password-1"}))
    store.login(signed_in.email, "Brand-new-pass-77")
    store.post("/logout")
    assert hint in page(store.get("/login"))


def test_a_boosted_page_tells_htmx_its_own_address_so_a_redirect_shows_in_the_address_bar(store, new_consumer):
    """Sign-in (a boosted form) is redirected to "Choose your password": that page's answer names its URL."""
    store.get("/login")
    signed = store.post("/login", {"email": new_consumer.email, "password": new_consumer.temporary_password}, headers=BOOSTED)
    assert redirect_path(signed) == store.url("/welcome/password")
    shown = store.get("/welcome/password", headers=BOOSTED)
    assert shown.headers["HX-Push-Url"] == store.url("/welcome/password")
    assert "HX-Push-Url" not in store.get("/welcome/password").headers  # a plain page load needs none
    assert "HX-Push-Url" not in store.post("/password/rules", {"password": "x"}, headers=HTMX).headers  # nor a partial


# --- branding: the focus ring, hex fields, acknowledged publishing, the preview's warning --------


def test_the_accent_colour_is_checked_against_3_to_1_because_it_draws_the_focus_ring(store, admin):
    panel = page(admin.post("/branding", {"accent_color": "#fdfdfd"}, headers=HTMX))
    assert (
        "Focus ring in the accent colour on the background: #fdfdfd on #ffffff has a contrast of 1.02:1; "
        "WCAG AA needs 3:1 for the focus ring and other non-text parts."
    ) in panel
    good = page(admin.post("/branding", {"accent_color": "#b45309"}, headers=HTMX))
    assert "Contrast below WCAG AA" not in good and "the accent colour's focus ring 3:1" in good
    # A fresh store's default colours pass every check.
    assert Partner.model_fields["accent_color"].default == "#d97706"


def test_each_colour_has_a_hex_field_that_is_sent_beside_a_picker_that_follows_it(store, admin):
    html = page(admin.get("/branding"))
    for name in ("primary_color", "accent_color", "background_color"):
        field = re.search(rf'<input id="{name}" name="{name}" type="text"[^>]*>', html, re.S).group(0)
        assert 'pattern="#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})"' in field and f'data-picker="{name}-picker"' in field
        picker = re.search(rf'<input id="{name}-picker" type="color"[^>]*>', html, re.S).group(0)
        assert f'data-hex-for="{name}"' in picker and "name=" not in picker and "aria-label=" in picker
    assert '<label for="primary_color">Primary colour</label>' in html
    # Typed as hex, any case, with or without #: saved as #rrggbb.
    admin.post("/branding", {"primary_color": "1D4ED8"}, headers=HTMX)
    assert 'value="#1d4ed8"' in page(admin.get("/branding"))


def test_failing_colours_are_published_only_with_an_acknowledgement_recorded_in_the_audit_log(session, client, store, admin):
    admin.post("/branding", {"accent_color": "#fdfdfd"}, headers=HTMX)
    panel = page(admin.get("/branding"))
    assert re.search(r'<input type="checkbox" name="acknowledge_contrast" value="yes" required', panel)
    assert "Publish anyway version 1" in panel

    refused = admin.post("/branding/publish")
    assert refused.status_code == 422
    assert "1 colour pairing fails the contrast checks. Tick “I understand”" in page(refused)
    assert accent_of(session, store.partner) == "#d97706"  # the store is untouched

    published = admin.post("/branding/publish", {"acknowledge_contrast": "yes"})
    assert published.status_code == 303, page(published)
    assert accent_of(session, store.partner) == "#fdfdfd"
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "branding.publish")).one()
    assert event.summary == "Branding version 1 published, contrast warnings acknowledged (1)"
    details = event.details if isinstance(event.details, dict) else json.loads(event.details)
    assert details["contrast_acknowledged"] is True
    assert details["contrast_warnings"][0].startswith("Focus ring in the accent colour on the background")


def test_colours_that_pass_are_published_without_a_question(session, store, admin):
    admin.post("/branding", {"primary_color": "#1d4ed8"}, headers=HTMX)
    assert "acknowledge_contrast" not in page(admin.get("/branding"))
    assert admin.post("/branding/publish").status_code == 303
    session.rollback()
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "branding.publish")).one()
    assert event.summary == "Branding version 1 published"


def test_the_store_preview_warns_when_the_draft_fails_contrast(store, admin):
    assert 'id="preview-warning"' not in page(admin.get("/branding/preview/home"))
    admin.post("/branding", {"primary_color": "#fde68a"}, headers=HTMX)
    preview = page(admin.get("/branding/preview/home"))
    assert 'id="preview-warning"' in preview
    assert "1 colour pairing in this look fails WCAG contrast" in text_of(preview)
    # The live store never shows it.
    assert 'id="preview-warning"' not in page(store.get("/login"))


# --- the portal: add a consumer, bulk uploads --------------------------------------------------


def test_adding_a_consumer_shows_every_field_error_at_once_each_by_its_field(store, make_team_member, portal_as):
    operator = portal_as(make_team_member(store.partner, "operator"))
    operator.get("/consumers/new")
    response = operator.post(
        "/consumers/new", {"full_name": "", "email": "not-an-email", "currency": "XYZ", "initial_funds": "ten"}
    )
    assert response.status_code == 422
    html = page(response)
    assert "4 fields need a change." in html
    for field_id, message in (
        ("consumer-name", "Enter a full name."),
        ("consumer-email", "is not a valid email address"),
        ("consumer-currency", "Currency 'XYZ' is not a currency we know: use its three-letter code, like USD or EUR."),
        ("consumer-funds", "Initial funds must be"),
    ):
        assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true" aria-describedby="{field_id}-error', html), field_id
        error = re.search(rf'<p id="{field_id}-error" class="field-error">([^<]*)</p>', html)
        assert error and message in error.group(1), (field_id, error and error.group(1))
    assert "ISO 4217" not in html


def test_bulk_upload_rows_in_error_come_first_apart_from_the_good_rows(session, store, make_team_member, portal_as):
    operator = portal_as(make_team_member(store.partner, "operator"))
    content = (
        "action,email,full_name,currency,initial_funds\n"
        "create,ann@example.com,Ann,USD,1\n"
        "create,broken,Broken,USD,1\n"
        "create,bo@example.com,Bo,USD,1\n"
    )
    operator.get("/bulk-uploads")
    uploaded = operator.post("/bulk-uploads", {"file": (io.BytesIO(content.encode()), "people.csv")})
    html = page(operator.get(redirect_path(uploaded).removeprefix("/portal")))
    errors_heading = html.index("Rows with errors (1)")
    good_heading = html.index("Rows without errors")
    assert (
        errors_heading
        < html.index('id="bulk-row-2"')
        < good_heading
        < html.index('id="bulk-row-1"')
        < html.index('id="bulk-row-3"')
    )
    assert '<tbody class="bulk-group-errors">' in html and '<tbody class="bulk-group-valid">' in html
    # Filtered by outcome, no headings: just those rows.
    created = page(operator.get(redirect_path(uploaded).removeprefix("/portal") + "?outcome=create"))
    assert "Rows with errors" not in created and 'id="bulk-row-2"' not in created


def test_a_branding_version_keeps_its_accent_default_in_step_with_the_partner(session):
    assert BrandingVersion.model_fields["accent_color"].default == Partner.model_fields["accent_color"].default
