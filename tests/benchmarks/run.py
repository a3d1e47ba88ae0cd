"""Throughput and latency of the store's pages under wrk, on PostgreSQL and on SQLite (`make benchmark`).

For each database: a fresh database (PostgreSQL: `bench_<pid>` made with psql; SQLite: a temp
file), `init-db`, `seed-demo`, a funded bench consumer signed in through the real login form,
then gunicorn (4 workers x 4 threads) measured with `wrk -t2 -c16 -d10s --latency` on:

  baseline       GET  /hello                              (first and again after the pages: ratios use the mean)
  catalog        GET  /s/acme/
  search         GET  /s/acme/?q=a                        (HX-Request: a partial)
  wallet         GET  /s/acme/wallet                      (HX-Request: a partial)
  order status   GET  /s/acme/orders/<public id>/status   (HX-Request: a partial)
  checkout       POST /s/acme/brands/<brand>/orders       (a new order each request, by 16 consumers in turn: checkout.lua)

The layout is production's (README, "The queue and the worker"): the web processes only place
orders (RUN_WORKER_IN_PROCESS=false), the queue is Redis when it answers at 127.0.0.1:6379 (its
database 12; else a SQLite queue file), and fulfilment runs in a separate `flask worker`. On this
one machine the worker would take its CPU from the web processes under measurement, so it is
paused while wrk places orders and started again afterwards: the report says how long it took to
fulfil every order placed (orders/s of one worker process), and any order left pending or failed.

It prints, per database, req/s, p50 and p99 latency and the ratio to the baseline's req/s, the
wallet partial's size and the first page's weight (HTML + CSS + JS), then each target with
PASS or MISS. Everything it creates (server, worker, database, queue, temp files) is removed at the end.

Options (for a quick look): --duration 3s, --only sqlite|postgresql, --routes catalog checkout
(the baseline always runs), --strict (exit 1 on a MISS).
Not a test module: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BIN = ROOT / ".venv" / "bin"
if not (BIN / "flask").exists():  # run with another interpreter: use the one running us
    BIN = Path(sys.executable).parent
LUA = HERE / "checkout.lua"

SLUG = "acme"
BENCH_EMAIL = "bench@example.com"
# The policy refuses a password containing the email's local part ("bench"), so not "Bench-mark-2026!".
BENCH_PASSWORD = "Sturdy-otter-2026!"
USER_AGENT = "giftstore-benchmark/1"  # the same for the login and wrk (flask-login hashes it into the session)
PG_ADMIN = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-Atq"]
PG_URL = "postgresql://postgres@127.0.0.1:5432/{name}"

CONNECTIONS = 16
THREADS = 2
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HTTP_TIMEOUT = 15  # seconds, each request made from Python


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------- processes


def run(cmd: list[str], *, env: dict | None = None, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"timed out after {timeout:.0f}s: {' '.join(cmd[:6])}") from None
    if check and result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-15:]
        raise BenchError(f"failed ({result.returncode}): {' '.join(cmd[:6])}\n    " + "\n    ".join(tail))
    return result


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("wrk is not installed and cannot be installed here (needs root and apt-get). Install it: apt-get install -y wrk")
    print("Installing wrk (apt-get install -y wrk) ...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    quiet = {"capture_output": True, "text": True, "env": env}
    try:
        if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], timeout=180, **quiet).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], timeout=180, **quiet)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], timeout=180, **quiet)
    except subprocess.TimeoutExpired:
        pass
    found = shutil.which("wrk")
    if not found:
        sys.exit("Could not install wrk with apt-get. Install it (apt-get install -y wrk) and run again.")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn in its own process group, so stopping it takes its workers (and their threads) too."""

    def __init__(self, env: dict, log_path: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", "4", "--threads", "4", "-b", f"127.0.0.1:{self.port}", "app:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 40) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"gunicorn exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.25)
        raise BenchError(f"gunicorn did not answer /healthz within {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        self.log.flush()
        try:
            return "\n".join("    " + line for line in self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        try:  # workers or queue threads left behind: the group goes
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()


class Worker:
    """`flask worker` (fulfilment, emails) in its own process group, started and stopped around the measurements."""

    def __init__(self, env: dict, log_path: Path):
        self.env, self.log_path = env, log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        if self.process is None or self.process.poll() is not None:
            with open(self.log_path, "a") as log:  # the child keeps its own copy
                self.process = subprocess.Popen(
                    [str(BIN / "flask"), "--app", "app", "worker", "--workers", "4"],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

    def stop(self) -> None:
        if self.process is None:
            return
        for sig, wait in ((signal.SIGINT, 15), (signal.SIGKILL, 5)):
            if self.process.poll() is not None:
                break
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        self.process = None


class Orders:
    """Counts the bench's orders by status straight from the database."""

    def __init__(self, database_url: str):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.engine = create_engine(database_url, poolclass=NullPool)

    def by_status(self) -> dict[str, int]:
        from sqlalchemy import text

        with self.engine.connect() as connection:
            return dict(connection.execute(text("SELECT status, count(*) FROM gift_order GROUP BY status")).all())

    def wait_until_none_pending(self, timeout: float) -> tuple[float, dict[str, int]]:
        started = time.monotonic()
        while True:
            counts = self.by_status()
            if not counts.get("pending") or time.monotonic() - started > timeout:
                return time.monotonic() - started, counts
            time.sleep(0.5)


QUEUE_REDIS = "redis://127.0.0.1:6379/12"


def queue_redis() -> str:
    """The production queue (Redis) when it answers, with nothing of an earlier run left in it; else '' (a SQLite queue file)."""
    try:
        import redis

        client = redis.Redis.from_url(QUEUE_REDIS, socket_connect_timeout=1)
        client.ping()
        leftovers = client.keys("huey.*giftstore*")
        if leftovers:
            client.delete(*leftovers)
        return QUEUE_REDIS
    except Exception:  # noqa: BLE001  (no redis package or no server: the file queue)
        return ""


def clear_queue_redis() -> None:
    try:
        import redis

        client = redis.Redis.from_url(QUEUE_REDIS, socket_connect_timeout=1)
        leftovers = client.keys("huey.*giftstore*")
        if leftovers:
            client.delete(*leftovers)
    except Exception:  # noqa: BLE001
        pass


# --------------------------------------------------------------------------- HTTP from Python


class _NoRedirects(urllib.request.HTTPErrorProcessor):
    """Hand every answer back as it is (3xx and 4xx too): the flow reads the Location itself."""

    def http_response(self, request, response):
        return response

    https_response = http_response


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def location_path(self) -> str:
        return urllib.parse.urlsplit(self.headers.get("location", "")).path


class Browser:
    """A cookie jar and the CSRF token of the last page that had one, like the integration tests' StoreBrowser."""

    def __init__(self, base: str):
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirects())
        self.token: str | None = None

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None) -> Answer:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(
            self.base + path, data=body, method=method, headers={"User-Agent": USER_AGENT, **(headers or {})}
        )
        with self.opener.open(request, timeout=HTTP_TIMEOUT) as response:
            answer = Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
        match = CSRF.search(answer.text)
        if match:
            self.token = html.unescape(match.group(1))
        return answer

    def get(self, path: str, **headers) -> Answer:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, data: dict, **headers) -> Answer:
        if self.token is None:
            raise BenchError(f"no CSRF token yet for POST {path}")
        return self.request("POST", path, {"csrf_token": self.token, **data}, headers)

    def cookie(self, name: str = "session") -> str:
        for cookie in self.jar:
            if cookie.name == name:
                return cookie.value
        raise BenchError(f"no {name!r} cookie after signing in")


def probe(url: str, cookie: str, *, htmx: bool = False) -> int:
    """The status wrk's own request gets (its headers, no cookie jar): wrk counts a 303 to the login page as a success."""
    headers = {"User-Agent": USER_AGENT, "Cookie": f"session={cookie}"} | ({"HX-Request": "true"} if htmx else {})
    opener = urllib.request.build_opener(_NoRedirects())
    with opener.open(urllib.request.Request(url, headers=headers), timeout=HTTP_TIMEOUT) as response:
        response.read()
        return response.status


def sign_in(browser: Browser, email: str, password: str, new_password: str) -> None:
    """The store's login form, then the first-login steps (new password, terms) if the store asks for them."""
    store = f"/s/{SLUG}"
    browser.get(f"{store}/login")
    answer = browser.post(f"{store}/login", {"email": email, "password": password})
    if answer.status != 303:
        raise BenchError(f"login answered {answer.status}, not 303 (wrong password?)")
    location = answer.location_path
    for _step in range(4):  # at most: set password, terms, home
        if location.endswith("/welcome/password"):
            browser.get(location)
            answer = browser.post(location, {"password": new_password, "confirmation": new_password})
        elif location.endswith("/terms"):
            page = browser.get(location).text
            version = re.search(r'name="version" value="(\d+)"', page)
            answer = browser.post(location, {"accept": "yes", "version": version.group(1) if version else "1"})
        else:
            break
        if answer.status != 303:
            raise BenchError(f"first-login step {location} answered {answer.status}, not 303")
        location = answer.location_path
    home = browser.get(f"{store}/")
    if home.status != 200 or browser.token is None:
        raise BenchError(f"the store's home page answered {home.status} after signing in")


ASSET_LINK = re.compile(r"<link\b[^>]*>", re.I)
ASSET_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=\"([^\"]+)\"", re.I)
HREF = re.compile(r"\bhref=\"([^\"]+)\"", re.I)
REL = re.compile(r"\brel=\"([^\"]+)\"", re.I)


def first_page_bytes(browser: Browser, path: str) -> tuple[int, list[tuple[str, int]]]:
    """The page's HTML plus every CSS/JS file it references (<link href>, <script src>), each fetched once."""
    page = browser.get(path)
    assets: list[str] = []
    for tag in ASSET_LINK.findall(page.text):
        href, rel = HREF.search(tag), REL.search(tag)
        rel_value = rel.group(1).lower() if rel else ""
        if href and ("stylesheet" in rel_value or "preload" in rel_value or re.search(r"\.(css|js)(\?|$)", href.group(1))):
            assets.append(html.unescape(href.group(1)))
    assets += [html.unescape(src) for src in ASSET_SCRIPT.findall(page.text)]
    parts = [(path, len(page.body))]
    for asset in dict.fromkeys(assets):
        url = urllib.parse.urljoin(browser.base + path, asset)
        if not url.startswith(browser.base):
            parts.append((asset + " (external, not counted)", 0))
            continue
        answer = browser.get(url[len(browser.base) :])
        parts.append((asset, len(answer.body) if answer.status == 200 else 0))
    return sum(size for _, size in parts), parts


# --------------------------------------------------------------------------- wrk


@dataclass
class Measurement:
    name: str
    label: str
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    requests: int = 0
    warnings: list[str] = field(default_factory=list)
    skipped: str | None = None
    note: str = ""


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float | None:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    return float(match.group(1)) * UNITS_MS[match.group(2)] if match else None


def parse_wrk(output: str, measurement: Measurement) -> None:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    measurement.rps = float(rps.group(1)) if rps else None
    for percentile, attribute in (("50", "p50_ms"), ("99", "p99_ms")):
        line = re.search(rf"^\s+{percentile}(?:\.000)?%\s+(\S+)", output, re.M)
        setattr(measurement, attribute, _ms(line.group(1)) if line else None)
    total = re.search(r"(\d+) requests in", output)
    measurement.requests = int(total.group(1)) if total else 0
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if bad:
        measurement.warnings.append(f"{bad.group(1)} non-2xx/3xx")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if errors and any(int(n) for n in errors.groups()):
        measurement.warnings.append("socket errors: connect {}, read {}, write {}, timeout {}".format(*errors.groups()))
    result = re.search(r"CHECKOUT-RESULT statuses=(\S*) to_order=(\d+)", output)
    if result:
        statuses = dict(part.split("=") for part in result.group(1).split(",") if part)
        others = {status: count for status, count in statuses.items() if status != "303"}
        if others:
            measurement.warnings.append("answers other than 303: " + ", ".join(f"{s}x{c}" for s, c in sorted(others.items())))
        measurement.note = f"{result.group(2)} orders placed"
        not_orders = int(statuses.get("303", 0)) - int(result.group(2))
        if not_orders:
            measurement.warnings.append(f"{not_orders} 303s not to an order page")
    elif measurement.name == "checkout":
        measurement.warnings.append("checkout.lua printed no result line")
    if measurement.rps is None:
        measurement.warnings.append("could not parse wrk's output")


def measure(
    wrk: str,
    measurement: Measurement,
    url: str,
    cookie: str,
    duration: str,
    *,
    htmx: bool = False,
    lua_args: list[str] | None = None,
) -> Measurement:
    cmd = [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration}", "--latency", "-H", f"User-Agent: {USER_AGENT}"]
    if cookie:
        cmd += ["-H", f"Cookie: session={cookie}"]
    if htmx:
        cmd += ["-H", "HX-Request: true"]
    if lua_args is not None:
        cmd += ["-s", str(LUA), url, "--", *lua_args]
    else:
        cmd.append(url)
    seconds = float(re.sub(r"[a-z]", "", duration) or 10) * (60 if duration.endswith("m") else 1)
    print(f"  wrk {measurement.label} ...", end=" ", flush=True)
    if lua_args is None and (status := probe(url, cookie, htmx=htmx)) != 200:
        measurement.warnings.append(f"answers {status} before the run, not 200")
    result = run(cmd, timeout=seconds + 30, check=False)
    if lua_args is None and (status := probe(url, cookie, htmx=htmx)) != 200:
        measurement.warnings.append(f"answers {status} after the run, not 200")
    if result.returncode != 0:
        measurement.warnings.append(f"wrk failed ({result.returncode}): {result.stderr.strip()[:200]}")
    parse_wrk(result.stdout, measurement)
    notes = "; ".join(filter(None, [measurement.note, *measurement.warnings]))
    print(f"{measurement.rps or 0:.0f} req/s" + (f"  [{notes}]" if notes else ""), flush=True)
    return measurement


# --------------------------------------------------------------------------- one database


SETUP_SNIPPET = """
import json, sys
from app import create_app
from app.db import db_session
from app.demo_brands import DEMO_BRANDS
from app.domain.money import Money
from app.services import consumer_auth, consumers, partners

email, password, shoppers = sys.argv[1], sys.argv[2], int(sys.argv[3])
app = create_app()
with app.app_context():
    session = db_session()
    partner = partners.partner_by_slug(session, "acme")
    emails = [email] + [email.replace("@", f"+{n}@") for n in range(2, shoppers + 1)]
    for address in emails:
        consumer = consumers.find_consumer(session, partner_id=partner.id, email=address)
        if consumer is None:
            consumer = consumers.create_consumer(
                session, partner=partner, email=address, full_name="Bench Shopper", initial_funds=Money.parse("100000", "USD")
            ).consumer
        if consumer.must_change_password:
            consumer_auth.set_trusted_password(session, consumer=consumer, password=password, confirmation=password)
        terms = consumer_auth.terms_to_accept(session, consumer)
        if terms is not None:
            consumer_auth.accept_terms(session, consumer=consumer, version=terms.version, accepted=True)
    brand = next(b for b in DEMO_BRANDS if "USD" in b.currencies and b.denominations)
    amount = 2500 if 2500 in brand.denominations else brand.denominations[0]
    print(json.dumps({"shoppers": emails, "brand": brand.slug, "amount": f"{amount // 100}.{amount % 100:02d}"}))
"""
SHOPPERS = 16  # checkout's orders come from this many signed-in consumers in turn (one per wrk connection)


@dataclass
class DatabaseResult:
    name: str
    detail: str = ""
    measurements: list[Measurement] = field(default_factory=list)
    wallet_bytes: int | None = None
    first_page: int | None = None
    first_page_parts: list[tuple[str, int]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    server_errors: list[str] = field(default_factory=list)
    fulfilment: tuple[int, float, dict] | None = None  # (orders pending after checkout, seconds to fulfil them, orders by status)


def app_env(database_url: str, workdir: Path, redis_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        QUEUE_FILE=str(workdir / "queue.db"),  # when there is no Redis
        APP_ENV="development",
        PROVIDER_LATENCY_MS="0",
        RATELIMIT_ENABLED="false",
        RUN_WORKER_IN_PROCESS="false",  # `flask worker` fulfils, as in production
        REDIS_URL=redis_url,  # whatever a .env says
        MAIL_SERVER="",  # development: mail goes to the outbox table only
        FLASK_APP="app",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def flask(env: dict, *args: str, timeout: float = 90) -> str:
    return run([str(BIN / "flask"), "--app", "app", *args], env=env, timeout=timeout).stdout


def bench_database(
    result: DatabaseResult, database_url: str, workdir: Path, wrk: str, duration: str, only_routes: set[str]
) -> None:
    redis_url = queue_redis()
    env = app_env(database_url, workdir, redis_url)
    result.detail += f"; queue: {'Redis ' + redis_url if redis_url else 'SQLite file'}; fulfilment: flask worker --workers 4"
    print(f"\n== {result.name}: preparing {database_url}", flush=True)
    flask(env, "init-db")
    seeded = flask(env, "seed-demo")
    demo = re.search(r"consumer: (\S+)", seeded)
    temporary = re.search(r"temporary password: (\S+)", seeded)
    print(
        f"  seed-demo: demo consumer {demo.group(1) if demo else '?'} (temporary password {'printed' if temporary else 'not printed'})"
    )
    flask(env, "fund-partner", "--slug", SLUG, "--currency", "USD", "--amount", "10000000")
    flask(
        env,
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
    )
    prepared = json.loads(
        run([str(BIN / "python"), "-c", SETUP_SNIPPET, BENCH_EMAIL, BENCH_PASSWORD, str(SHOPPERS)], env=env, timeout=120)
        .stdout.strip()
        .splitlines()[-1]
    )
    brand, amount = prepared["brand"], prepared["amount"]
    print(
        f"  bench consumer {BENCH_EMAIL} funded with USD 1,000,000 and {SHOPPERS - 1} more shoppers with USD 100,000; checkout buys {brand} at {amount}"
    )

    server = Server(env, workdir / "gunicorn.log")
    worker = Worker(env, workdir / "worker.log")
    orders = Orders(database_url)
    try:
        worker.start()
        server.wait_ready()
        base, store = server.base, f"/s/{SLUG}"
        browser = Browser(base)
        sign_in(browser, BENCH_EMAIL, BENCH_PASSWORD, BENCH_PASSWORD)
        cookie, token = browser.cookie(), browser.token
        print(f"  gunicorn on {base}; signed in as {BENCH_EMAIL}", flush=True)

        def check(path: str, expected: int, **headers) -> Answer:
            answer = browser.get(path, **headers)
            if answer.status != expected:
                raise BenchError(
                    f"GET {path} answered {answer.status}, not {expected}:\n{answer.text[:300]}\n{server.log_tail()}"
                )
            return answer

        hx = {"HX-Request": "true"}
        check("/hello", 200)
        check(f"{store}/", 200)
        check(f"{store}/?q=a", 200, **hx)
        wallet = check(f"{store}/wallet", 200, **hx)
        result.wallet_bytes = len(wallet.body)

        checkout_path = f"{store}/brands/{brand}/orders"
        form = {"amount": amount, "send_to": "me", "idempotency_key": f"bench-first-{os.getpid()}-{time.time_ns()}"}
        first = browser.post(checkout_path, form, **{"X-CSRFToken": token})
        order_path = first.location_path
        checkout_missing = None
        if first.status in (404, 405):
            checkout_missing = f"POST {checkout_path} answered {first.status}: no checkout route yet"
        elif first.status != 303 or "/orders/" not in order_path:
            raise BenchError(
                f"the first checkout answered {first.status} (Location {order_path!r}), not a 303 to the order:\n{first.text[:400]}"
            )
        status_path = f"{order_path}/status" if not checkout_missing else ""
        if status_path:
            _waited, counts = orders.wait_until_none_pending(60)  # the status partial of a completed order (its usual state)
            if counts.get("pending"):
                raise BenchError(f"the worker did not fulfil the first order within 60 s:\n{worker.log_path.read_text()[-2000:]}")
            check(status_path, 200, **hx)
        browser.token = token  # the token in the session cookie wrk sends

        routes = [
            (Measurement("baseline", "baseline      GET /hello"), f"{base}/hello", {}),
            (Measurement("catalog", f"catalog       GET {store}/"), f"{base}{store}/", {}),
            (Measurement("search", f"search (hx)   GET {store}/?q=a"), f"{base}{store}/?q=a", {"htmx": True}),
            (Measurement("wallet", f"wallet (hx)   GET {store}/wallet"), f"{base}{store}/wallet", {"htmx": True}),
            (Measurement("status", f"status (hx)   GET {store}/orders/<id>/status"), f"{base}{status_path}", {"htmx": True}),
            # Again after the pages: the ratios use the mean of both, so a drift of the machine during the run
            # does not tilt them all one way, and the table shows how large it was. (Not after checkout: the
            # worker is still sending the orders' emails then.)
            (Measurement("baseline", "baseline      GET /hello (again)"), f"{base}/hello", {}),
            (Measurement("checkout", f"checkout      POST {store}/brands/{brand}/orders"), f"{base}{checkout_path}", {}),
        ]
        shoppers = [f"session={cookie}|{token}"]
        for email in prepared["shoppers"][1:]:
            shopper = Browser(base)
            sign_in(shopper, email, BENCH_PASSWORD, BENCH_PASSWORD)
            shoppers.append(f"session={shopper.cookie()}|{shopper.token}")
        body_prefix = urllib.parse.urlencode({"amount": amount, "send_to": "me"})
        for measurement, url, options in routes:
            if only_routes and measurement.name not in only_routes | {"baseline"}:
                continue
            if measurement.name in ("status", "checkout") and checkout_missing:
                measurement.skipped = checkout_missing
                result.measurements.append(measurement)
                print(f"  skip {measurement.label}: {checkout_missing}")
                continue
            if measurement.name == "checkout":
                options = {"lua_args": [checkout_path, " ".join(shoppers), body_prefix]}
                worker.stop()  # the web processes alone place the orders; the worker fulfils them afterwards
            result.measurements.append(measure(wrk, measurement, url, cookie, duration, **options))
            if measurement.name == "checkout":
                before = orders.by_status().get("pending", 0)
                print(f"  fulfilling the {before} pending orders with the worker ...", end=" ", flush=True)
                worker.start()
                waited, counts = orders.wait_until_none_pending(900)
                result.fulfilment = (before, waited, counts)
                print(f"{waited:.1f} s ({before / waited if waited else 0:.0f} orders/s); orders now {counts}", flush=True)

        result.first_page, result.first_page_parts = first_page_bytes(browser, f"{store}/")
        if server.process.poll() is not None:
            raise BenchError(f"gunicorn died during the run:\n{server.log_tail()}")
    finally:
        worker.stop()
        server.stop()
        orders.engine.dispose()
        if redis_url:
            clear_queue_redis()
        result.server_errors = server_errors(server.log_path) + ["(worker) " + line for line in server_errors(worker.log_path)]


def server_errors(log_path: Path) -> list[str]:
    """What the server logged going wrong: how many tracebacks, the kinds, and the last one's app frames and error."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
    if not starts:
        return []
    kinds: dict[str, int] = {}
    last_error: list[str] = []
    for start in starts:
        block = lines[start + 1 : start + 400]
        at = next((i for i, line in enumerate(block) if line and not line.startswith(" ")), None)
        if at is None:
            continue
        following = block[at + 1 : at + 30]
        chained = next(
            (line for line in following if line.startswith(("Traceback", "During handling", "The above exception"))), ""
        )
        if chained.startswith(("During handling", "The above exception")):
            continue  # the cause of a chained error: the error itself is in the next block
        kinds[block[at][:120]] = kinds.get(block[at][:120], 0) + 1
        frames = [block[i] + " | " + block[i + 1].strip() for i in range(at - 1) if str(ROOT / "app") in block[i]]
        detail = [line[:200] for line in block[at : at + 8] if line.strip() and not re.match(r"^\[?\d{4}-\d\d-\d\d", line)]
        last_error = [
            "  app frames of the last one:",
            *("    " + f.strip()[:220] for f in frames[-6:]),
            "  its error:",
            *("    " + d for d in detail),
        ]
    summary = [
        f"{sum(kinds.values())} error(s) with a traceback in the gunicorn log:",
        *(f"  {count} x {kind}" for kind, count in kinds.items()),
    ]
    return summary + last_error


# --------------------------------------------------------------------------- report

TARGETS = [  # (name, minimum ratio to the baseline's req/s, p99 must be below, ms)
    ("catalog", 0.30, None),
    ("search", 0.50, None),
    ("wallet", 0.50, None),
    ("status", 0.50, None),
    ("checkout", 0.15, 100.0),
]
WALLET_MAX_BYTES = 1024


def fmt(value: float | None, pattern: str) -> str:
    return pattern.format(value) if value is not None else "-"


def report(result: DatabaseResult) -> list[str]:
    """Print one database's table and targets; returns the MISSes."""
    print(f"\n## {result.name}{(' (' + result.detail + ')') if result.detail else ''}")
    if result.error:
        print(f"   ERROR: {result.error}")
    if not result.measurements and result.error:
        return [f"{result.name}: did not run"]
    baselines = [m.rps for m in result.measurements if m.name == "baseline" and m.rps]
    baseline = sum(baselines) / len(baselines) if baselines else None
    header = f"   {'route':<58} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'x base':>7}  notes"
    print(header)
    print("   " + "-" * (len(header) - 3))
    for m in result.measurements:
        if m.skipped:
            print(f"   {m.label:<58} {'-':>9} {'-':>8} {'-':>8} {'-':>7}  SKIPPED: {m.skipped}")
            continue
        ratio = m.rps / baseline if (m.rps is not None and baseline) else None
        print(
            f"   {m.label:<58} {fmt(m.rps, '{:.0f}'):>9} {fmt(m.p50_ms, '{:.2f}'):>8} {fmt(m.p99_ms, '{:.2f}'):>8}"
            f" {fmt(ratio, '{:.2f}'):>7}  {'; '.join(filter(None, [m.note, 'WARNING: ' + '; '.join(m.warnings) if m.warnings else '']))}"
        )
    if len(baselines) == 2:
        print(
            f"   x base: against the mean of the two baseline runs, {baseline:.0f} req/s"
            f" (they differ by {abs(baselines[0] - baselines[1]) / baseline:.0%})"
        )
    if result.server_errors:
        print("\n   server errors: " + "\n      ".join(result.server_errors))
    if result.fulfilment:
        pending, seconds, counts = result.fulfilment
        rate = f"{pending / seconds:.0f} orders/s" if seconds else "-"
        print(
            f"\n   fulfilment after checkout: {pending} pending orders fulfilled in {seconds:.1f} s ({rate}, one worker process);"
            f" orders by status now: {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}"
        )
    print(f"\n   wallet partial: {fmt(result.wallet_bytes, '{:d}')} bytes")
    if result.first_page is not None:
        parts = ", ".join(f"{name} {size}" for name, size in result.first_page_parts)
        print(f"   first page: {result.first_page} bytes ({parts})")

    misses = []
    print("\n   targets")
    by_name = {m.name: m for m in result.measurements}
    for name, minimum, p99_max in TARGETS:
        m = by_name.get(name)
        wanted = f"{name} >= {minimum:.2f} x baseline" + (f", p99 < {p99_max:.0f} ms" if p99_max else "")
        if m is None or m.skipped or m.rps is None or not baseline:
            verdict, got = "MISS", "not measured" + (f" ({m.skipped})" if m and m.skipped else "")
        else:
            ratio = m.rps / baseline
            ok = ratio >= minimum and (p99_max is None or (m.p99_ms is not None and m.p99_ms < p99_max))
            verdict = "PASS" if ok else "MISS"
            got = f"{ratio:.2f} x" + (f", p99 {fmt(m.p99_ms, '{:.1f}')} ms" if p99_max else "")
        print(f"   {verdict}  {wanted:<42} got {got}")
        if verdict == "MISS":
            misses.append(f"{result.name}: {name}")
    ok = result.wallet_bytes is not None and result.wallet_bytes <= WALLET_MAX_BYTES
    print(
        f"   {'PASS' if ok else 'MISS'}  {'wallet partial <= ' + str(WALLET_MAX_BYTES) + ' bytes':<42} got {fmt(result.wallet_bytes, '{:d}')} bytes"
    )
    if not ok:
        misses.append(f"{result.name}: wallet bytes")
    return misses


# --------------------------------------------------------------------------- main


def postgres_version() -> str:
    return run(PG_ADMIN + ["-c", "SHOW server_version"], timeout=15).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="10s", help="wrk -d per route (default 10s)")
    parser.add_argument("--only", choices=["postgresql", "sqlite"], help="one database only")
    parser.add_argument(
        "--routes",
        nargs="*",
        default=[],
        choices=["catalog", "search", "wallet", "status", "checkout"],
        help="measure only these (and the baseline)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    options = parser.parse_args()

    def stop(signum, _frame):  # Ctrl-C or a kill: still clean up (the finally blocks run)
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    started = time.monotonic()
    wrk = ensure_wrk()
    print(f"wrk -t{THREADS} -c{CONNECTIONS} -d{options.duration} --latency against gunicorn -w 4 --threads 4 ({ROOT})")

    results: list[DatabaseResult] = []
    for kind in ("postgresql", "sqlite"):
        if options.only and options.only != kind:
            continue
        result = DatabaseResult("PostgreSQL" if kind == "postgresql" else "SQLite")
        results.append(result)
        workdir = Path(tempfile.mkdtemp(prefix=f"giftstore-bench-{kind}-"))
        db_name = f"bench_{os.getpid()}"
        created_db = False
        begun = time.monotonic()
        try:
            if kind == "postgresql":
                try:
                    result.detail = "PostgreSQL " + postgres_version()
                    run(PG_ADMIN + ["-c", f"CREATE DATABASE {db_name}"], timeout=30)
                    created_db = True
                except BenchError as error:
                    raise BenchError(f"PostgreSQL at 127.0.0.1:5432 is not usable: {error}") from None
                url = PG_URL.format(name=db_name)
            else:
                url = f"sqlite:///{workdir / 'bench.db'}"
                result.detail = "SQLite file in " + str(workdir)
            bench_database(result, url, workdir, wrk, options.duration, set(options.routes))
        except Exception as error:  # noqa: BLE001  (report it, clean up, go on with the next database)
            result.error = str(error) if isinstance(error, BenchError) else f"{type(error).__name__}: {error}"
            print(f"  ERROR: {result.error}", flush=True)
        finally:
            if created_db:
                dropped = run(PG_ADMIN + ["-c", f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"], timeout=30, check=False)
                if dropped.returncode != 0:
                    print(f"  warning: could not drop database {db_name}: {dropped.stderr.strip()}")
            shutil.rmtree(workdir, ignore_errors=True)
            result.seconds = time.monotonic() - begun

    misses: list[str] = []
    for result in results:
        misses += report(result)
    errors = [r.name for r in results if r.error]
    print(f"\nDone in {time.monotonic() - started:.0f}s. " + (f"Missed: {', '.join(misses)}." if misses else "Every target met."))
    if errors:
        return 2
    return 1 if (options.strict and misses) else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("interrupted (cleaned up)")
