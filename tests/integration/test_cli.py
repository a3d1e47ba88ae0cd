"""The Flask CLI: partners, funds, consumers, demo data, migrations."""

import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel, select

from app.cli import migrate_to_latest
from app.demo_brands import DEMO_BRANDS
from app.domain.money import Money
from app.models import ApiKey, Brand, Consumer, EmailMessage, PartnerBrand
from app.security import token_hash
from app.services import partners
from tests.conftest import body_text


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_create_partner_prints_its_credentials_once_and_stores_only_their_hash_and_ciphertext(app, session):
    result = run(app, "create-partner", "--slug", "globex", "--name", "Globex", "--currency", "usd", "--funds", "10000")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    assert set(data) == {"partnerId", "clientId", "apiKey", "hmacSecret", "storeUrl"}
    assert data["storeUrl"] == "http://store.test/s/globex/"
    key = session.exec(select(ApiKey).where(ApiKey.partner_id == data["partnerId"])).one()
    assert key.key_hash == token_hash(data["apiKey"])
    assert data["hmacSecret"] not in key.hmac_secret_encrypted
    assert app.extensions["encryptor"].decrypt(key.hmac_secret_encrypted) == data["hmacSecret"]
    partner = partners.partner_by_slug(session, "globex")
    assert partners.partner_funds(session, partner, "USD") == Money(10_000_00, "USD")


def test_create_partner_refuses_a_taken_slug_and_bad_input(app):
    assert run(app, "create-partner", "--slug", "dup", "--name", "One").exit_code == 0
    again = run(app, "create-partner", "--slug", "dup", "--name", "Two")
    assert again.exit_code == 1 and "already exists" in again.output
    assert "slug must be" in run(app, "create-partner", "--slug", "Bad Slug!", "--name", "X").output
    assert "is not a currency we know" in run(app, "create-partner", "--slug", "ok", "--name", "X", "--currency", "ABC").output


def test_fund_partner_adds_funds_and_refuses_fractions_of_a_cent(app, session, make_partner):
    partner = make_partner(funds="0")
    result = run(app, "fund-partner", "--slug", partner.slug, "--currency", "USD", "--amount", "500")
    assert result.exit_code == 0 and "$500.00" in result.output
    bad = run(app, "fund-partner", "--slug", partner.slug, "--amount", "1.005")
    assert bad.exit_code == 1 and "more than 2 decimal places" in bad.output
    assert run(app, "fund-partner", "--slug", "nope", "--amount", "1").exit_code == 1
    assert partners.partner_funds(session, partner, "USD") == Money(500_00, "USD")


def test_create_consumer_funds_the_wallet_and_sends_the_welcome_email(app, session, make_partner, mailbox):
    partner = make_partner(funds="1000")
    result = run(
        app,
        "create-consumer",
        "--partner",
        partner.slug,
        "--email",
        "Kim@Example.com",
        "--name",
        "Kim",
        "--currency",
        "USD",
        "--funds",
        "100",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["walletBalance"] == "100.00"
    assert "Temporary password:" in body_text(mailbox.last_to("kim@example.com"))
    short = run(
        app, "create-consumer", "--partner", partner.slug, "--email", "lee@example.com", "--name", "Lee", "--funds", "5000"
    )
    assert short.exit_code == 1 and "Unable to pre-charge all currency groups" in short.output
    assert session.exec(select(Consumer).where(Consumer.email == "lee@example.com")).first() is None


def test_seed_demo_is_safe_to_run_twice_and_prints_a_working_login(app, session, mailbox):
    first = run(app, "seed-demo")
    assert first.exit_code == 0, first.output
    assert "http://store.test/s/acme/login" in first.output and "temporary password:" in first.output
    second = run(app, "seed-demo")
    assert second.exit_code == 0
    assert len(session.exec(select(Consumer)).all()) == 1
    assert sorted(m.kind for m in session.exec(select(EmailMessage)).all()) == ["team_invite", "welcome"]
    assert len(session.exec(select(Brand)).all()) == len(DEMO_BRANDS) == 40
    assert len(session.exec(select(PartnerBrand)).all()) == 40


def test_migrations_build_exactly_the_schema_the_models_describe(app, session):
    engine = app.extensions["db_engine"]
    SQLModel.metadata.drop_all(engine)
    migrate_to_latest()
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
        assert differences == []
        assert "alembic_version" in inspect(connection).get_table_names()
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE alembic_version")


def _printed_password(output: str, after: str) -> str:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    return next(line for line in lines[start:] if "temporary password:" in line).split("temporary password:")[1].split()[0]


def test_seed_demo_prints_a_portal_admin_login_that_works(app, session, mailbox):
    from tests.integration.conftest import PortalBrowser, redirect_path

    result = run(app, "seed-demo")
    assert "http://store.test/portal/login" in result.output and "admin@acme.example" in result.output
    password = _printed_password(result.output, "Partner portal")
    browser = PortalBrowser(app.test_client())
    assert redirect_path(browser.login("admin@acme.example", password)) == "/portal/welcome/password"


def test_create_team_member_invites_the_first_admin(app, session, make_partner, mailbox):
    from app.models import TeamMember

    partner = make_partner()
    result = run(app, "create-team-member", "--partner", partner.slug, "--email", "Boss@Example.com", "--role", "admin")
    assert result.exit_code == 0, result.output
    member = session.exec(select(TeamMember).where(TeamMember.email == "boss@example.com")).one()
    assert member.role == "admin" and member.partner_id == partner.id and member.must_change_password
    assert _printed_password(result.output, "admin:") in body_text(mailbox.last_to("boss@example.com"))
    again = run(app, "create-team-member", "--partner", partner.slug, "--email", "boss@example.com")
    assert again.exit_code == 1 and "already" in again.output
    assert run(app, "create-team-member", "--partner", "nope", "--email", "x@example.com").exit_code == 1
