"""The partner portal in a real browser: an admin invites an operator, who signs in with the emailed
temporary password, chooses a password, uploads a CSV of consumers, commits it and funds one of
them in place; a viewer then walks the same pages and finds no button that changes anything.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from app.db import db_session, write_transaction
from app.domain.money import Money
from app.models import TeamMember
from app.security import hash_password
from app.services import partners, team
from tests.conftest import TEAM_PASSWORD, temporary_password_in

OPERATOR_PASSWORD = "Harbour-Lights-2031!"
CONSUMERS_CSV = (
    "email,full_name,currency,initial_funds\n"
    "maya.lopez@example.com,Maya Lopez,USD,50.00\n"
    "tom.baker@example.com,Tom Baker,USD,\n"
    "not-an-email,Broken Row,USD,10.00\n"
    "li.wei@example.com,Li Wei,USD,20.00\n"
)


@pytest.fixture
def program(live_store):
    """A partner with funds, an admin and a viewer who have both chosen their passwords."""
    with live_store.app.app_context():
        session = db_session()
        partner, _ = partners.create_partner(
            session, slug="harbour", name="Harbour Rewards", currency="USD", funds=Money(1000_00, "USD")
        )
        for email, name, role in (
            ("ada.admin@example.com", "Ada Admin", "admin"),
            ("vic.viewer@example.com", "Vic Viewer", "viewer"),
        ):
            member, _ = team.invite(session, partner=partner, email=email, full_name=name, role=role, actor="test")
            with write_transaction(session):
                member = session.get(TeamMember, member.id)
                member.password_hash = hash_password(TEAM_PASSWORD)
                member.must_change_password = False
                session.add(member)
    live_store.mailbox.clear()
    return live_store


def sign_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/portal/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def settled(page: Page) -> None:
    page.wait_for_load_state()
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bhtmx-(request|swapping|settling)\b"))


def test_an_operator_invited_by_the_admin_uploads_consumers_and_funds_one_and_a_viewer_cannot_change_anything(
    program, browser: Browser, page: Page
):
    url = program.url

    # The admin invites an operator from the team page.
    sign_in(page, url, "ada.admin@example.com", TEAM_PASSWORD)
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Team").click()
    page.get_by_label("Full name").fill("Omar Operator")
    page.get_by_label("Email").fill("omar.operator@example.com")
    page.locator("input[name=role][value=operator]").check()
    page.get_by_role("button", name=re.compile("Invite|Send")).click()
    expect(page.locator("tr", has_text="omar.operator@example.com")).to_contain_text("invited")

    # The operator signs in with the emailed temporary password and chooses their own.
    invitation = program.mailbox.last_to("omar.operator@example.com")
    operator = browser.new_context().new_page()
    sign_in(operator, url, "omar.operator@example.com", temporary_password_in(invitation))
    expect(operator.get_by_role("heading", name="Welcome, Omar Operator")).to_be_visible()
    new_password = operator.get_by_label("New password")
    # htmx focuses the autofocus field once the boosted page settles: type after that, as a person would
    # (typing sooner, the second field's text could land in the first when the focus moves).
    expect(new_password).to_be_focused()
    new_password.fill(OPERATOR_PASSWORD)
    expect(operator.locator("#password-rules li.unmet")).to_have_count(0)
    operator.get_by_label("Type it again").fill(OPERATOR_PASSWORD)
    operator.get_by_role("button", name="Save password").click()
    expect(operator.get_by_text("Your password is set.")).to_be_visible()
    nav = operator.get_by_role("navigation", name="Portal")
    expect(nav.get_by_role("link", name="Bulk upload")).to_be_visible()
    expect(nav.get_by_role("link", name="Team")).to_have_count(0)

    # A CSV of consumers: checked first (one bad row), then committed.
    nav.get_by_role("link", name="Bulk upload").click()
    operator.get_by_label("CSV file").set_input_files(
        files=[{"name": "march.csv", "mimeType": "text/csv", "buffer": CONSUMERS_CSV.encode()}]
    )
    operator.get_by_role("button", name="Upload and check").click()
    expect(operator.get_by_role("heading", name="march.csv")).to_be_visible()
    expect(operator.locator("#count-create")).to_have_text("3")
    expect(operator.locator("#count-error")).to_have_text("1")
    expect(operator.locator("#bulk-upload")).to_contain_text("not-an-email")
    operator.get_by_role("button", name="Commit 3 valid rows").click()
    expect(operator.get_by_text(re.compile("Committed on"))).to_be_visible()
    expect(operator.locator("#count-create")).to_have_text("3")
    assert (
        "Temporary password"
        in program.mailbox.last_to("maya.lopez@example.com").get_body(preferencelist=("plain",)).get_content()
    )
    # Their initial funds (50 + 20) came out of the partner's funds.
    expect(operator.locator("#portal-funds")).to_contain_text("$930.00")

    # Funds for one of them, in place: the wallet, the statement and the header's partner funds change.
    nav.get_by_role("link", name="Consumers").click()
    expect(operator.get_by_role("heading", name="Consumers")).to_be_visible()
    settled(operator)
    with operator.expect_response(lambda response: "q=maya" in response.url):
        operator.get_by_label("Name or email").fill("maya")
    settled(operator)
    expect(operator).to_have_url(re.compile(r"/portal/consumers\?q=maya"))
    expect(operator.locator("#consumer-rows tbody tr")).to_have_count(1)
    operator.get_by_role("link", name="Maya Lopez").click()
    expect(operator.get_by_role("heading", level=1)).to_contain_text("Maya Lopez")
    operator.evaluate("window.__noReload = true")
    operator.get_by_label("Amount").fill("25.00")
    operator.get_by_label("Reason").fill("Employee of the month")
    operator.get_by_role("button", name="Save the change").click()
    expect(operator.locator("#consumer-funds")).to_contain_text("$25.00 added to the general wallet. It now holds $75.00.")
    expect(operator.locator("#consumer-funds tbody")).to_contain_text("$75.00")
    expect(operator.locator("#portal-funds")).to_contain_text("$905.00")
    expect(operator.get_by_text("Employee of the month")).to_be_visible()
    assert operator.evaluate("window.__noReload") is True

    # Removing more than the wallet holds is refused in place and moves nothing.
    operator.get_by_label("Remove from the general wallet").check()
    operator.get_by_label("Amount").fill("500.00")
    operator.get_by_label("Reason").fill("Mistake")
    operator.get_by_role("button", name="Save the change").click()
    expect(operator.locator("#consumer-funds .form-error")).to_be_visible()
    expect(operator.locator("#consumer-funds tbody")).to_contain_text("$75.00")
    expect(operator.locator("#portal-funds")).to_contain_text("$905.00")

    # A viewer sees the same pages, and no button or form that would change anything.
    viewer = browser.new_context().new_page()
    sign_in(viewer, url, "vic.viewer@example.com", TEAM_PASSWORD)
    viewer_nav = viewer.get_by_role("navigation", name="Portal")
    for hidden in ("Bulk upload", "API keys", "Team", "Audit log"):
        expect(viewer_nav.get_by_role("link", name=hidden)).to_have_count(0)
    pages = ["Dashboard", "Consumers", "Orders", "Transactions", "Brands", "Branding", "Settings"]
    for name in pages:
        viewer_nav.get_by_role("link", name=name).click()
        expect(viewer.get_by_role("heading", level=1)).to_be_visible()
        settled(viewer)
        assert_nothing_to_change(viewer, name)
        if name == "Consumers":
            viewer.get_by_role("link", name="Maya Lopez").click()
            expect(viewer.get_by_role("heading", level=1)).to_contain_text("Maya Lopez")
            expect(viewer.locator("#consumer-funds tbody")).to_contain_text("$75.00")
            assert_nothing_to_change(viewer, "Maya Lopez")
            viewer.go_back()
    # Going straight to an operator's page is refused.
    response = viewer.goto(f"{url}/portal/bulk-uploads")
    assert response.status == 403


def assert_nothing_to_change(page: Page, where: str) -> None:
    """Only searches and filters (GET forms) can be sent: no POST form with a button that works, and
    no button or link named like a change, not even a disabled one."""
    main = page.locator("main")
    enabled_buttons = main.locator("form[method=post] button:enabled, form[method=post] input[type=submit]:enabled")
    assert enabled_buttons.count() == 0, f"{where}: a viewer can send {enabled_buttons.all_inner_texts()}"
    for label in (
        "Add a consumer",
        "Save",
        "Deactivate",
        "Reactivate",
        "Publish",
        "Upload",
        "Retry",
        "Resend",
        "Create",
        "Enable",
        "Disable",
    ):
        assert main.get_by_role("button", name=label).count() == 0, f"{where}: a viewer sees {label!r}"
        assert main.get_by_role("link", name=label).count() == 0, f"{where}: a viewer sees {label!r}"
