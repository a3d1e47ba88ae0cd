"""One partner, many shoppers (issue 21, scenario 5): `.venv/bin/python tests/benchmarks/hot_partner.py`.

Checkout throughput (orders placed per second) of 16 shoppers all of ONE partner, divided by that of 16 shoppers
each of a DIFFERENT partner: target at least 0.8. Every checkout credits a partner-level card_purchases account,
and on PostgreSQL its row stays locked until the checkout commits; a partner's card purchases are therefore spread
over slot accounts (app/services/ledger.py, CARD_PURCHASE_SLOTS), and this measures whether one partner's shoppers
still queue behind each other.

Setup (one process, the app's own code: `prepare`): 16 partners, each with one API key, a brand with a 5 % cash
bonus (so completing an order also moves card_purchases: the rebate) and 16 consumers with funded wallets. Each
shopper is a thread placing orders one after another with signed (v2) `POST /api/partner/v1/orders`, its own
keep-alive connection and its own client address. The two cases run in alternating rounds (ABBA: 4 x 5 s each by
default), after one untimed order per shopper. The partner API's budgets per key and per address must not be what is
measured: the stack is started with UNTHROTTLED (production's defaults are 600 and 1,200 requests a minute, unchanged).

While the app's processes, not the row, are the limit (2 shared cores manage ~10-20 orders a second), the ratio
barely moves whether the row is shared or not. So each case also reports how long an order waited for account row
locks: PostgreSQL's backends waiting on an `UPDATE account` lock, sampled from pg_stat_activity, divided by the orders
a second (Little's law). With one card_purchases account per partner, one partner's orders waited there; split, they
don't.

Run alone, it starts the production layout of tests/benchmarks/launch_day.py (PostgreSQL, Redis database 11,
gunicorn 4 workers x 4 threads, one `flask worker`; the simulated provider at --provider-latency-ms, 50 by default:
placement is what is measured) on a database of its own, created and dropped. `hot_partner(stack)` runs it on a
started stack (the stack's environment needs UNTHROTTLED); tests/integration/test_hot_partner_small.py runs it
small. Not a test module: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import launch_day  # noqa: E402  (the production layout: Stack, client addresses)
import run as pages  # noqa: E402  (process helpers)

TARGET_RATIO = 0.8
REDIS_URL = "redis://127.0.0.1:6379/11"  # not launch_day's 9 nor flat_lists' 10: they may run at once
ORDERS_PATH = "/api/partner/v1/orders"
UNTHROTTLED = {"API_RATE_LIMIT": "1000000/minute", "API_IP_RATE_LIMIT": "1000000/minute"}
CONSUMER_FUNDS = 100_000_00  # minor units: more than any shopper spends in a run
CASH_BONUS_PERCENT = 5

PREPARE_SNIPPET = """
import json, sys
sys.path.insert(0, sys.argv[1])
from app import create_app
from app.db import db_session
from hot_partner import prepare

app = create_app()
with app.app_context():
    print(json.dumps(prepare(db_session(), partners=int(sys.argv[2]), consumers=int(sys.argv[3]), tag=sys.argv[4])))
"""

CHECK_SNIPPET = """
import json
from app import create_app
from app.db import db_session
from app.services import ledger

app = create_app()
with app.app_context():
    print(json.dumps(ledger.ledger_problems(db_session())))
"""


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------- the app's side (an app context)


def prepare(session, *, partners: int, consumers: int, tag: str) -> dict:
    """`partners` partners, each with its API key, a demo brand with a cash bonus and `consumers` funded
    consumers (their ids consecutive). JSON-able, for a snippet's stdout."""
    from decimal import Decimal

    from sqlmodel import select

    from app.demo_brands import DEMO_BRANDS
    from app.domain.money import Money
    from app.models import Brand
    from app.services import catalog
    from app.services import consumers as consumer_service
    from app.services import partners as partner_service

    demo = next(b for b in DEMO_BRANDS if "USD" in b.currencies and b.denominations)
    brand = session.exec(select(Brand).where(Brand.slug == demo.slug)).one()
    made = []
    for n in range(partners):
        partner, credentials = partner_service.create_partner(
            session,
            slug=f"hot-{tag}-{n}",
            name=f"Hot Partner {n + 1}",
            currency="USD",
            funds=Money(CONSUMER_FUNDS * consumers, "USD"),
            actor="bench",
        )
        catalog.make_available(
            session, partner=partner, brand=brand, bonus_type="cash", bonus_percent=Decimal(CASH_BONUS_PERCENT)
        )
        wallets = [
            consumer_service.BulkWallet(f"hot-{tag}-{n}-{i}@example.com", f"Hot Shopper {i + 1}", Money(CONSUMER_FUNDS, "USD"))
            for i in range(consumers)
        ]
        created = consumer_service.create_consumers_in_bulk(session, partner=partner, wallets=wallets, actor="bench")
        made.append(
            {
                "partner_id": partner.id,
                "client_id": credentials.client_id,
                "api_key": credentials.api_key,
                "hmac_secret": credentials.hmac_secret,
                "consumers": sorted(created.new_consumer_ids),
            }
        )
    amount = 2500 if 2500 in demo.denominations else demo.denominations[0]
    return {"brand": demo.slug, "amount": amount / 100, "partners": made}  # the API's amounts are JSON numbers


# --------------------------------------------------------------------------- shoppers


@dataclass(frozen=True)
class Shopper:
    """A partner's system placing orders for one of its customers."""

    client_id: str
    api_key: str
    hmac_secret: str
    customer_id: int


def shoppers_of(prepared: dict, *, one_partner: bool, count: int) -> list[Shopper]:
    """`count` shoppers: the first partner's first `count` consumers, or the first consumer of `count` partners."""
    if one_partner:
        chosen = [(prepared["partners"][0], i) for i in range(count)]
    else:
        chosen = [(prepared["partners"][n], 0) for n in range(count)]
    return [Shopper(p["client_id"], p["api_key"], p["hmac_secret"], p["consumers"][i]) for p, i in chosen]


class ApiConnection:
    """One shopper's keep-alive connection to the server, from an address of its own (X-Forwarded-For)."""

    def __init__(self, base: str):
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.address = launch_day.next_address()
        self.connection: http.client.HTTPConnection | None = None
        self.refusal = ""  # the last answer that was not 200, for the report

    def place_order(self, shopper: Shopper, *, brand: str, amount: float) -> int:
        """One signed (v2) POST /orders with a reference of its own: the answer's status (0 when the connection failed)."""
        from app.security import request_signature, string_to_sign

        body = json.dumps(
            {
                "customerId": shopper.customer_id,
                "brand": brand,
                "amount": amount,
                "currency": "USD",
                "externalRefId": uuid.uuid4().hex,
            }
        ).encode()
        timestamp = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        signature = request_signature(
            shopper.hmac_secret, string_to_sign("2", "POST", ORDERS_PATH, b"", timestamp, shopper.client_id, body)
        )
        headers = {
            "Content-Type": "application/json",
            "x-api-key": shopper.api_key,
            "x-client-id": shopper.client_id,
            "x-timestamp": timestamp,
            "x-signature": signature,
            "x-signature-version": "2",
            "X-Forwarded-For": self.address,
        }
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self.connection.request("POST", ORDERS_PATH, body=body, headers=headers)
            response = self.connection.getresponse()
            answer = response.read()
            if response.status != 200:
                self.refusal = f"{response.status} {answer[:300].decode(errors='replace')}"
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return response.status
        except (OSError, http.client.HTTPException) as error:
            self.close()
            self.refusal = f"no answer: {error}"
            return 0

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class LockWaits:
    """What PostgreSQL's backends of the database wait for, sampled while a round runs (pg_stat_activity every
    SAMPLE_EVERY s): how many, on average, wait for a row lock while moving an account's balance, the wait a
    partner's shared card_purchases row makes. Throughput alone hides it while the machine's cores, not the row,
    are the limit."""

    QUERY = (
        "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock' AND query ILIKE 'UPDATE account%%'), "
        "count(*) FILTER (WHERE state = 'active') "
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    SAMPLE_EVERY = 0.02

    def __init__(self, database_url: str):
        self.dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.samples = 0
        self.waiting = 0
        self.active = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="lock-waits", daemon=True)

    def __enter__(self) -> LockWaits:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as connection:
            while not self._stop.wait(self.SAMPLE_EVERY):
                waiting, active = connection.execute(self.QUERY).fetchone() or (0, 0)
                self.samples += 1
                self.waiting += waiting
                self.active += active


@dataclass
class Round:
    """What one case's shoppers did in one timed round."""

    placed: int
    seconds: float
    latencies_ms: list[float]
    refused: list[int]
    waiting_on_accounts: float  # backends waiting for an account row's lock, on average
    active: float  # active backends, on average


def checkout_round(base: str, database_url: str, shoppers: list[Shopper], *, brand: str, amount: float, seconds: float) -> Round:
    """Every shopper places orders one after another for `seconds`; the round lasts until the last answer."""
    lock = threading.Lock()
    latencies: list[float] = []
    refused: list[int] = []
    start = threading.Barrier(len(shoppers) + 1)
    began = [0.0]

    def shop(shopper: Shopper) -> None:
        connection = ApiConnection(base)
        start.wait()
        stop_at = began[0] + seconds
        try:
            while time.monotonic() < stop_at:
                sent = time.monotonic()
                status = connection.place_order(shopper, brand=brand, amount=amount)
                with lock:
                    if status == 200:
                        latencies.append((time.monotonic() - sent) * 1000)
                    else:
                        refused.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=shop, args=(shopper,), name=f"shopper-{n}") for n, shopper in enumerate(shoppers)]
    for thread in threads:
        thread.start()
    with LockWaits(database_url) as waits:
        began[0] = time.monotonic()
        start.wait()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began[0]
    samples = max(1, waits.samples)
    return Round(len(latencies), elapsed, latencies, refused, waits.waiting / samples, waits.active / samples)


def warm_up(base: str, shoppers: list[Shopper], *, brand: str, amount: float) -> str:
    """One untimed order per shopper (each server process's first requests, each card_purchases account opened):
    the first refusal's status and body, or ""."""
    connection = ApiConnection(base)
    try:
        for shopper in shoppers:
            if connection.place_order(shopper, brand=brand, amount=amount) != 200:
                return connection.refusal
    finally:
        connection.close()
    return ""


# --------------------------------------------------------------------------- the run


def hot_partner(
    stack: launch_day.Stack,
    *,
    shoppers: int = 16,
    seconds: float = 5,
    rounds: int = 4,
    progress: bool = True,
) -> tuple[dict, list[str]]:
    """Scenario 5 on a started launch_day stack (PostgreSQL; its environment with UNTHROTTLED): the figures and the
    report's lines, as launch_day.run_scenarios returns them. `rounds` x `seconds` per case."""
    if not stack.database_url.startswith("postgresql"):
        raise BenchError("the hot partner's rows are a PostgreSQL matter: the stack needs PostgreSQL")
    throttled = {name: stack.env.get(name) for name, value in UNTHROTTLED.items() if stack.env.get(name) != value}
    if throttled:
        raise BenchError(
            f"start the stack with {UNTHROTTLED} in its environment (it has {throttled}): else the budgets are measured"
        )
    tag = uuid.uuid4().hex[:6]
    out = pages.run(
        [str(pages.BIN / "python"), "-c", PREPARE_SNIPPET, str(HERE), str(shoppers), str(shoppers), tag],
        env=stack.env,
        timeout=300,
    ).stdout
    prepared = json.loads(out.strip().splitlines()[-1])
    brand, amount = prepared["brand"], prepared["amount"]
    cases = {
        "one partner": shoppers_of(prepared, one_partner=True, count=shoppers),
        f"{shoppers} partners": shoppers_of(prepared, one_partner=False, count=shoppers),
    }
    refusal = warm_up(stack.base, [s for case in cases.values() for s in case], brand=brand, amount=amount)
    if refusal:
        raise BenchError(f"a warm-up order was refused: {refusal}")
    load_before = os.getloadavg()[0]
    done: dict[str, list[Round]] = {name: [] for name in cases}
    names = list(cases)
    for number in range(rounds):
        for name in names if number % 2 == 0 else reversed(names):  # ABBA: drift (a growing database) hits both alike
            result = checkout_round(stack.base, stack.database_url, cases[name], brand=brand, amount=amount, seconds=seconds)
            done[name].append(result)
            if progress:
                print(
                    f"  round {number + 1} {name}: {result.placed / result.seconds:.1f} orders/s, "
                    f"{result.waiting_on_accounts:.2f} of {result.active:.1f} active backends waiting for an account row",
                    flush=True,
                )

    figures: dict = {"shoppers": shoppers, "seconds": seconds, "rounds": rounds, "load_before": load_before}
    for name, results in done.items():
        latencies = [ms for r in results for ms in r.latencies_ms]
        placed, spent = sum(r.placed for r in results), sum(r.seconds for r in results)
        figures[name] = {
            "placed": placed,
            "orders_per_s": placed / spent if spent else 0.0,
            "p50_ms": launch_day.percentile(latencies, 0.50),
            "p99_ms": launch_day.percentile(latencies, 0.99),
            "refused": [status for r in results for status in r.refused],
            "waiting_on_accounts": sum(r.waiting_on_accounts * r.seconds for r in results) / spent if spent else 0.0,
            "active": sum(r.active * r.seconds for r in results) / spent if spent else 0.0,
            # Little's law: backends waiting on average / orders a second = how long an order waited for account rows.
            "row_wait_ms_per_order": 1000 * sum(r.waiting_on_accounts * r.seconds for r in results) / placed if placed else 0.0,
        }
    hot, spread = figures["one partner"], figures[f"{shoppers} partners"]
    figures["ratio"] = hot["orders_per_s"] / spread["orders_per_s"] if spread["orders_per_s"] else 0.0
    hot_partner_id = prepared["partners"][0]["partner_id"]
    figures["hot_card_purchases_accounts"] = stack.count(
        f"SELECT count(*) FROM account WHERE partner_id = {int(hot_partner_id)} AND kind = 'card_purchases' AND balance > 0"
    )
    figures["ledger_problems"] = json.loads(
        pages.run([str(pages.BIN / "python"), "-c", CHECK_SNIPPET], env=stack.env, timeout=300).stdout
    )
    figures["load_after"] = os.getloadavg()[0]

    def case_line(name: str) -> str:
        case = figures[name]
        return f"{case['orders_per_s']:.1f} orders/s (p50 {case['p50_ms']:.0f} ms, p99 {case['p99_ms']:.0f} ms)"

    def waits_line(name: str) -> str:
        case = figures[name]
        return f"{name} {case['row_wait_ms_per_order']:.0f} ms ({case['waiting_on_accounts']:.2f} of {case['active']:.1f} active backends)"

    refused = hot["refused"] + spread["refused"]
    ok = not refused and not figures["ledger_problems"]
    lines = [
        f"hot partner  {shoppers} shoppers of one partner {case_line('one partner')} / {shoppers} shoppers of {shoppers} "
        f"partners {case_line(f'{shoppers} partners')} = {figures['ratio']:.3f} (target >= {TARGET_RATIO})  "
        + (
            launch_day.verdict(figures["ratio"], TARGET_RATIO, at_most=False)
            if ok
            else "MISS (refused orders or ledger problems)"
        ),
        f"               {rounds} x {seconds:.0f} s per case, signed POST /orders; refused: {refused[:5] or 'none'}; "
        f"the one partner's orders credited {figures['hot_card_purchases_accounts']} card_purchases accounts; "
        f"ledger problems: {len(figures['ledger_problems']) or 'none'}; load average {load_before:.1f} -> {figures['load_after']:.1f}",
        f"               an order's wait for account rows' locks (pg_stat_activity): {waits_line('one partner')}, "
        f"{waits_line(f'{shoppers} partners')}",
    ]
    return figures, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shoppers", type=int, default=16, help="shoppers per case (and partners in the second)")
    parser.add_argument("--seconds", type=float, default=5, help="one round of one case")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per case, alternating (ABBA)")
    parser.add_argument("--provider-latency-ms", type=int, default=50)
    options = parser.parse_args()

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="giftstore-hot-"))
    db_name = f"hot_{os.getpid()}"
    pages.run(pages.PG_ADMIN + ["-c", f"CREATE DATABASE {db_name}"], timeout=30)
    _clear_redis()
    os.environ.update(UNTHROTTLED)  # the stack's environment starts as this process's
    launch_day.PROVIDER_LATENCY_MS = options.provider_latency_ms  # the stack's provider (launch day's own is 800 ms)
    stack = launch_day.Stack(pages.PG_URL.format(name=db_name), workdir, redis_url=REDIS_URL)
    print(
        f"hot partner: PostgreSQL {pages.postgres_version()} ({db_name}), Redis {REDIS_URL}, gunicorn -w 4 --threads 4, "
        f"one flask worker, provider {options.provider_latency_ms} ms; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores (the machine may be shared)",
        flush=True,
    )
    lines: list[str] = []
    try:
        stack.start()
        _figures, lines = hot_partner(stack, shoppers=options.shoppers, seconds=options.seconds, rounds=options.rounds)
    except (BenchError, pages.BenchError, launch_day.BenchError) as error:
        lines.append(f"ERROR: {error}")
    finally:
        stack.stop()
        log = workdir / "gunicorn.log"
        errors = [line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line] if log.exists() else []
        if errors:
            lines.append(f"server log: {len(errors)} tracebacks ({pages.server_errors(log)[1:3]})")
        pages.run(pages.PG_ADMIN + ["-c", f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"], timeout=60, check=False)
        _clear_redis()
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n== one partner, many shoppers (issue 21, scenario 5)")
    for line in lines:
        print("  " + line)
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
