"""A consumer's whole first-login journey in a real browser, from the CLI to a password reset."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Page, expect

from app.services.consumer_auth import WRONG_CREDENTIALS
from tests.conftest import first_link, temporary_password_in, unique

CHOSEN_PASSWORD = "Maple-syrup-2024"
RESET_PASSWORD = "Harbour-lights-77"
RULE_COUNT = 4  # app.domain.passwords.password_rules


def run_cli(app, *args: str) -> dict:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def expect_page(page: Page, url: str, heading: str) -> None:
    """Wait until the page at `url` showing `heading` is fully live.

    Forms are boosted (hx-boost): htmx swaps the new body in, then wires up its hx-* attributes
    only after the settle delay (20 ms), while the body has the class htmx-settling. Typing into
    the password field before that would go unseen by the inline checklist.
    """
    expect(page).to_have_url(url)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    page.wait_for_load_state()  # a full page load (page.goto): htmx starts on DOMContentLoaded
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bhtmx-(swapping|settling)\b"))


def sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def type_new_password(page: Page, password: str) -> None:
    """Type the password key by key and watch the inline checklist (htmx) tick every rule."""
    rules = page.locator("#password-rules")
    expect(rules.locator("li.met")).to_have_count(0)
    field = page.get_by_label("New password")
    # Letters only so far: "a letter" is met; length, number/symbol and "hard to guess" (a word, 5 letters) are not.
    field.press_sequentially(password[:5])
    expect(rules.locator("li.met")).to_have_count(1)
    expect(rules.locator("li.unmet")).to_contain_text(
        ["At least 10 characters", "At least one number or symbol", "Hard to guess"]
    )
    field.press_sequentially(password[5:])
    expect(rules.locator("li.met")).to_have_count(RULE_COUNT)
    expect(rules.locator("li.unmet")).to_have_count(0)
    page.get_by_label("Type it again").fill(password)


def expect_store_home(page: Page, store: str) -> None:
    expect_page(page, f"{store}/", "Hi Robin, treat yourself or someone else.")
    expect(page.locator("#wallet")).to_have_text("$100.00")
    expect(page.locator(".wallet-card .amount")).to_have_text("$100.00")


def test_a_new_consumer_signs_in_with_the_emailed_password_sets_a_password_accepts_terms_and_resets_it_later(
    live_store, page: Page
):
    app, mailbox = live_store.app, live_store.mailbox
    slug = unique("e2e")
    store = f"{live_store.url}/s/{slug}"
    email = f"{unique('robin')}@example.com"

    partner = run_cli(app, "create-partner", "--slug", slug, "--name", "Acme Rewards", "--currency", "USD", "--funds", "1000")
    assert set(partner) == {"partnerId", "clientId", "apiKey", "hmacSecret", "storeUrl"}
    assert partner["storeUrl"] == f"{store}/"
    consumer = run_cli(
        app,
        "create-consumer",
        "--partner",
        slug,
        "--email",
        email,
        "--name",
        "Robin Shopper",
        "--currency",
        "USD",
        "--funds",
        "100",
    )
    assert consumer["welcomeEmail"] == "queued"

    # The welcome email: a link to the store's sign-in page and a temporary password.
    welcome = mailbox.last_to(email)
    login_url = first_link(welcome, rf"{re.escape(store)}/login\S*")
    temporary_password = temporary_password_in(welcome)

    # First sign-in with the temporary password leads to choosing a password.
    page.goto(login_url)
    expect_page(page, f"{store}/login", "Sign in to Acme Rewards")
    sign_in(page, email, temporary_password)
    expect_page(page, f"{store}/welcome/password", "Welcome, Robin Shopper")
    type_new_password(page, CHOSEN_PASSWORD)
    page.get_by_role("button", name="Save password").click()

    # Then the terms: ticking the box is required.
    expect_page(page, f"{store}/terms", "Terms of use")
    expect(page.get_by_text("Your password is set.")).to_be_visible()
    page.get_by_label(re.compile("I have read and accept the terms")).check()
    page.get_by_role("button", name="Accept and continue").click()
    expect_store_home(page, store)

    # Later: signed out, the consumer has forgotten the password and asks for a reset link.
    page.get_by_role("button", name="Sign out").click()
    expect_page(page, f"{store}/login", "Sign in to Acme Rewards")
    expect(page.get_by_text("You're signed out.")).to_be_visible()
    page.get_by_role("link", name="Forgot password?").click()
    expect_page(page, f"{store}/forgot", "Forgot your password?")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send reset link").click()
    # The email is sent before the response, so once this shows it is in the mailbox.
    expect(page.get_by_text("If an account exists for that email")).to_be_visible()

    reset_url = first_link(mailbox.last_to(email), rf"{re.escape(store)}/reset/\S+")
    page.goto(reset_url)
    # The link's token moves into the session at once: the address bar (and history) shows /reset only.
    expect_page(page, f"{store}/reset", "Choose a new password")
    type_new_password(page, RESET_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect_page(page, f"{store}/login", "Sign in to Acme Rewards")
    expect(page.get_by_text("Your password has been changed.")).to_be_visible()

    # The password chosen at first sign-in no longer works: the error shows in place (422).
    with page.expect_response(lambda r: r.request.method == "POST" and r.url == f"{store}/login") as refused:
        sign_in(page, email, CHOSEN_PASSWORD)
    assert refused.value.status == 422
    expect_page(page, f"{store}/login", "Sign in to Acme Rewards")
    expect(page.locator("#form-error")).to_have_text(WRONG_CREDENTIALS)
    expect(page.get_by_label("Email")).to_have_value(email)

    # The new one does, straight to the store: password and terms are already done.
    sign_in(page, email, RESET_PASSWORD)
    expect_store_home(page, store)
