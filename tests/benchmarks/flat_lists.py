"""Flat lists at a million orders (issue 21, scenario 4): `.venv/bin/python tests/benchmarks/flat_lists.py [--orders N]`.

One partner (the demo store, `acme`) is measured twice on the same stack: first holding 1,000 orders (and its
consumers and ledger in proportion), then grown to 1,000,000 orders, 100,000 consumers and about 3,000,000
ledger entries, with ten smaller partners beside it (a few thousand orders each). Each request below is made
`--requests` times (20) after two warm-ups, one at a time, and the p50 at the large size is divided by the p50 at
the small one: the target is a ratio of at most 1.5. (Before the small size, the whole list is sent 20 times
untimed, so every gunicorn worker is as warm as it is later for the large size; GET /hello is measured too, to
show how much the machine's speed drifted in between.)

  portal    consumer search (an email, and a surname shared by 1 in 40 consumers), the orders list (first
            page, status=failed, one consumer's orders, and a deep page of the unfiltered and the failed list),
            the transactions list, its CSV (time to the first data row), the dashboard, one consumer's page
  store     one consumer's statement and order history (signed in as a generated consumer)
  API       GET /orders (first and a deep page) and GET /transactions, signed (v2)

A deep page follows the lists' keyset contract: the first page's `<a rel="next" href>` carries `before=<id>`,
and the deep URL is the first page's plus `before=<id of the row in the middle of the list>`; the API's is
`cursor=<id>` when its answer has a `nextCursor`. A list without them yet is asked for its middle page
(`page=`), which the report says.

The volume is generated in PostgreSQL itself (INSERT ... SELECT over generate_series, ids reserved up front),
not through the app: consumers with a general and a bonus wallet, each funded by an "Initial funds" credit
from the partner's funds (which a deposit tops up by the same amount); orders that debit the general wallet
into the partner's card_purchases account, completed (some with a cash-back rebate into the bonus wallet),
failed (refunded exactly), or pending (the last minutes only); created_at spread over two years, ids rising
with time. Every transaction sums to zero, balances are set from the entries, no wallet goes below zero
(`ledger_problems` stays empty). The partner itself, its viewer, its API key, the password hash and the card
ciphertext come from the app's own code (`prepare`). Then VACUUM (ANALYZE), as autovacuum would have, and the
dashboard's daily totals are counted again with `flask refresh-daily-totals --recount` (when the app has it).

Run alone, it starts the production layout of tests/benchmarks/launch_day.py (gunicorn 4x4 on PostgreSQL, Redis,
a separate worker) on a database of its own, created and dropped. `flat_lists(stack)` runs it on a started stack;
`run_flat_lists(site)` on anything that can prepare, refresh and make browsers (the suite's small run uses
Flask's test client: tests/integration/test_flat_lists_small.py). Not a test module: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import launch_day  # noqa: E402  (the production layout: Stack, Client)
import run as pages  # noqa: E402  (process helpers, the store's sign-in)

SLUG = pages.SLUG
TARGET_RATIO = 1.5
SHOPPER_PASSWORD = "Sturdy-otter-2026!"  # every generated consumer's (one Argon2 hash made by the app)
VIEWER_PASSWORD = "Quiet-heron-2026!"
API_PREFIX = "/api/partner/v1"
# The dashboard rollup's rebuild (app/cli.py), every closed day counted again: the bulk rows went around the app.
ROLLUP_COMMAND = ["refresh-daily-totals", "--recount"]
REDIS_URL = "redis://127.0.0.1:6379/10"  # not launch_day's database 9: both may run at once
SPAN = timedelta(days=730)
PENDING_WINDOW = timedelta(minutes=10)  # orders placed this recently are still pending; older ones are final
SMALL_PARTNERS = 10
SMALL_PARTNER_ORDERS = 3_000
CONSUMERS_PER_ORDER = 0.1  # 100,000 consumers for 1,000,000 orders
PORTAL_PAGE, API_PAGE = 50, 20  # rows per page (the fallback to a middle page needs them)
# No database, the same at any size: its ratio shows how much the machine's speed drifted between the two sizes.
BASELINE = "baseline GET /hello (no target)"

FIRST_NAMES = (
    "Ada Amara Ana Aiko Bruno Chen Chloe Dario Dmitri Elena Emeka Farah Felix Grace Hana Ines Ivan Jonas Kemal Lena "
    "Liam Mei Maya Nadia Noah Olu Omar Priya Quinn Rosa Sami Sofia Tariq Tomas Uma Vera Wei Yara Zane Zoe"
).split()
SURNAMES = (
    "Abara Bianchi Castillo Dubois Eriksen Fischer Garcia Haddad Ito Jansen Kowalski Larsen Moreau Nakamura "
    "Novak Okafor Petrov Quispe Rossi Santos Schmidt Silva Tanaka Usman Varga Weber Xu Yilmaz Zhang Andersen "
    "Brennan Costa Delgado Evans Ferreira Gupta Horvat Ibrahim Jovanovic Kim"
).split()


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------- the app's side (an app context)


def prepare(session, *, slug: str, small_partners: int, tag: str) -> dict:
    """What the generator takes from the app itself: the partner's accounts, `small_partners` more partners with
    the whole catalog, a viewer to sign in to the portal, an API key, one Argon2 hash of SHOPPER_PASSWORD and one card
    ciphertext (every generated completed order shows the same card). JSON-able, for a snippet's stdout."""
    from flask import current_app

    from app.domain.ledger import AccountKind
    from app.security import hash_password
    from app.services import api_keys, catalog, ledger, partners, team

    partner = partners.partner_by_slug(session, slug)
    small = []
    for n in range(small_partners):
        other, _credentials = partners.create_partner(
            session, slug=f"flat-{tag}-{n}", name=f"Flat Partner {n + 1}", currency="USD", actor="bench"
        )
        catalog.offer_whole_catalog(session, partner=other)
        small.append(other.id)
    for partner_id in [partner.id, *small]:
        for kind in (AccountKind.PARTNER_FUNDS, AccountKind.PARTNER_DEPOSITS, AccountKind.CARD_PURCHASES):
            ledger.open_account(session, kind, "USD", partner_id=partner_id)
    session.commit()
    viewer_email = f"flat-viewer-{tag}@example.com"
    member, _temporary = team.invite(
        session, partner=partner, email=viewer_email, full_name="Flat Lists Viewer", role="viewer", actor="bench"
    )
    team.set_password(session, member=member, password=VIEWER_PASSWORD, confirmation=VIEWER_PASSWORD)
    _key, credentials = api_keys.create_outside_portal(session, partner=partner, label="flat lists benchmark", actor="bench")
    encryptor = current_app.extensions["encryptor"]
    return {
        "partner_id": partner.id,
        "small_partner_ids": small,
        "viewer_email": viewer_email,
        "viewer_password": VIEWER_PASSWORD,
        "client_id": credentials.client_id,
        "api_key": credentials.api_key,
        "hmac_secret": credentials.hmac_secret,
        "password_hash": hash_password(SHOPPER_PASSWORD),
        "card_number": encryptor.encrypt("4111 1111 1111 1111"),
        "card_pin": encryptor.encrypt("4321"),
    }


PREPARE_SNIPPET = """
import json, sys
sys.path.insert(0, sys.argv[1])
from app import create_app
from app.db import db_session
from flat_lists import prepare

app = create_app()
with app.app_context():
    print(json.dumps(prepare(db_session(), slug=sys.argv[2], small_partners=int(sys.argv[3]), tag=sys.argv[4])))
"""


# --------------------------------------------------------------------------- the generator (PostgreSQL)


def psycopg_dsn(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://...) as libpq takes it."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def _reserve(cursor, table: str, count: int) -> int:
    """The first of `count` ids of `table` nobody else will get: the sequence moves past them (the table is
    locked against other writers until this transaction ends)."""
    cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,))
    sequence = cursor.fetchone()[0]
    cursor.execute(f"SELECT greatest((SELECT coalesce(max(id), 0) FROM {table}), (SELECT last_value FROM {sequence}))")
    first = cursor.fetchone()[0] + 1
    if count:
        cursor.execute("SELECT setval(%s, %s)", (sequence, first + count - 1))
    return first


def _partner_account(cursor, partner_id: int, kind: str) -> int:
    key = f"partner:{partner_id}:{kind}:USD"
    cursor.execute(
        "INSERT INTO account (key, partner_id, kind, currency, balance, created_at) VALUES (%s, %s, %s, 'USD', 0, now())"
        " ON CONFLICT (key) DO NOTHING",
        (key, partner_id, kind),
    )
    cursor.execute("SELECT id FROM account WHERE key = %s", (key,))
    return cursor.fetchone()[0]


@dataclass
class Generated:
    consumers: int = 0
    orders: int = 0
    transactions: int = 0
    entries: int = 0
    seconds: float = 0.0
    first_consumer_id: int = 0
    steps: dict[str, float] = field(default_factory=dict)  # seconds per statement, where the time went


def generate(
    dsn: str, prepared: dict, *, partner_id: int, consumers: int, orders: int, first_index: int = 0, now: datetime | None = None
) -> Generated:
    """`consumers` new consumers of the partner and `orders` new orders among them, with their whole ledger,
    in one database transaction. `first_index` numbers the consumers' emails (a second batch for the same
    partner starts where the first ended). Orders are spread over the two years before `now`, ids rising
    with time; a consumer exists (and is funded) before its first order, so older consumers have more orders."""
    import psycopg

    if consumers < 1 or orders < 0:
        raise BenchError("a batch needs at least one consumer")
    now = now or datetime.now(UTC)
    started = time.monotonic()
    with psycopg.connect(dsn, cursor_factory=psycopg.ClientCursor) as connection, connection.cursor() as cursor:
        steps: dict[str, float] = {}

        def step(name: str, sql: str, values: dict | None = None, *, rows: int | None = None) -> int:
            """Run one statement, keep its time; `rows`: how many rows it must touch (the batch is refused if not)."""
            began = time.monotonic()
            cursor.execute(sql, values)
            steps[name] = time.monotonic() - began
            if rows is not None and cursor.rowcount != rows:
                raise BenchError(f"{name}: {cursor.rowcount} rows, not {rows} (the batch is rolled back)")
            return cursor.rowcount

        cursor.execute("SET LOCAL synchronous_commit = off")
        # No foreign-key trigger per row (they were half the time): every reference is checked once for the whole
        # batch instead ("references checked", and the row counts of the joins), before it commits.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SELECT setseed(%s)", (((partner_id * 7919 + first_index) % 1000) / 1000,))
        funds = _partner_account(cursor, partner_id, "partner_funds")
        deposits = _partner_account(cursor, partner_id, "partner_deposits")
        purchases = _partner_account(cursor, partner_id, "card_purchases")
        cursor.execute("SELECT nullif(terms_version, 0) FROM partner WHERE id = %s", (partner_id,))
        terms_version = cursor.fetchone()[0]
        cursor.execute(
            "CREATE TEMP TABLE flat_brand ON COMMIT DROP AS"
            " SELECT (row_number() OVER (ORDER BY b.id)) - 1 AS n, b.id, b.name FROM partnerbrand pb JOIN brand b ON b.id = pb.brand_id"
            " WHERE pb.partner_id = %s AND pb.enabled AND (',' || b.currencies || ',') LIKE '%%,USD,%%'",
            (partner_id,),
        )
        brands = cursor.rowcount
        if brands < 1:
            raise BenchError(f"partner {partner_id} offers no USD brand")
        params = {
            "p": partner_id,
            "C": consumers,
            "M": orders,
            "g0": first_index,
            "t0": now - SPAN,
            "now": now,
            "span": SPAN,
            "pending": PENDING_WINDOW,
            "brands": brands,
            "firsts": list(FIRST_NAMES),
            "lasts": list(SURNAMES),
            "hash": prepared["password_hash"],
            "terms": terms_version,
            "number": prepared["card_number"],
            "pin": prepared["card_pin"],
            "funds": funds,
            "deposits": deposits,
            "purchases": purchases,
        }
        params["cbase"] = _reserve(cursor, "consumer", consumers)
        params["abase"] = _reserve(cursor, "account", 2 * consumers)
        params["obase"] = _reserve(cursor, "gift_order", orders)

        # Consumers: consumer i joins at t0 + span * i / C; 1 in 50 is inactive.
        step(
            "consumers",
            """
            INSERT INTO consumer (id, partner_id, email, full_name, password_hash, must_change_password,
                temporary_password_expires_at, accepted_terms_version, accepted_terms_at, is_active, session_epoch, created_at)
            SELECT %(cbase)s + i, %(p)s,
                lower(f.name) || '.' || lower(l.name) || '.' || (%(g0)s + i) || '@example.com', f.name || ' ' || l.name,
                %(hash)s, false, NULL, %(terms)s, CASE WHEN %(terms)s IS NULL THEN NULL ELSE at END,
                (%(g0)s + i) %% 50 <> 49, 0, at
            FROM generate_series(0, %(C)s - 1) AS i,
                LATERAL (SELECT %(t0)s::timestamptz + %(span)s::interval * (i::float8 / %(C)s) AS at) AS joined,
                LATERAL (SELECT (%(firsts)s::text[])[1 + (%(g0)s + i) %% cardinality(%(firsts)s::text[])] AS name) AS f,
                LATERAL (SELECT (%(lasts)s::text[])[1 + ((%(g0)s + i) / cardinality(%(firsts)s::text[])) %% cardinality(%(lasts)s::text[])] AS name) AS l
            ORDER BY i
            """,
            params,
            rows=consumers,
        )
        # Orders: order k at t0 + span * (k + 0.5) / M, by one of the consumers who joined before it.
        step(
            "orders drawn",
            """
            CREATE TEMP TABLE flat_order ON COMMIT DROP AS
            SELECT %(obase)s + k AS id, at,
                %(cbase)s + least(floor(r1 * (floor(%(C)s::float8 * k / greatest(%(M)s, 1)) + 1)), %(C)s - 1)::int AS consumer_id,
                least(floor(r2 * %(brands)s), %(brands)s - 1)::int AS brand,
                face,
                CASE WHEN at > %(now)s::timestamptz - %(pending)s::interval THEN 'pending'
                     WHEN r4 < 0.09 THEN 'failed' ELSE 'completed' END AS status,
                CASE WHEN r5 < 0.36 THEN face * (2 + floor(r6 * 4)::int) / 100 ELSE 0 END AS cash_back,
                r7 >= 0.2 AS to_self,
                r8 < 0.15 AS by_api
            FROM (
                SELECT k, %(t0)s::timestamptz + %(span)s::interval * ((k + 0.5) / %(M)s) AS at,
                    random() AS r1, random() AS r2, random() AS r4, random() AS r5, random() AS r6, random() AS r7, random() AS r8,
                    (ARRAY[1000, 2500, 2500, 5000, 5000, 10000])[1 + least(floor(random() * 6), 5)::int]::bigint AS face
                FROM generate_series(0, %(M)s - 1) AS k
            ) AS drawn
            """,
            params,
        )
        # Each consumer's credit covers every order it will place, plus 50.00 to 140.00 left over.
        step(
            "credits drawn",
            """
            CREATE TEMP TABLE flat_credit ON COMMIT DROP AS
            SELECT %(cbase)s + i AS consumer_id, %(t0)s::timestamptz + %(span)s::interval * (i::float8 / %(C)s) AS at,
                %(abase)s + 2 * i AS general, 5000 + ((%(g0)s + i) %% 10) * 1000 + coalesce(spent.total, 0) AS amount
            FROM generate_series(0, %(C)s - 1) AS i
                LEFT JOIN (SELECT consumer_id, sum(face) AS total FROM flat_order GROUP BY consumer_id) AS spent
                ON spent.consumer_id = %(cbase)s + i
            """,
            params,
        )
        # Every movement, numbered in time order: that order is the transactions' ids.
        step(
            "movements numbered",
            """
            CREATE TEMP TABLE flat_move ON COMMIT DROP AS
            SELECT row_number() OVER (ORDER BY at, step, ref) AS n, moves.*
            FROM (
                SELECT %(t0)s::timestamptz - interval '1 hour' AS at, 0 AS step, 0 AS ref, 'credit' AS type,
                    'completed' AS status, NULL::int AS consumer_id, NULL::int AS order_id,
                    (SELECT sum(amount) FROM flat_credit)::bigint AS amount, %(deposits)s AS source, %(funds)s AS target,
                    'Partner funds added' AS memo, 'bench' AS actor
                UNION ALL
                SELECT at, 1, consumer_id, 'credit', 'completed', consumer_id, NULL, amount, %(funds)s, general,
                    'Initial funds', 'bulk'
                FROM flat_credit
                UNION ALL
                SELECT o.at, 2, o.id, 'debit', o.status, o.consumer_id, o.id, o.face,
                    %(abase)s + 2 * (o.consumer_id - %(cbase)s), %(purchases)s, b.name || ' gift card', 'consumer:' || o.consumer_id
                FROM flat_order o JOIN flat_brand b ON b.n = o.brand
                UNION ALL
                SELECT o.at + interval '1 minute', 3, o.id, 'rebate', 'completed', o.consumer_id, o.id, o.cash_back,
                    %(purchases)s, %(abase)s + 2 * (o.consumer_id - %(cbase)s) + 1, 'Cash bonus', 'system'
                FROM flat_order o WHERE o.status = 'completed' AND o.cash_back > 0
                UNION ALL
                SELECT o.at + interval '2 minutes', 4, o.id, 'refund', 'completed', o.consumer_id, o.id, o.face,
                    %(purchases)s, %(abase)s + 2 * (o.consumer_id - %(cbase)s),
                    'Refund: The provider did not answer in time.', 'system'
                FROM flat_order o WHERE o.status = 'failed'
            ) AS moves
            WHERE moves.amount > 0
            """,
            params,
        )
        moves = cursor.rowcount
        step(
            "balances summed",
            """
            CREATE TEMP TABLE flat_balance ON COMMIT DROP AS
            SELECT account_id, sum(amount) AS delta FROM (
                SELECT source AS account_id, -amount AS amount FROM flat_move UNION ALL SELECT target, amount FROM flat_move
            ) AS legs GROUP BY account_id
            """,
        )
        # Each wallet opens with the balance its entries will make: no update of 200,000 rows afterwards.
        step(
            "wallets",
            """
            INSERT INTO account (id, key, partner_id, consumer_id, kind, currency, campaign_id, balance, created_at)
            SELECT %(abase)s + 2 * i + w.j, 'consumer:' || (%(cbase)s + i) || ':' || w.kind || ':USD', %(p)s, %(cbase)s + i,
                w.kind, 'USD', NULL, coalesce(b.delta, 0), %(t0)s::timestamptz + %(span)s::interval * (i::float8 / %(C)s)
            FROM generate_series(0, %(C)s - 1) AS i CROSS JOIN (VALUES (0, 'general'), (1, 'bonus')) AS w(j, kind)
                LEFT JOIN flat_balance b ON b.account_id = %(abase)s + 2 * i + w.j
            ORDER BY i, w.j
            """,
            params,
            rows=2 * consumers,
        )
        step(
            "partner balances",
            "UPDATE account SET balance = account.balance + b.delta FROM flat_balance b"
            " WHERE account.id = b.account_id AND account.id IN (%(funds)s, %(deposits)s, %(purchases)s)",
            params,
        )
        params["tbase"] = _reserve(cursor, "ledger_transaction", moves)
        params["ebase"] = _reserve(cursor, "entry", 2 * moves)
        step(
            "transactions",
            """
            INSERT INTO ledger_transaction (id, partner_id, consumer_id, order_id, campaign_id, type, status, currency,
                amount, memo, actor, idempotency_key, wallet_balance_after, created_at)
            SELECT %(tbase)s + n - 1, %(p)s, consumer_id, order_id, NULL, type, status, 'USD', amount, memo, actor, NULL, NULL, at
            FROM flat_move ORDER BY n
            """,
            params,
            rows=moves,
        )
        step(
            "entries",
            """
            INSERT INTO entry (id, transaction_id, account_id, amount)
            SELECT %(ebase)s + 2 * (n - 1) + leg, %(tbase)s + n - 1,
                CASE leg WHEN 0 THEN source ELSE target END, CASE leg WHEN 0 THEN -amount ELSE amount END
            FROM flat_move CROSS JOIN (VALUES (0), (1)) AS legs(leg)
            ORDER BY n, leg
            """,
            params,
            rows=2 * moves,
        )
        step(
            "orders",
            """
            INSERT INTO gift_order (id, public_id, partner_id, consumer_id, brand_id, currency, face_value, price, card_value,
                cash_back, recipient_email, recipient_name, sender_name, message, to_self, status, failure_reason, attempts,
                claimed_until, provider_reference, card_number_encrypted, card_pin_encrypted, redemption_url_encrypted,
                debit_transaction_id, idempotency_key, external_ref, channel, retried_by_id, delivery_changes,
                created_at, updated_at, completed_at, sent_at, opened_at, deliver_at, cancelled_at, sender_corrected_at)
            SELECT o.id, 'ord_' || lpad(to_hex(o.id), 8, '0') || substr(md5('flat' || o.id), 1, 8), %(p)s, o.consumer_id,
                b.id, 'USD', o.face, o.face, o.face, o.cash_back,
                CASE WHEN o.to_self THEN c.email ELSE 'friend.' || o.id || '@example.net' END,
                CASE WHEN o.to_self THEN '' ELSE 'A Friend' END,
                CASE WHEN o.to_self THEN '' ELSE c.full_name END,
                CASE WHEN o.to_self THEN '' ELSE 'Happy birthday!' END,
                o.to_self, o.status,
                CASE WHEN o.status = 'failed' THEN 'The provider did not answer in time.' ELSE '' END,
                CASE o.status WHEN 'failed' THEN 5 WHEN 'completed' THEN 1 ELSE 0 END,
                NULL,
                CASE WHEN o.status = 'completed' THEN 'sim-flat-' || o.id ELSE '' END,
                CASE WHEN o.status = 'completed' THEN %(number)s ELSE '' END,
                CASE WHEN o.status = 'completed' THEN %(pin)s ELSE '' END,
                '',
                %(tbase)s + m.n - 1, 'flat-' || o.id, CASE WHEN o.by_api THEN 'ext-' || o.id END,
                CASE WHEN o.by_api THEN 'api' ELSE 'store' END, NULL, 0,
                o.at, o.at + CASE WHEN o.status = 'pending' THEN interval '0' ELSE interval '1 minute' END,
                CASE WHEN o.status = 'completed' THEN o.at + interval '1 minute' END,
                CASE WHEN o.status = 'completed' THEN o.at + interval '1 minute' END,
                CASE WHEN o.status = 'completed' AND o.id %% 3 = 0 THEN o.at + interval '3 hours' END,
                NULL, NULL, NULL
            FROM flat_order o
                JOIN consumer c ON c.id = o.consumer_id
                JOIN flat_brand b ON b.n = o.brand
                JOIN flat_move m ON m.type = 'debit' AND m.order_id = o.id
            ORDER BY o.id
            """,
            params,
            rows=orders,  # inner joins: every order has its consumer, brand and debit
        )
        # What the foreign keys would have checked, for the whole batch at once: every movement's accounts are the
        # partner's or this batch's wallets (a wallet only in its own consumer's movements), its consumer and order
        # this batch's. (The orders' references are proven by the inner joins' row count above.)
        step(
            "references checked",
            """
            SELECT count(*) FROM flat_move m, LATERAL (VALUES (m.source), (m.target)) AS leg(account_id)
            WHERE NOT (
                (leg.account_id IN (%(funds)s, %(deposits)s, %(purchases)s)
                 OR (leg.account_id BETWEEN %(abase)s AND %(abase)s + 2 * %(C)s - 1
                     AND %(cbase)s + (leg.account_id - %(abase)s) / 2 = m.consumer_id))
                AND (m.consumer_id IS NULL OR m.consumer_id BETWEEN %(cbase)s AND %(cbase)s + %(C)s - 1)
                AND (m.order_id IS NULL OR m.order_id BETWEEN %(obase)s AND %(obase)s + %(M)s - 1)
            )
            """,
            params,
        )
        broken = cursor.fetchone()[0]
        if broken:
            raise BenchError(f"{broken} entries of the batch name an account, consumer or order they may not (rolled back)")
        result = Generated(consumers, orders, moves, 2 * moves, first_consumer_id=params["cbase"], steps=steps)
        began = time.monotonic()
    steps["commit"] = time.monotonic() - began
    result.seconds = time.monotonic() - started
    return result


def vacuum_analyze(dsn: str) -> float:
    """VACUUM (ANALYZE) the database, as autovacuum would have done long before a partner reached this size: the
    statistics the planner needs, and the visibility map that lets a capped count read only an index. (This
    machine's server runs with autovacuum off; without it the same pages read 3 to 25 times slower.)"""
    import psycopg

    started = time.monotonic()
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")
    return time.monotonic() - started


# --------------------------------------------------------------------------- browsers


class Browser(Protocol):
    token: str | None

    def get(self, path: str, **headers) -> pages.Answer: ...

    def post(self, path: str, data: dict, **headers) -> pages.Answer: ...

    def first_rows(self, path: str) -> pages.Answer: ...


class HttpBrowser(launch_day.Client):
    """launch_day's client (cookies, CSRF token, compressed answers, an address of its own), able to stop reading
    a download once its first rows came."""

    def first_rows(self, path: str) -> pages.Answer:
        """The download's first chunks, until a line after its header (decompressed as they come), then hang up."""
        request = urllib.request.Request(
            self.base + path,
            headers={"User-Agent": pages.USER_AGENT, "Accept-Encoding": "br, gzip", "X-Forwarded-For": self.address},
        )
        with self.opener.open(request, timeout=60) as response:
            encoding = response.headers.get("Content-Encoding", "")
            if encoding == "br":
                import brotli

                decompress = brotli.Decompressor().process
            elif encoding == "gzip":
                decompress = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress
            else:
                decompress = bytes
            text = b""
            while text.count(b"\n") < 2:
                chunk = response.read1(65536)
                if not chunk:
                    break
                text += decompress(chunk)
            return pages.Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, text)


class FlaskBrowser:
    """The same requests through Flask's test client (the suite's small run: no server, no sockets)."""

    def __init__(self, client):
        self.client = client
        self.token: str | None = None

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None) -> pages.Answer:
        response = self.client.open(path, method=method, data=data, headers=headers or {})
        answer = pages.Answer(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.get_data())
        match = pages.CSRF.search(answer.text)
        if match:
            import html

            self.token = html.unescape(match.group(1))
        return answer

    def get(self, path: str, **headers) -> pages.Answer:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, data: dict, **headers) -> pages.Answer:
        return self.request("POST", path, {"csrf_token": self.token or "", **data}, headers)

    def first_rows(self, path: str) -> pages.Answer:
        response = self.client.get(path, buffered=False)
        text = b""
        try:
            for chunk in response.response:
                text += chunk.encode() if isinstance(chunk, str) else chunk
                if text.count(b"\n") >= 2:
                    break
        finally:
            response.close()
        return pages.Answer(response.status_code, {k.lower(): v for k, v in response.headers.items()}, text)


def portal_sign_in(browser: Browser, email: str, password: str) -> None:
    browser.get("/portal/login")
    answer = browser.post("/portal/login", {"email": email, "password": password})
    if answer.status != 303:
        raise BenchError(f"the viewer's portal sign-in answered {answer.status}")


def signed_headers(prepared: dict, path: str, query: str) -> dict:
    """A v2 signature (method, path, query, timestamp, client id, body) with a timestamp of its own to the
    microsecond: the API refuses a signature it has seen."""
    from app.security import canonical_query, request_signature, string_to_sign

    timestamp = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    to_sign = string_to_sign("2", "GET", path, canonical_query(query), timestamp, prepared["client_id"], b"")
    return {
        "x-api-key": prepared["api_key"],
        "x-client-id": prepared["client_id"],
        "x-timestamp": timestamp,
        "x-signature": request_signature(prepared["hmac_secret"], to_sign),
        "x-signature-version": "2",
    }


# --------------------------------------------------------------------------- what is measured


ROW = re.compile(r"<tr\b[^>]*>\s*<td(?![^>]*colspan)", re.I)
NEXT_LINK = re.compile(r"<a\b[^>]*\brel=\"next\"[^>]*\bhref=\"([^\"]+)\"", re.I)


def html_rows(answer: pages.Answer) -> int:
    return len(ROW.findall(answer.text))


def api_rows(answer: pages.Answer) -> int:
    try:
        return len(json.loads(answer.text)["data"]["items"])
    except (ValueError, KeyError, TypeError):
        return 0


def csv_rows(answer: pages.Answer) -> int:
    return max(0, answer.text.count("\n") - 1)


@dataclass
class Request:
    name: str
    who: str  # portal | store | api | csv
    path: str
    rows: Callable[[pages.Answer], int] | None = html_rows
    note: str = ""


@dataclass
class Shopper:
    id: int
    email: str
    surname: str


@dataclass
class Site:
    """Where the requests go: a database to read ids from, and browsers signed in as the viewer and the shopper."""

    dsn: str
    make_browser: Callable[[], Browser]


def _scalar(dsn: str, sql: str, params: tuple = ()):
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        row = connection.execute(sql, params).fetchone()
        return row[0] if row else None


def choose_shopper(dsn: str, partner_id: int, first_consumer_id: int, consumers: int) -> Shopper:
    """A generated, active consumer near the middle of its batch with a typical history (5 to 20 orders)."""
    import psycopg

    middle = first_consumer_id + consumers // 2
    with psycopg.connect(dsn, autocommit=True) as connection:
        row = connection.execute(
            "SELECT c.id, c.email, split_part(c.full_name, ' ', 2) FROM consumer c JOIN gift_order o ON o.consumer_id = c.id"
            " WHERE c.partner_id = %s AND c.id BETWEEN %s AND %s AND c.is_active"
            " GROUP BY c.id HAVING count(*) BETWEEN 5 AND 20 ORDER BY abs(c.id - %s) LIMIT 1",
            (partner_id, first_consumer_id, first_consumer_id + consumers - 1, middle),
        ).fetchone()
        if row is None:
            row = connection.execute(
                "SELECT c.id, c.email, split_part(c.full_name, ' ', 2) FROM consumer c JOIN gift_order o ON o.consumer_id = c.id"
                " WHERE c.partner_id = %s AND c.id >= %s AND c.is_active ORDER BY c.id LIMIT 1",
                (partner_id, first_consumer_id),
            ).fetchone()
    if row is None:
        raise BenchError("no generated consumer with orders to sign in as")
    return Shopper(row[0], row[1], row[2].lower())


def middle_id(dsn: str, table: str, where: str, params: tuple) -> tuple[int, int]:
    """The id of the row in the middle of a list (newest first), and its position (0-based)."""
    count = _scalar(dsn, f"SELECT count(*) FROM {table} WHERE {where}", params) or 0
    found = _scalar(dsn, f"SELECT id FROM {table} WHERE {where} ORDER BY id DESC OFFSET %s LIMIT 1", (*params, count // 2))
    return int(found or 0), count // 2


def requests_to_measure(site: Site, prepared: dict, shopper: Shopper, portal: Browser) -> list[Request]:
    """The request list, its deep pages built from the lists' own next links (keyset when they offer it)."""
    partner_id = prepared["partner_id"]
    q = urllib.parse.quote
    email = q(shopper.email)
    requests = [
        Request(BASELINE, "portal", "/hello", None),
        Request("portal consumer search (email)", "portal", f"/portal/consumers?q={email}"),
        Request("portal consumer search (surname)", "portal", f"/portal/consumers?q={q(shopper.surname)}"),
        Request("portal orders, first page", "portal", "/portal/orders"),
        Request("portal orders, status=failed", "portal", "/portal/orders?status=failed"),
        Request("portal orders, one consumer", "portal", f"/portal/orders?email={email}"),
    ]
    deep = [
        ("portal orders, deep page", "/portal/orders", "partner_id = %s"),
        ("portal orders, failed, deep page", "/portal/orders?status=failed", "partner_id = %s AND status = 'failed'"),
    ]
    # Keyset when a first page's next link says so; a list of one page has no next link, so the other one decides.
    links = [link.group(1) for _name, first, _where in deep if (link := NEXT_LINK.search(portal.get(first).text))]
    keyset = all("before=" in link for link in links)
    for name, first, where in deep:
        mid, position = middle_id(site.dsn, "gift_order", where, (partner_id,))
        joiner = "&" if "?" in first else "?"
        if keyset:
            requests.append(Request(name, "portal", f"{first}{joiner}before={mid}"))
        else:
            page = position // PORTAL_PAGE + 1
            requests.append(Request(name, "portal", f"{first}{joiner}page={page}", note=f"no before= link yet: page={page}"))
    requests += [
        Request("portal transactions, first page", "portal", "/portal/transactions"),
        Request("portal transactions CSV, first row", "csv", "/portal/transactions.csv", csv_rows),
        Request("portal dashboard", "portal", "/portal/dashboard", None),
        Request("portal consumer page", "portal", f"/portal/consumers/{shopper.id}"),
        Request("store statement", "store", f"/s/{SLUG}/statement"),
        Request("store order history", "store", f"/s/{SLUG}/orders"),
        Request("API GET /orders", "api", f"{API_PREFIX}/orders", api_rows),
        Request("API GET /transactions", "api", f"{API_PREFIX}/transactions", api_rows),
    ]
    mid, position = middle_id(site.dsn, "gift_order", "partner_id = %s", (partner_id,))
    first_page = api_get(portal, prepared, f"{API_PREFIX}/orders")
    try:
        cursor = json.loads(first_page.text)["data"].get("nextCursor")
    except (ValueError, KeyError, TypeError, AttributeError):
        cursor = None
    if cursor is not None and str(cursor).isdigit():
        requests.append(Request("API GET /orders, deep page", "api", f"{API_PREFIX}/orders?cursor={mid}", api_rows))
    else:
        page = position // API_PAGE + 1
        why = "no nextCursor yet" if cursor is None else f"nextCursor {str(cursor)[:20]!r} is not an id"
        requests.append(
            Request("API GET /orders, deep page", "api", f"{API_PREFIX}/orders?page={page}", api_rows, f"{why}: page={page}")
        )
    return requests


def api_get(browser: Browser, prepared: dict, path_and_query: str) -> pages.Answer:
    path, _, query = path_and_query.partition("?")
    return browser.get(path_and_query, **signed_headers(prepared, path, query))


@dataclass
class Timing:
    p50_ms: float
    statuses: list[int]
    rows: int | None
    path: str
    note: str = ""

    @property
    def ok(self) -> bool:
        return set(self.statuses) == {200} and (self.rows is None or self.rows > 0)


def send(request: Request, browsers: dict[str, Browser], prepared: dict) -> pages.Answer:
    browser = browsers["portal" if request.who == "csv" else request.who]
    if request.who == "api":
        return api_get(browser, prepared, request.path)
    if request.who == "csv":
        return browser.first_rows(request.path)
    return browser.get(request.path)


def warm_up(requests: list[Request], browsers: dict[str, Browser], prepared: dict, *, rounds: int) -> None:
    """The whole list `rounds` times, untimed, before the first size is measured: each of the server's processes
    has then built its templates, caches and connections, as it had long done by the time the second size is
    measured (two warm-ups per request reach only some of gunicorn's four workers)."""
    for _round in range(rounds):
        for request in requests:
            send(request, browsers, prepared)


def measure(
    requests: list[Request], browsers: dict[str, Browser], prepared: dict, *, count: int, warmups: int
) -> dict[str, Timing]:
    """Each request `warmups` times untimed, then `count` times one after another: the median, every status, and
    how many rows the last answer had."""
    timings: dict[str, Timing] = {}
    for request in requests:
        for _n in range(warmups):
            send(request, browsers, prepared)
        seconds, statuses = [], []
        for _n in range(count):
            began = time.perf_counter()
            answer = send(request, browsers, prepared)
            seconds.append(time.perf_counter() - began)
            statuses.append(answer.status)
        rows = request.rows(answer) if request.rows else None
        timings[request.name] = Timing(statistics.median(seconds) * 1000, statuses, rows, request.path, request.note)
    return timings


def sign_in_browsers(site: Site, prepared: dict, shopper: Shopper) -> dict[str, Browser]:
    portal = site.make_browser()
    portal_sign_in(portal, prepared["viewer_email"], prepared["viewer_password"])
    store = site.make_browser()
    pages.sign_in(store, shopper.email, SHOPPER_PASSWORD, SHOPPER_PASSWORD)
    return {"portal": portal, "store": store, "api": site.make_browser()}


# --------------------------------------------------------------------------- the run


@dataclass
class Stage:
    orders: int  # the partner's orders when measured
    consumers: int
    transactions: int
    entries: int
    generated: list[Generated] = field(default_factory=list)
    vacuum_s: float = 0.0
    rollup: str = ""
    load: float = 0.0  # the load average while measured (the machine may be shared)
    timings: dict[str, Timing] = field(default_factory=dict)

    @property
    def generation_s(self) -> float:
        return sum(g.seconds for g in self.generated) + self.vacuum_s


def partner_size(dsn: str, partner_id: int) -> tuple[int, int, int, int]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        return connection.execute(
            "SELECT (SELECT count(*) FROM gift_order WHERE partner_id = %(p)s), (SELECT count(*) FROM consumer WHERE partner_id = %(p)s),"
            " (SELECT count(*) FROM ledger_transaction WHERE partner_id = %(p)s),"
            " (SELECT count(*) FROM entry e JOIN ledger_transaction t ON t.id = e.transaction_id WHERE t.partner_id = %(p)s)",
            {"p": partner_id},
        ).fetchone()


def run_flat_lists(
    site: Site,
    prepare_site: Callable[[int], dict],
    refresh_rollup: Callable[[], str],
    *,
    orders: int = 1_000_000,
    consumers: int | None = None,
    small_orders: int = 1_000,
    small_partners: int = SMALL_PARTNERS,
    small_partner_orders: int = SMALL_PARTNER_ORDERS,
    requests: int = 20,
    warmups: int = 2,
    warm_rounds: int = 0,
    progress: bool = True,
) -> tuple[dict, list[str]]:
    """Both sizes on one site: generate, VACUUM (ANALYZE), refresh the rollup, measure; the figures and the report's lines.
    `prepare_site(small_partners)` runs `prepare` in the site's app; `refresh_rollup()` rebuilds the daily totals
    (and says how, or why not). `warm_rounds`: the whole list that many times before the first size (`warm_up`)."""
    consumers = consumers if consumers is not None else max(1, int(orders * CONSUMERS_PER_ORDER))
    small_consumers = max(1, round(consumers * small_orders / orders))

    def say(text: str) -> None:
        if progress:
            print("  " + text, flush=True)

    prepared = prepare_site(small_partners)
    partner_id = prepared["partner_id"]
    stages: list[Stage] = []
    shopper: Shopper | None = None
    for target_orders, target_consumers in ((small_orders, small_consumers), (orders, consumers)):
        held = partner_size(site.dsn, partner_id)
        generated: list[Generated] = []
        new_orders = target_orders - (stages[-1].orders if stages else 0)
        new_consumers = target_consumers - (stages[-1].consumers if stages else 0)
        say(f"generating {new_orders:,} orders and {new_consumers:,} consumers for {SLUG} (holding {held[0]:,} orders) ...")
        first_index = sum(g.consumers for stage in stages for g in stage.generated[:1])
        generated.append(
            generate(
                site.dsn,
                prepared,
                partner_id=partner_id,
                consumers=max(1, new_consumers),
                orders=max(0, new_orders),
                first_index=first_index,
            )
        )
        say(
            f"  {generated[-1].orders:,} orders, {generated[-1].transactions:,} transactions, {generated[-1].entries:,} entries"
            f" in {generated[-1].seconds:.1f} s"
        )
        if not stages:
            for n, other in enumerate(prepared["small_partner_ids"]):
                generated.append(
                    generate(
                        site.dsn,
                        prepared,
                        partner_id=other,
                        consumers=max(1, int(small_partner_orders * CONSUMERS_PER_ORDER)),
                        orders=small_partner_orders,
                        first_index=n * 1000,
                    )
                )
            if prepared["small_partner_ids"]:
                say(
                    f"  {len(prepared['small_partner_ids'])} smaller partners, {small_partner_orders:,} orders each, in "
                    f"{sum(g.seconds for g in generated[1:]):.1f} s"
                )
            shopper = choose_shopper(site.dsn, partner_id, generated[0].first_consumer_id, generated[0].consumers)
        stage = Stage(*partner_size(site.dsn, partner_id), generated=generated)
        stage.vacuum_s = vacuum_analyze(site.dsn)
        stage.rollup = refresh_rollup()
        say(f"  VACUUM (ANALYZE) {stage.vacuum_s:.1f} s; daily totals: {stage.rollup}")
        assert shopper is not None
        browsers = sign_in_browsers(site, prepared, shopper)
        to_measure = requests_to_measure(site, prepared, shopper, browsers["portal"])
        say(f"measuring {len(to_measure)} requests x {requests} (after {warmups} warm-ups) at {stage.orders:,} orders ...")
        if not stages:
            warm_up(to_measure, browsers, prepared, rounds=warm_rounds)
        stage.load = os.getloadavg()[0]
        stage.timings = measure(to_measure, browsers, prepared, count=requests, warmups=warmups)
        stages.append(stage)
    return report(stages, shopper)


def report(stages: list[Stage], shopper: Shopper | None) -> tuple[dict, list[str]]:
    small, large = stages
    lines = [
        f"flat lists   {SLUG} at {small.orders:,} then {large.orders:,} orders ({small.consumers:,} / {large.consumers:,} consumers, "
        f"{small.entries:,} / {large.entries:,} ledger entries); p50 of {len(next(iter(large.timings.values())).statuses)} requests each",
        f"             {'request':<38} {'p50 small':>10} {'p50 large':>10} {'ratio':>6}  target",
    ]
    rows: dict[str, dict] = {}
    for name, big in large.timings.items():
        little = small.timings[name]
        ratio = big.p50_ms / little.p50_ms if little.p50_ms else float("inf")
        ok = little.ok and big.ok
        verdict = ("PASS" if ratio <= TARGET_RATIO else "MISS") if ok else "ERROR"
        if name == BASELINE and ok:
            verdict = "-"
        notes = [n for n in dict.fromkeys([little.note, big.note]) if n]
        if not ok:
            notes.append(f"statuses {sorted(set(little.statuses + big.statuses))}, rows {little.rows}/{big.rows}")
        rows[name] = {
            "small_ms": little.p50_ms,
            "large_ms": big.p50_ms,
            "ratio": ratio,
            "verdict": verdict,
            "path_small": little.path,
            "path_large": big.path,
            "rows": (little.rows, big.rows),
            "statuses": (little.statuses, big.statuses),
            "notes": notes,
        }
        lines.append(
            f"             {name:<38} {little.p50_ms:>7.1f} ms {big.p50_ms:>7.1f} ms {ratio:>6.2f}  "
            + (f"<= {TARGET_RATIO}  {verdict}" if name != BASELINE else "(the machine's drift)")
            + (f"  ({'; '.join(notes)})" if notes else "")
        )
    lines += [
        f"             generated: {small.orders:,}-order stage in {small.generation_s:.0f} s (with the smaller partners), "
        f"grown to {large.orders:,} in {large.generation_s:.0f} s ({large.generated[0].seconds:.0f} s inserts, "
        f"{large.vacuum_s:.0f} s VACUUM ANALYZE); daily totals: {large.rollup}",
        "             the large batch's statements: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in large.generated[0].steps.items() if seconds >= 0.5),
    ]
    passed = sum(1 for row in rows.values() if row["verdict"] == "PASS")
    lines.append(
        f"             {passed} of {len(rows) - 1} within {TARGET_RATIO}x; load average {small.load:.1f} at the small size, "
        f"{large.load:.1f} at the large one ({os.cpu_count()} cores)"
    )
    figures = {
        "stages": [
            {
                "orders": s.orders,
                "consumers": s.consumers,
                "transactions": s.transactions,
                "entries": s.entries,
                "generation_s": s.generation_s,
                "vacuum_s": s.vacuum_s,
                "rollup": s.rollup,
                "load": s.load,
            }
            for s in stages
        ],
        "shopper": shopper.__dict__ if shopper else None,
        "requests": rows,
    }
    return figures, lines


def refresh_rollup_in(app) -> str:
    """The dashboard's daily totals rebuilt in this process (the suite's small run), or why not."""
    command = " ".join(ROLLUP_COMMAND)
    if ROLLUP_COMMAND[0] not in app.cli.commands:
        return f"no `flask {ROLLUP_COMMAND[0]}` yet: not refreshed"
    started = time.monotonic()
    result = app.test_cli_runner().invoke(args=ROLLUP_COMMAND)
    if result.exit_code != 0:
        raise BenchError(f"flask {command} failed: {result.output[-500:]} {result.exception!r}")
    return f"flask {command} in {time.monotonic() - started:.1f} s"


# --------------------------------------------------------------------------- on launch_day's stack


def flat_lists(
    stack: launch_day.Stack,
    *,
    orders: int = 1_000_000,
    consumers: int | None = None,
    small_orders: int = 1_000,
    requests: int = 20,
    progress: bool = True,
) -> tuple[dict, list[str]]:
    """Scenario 4 on a started launch_day stack (PostgreSQL): the figures and the report's lines, as
    launch_day.run_scenarios returns them."""
    if not stack.database_url.startswith("postgresql"):
        raise BenchError("flat lists generate PostgreSQL SQL: the stack needs PostgreSQL")
    tag = uuid.uuid4().hex[:6]

    def prepare_on_stack(small_partners: int) -> dict:
        out = pages.run(
            [str(pages.BIN / "python"), "-c", PREPARE_SNIPPET, str(HERE), SLUG, str(small_partners), tag],
            env=stack.env,
            timeout=300,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])

    def refresh_on_stack() -> str:
        started = time.monotonic()
        command = " ".join(ROLLUP_COMMAND)
        result = pages.run([str(pages.BIN / "flask"), "--app", "app", *ROLLUP_COMMAND], env=stack.env, timeout=1800, check=False)
        if result.returncode != 0 and "No such command" in (result.stderr + result.stdout):
            return f"no `flask {ROLLUP_COMMAND[0]}` yet: not refreshed"
        if result.returncode != 0:
            raise BenchError(f"flask {command} failed:\n{(result.stderr or result.stdout)[-1500:]}")
        return f"flask {command} in {time.monotonic() - started:.1f} s"

    site = Site(psycopg_dsn(stack.database_url), lambda: HttpBrowser(stack.base))
    return run_flat_lists(
        site,
        prepare_on_stack,
        refresh_on_stack,
        orders=orders,
        consumers=consumers,
        small_orders=small_orders,
        requests=requests,
        warm_rounds=5 * stack.gunicorn_workers,
        progress=progress,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="the partner's orders at the large size")
    parser.add_argument("--consumers", type=int, default=None, help="its consumers then (default: orders / 10)")
    parser.add_argument("--small-orders", type=int, default=1_000, help="its orders at the small size")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--keep-database", action="store_true", help="leave the database for EXPLAIN (its name is printed)")
    options = parser.parse_args()

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="giftstore-flat-"))
    db_name = f"flat_{os.getpid()}"
    pages.run(pages.PG_ADMIN + ["-c", f"CREATE DATABASE {db_name}"], timeout=30)
    _clear_redis()
    stack = launch_day.Stack(pages.PG_URL.format(name=db_name), workdir, redis_url=REDIS_URL)
    print(
        f"flat lists: PostgreSQL {pages.postgres_version()} ({db_name}), Redis {REDIS_URL}, gunicorn -w 4 --threads 4, "
        f"one flask worker; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine may be shared)",
        flush=True,
    )
    lines: list[str] = []
    try:
        stack.start()
        _figures, lines = flat_lists(
            stack,
            orders=options.orders,
            consumers=options.consumers,
            small_orders=options.small_orders,
            requests=options.requests,
        )
    except BenchError as error:
        lines.append(f"ERROR: {error}")
    finally:
        stack.stop()
        log = workdir / "gunicorn.log"
        errors = [line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line] if log.exists() else []
        if errors:
            lines.append(f"server log: {len(errors)} tracebacks ({pages.server_errors(log)[1:3]})")
        if options.keep_database:
            lines.append(f"kept database {db_name} (psql -h 127.0.0.1 -U postgres {db_name}; DROP DATABASE {db_name} when done)")
        else:
            pages.run(pages.PG_ADMIN + ["-c", f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"], timeout=60, check=False)
        _clear_redis()
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n== flat lists (issue 21, scenario 4)")
    for line in lines:
        print("  " + line)
    print(f"  load average now {os.getloadavg()[0]:.1f} (the machine may be shared)")
    print(f"\nDone in {time.monotonic() - started:.0f} s.")
    return 0


def _clear_redis() -> None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).flushdb()
    except Exception:  # noqa: BLE001  (no server: the stack's start says so)
        pass


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted (cleaned up)")
