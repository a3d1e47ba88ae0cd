"""The store's hot routes timed in-process with Flask's test client: ms per request, no server, no wrk.

Seeds a scratch database (a temp SQLite file, or --database-url for a PostgreSQL database you
created; never one that matters: it is migrated and seeded), signs the bench consumer in through
the real login form, then times N requests per route with time.perf_counter:

  hello, catalog (GET /s/acme/), search (?q=a, HX-Request), wallet (HX), order status (HX),
  checkout (POST, a new order each time)

and prints ms/request and the ratio of hello's time to each route's (the in-process analogue of
run.py's "x base"). --profile ROUTE prints cProfile's top functions for one route instead,
--statements ROUTE the SQL one request of it runs.
The machine's load moves these figures: compare runs made back to back.

  .venv/bin/python tests/benchmarks/profile_store.py [-n 2000] [--rounds 5] [--database-url URL] [--profile catalog]

To compare two versions of the code, run each with --rounds 5 or more, one after the other: the
best of interleaved rounds moves much less with the machine's load than one pass does.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SLUG = "acme"
BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "Sturdy-otter-2026!"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def build_app(database_url: str, workdir: Path):
    from app import create_app

    return create_app(
        {
            "DATABASE_URL": database_url,
            "QUEUE_FILE": str(workdir / "queue.db"),
            "APP_ENV": "development",
            "PROVIDER_LATENCY_MS": 0,
            "RATELIMIT_ENABLED": False,
            "RUN_WORKER_IN_PROCESS": False,  # queued fulfilment is not this process's work here
            "REDIS_URL": "",
            "MAIL_SERVER": "",
        }
    )


def seed(app) -> tuple[str, str]:
    """init-db, seed-demo, partner funds and a funded bench consumer who has set a password and accepted the terms."""
    runner = app.test_cli_runner()
    for args in (
        ["init-db"],
        ["seed-demo"],
        ["fund-partner", "--slug", SLUG, "--currency", "USD", "--amount", "10000000"],
        [
            "create-consumer",
            "--partner",
            SLUG,
            "--email",
            BENCH_EMAIL,
            "--name",
            "Bench",
            "--currency",
            "USD",
            "--funds",
            "1000000",
        ],
    ):
        result = runner.invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(f"flask {' '.join(args)} failed: {result.output}\n{result.exception!r}")
    from app.db import db_session
    from app.demo_brands import DEMO_BRANDS
    from app.services import consumer_auth, consumers, partners

    with app.app_context():
        session = db_session()
        partner = partners.partner_by_slug(session, SLUG)
        consumer = consumers.find_consumer(session, partner_id=partner.id, email=BENCH_EMAIL)
        consumer_auth.set_trusted_password(session, consumer=consumer, password=BENCH_PASSWORD, confirmation=BENCH_PASSWORD)
        terms = consumer_auth.terms_to_accept(session, consumer)
        if terms is not None:
            consumer_auth.accept_terms(session, consumer=consumer, version=terms.version, accepted=True)
    brand = next(b for b in DEMO_BRANDS if "USD" in b.currencies and b.denominations)
    amount = 2500 if 2500 in brand.denominations else brand.denominations[0]
    return brand.slug, f"{amount // 100}.{amount % 100:02d}"


def sign_in(client) -> str:
    page = client.get(f"/s/{SLUG}/login").get_data(as_text=True)
    token = CSRF.search(page).group(1)
    answer = client.post(f"/s/{SLUG}/login", data={"csrf_token": token, "email": BENCH_EMAIL, "password": BENCH_PASSWORD})
    assert answer.status_code == 303, answer.status_code
    home = client.get(f"/s/{SLUG}/")
    assert home.status_code == 200, home.status_code
    return CSRF.search(home.get_data(as_text=True)).group(1)


def routes(client, token: str, brand: str, amount: str) -> dict:
    store = f"/s/{SLUG}"
    hx = {"HX-Request": "true"}
    counter = iter(range(10**9))
    first = client.post(
        f"{store}/brands/{brand}/orders",
        data={"csrf_token": token, "amount": amount, "send_to": "me", "idempotency_key": "profile-first-order"},
    )
    assert first.status_code == 303, (first.status_code, first.get_data(as_text=True)[:300])
    status_path = first.headers["Location"].split("://", 1)[-1]
    status_path = status_path[status_path.index("/s/") :] + "/status"

    def checkout():
        return client.post(
            f"{store}/brands/{brand}/orders",
            data={
                "csrf_token": token,
                "amount": amount,
                "send_to": "me",
                "idempotency_key": f"profile-{os.getpid()}-{next(counter)}",
            },
        )

    return {
        "hello": (lambda: client.get("/hello"), 200),
        "catalog": (lambda: client.get(f"{store}/"), 200),
        "search": (lambda: client.get(f"{store}/?q=a", headers=hx), 200),
        "wallet": (lambda: client.get(f"{store}/wallet", headers=hx), 200),
        "status": (lambda: client.get(status_path, headers=hx), 200),
        "checkout": (checkout, 303),
    }


def time_route(call, expected: int, n: int) -> float:
    for _ in range(min(50, n)):  # warm up: templates compiled, caches filled, connections open
        answer = call()
        assert answer.status_code == expected, (answer.status_code, answer.get_data(as_text=True)[:300])
    started = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - started) * 1000 / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="requests per route (checkout: a fifth of it)")
    parser.add_argument("--database-url", default="", help="a scratch database (default: a temp SQLite file)")
    parser.add_argument("--profile", help="cProfile one route (hello, catalog, search, wallet, status, checkout)")
    parser.add_argument("--only", nargs="*", help="time only these routes")
    parser.add_argument("--rounds", type=int, default=1, help="time the routes in turn this many times; print each one's best")
    parser.add_argument("--statements", help="print the SQL statements one request of this route runs")
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="giftstore-profile-"))
    try:
        app = build_app(options.database_url or f"sqlite:///{workdir / 'profile.db'}", workdir)
        brand, amount = seed(app)
        client = app.test_client()
        token = sign_in(client)
        table = routes(client, token, brand, amount)
        if options.statements:
            from sqlalchemy import event

            call, _expected = table[options.statements]
            call()
            seen: list[str] = []
            listener = lambda _conn, _cursor, statement, *_rest: seen.append(" ".join(statement.split())[:600])  # noqa: E731
            event.listen(app.extensions["db_engine"], "before_cursor_execute", listener)
            call()
            event.remove(app.extensions["db_engine"], "before_cursor_execute", listener)
            print(f"{len(seen)} statements for one {options.statements} request:")
            print("\n".join("  " + line for line in seen))
            return 0
        if options.profile:
            call, expected = table[options.profile]
            time_route(call, expected, 50)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(options.n):
                call()
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            return 0
        chosen = {name: route for name, route in table.items() if not options.only or name in options.only or name == "hello"}
        best: dict[str, float] = {}
        for _round in range(options.rounds):  # the routes in turn, each round: the machine's drift hits them alike
            for name, (call, expected) in chosen.items():
                n = max(1, options.n // 5) if name == "checkout" else options.n
                best[name] = min(best.get(name, float("inf")), time_route(call, expected, n))
        print(
            f"{'route':<10} {'ms/request':>10} {'hello/route':>12}"
            + (f"   (best of {options.rounds} rounds)" if options.rounds > 1 else "")
        )
        for name, ms in best.items():
            print(f"{name:<10} {ms:>10.3f} {best['hello'] / ms:>12.2f}", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
