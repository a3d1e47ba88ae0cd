"""Flask CLI commands: database, demo data, partners, consumers and the worker."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.db import db_session, engine
from app.domain.errors import DomainError
from app.domain.money import Money, normalize_currency

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config():
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", current_app.config["DATABASE_URL"].replace("%", "%%"))
    return config


def migrate_to_latest() -> None:
    from alembic import command

    config = alembic_config()
    with engine().begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _fail(error: DomainError):
    click.echo(f"Error: {error.message}", err=True)
    sys.exit(1)


def _money(amount: str, currency: str) -> Money:
    try:
        return Money.parse(amount, normalize_currency(currency))
    except DomainError as error:
        _fail(error)


@click.command("init-db")
@with_appcontext
def init_db():
    """Migrate the database to the latest version."""
    migrate_to_latest()
    click.echo("Database is at the latest migration.")


@click.command("make-migration")
@click.argument("message")
@with_appcontext
def make_migration(message: str):
    """Write a new migration from the difference between the models and the database."""
    from alembic import command

    config = alembic_config()
    with engine().begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)


@click.command("create-partner")
@click.option("--slug", required=True)
@click.option("--name", required=True)
@click.option("--currency", default="USD", show_default=True)
@click.option("--funds", default="0", show_default=True, help="Opening funds in major units, e.g. 10000")
@click.option(
    "--require-v2", is_flag=True, help="The API key accepts only v2 signatures (x-signature-version: 2, covering path and query)"
)
@click.option(
    "--brands",
    type=click.Choice(["all", "none"]),
    default="all",
    show_default=True,
    help="all: the store offers every brand of the catalog (the portal's Brands page can narrow it); none: no brand yet",
)
@with_appcontext
def create_partner(slug, name, currency, funds, require_v2, brands):
    """Create a partner with its store, API credentials and opening funds; prints JSON."""
    from app.db import write_transaction
    from app.links import external_url
    from app.services import api_keys, catalog, partners

    money = _money(funds, currency)
    session = db_session()
    try:
        with write_transaction(session):  # the key never exists without its signature rule
            partner, credentials = partners.create_partner(
                session, slug=slug, name=name, currency=money.currency, funds=money, actor="cli"
            )
            if require_v2:
                api_keys.set_require_signature_v2(
                    session, partner=partner, key=api_keys.issued_key(session, credentials), required=True, actor="cli"
                )
            if brands == "all":
                catalog.offer_whole_catalog(session, partner=partner)
    except DomainError as error:
        _fail(error)
    click.echo(
        json.dumps(
            {
                "partnerId": partner.id,
                "clientId": credentials.client_id,
                "apiKey": credentials.api_key,
                "hmacSecret": credentials.hmac_secret,
                "storeUrl": external_url("store.home", slug=partner.slug),
            }
        )
    )


@click.command("create-api-key")
@click.option("--partner", "slug", required=True)
@click.option("--name", default="", help="A label for the key, e.g. the system that uses it")
@click.option(
    "--require-v2", is_flag=True, help="The key accepts only v2 signatures (x-signature-version: 2, covering path and query)"
)
@with_appcontext
def create_api_key(slug, name, require_v2):
    """Issue another API key for a partner; prints its credentials as JSON, this once only."""
    from app.services import api_keys, partners

    session = db_session()
    try:
        partner = partners.partner_by_slug(session, slug)
        _key, credentials = api_keys.create_outside_portal(
            session, partner=partner, label=name, require_signature_v2=require_v2, actor="cli"
        )
    except DomainError as error:
        _fail(error)
    click.echo(
        json.dumps({"clientId": credentials.client_id, "apiKey": credentials.api_key, "hmacSecret": credentials.hmac_secret})
    )


@click.command("fund-partner")
@click.option("--slug", required=True)
@click.option("--currency", default="USD", show_default=True)
@click.option("--amount", required=True, help="Major units, e.g. 500 or 12.50")
@with_appcontext
def fund_partner(slug, currency, amount):
    """Add funds to a partner's funds account."""
    from app.services import partners

    session = db_session()
    money = _money(amount, currency)
    try:
        partner = partners.partner_by_slug(session, slug)
        partners.fund_partner(session, partner=partner, amount=money, actor="cli")
    except DomainError as error:
        _fail(error)
    from app.pages import format_money

    click.echo(f"{partner.slug} funds: {format_money(partners.partner_funds(session, partner, money.currency))}")


@click.command("create-consumer")
@click.option("--partner", "slug", required=True)
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--currency", default="USD", show_default=True)
@click.option("--funds", default="0", show_default=True, help="Initial wallet balance in major units")
@with_appcontext
def create_consumer(slug, email, name, currency, funds):
    """Create a consumer with a funded wallet and send the welcome email."""
    from app.services import consumers, partners

    session = db_session()
    money = _money(funds, currency)
    try:
        partner = partners.partner_by_slug(session, slug)
        result = consumers.create_consumer(
            session, partner=partner, email=email, full_name=name, initial_funds=money, actor="cli"
        )
    except DomainError as error:
        _fail(error)
    click.echo(
        json.dumps(
            {
                "id": result.consumer.id,
                "walletId": str(result.wallet_account.id),
                "email": result.consumer.email,
                "walletBalance": str(Money(result.wallet_account.balance, money.currency).to_decimal()),
                "currency": money.currency,
                "welcomeEmail": "queued" if result.created else "not sent (existing consumer, new wallet)",
            }
        )
    )


@click.command("create-team-member")
@click.option("--partner", "slug", required=True)
@click.option("--email", required=True)
@click.option("--name", default="", help="Full name (default: the part of the email before @)")
@click.option("--role", type=click.Choice(["admin", "operator", "viewer"]), default="admin", show_default=True)
@with_appcontext
def create_team_member(slug, email, name, role):
    """Invite a member of a partner's team to the portal (the first admin, say); prints the temporary password."""
    from app.links import external_url
    from app.services import partners, team

    session = db_session()
    try:
        partner = partners.partner_by_slug(session, slug)
        member, temporary = team.invite(
            session, partner=partner, email=email, full_name=name or email.split("@")[0], role=role, actor="cli"
        )
    except DomainError as error:
        _fail(error)
    click.echo(f"Portal: {external_url('portal.login')}")
    click.echo(f"  {member.role}: {member.email}")
    click.echo(f"  temporary password: {temporary}   (also emailed; first sign-in asks for a new password)")


@click.command("seed-demo")
@with_appcontext
def seed_demo():
    """Create the demo partner and consumer (safe to run again) and print how to log in."""
    from app.demo import seed

    for line in seed():
        click.echo(line)


@click.command("worker")
@click.option("--workers", type=int, default=None, help="threads (default: the WORKER_THREADS setting, 32)")
@with_appcontext
def worker(workers):
    """Run queued work (emails, fulfilment, sweeps) until interrupted."""
    from app.db import make_engine, reads_engine
    from app.queue import run_worker

    app = current_app._get_current_object()
    threads = workers or app.extensions["settings"].WORKER_THREADS
    # A connection for every thread (and the sweeps), not the web process's ten: none waits for the pool.
    app.extensions["db_engine"].dispose()
    app.extensions["db_engine"] = make_engine(app.extensions["settings"].DATABASE_URL, pool_size=threads + 2)
    app.extensions["db_reads_engine"] = reads_engine(app.extensions["db_engine"])
    run_worker(app, threads)


@click.command("reencrypt")
@with_appcontext
def reencrypt():
    """Write every encrypted value again under the first of ENCRYPTION_KEYS, so the keys after it can be retired."""
    from app.services.key_rotation import reencrypt_all

    done = reencrypt_all(db_session(), current_app.extensions["encryptor"])
    for table, count in done.values.items():
        click.echo(f"{table}: {count} values re-encrypted")
    if done.unreadable:
        shown = ", ".join(done.unreadable[:10]) + (" …" if len(done.unreadable) > 10 else "")
        raise click.ClickException(f"{len(done.unreadable)} values no configured key can read ({shown}): keep every old key")
    click.echo("Done: every encrypted value is under the first key; the others can be removed from ENCRYPTION_KEYS.")


@click.command("refresh-daily-totals")
@click.option("--partner", "slug", default=None, help="One partner's slug (default: every partner)")
@click.option("--recount", is_flag=True, help="Count every closed day of the last 90 again, e.g. after bulk-loaded data")
@with_appcontext
def refresh_daily_totals(slug, recount):
    """Roll up the dashboard's closed days now (the queue does it every five minutes)."""
    from app.services import daily_totals, partners

    session = db_session()
    try:
        partner_id = partners.partner_by_slug(session, slug).id if slug else None
    except DomainError as error:
        _fail(error)
    days = daily_totals.refresh_daily_totals(session, partner_id, recount=recount)
    click.echo(f"{days} partner-days rolled up.")


def register_cli(app: Flask) -> None:
    for command in (
        init_db,
        make_migration,
        create_partner,
        create_api_key,
        fund_partner,
        create_consumer,
        create_team_member,
        seed_demo,
        worker,
        reencrypt,
        refresh_daily_totals,
    ):
        app.cli.add_command(command)
