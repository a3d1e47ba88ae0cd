"""Faults survived, measured (`make chaos`; `make chaos-short` is scenarios 1 and 2, smaller, for CI).

The production layout on this machine: a fresh PostgreSQL database, a Redis server of the harness's own (so it
can take it away), gunicorn (2 processes x 4 threads, JSON logs, Prometheus multiprocess mode) and a separate
`flask worker` process (4 threads), sending mail to a real SMTP server (aiosmtpd) the harness stops and starts.
Each scenario injects one fault while it drives the app, waits (bounded) for the app to settle, then counts from
the database what became of every order, email and webhook it caused, checks the ledger with the app's own
checks (`ledger_problems`), and prints

    N placed, N completed, N failed+refunded, 0 lost, 0 duplicated, ledger OK

  1 worker killed   200 API orders (provider latency 500 ms), the worker SIGKILLed twice at random moments
                    and started again: every order completed (or failed and refunded once), none twice.
  2 SMTP down 60 s  during 300 emails (100 welcomes, 100 gift cards, 100 order confirmations): each sent once,
                    all within a bounded time after SMTP returns; the rows show the failed attempts.
  3 Redis down 30 s during store checkouts (Redis killed: the queue's contents are lost too): every checkout
                    either placed its order (fulfilled later: the sweep re-queues it) or was refused with
                    nothing charged; no order stranded.
  4 DB connections  pg_terminate_backend on every connection of the app, twice, under page and checkout
    killed          load: requests after each drop succeed (pool pre-ping); nothing half-written.
  5 provider hangs  10 % of orders never answered, 30 % declined: every attempt bounded by
    and fails       PROVIDER_TIMEOUT_SECONDS, a hanging order retried ORDER_MAX_ATTEMPTS times then failed and
                    refunded once, a declined one failed and refunded at once, the rest completed on time.
  6 webhook         the partner's receiver down while orders complete, then up: every event delivered, with
    receiver down   the same event id on each attempt; none lost.

The harness shortens the app's timings through its settings (the claim, the sweep's threshold, webhook retry
delays) so each scenario ends in minutes; everything else is as configured in production. APP_ENV is
development only so that webhooks may go to 127.0.0.1. Exit status 1 when any scenario lost or duplicated
something, broke the ledger or ran out of time. Everything it starts is stopped, and its database dropped.

Options: --short (scenarios 1 and 2, smaller: CI), --only 3 4, --database NAME (default chaos_<pid>),
--keep (leave the database and the logs), --schema models (the models' tables instead of the migrations).
A failing scenario prints the last lines of the web and worker logs.
Not a test module: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import concurrent.futures
import email
import email.policy
import hashlib
import hmac
import html
import http.server
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookiejar import CookieJar
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
BIN = ROOT / ".venv" / "bin"
if not (BIN / "gunicorn").exists():
    BIN = Path(sys.executable).parent

PG_ADMIN = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-Atq"]
PG_URL = "postgresql://postgres@127.0.0.1:5432/{name}"
SLUG = "acme"  # the demo store (`seed-demo`)
SHOPPER_PASSWORD = "Sturdy-otter-2026!"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HTTP_TIMEOUT = 30


class ChaosError(Exception):
    pass


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise ChaosError(f"nothing answered on port {port} within {timeout:.0f} s")


# --------------------------------------------------------------------------- processes the harness starts


STARTED: list[Process] = []


class Process:
    """A child in its own process group: stopping it takes its children (gunicorn's workers, threads) too."""

    def __init__(self, name: str, argv: list[str], env: dict, log_path: Path):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.popen: subprocess.Popen | None = None
        STARTED.append(self)

    def start(self) -> Process:
        if self.popen is None or self.popen.poll() is not None:
            with open(self.log_path, "a") as out:  # the child keeps its own copy of the file
                self.popen = subprocess.Popen(
                    self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.popen is not None:
            try:
                os.killpg(self.popen.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    def kill(self) -> None:
        """SIGKILL, no goodbye: what the scenario calls a crash."""
        self.signal_group(signal.SIGKILL)
        if self.popen is not None:
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def stop(self, grace: float = 10) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)  # whatever of the group is left
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def errors(self, count: int = 3) -> str:
        """The last ERROR lines of its log (JSON lines: LOG_FORMAT=json), each cut to 600 characters."""
        try:
            lines = [line for line in self.log_path.read_text(errors="replace").splitlines() if '"level": "ERROR"' in line]
        except OSError:
            return ""
        return "\n".join("    " + line[:600] for line in lines[-count:])

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join("    " + line for line in self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def stop_everything() -> None:
    for process in reversed(STARTED):
        process.stop(grace=5)


def install_redis_server() -> str:
    """Debian's redis-server, installed when missing and we may (root, apt-get), like the benchmark's wrk."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ChaosError("redis-server is not installed and cannot be installed here: apt-get install -y redis-server")
    log("installing redis-server (apt-get install -y redis-server) ...")
    quiet = {"capture_output": True, "text": True, "env": dict(os.environ, DEBIAN_FRONTEND="noninteractive"), "timeout": 300}
    if subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], **quiet).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], **quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], **quiet)
    binary = shutil.which("redis-server")
    if binary is None:
        raise ChaosError("could not install redis-server with apt-get")
    return binary


class Redis:
    """A redis-server of the harness's own (nothing on disk), on a port of its own: killing it hurts nobody else."""

    def __init__(self, workdir: Path):
        binary = shutil.which("redis-server") or install_redis_server()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = Process("redis", argv + ["--dir", str(workdir)], dict(os.environ), workdir / "redis.log")

    def start(self) -> None:
        self.process.start()
        wait_for_port(self.port)

    def kill(self) -> None:
        self.process.kill()


class Mailbox:
    """What the SMTP server received: (to, subject) of each message, in order."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            for to in envelope.rcpt_tos:
                self.received.append((to.lower(), " ".join(str(message["Subject"]).split())))  # unfolded
        return "250 Message accepted for delivery"

    def counts(self) -> Counter:
        with self.lock:
            return Counter(self.received)


class Smtp:
    """A real SMTP server (aiosmtpd) on a fixed port that the harness takes down and brings back."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.mailbox = Mailbox()
        self._controller_class = Controller
        self.controller = None

    def start(self) -> None:
        if self.controller is None:
            self.controller = self._controller_class(self.mailbox, hostname="127.0.0.1", port=self.port)
            self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class WebhookReceiver:
    """The partner's webhook endpoint: records the x-event-id of every POST it accepts."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/giftstore"
        self.lock = threading.Lock()
        self.event_ids: list[str] = []
        self.server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                with receiver.lock:
                    receiver.event_ids.append(self.headers.get("x-event-id", ""))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


# --------------------------------------------------------------------------- HTTP clients


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> dict:
        return json.loads(self.body or b"{}")


class _NoRedirects(urllib.request.HTTPErrorProcessor):
    def http_response(self, request, response):
        return response

    https_response = http_response


def request(opener, method: str, url: str, *, data: bytes | None = None, headers: dict | None = None) -> Answer:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with opener.open(req, timeout=HTTP_TIMEOUT) as response:
            return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())
    except (OSError, urllib.error.URLError) as error:  # refused, reset, timed out: the client saw no answer
        return Answer(0, {}, str(error).encode())


class Api:
    """The partner API, signed v1 as the README's client does."""

    def __init__(self, base: str, credentials: dict):
        self.base, self.credentials = base, credentials
        self.opener = urllib.request.build_opener(_NoRedirects())

    def call(self, method: str, path: str, payload: dict | None = None) -> Answer:
        body = json.dumps(payload) if payload is not None else ""
        timestamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        client_id, secret = self.credentials["clientId"], self.credentials["hmacSecret"]
        to_sign = f"{method}\n{timestamp}\n{client_id}\n{body}"
        signature = base64.b64encode(hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).digest()).decode()
        headers = {
            "Content-Type": "application/json",
            "x-api-key": self.credentials["apiKey"],
            "x-client-id": client_id,
            "x-timestamp": timestamp,
            "x-signature": signature,
        }
        return request(self.opener, method, self.base + "/api/partner/v1" + path, data=body.encode() or None, headers=headers)


class Shopper:
    """A signed-in consumer of the demo store with a cookie jar and the session's CSRF token."""

    def __init__(self, base: str, email_address: str):
        self.base, self.email = base, email_address
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirects())
        self.token = ""

    def get(self, path: str) -> Answer:
        answer = request(self.opener, "GET", self.base + path)
        match = CSRF.search(answer.text)
        if match:
            self.token = html.unescape(match.group(1))
        return answer

    def post(self, path: str, fields: dict) -> Answer:
        data = urllib.parse.urlencode({"csrf_token": self.token, **fields}).encode()
        return request(
            self.opener, "POST", self.base + path, data=data, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )

    def sign_in(self) -> None:
        self.get(f"/s/{SLUG}/login")
        answer = self.post(f"/s/{SLUG}/login", {"email": self.email, "password": SHOPPER_PASSWORD})
        if answer.status != 303:
            raise ChaosError(f"signing in {self.email} answered {answer.status}")
        if self.get(f"/s/{SLUG}/").status != 200 or not self.token:
            raise ChaosError(f"the store's home page did not answer {self.email} after signing in")

    def checkout(self, brand: str, amount: str, key: str) -> Answer:
        return self.post(f"/s/{SLUG}/brands/{brand}/orders", {"amount": amount, "send_to": "me", "idempotency_key": key})


# --------------------------------------------------------------------------- the app: servers and an inspector


class Stack:
    """The database, Redis, SMTP, and the app's web and worker processes, with the settings a scenario asks for."""

    def __init__(self, database: str, workdir: Path, schema: str = "migrations"):
        self.database, self.workdir, self.schema = database, workdir, schema
        self.database_url = PG_URL.format(name=database)
        self.redis = Redis(workdir)
        self.smtp = Smtp()
        self.web_port = free_port()
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.metrics_dir = workdir / "prometheus"
        self.secrets = {
            "SECRET_KEY": secrets.token_urlsafe(48),
            "ENCRYPTION_KEYS": __import__("cryptography.fernet", fromlist=["Fernet"]).Fernet.generate_key().decode(),
        }
        self.web: Process | None = None
        self.worker: Process | None = None
        self.inspector = None  # an app object in this process: setup, counting, the ledger's own checks

    def settings(self, **overrides) -> dict[str, str]:
        values = {
            "APP_ENV": "development",  # webhooks may go to 127.0.0.1
            "INSTANCE_PATH": str(self.workdir / "instance"),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "RUN_WORKER_IN_PROCESS": "false",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(self.smtp.port),
            "BASE_URL": self.base,
            "PROVIDER_LATENCY_MS": "500",
            "PROVIDER_FAILURE_RATE": "0",
            "PROVIDER_HANG_RATE": "0",
            "PROVIDER_TIMEOUT_SECONDS": "10",
            # Shorter than production so a scenario ends in minutes: a dead worker's claim, the sweep's threshold.
            "ORDER_CLAIM_SECONDS": "15",
            "ORDER_SWEEP_AFTER_SECONDS": "20",
            "WEBHOOK_RETRY_DELAY_SECONDS": "2",
            "WEBHOOK_TIMEOUT_SECONDS": "3",
            "API_RATE_LIMIT": "100000/minute",
            "API_IP_RATE_LIMIT": "100000/minute",
            # Argon2 at its cheapest: hashing temporary passwords is not what is measured, and 2 cores are few.
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_COST_KIB": "1024",
            "ARGON2_PARALLELISM": "1",
            "LOG_FORMAT": "json",
            **self.secrets,
        }
        values.update({key: str(value) for key, value in overrides.items()})
        return values

    def env(self, **overrides) -> dict[str, str]:
        env = dict(os.environ)
        for key in list(env):  # nothing of the caller's own settings (a .env is read too: INSTANCE_PATH keeps it out)
            if key in ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL", "METRICS_TOKEN"):
                del env[key]
        env.update(self.settings(**overrides))
        env.update(FLASK_APP="app", PYTHONDONTWRITEBYTECODE="1", PROMETHEUS_MULTIPROC_DIR=str(self.metrics_dir))
        return env

    # -- lifecycle

    def create(self) -> None:
        existing = subprocess.run(
            PG_ADMIN + ["-c", f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'"], capture_output=True, text=True
        )
        if existing.returncode != 0:
            raise ChaosError(f"PostgreSQL did not answer on 127.0.0.1:5432: {existing.stderr.strip()}")
        if existing.stdout.strip():
            subprocess.run(PG_ADMIN + ["-c", f'DROP DATABASE "{self.database}" WITH (FORCE)'], check=True)
        subprocess.run(PG_ADMIN + ["-c", f'CREATE DATABASE "{self.database}"'], check=True)
        self.redis.start()
        self.smtp.start()
        from app import create_app

        self.inspector = create_app({key: value for key, value in self.settings(LOG_FORMAT="text").items()})
        import logging

        logging.getLogger().setLevel(logging.WARNING)
        with self.inspector.app_context():
            if self.schema == "migrations":  # as production gets it: `flask init-db`
                from app.cli import migrate_to_latest

                migrate_to_latest()
            else:  # the models' tables as they are now (while a migration is being written)
                from sqlmodel import SQLModel

                SQLModel.metadata.create_all(self.inspector.extensions["db_engine"])

    def drop(self) -> None:
        if self.inspector is not None:
            self.inspector.extensions["db_engine"].dispose()
        subprocess.run(PG_ADMIN + ["-c", f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'], capture_output=True)

    def start_app(self, **overrides) -> None:
        """gunicorn and the worker, with these settings (both stopped first when running)."""
        self.stop_app()
        shutil.rmtree(self.metrics_dir, ignore_errors=True)  # multiprocess mode wants it empty at every start
        self.metrics_dir.mkdir(parents=True)
        env = self.env(**overrides)
        gunicorn = [str(BIN / "gunicorn"), "-w", "2", "--threads", "4", "-b", f"127.0.0.1:{self.web_port}"]
        self.web = Process("web", gunicorn + ["--timeout", "60", "app:create_app()"], env, self.workdir / "web.log").start()
        self.worker = Process("worker", [str(BIN / "flask"), "worker", "--workers", "4"], env, self.workdir / "worker.log")
        self.worker.start()
        deadline = time.monotonic() + 60
        opener = urllib.request.build_opener(_NoRedirects())
        while time.monotonic() < deadline:
            if not self.web.running:
                raise ChaosError(f"gunicorn exited:\n{self.web.log_tail()}")
            if request(opener, "GET", self.base + "/readyz").status == 200:
                return
            time.sleep(0.3)
        raise ChaosError(f"/readyz did not answer 200 within 60 s:\n{self.web.log_tail()}")

    def stop_app(self) -> None:
        for process in (self.worker, self.web):
            if process is not None:
                process.stop()

    # -- reading the database with the app's own session and checks

    def query(self, sql: str, **params) -> list[tuple]:
        from sqlalchemy import text

        with self.inspector.app_context():
            from app.db import db_session

            session = db_session()
            rows = session.execute(text(sql), params).all()
            session.rollback()
            return [tuple(row) for row in rows]

    def ledger_problems(self) -> list[str]:
        with self.inspector.app_context():
            from app.db import db_session
            from app.services.ledger import ledger_problems

            session = db_session()
            try:
                return ledger_problems(session)
            finally:
                session.rollback()

    def metrics(self) -> dict[str, float]:
        """This run's /metrics (from loopback, no token needed), unlabelled samples and status-labelled ones."""
        answer = request(urllib.request.build_opener(_NoRedirects()), "GET", self.base + "/metrics")
        values: dict[str, float] = {}
        for line in answer.text.splitlines():
            match = re.match(r'^(giftstore_[a-z0-9_]+)(?:\{status="(\w+)"\})? (\S+)$', line)
            if match:
                values[match.group(1) + (f"[{match.group(2)}]" if match.group(2) else "")] = float(match.group(3))
        return values


# --------------------------------------------------------------------------- setup: the store, its customers


@dataclass
class World:
    credentials: dict
    brand: str  # a USD brand with a $25 denomination
    amount: str = "25.00"
    customers: list[int] = field(default_factory=list)  # API customers, funded
    shoppers: list[str] = field(default_factory=list)  # store consumers with SHOPPER_PASSWORD, terms accepted


def prepare(stack: Stack) -> World:
    """The demo store (seed-demo), funded; an API key for it; the brand the scenarios buy."""
    with stack.inspector.app_context():
        from app.db import db_session
        from app.demo import seed
        from app.demo_brands import DEMO_BRANDS
        from app.domain.money import Money
        from app.services import api_keys, partners

        seed()
        session = db_session()
        partner = partners.partner_by_slug(session, SLUG)
        partners.fund_partner(session, partner=partner, amount=Money.parse("10000000", "USD"), actor="chaos")
        _key, credentials = api_keys.create_outside_portal(
            session, partner=partner, label="chaos", require_signature_v2=False, actor="chaos"
        )
        brand = next(
            b
            for b in DEMO_BRANDS
            if "USD" in b.currencies and 2500 in b.denominations and b.category != "Health & Beauty" and b.supports_retry
        )
    return World(
        credentials={"clientId": credentials.client_id, "apiKey": credentials.api_key, "hmacSecret": credentials.hmac_secret},
        brand=brand.slug,
    )


def make_customers(api: Api, count: int, tag: str, funds: int = 2000) -> list[int]:
    """Customers created through the API (each gets a welcome email)."""

    def create(n: int) -> int:
        answer = api.call(
            "POST",
            "/customer",
            {"fullName": f"Chaos {tag} {n}", "email": f"{tag}-{n}@chaos.example", "currency": "USD", "initialFunds": funds},
        )
        if answer.status != 200:
            raise ChaosError(f"POST /customer answered {answer.status}: {answer.text[:300]}")
        return int(answer.json()["data"]["id"])

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(create, range(count)))


def make_shoppers(stack: Stack, count: int, tag: str) -> list[str]:
    """Store consumers ready to sign in: a password of their own, terms accepted, a funded wallet."""
    addresses = [f"{tag}-shopper-{n}@chaos.example" for n in range(count)]
    with stack.inspector.app_context():
        from app.db import db_session
        from app.domain.money import Money
        from app.services import consumer_auth, consumers, partners

        session = db_session()
        partner = partners.partner_by_slug(session, SLUG)
        for address in addresses:
            consumer = consumers.create_consumer(
                session, partner=partner, email=address, full_name="Chaos Shopper", initial_funds=Money.parse("20000", "USD")
            ).consumer
            consumer_auth.set_trusted_password(
                session, consumer=consumer, password=SHOPPER_PASSWORD, confirmation=SHOPPER_PASSWORD
            )
            terms = consumer_auth.terms_to_accept(session, consumer)
            if terms is not None:
                consumer_auth.accept_terms(session, consumer=consumer, version=terms.version, accepted=True)
    return addresses


def place_api_orders(api: Api, world: World, refs: list[str], customers: list[int], *, gift: bool = True) -> dict[str, Answer]:
    """One API order per reference, 8 at a time; each to its own recipient (so its gift email is countable)."""

    def place(item: tuple[int, str]) -> tuple[str, Answer]:
        n, ref = item
        body = {
            "customerId": customers[n % len(customers)],
            "brand": world.brand,
            "amount": 25,
            "currency": "USD",
            "externalRefId": ref,
        }
        if gift:
            body["recipient"] = {"email": f"{ref}@gift.chaos.example", "name": "Chaos Friend"}
        answer = api.call("POST", "/orders", body)
        if answer.status == 0:  # no answer at all: the same reference again returns the order if it was placed
            answer = api.call("POST", "/orders", body)
        return ref, answer

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return dict(pool.map(place, enumerate(refs)))


# --------------------------------------------------------------------------- counting what became of everything


@dataclass
class Result:
    number: int
    name: str
    placed: int = 0
    completed: int = 0
    failed_refunded: int = 0
    lost: int = 0
    duplicated: int = 0
    ledger_ok: bool = False
    timed_out: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated and self.ledger_ok and not self.timed_out and not self.problems

    def line(self) -> str:
        return (
            f"{self.placed} placed, {self.completed} completed, {self.failed_refunded} failed+refunded, "
            f"{self.lost} lost, {self.duplicated} duplicated, ledger {'OK' if self.ledger_ok else 'BROKEN'}"
        )


ORDER_ROWS = """
SELECT o.public_id, o.status, o.attempts, o.recipient_email, o.external_ref, o.idempotency_key,
       (SELECT count(*) FROM ledger_transaction t WHERE t.order_id = o.id AND t.type = 'debit'),
       (SELECT count(*) FROM ledger_transaction t WHERE t.order_id = o.id AND t.type = 'refund'),
       (SELECT count(*) FROM ledger_transaction t WHERE t.order_id = o.id AND t.type = 'rebate'),
       (SELECT t.status FROM ledger_transaction t WHERE t.id = o.debit_transaction_id),
       o.created_at, o.updated_at, o.completed_at
FROM gift_order o WHERE {where}
"""


@dataclass
class OrderRow:
    public_id: str
    status: str
    attempts: int
    recipient: str
    external_ref: str | None
    key: str
    debits: int
    refunds: int
    rebates: int
    debit_status: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


def order_rows(stack: Stack, where: str, **params) -> list[OrderRow]:
    return [OrderRow(*row) for row in stack.query(ORDER_ROWS.format(where=where), **params)]


def pending_count(stack: Stack, where: str, **params) -> int:
    return stack.query(f"SELECT count(*) FROM gift_order o WHERE o.status = 'pending' AND {where}", **params)[0][0]


def wait_until_settled(stack: Stack, where: str, deadline: float, result: Result, **params) -> None:
    """Until no order of the scenario is pending (the sweeps included), or the deadline."""
    while time.monotonic() < deadline:
        if not pending_count(stack, where, **params):
            return
        time.sleep(1)
    result.timed_out = True
    result.problems.append(f"{pending_count(stack, where, **params)} orders still pending at the deadline")


def count_orders(stack: Stack, result: Result, rows: list[OrderRow]) -> None:
    """Placed, completed, failed and refunded once; lost (pending, unrefunded, refunded though completed, no
    debit); duplicated (two debits, two refunds, two rebates). Then the ledger with the app's own checks."""
    result.placed = len(rows)
    for row in rows:
        if row.debits > 1 or row.refunds > 1 or row.rebates > 1:
            result.duplicated += 1
            result.problems.append(f"{row.public_id}: {row.debits} debits, {row.refunds} refunds, {row.rebates} rebates")
        elif row.debits == 0:
            result.lost += 1
            result.problems.append(f"{row.public_id}: no debit")
        elif row.status == "completed" and row.refunds == 0 and row.debit_status == "completed":
            result.completed += 1
        elif row.status == "failed" and row.refunds == 1 and row.debit_status == "failed":
            result.failed_refunded += 1
        else:
            result.lost += 1
            result.problems.append(f"{row.public_id}: {row.status}, debit {row.debit_status}, {row.refunds} refunds")
    problems = stack.ledger_problems()
    result.ledger_ok = not problems
    result.problems += problems[:10]


def count_gift_emails(stack: Stack, result: Result, rows: list[OrderRow]) -> None:
    """Each completed order's gift email: one row, sent, received once by its own recipient (after waiting, bounded,
    for the queued ones)."""
    completed = [row for row in rows if row.status == "completed"]
    recipients = [row.recipient.lower() for row in completed]
    waiting = "SELECT count(*) FROM emailmessage e WHERE e.kind = 'gift_card' AND e.status = 'queued' AND lower(e.to) = ANY(:tos)"
    deadline = time.monotonic() + 120
    while stack.query(waiting, tos=recipients)[0][0] and time.monotonic() < deadline:
        time.sleep(1)
    received = stack.smtp.mailbox.counts()
    by_recipient = Counter(to for to, _subject in received.elements())
    email_rows = dict(
        stack.query(
            "SELECT lower(e.to), count(*) FROM emailmessage e WHERE e.kind = 'gift_card' AND lower(e.to) = ANY(:tos) GROUP BY 1",
            tos=recipients,
        )
    )
    unsent = Counter(
        dict(
            stack.query(
                "SELECT e.status, count(*) FROM emailmessage e WHERE e.kind = 'gift_card' AND e.status <> 'sent'"
                " AND lower(e.to) = ANY(:tos) GROUP BY 1",
                tos=recipients,
            )
        )
    )
    twice = sum(1 for to in recipients if email_rows.get(to, 0) > 1 or by_recipient.get(to, 0) > 1)
    result.duplicated += twice
    result.notes.append(f"gift emails: {sum(1 for to in recipients if by_recipient.get(to))} received for {len(completed)} cards")
    if unsent.get("sending"):
        result.notes.append(
            f"{unsent['sending']} gift emails were being sent by a killed worker: recorded, and re-sent by the stuck-email "
            "sweep after 15 minutes (not waited for here)"
        )
    if unsent.get("queued") or unsent.get("failed"):
        result.lost += unsent.get("queued", 0) + unsent.get("failed", 0)
        result.problems.append(f"gift emails left {dict(unsent)}")
    if twice:
        result.problems.append(f"{twice} cards emailed twice")


def attempts_note(rows: list[OrderRow]) -> str:
    spread = Counter(row.attempts for row in rows)
    return "attempts per order: " + ", ".join(f"{n}: {count}" for n, count in sorted(spread.items()))


# --------------------------------------------------------------------------- the scenarios


@dataclass
class Plan:
    short: bool
    run: str  # a tag unique to this run: references, emails

    def n(self, full: int, short: int) -> int:
        return short if self.short else full


def scenario_worker_killed(stack: Stack, world: World, api: Api, plan: Plan) -> Result:
    result = Result(1, "worker killed (SIGKILL twice) during API orders")
    count = plan.n(200, 60)
    stack.start_app(PROVIDER_LATENCY_MS=500)
    customers = make_customers(api, plan.n(20, 8), f"{plan.run}-s1")
    refs = [f"{plan.run}-s1-{n}" for n in range(count)]
    started = time.monotonic()
    placing = threading.Thread(target=lambda: result.notes.append(_api_answers(place_api_orders(api, world, refs, customers))))
    placing.start()
    rng = random.Random()
    for kill in (1, 2):
        time.sleep(rng.uniform(3, 8))
        busy = pending_count(stack, "o.external_ref LIKE :p", p=f"{plan.run}-s1-%")
        stack.worker.kill()
        log(f"  SIGKILL the worker ({kill} of 2) at {time.monotonic() - started:.1f} s, {busy} orders pending; starting it again")
        time.sleep(1)
        stack.worker.start()
    placing.join()
    where = "o.external_ref LIKE :p"
    wait_until_settled(stack, where, started + plan.n(300, 200), result, p=f"{plan.run}-s1-%")
    rows = order_rows(stack, where, p=f"{plan.run}-s1-%")
    count_orders(stack, result, rows)
    missing = set(refs) - {row.external_ref for row in rows}
    if missing:
        result.lost += len(missing)
        result.problems.append(f"{len(missing)} API orders answered but not in the database")
    count_gift_emails(stack, result, rows)
    result.notes.append(f"{sum(1 for row in rows if row.attempts >= 2)} completed on a later attempt; " + attempts_note(rows))
    result.seconds = time.monotonic() - started
    return result


def _api_answers(answers: dict[str, Answer]) -> str:
    return "API answers: " + ", ".join(
        f"{status}: {count}" for status, count in sorted(Counter(a.status for a in answers.values()).items())
    )


def scenario_smtp_down(stack: Stack, world: World, api: Api, plan: Plan) -> Result:
    result = Result(2, "SMTP down during welcome, gift-card and confirmation emails")
    each = plan.n(100, 20)
    down_for = plan.n(60, 20)
    stack.start_app(PROVIDER_LATENCY_MS=100)
    since = stack.query("SELECT now() AT TIME ZONE 'UTC'")[0][0]
    stack.smtp.stop()
    down_at = time.monotonic()
    log(f"  SMTP down for {down_for} s")
    tag = f"{plan.run}-s2"
    customers = make_customers(api, each, tag)  # a welcome email each
    refs = [f"{tag}-{n}" for n in range(each)]
    result.notes.append(_api_answers(place_api_orders(api, world, refs, customers)))  # a gift card + a confirmation each
    time.sleep(max(0.0, down_for - (time.monotonic() - down_at)))
    stack.smtp.start()
    up_at = time.monotonic()
    log(f"  SMTP up again after {up_at - down_at:.0f} s")
    mine = (
        "e.created_at >= :since AND (lower(e.to) LIKE :tag OR e.consumer_id IN (SELECT id FROM consumer WHERE email LIKE :tag))"
    )
    params = {"since": since, "tag": f"{tag}%"}
    deadline = up_at + plan.n(300, 150)
    while time.monotonic() < deadline:
        left = stack.query(f"SELECT count(*) FROM emailmessage e WHERE {mine} AND e.status IN ('queued', 'sending')", **params)[
            0
        ][0]
        if not left and not pending_count(stack, "o.external_ref LIKE :p", p=f"{tag}-%"):
            break
        time.sleep(1)
    else:
        result.timed_out = True
    settled_after = time.monotonic() - up_at
    rows = stack.query(f"SELECT lower(e.to), e.subject, e.status, e.attempts, e.kind FROM emailmessage e WHERE {mine}", **params)
    received = stack.smtp.mailbox.counts()
    expected = Counter((to, " ".join(subject.split())) for to, subject, status, _attempts, _kind in rows)
    result.placed = len(rows)
    result.completed = sum(1 for row in rows if row[2] == "sent")
    failed = sum(1 for row in rows if row[2] == "failed")
    result.lost = sum(max(0, n - received.get(key, 0)) for key, n in expected.items())
    result.duplicated = sum(max(0, received.get(key, 0) - n) for key, n in expected.items())
    if result.lost:
        missing = [key for key, n in expected.items() if received.get(key, 0) < n]
        strays = [key for key in received if key not in expected and key[0].startswith(tag)]
        result.problems.append(f"not received, e.g. {missing[:2]}; received and not expected, e.g. {strays[:2]}")
    if failed:
        result.problems.append(f"{failed} emails failed (gave up)")
    result.ledger_ok = not stack.ledger_problems()
    kinds = Counter(row[4] for row in rows)
    retried = sum(1 for row in rows if row[3] >= 2)
    result.notes.append("emails: " + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())))
    result.notes.append(
        f"{retried} needed more than one attempt (the rows show up to {max((row[3] for row in rows), default=0)} attempts); "
        f"all settled {settled_after:.0f} s after SMTP came back"
    )
    result.notes.append("(counts: emails placed, sent, failed; lost = not received, duplicated = received twice)")
    orders = Result(2, "")
    count_orders(stack, orders, order_rows(stack, "o.external_ref LIKE :p", p=f"{tag}-%"))
    result.notes.append("orders: " + orders.line())
    result.problems += orders.problems
    result.lost += orders.lost
    result.duplicated += orders.duplicated
    result.seconds = time.monotonic() - down_at
    return result


def sign_in_all(stack: Stack, addresses: list[str]) -> list[Shopper]:
    shoppers = [Shopper(stack.base, address) for address in addresses]
    for shopper in shoppers:
        shopper.sign_in()
    return shoppers


@dataclass
class Checkout:
    key: str
    status: int
    started: float
    ended: float
    body: str = ""


def shop(shoppers: list[Shopper], world: World, tag: str, seconds: float, *, pages: bool = False) -> list[tuple[str, Checkout]]:
    """Each shopper checks out (and, with pages, opens the catalog and its order page) until the time is up, within
    the store's 30 checkouts a minute per consumer."""
    records: list[tuple[str, Checkout]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def run(index: int, shopper: Shopper) -> None:
        n = 0
        while time.monotonic() < stop_at:
            key = f"{tag}-{index}-{n}"
            n += 1
            started = time.monotonic()
            answer = shopper.checkout(world.brand, world.amount, key)
            record = Checkout(key, answer.status, started, time.monotonic(), answer.text[:200] if answer.status != 303 else "")
            with lock:
                records.append(("checkout", record))
            if pages:
                for path in (f"/s/{SLUG}/", answer.headers.get("location", "") if answer.status == 303 else f"/s/{SLUG}/wallet"):
                    if not path:
                        continue
                    started = time.monotonic()
                    page = shopper.get(urllib.parse.urlsplit(path).path)
                    with lock:
                        records.append(("page", Checkout(path, page.status, started, time.monotonic())))
            time.sleep(max(0.0, 2.1 - (time.monotonic() - started)))  # 30 a minute

    threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate(shoppers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return records


def scenario_redis_down(stack: Stack, world: World, api: Api, plan: Plan) -> Result:
    result = Result(3, "Redis down 30 s during store checkouts")
    tag = f"{plan.run}-s3"
    stack.start_app(PROVIDER_LATENCY_MS=200)
    shoppers = sign_in_all(stack, make_shoppers(stack, 8, tag))
    started = time.monotonic()
    box: dict = {}
    shopping = threading.Thread(target=lambda: box.setdefault("records", shop(shoppers, world, tag, 60)))
    shopping.start()
    time.sleep(15)
    stack.redis.kill()  # its queue (and what was scheduled in it) is gone with it
    down_at = time.monotonic()
    log(f"  Redis killed at {down_at - started:.0f} s")
    time.sleep(30)
    stack.redis.start()
    up_at = time.monotonic()
    log(f"  Redis back (empty) at {time.monotonic() - started:.0f} s")
    shopping.join()
    records = [record for kind, record in box["records"] if kind == "checkout"]
    where = "o.idempotency_key LIKE :p"
    wait_until_settled(stack, where, time.monotonic() + 240, result, p=f"{tag}-%")
    rows = order_rows(stack, where, p=f"{tag}-%")
    count_orders(stack, result, rows)
    keys = {row.key for row in rows}
    placed = [r for r in records if r.status == 303]
    refused = [r for r in records if r.status != 303]
    charged_though_refused = [r for r in refused if r.key in keys]
    answered_but_missing = [r for r in placed if r.key not in keys]
    if charged_though_refused:
        result.lost += len(charged_though_refused)
        result.problems.append(f"{len(charged_though_refused)} checkouts refused yet placed: {charged_though_refused[0].body!r}")
    if answered_but_missing:
        result.lost += len(answered_but_missing)
        result.problems.append(f"{len(answered_but_missing)} checkouts answered with an order that is not there")
    clean = [r for r in refused if r.key not in keys]
    statuses = Counter(r.status for r in clean)
    result.notes.append(
        f"{len(records)} checkouts: {len(placed)} answered with their order, {len(clean)} refused with nothing charged"
        + (f" ({', '.join(f'{s}: {n}' for s, n in sorted(statuses.items()))})" if clean else "")
        + (
            f", {len(charged_though_refused)} failed (an error page) though their order was placed"
            if charged_though_refused
            else ""
        )
    )
    if clean:
        result.notes.append(f"  a refusal said: {clean[0].body[:160]!r}")
    during = sorted(r.ended - r.started for r in records if down_at <= r.started < up_at)
    other = sorted(r.ended - r.started for r in records if not down_at <= r.started < up_at)
    if during and other:
        result.notes.append(
            f"a checkout took {median(other):.2f} s (median; slowest {other[-1]:.2f} s) with Redis, "
            f"{median(during):.2f} s (slowest {during[-1]:.2f} s) without"
        )
    result.notes.append(attempts_note(rows))
    result.seconds = time.monotonic() - started
    return result


def terminate_app_connections(stack: Stack) -> int:
    """pg_terminate_backend on every connection to the scenario's database but this one."""
    return stack.query(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()",
        db=stack.database,
    )[0][0]


def scenario_database_connections_killed(stack: Stack, world: World, api: Api, plan: Plan) -> Result:
    result = Result(4, "database connections killed (pg_terminate_backend) under page and checkout load")
    tag = f"{plan.run}-s4"
    stack.start_app(PROVIDER_LATENCY_MS=200)
    shoppers = sign_in_all(stack, make_shoppers(stack, 6, tag))
    started = time.monotonic()
    box: dict = {}
    shopping = threading.Thread(target=lambda: box.setdefault("records", shop(shoppers, world, tag, 40, pages=True)))
    shopping.start()
    drops = []
    for at in (10, 25):
        time.sleep(max(0.0, started + at - time.monotonic()))
        stack.inspector.extensions["db_engine"].dispose()  # the harness's own pool: terminated too, start afresh
        killed = terminate_app_connections(stack)
        drops.append(time.monotonic())
        log(f"  pg_terminate_backend: {killed} connections of the app killed at {time.monotonic() - started:.0f} s")
    shopping.join()
    records = box["records"]
    settle = 1.0  # a request in flight at the drop (its connection taken away) may fail; one that starts after may not

    def in_flight(record: Checkout) -> bool:
        return any(record.started < drop + settle and record.ended > drop for drop in drops)

    failed = [(kind, r) for kind, r in records if r.status not in (200, 303)]
    failed_after = [(kind, r) for kind, r in failed if not in_flight(r)]
    if failed_after:
        result.problems.append(
            f"{len(failed_after)} requests failed after a drop, e.g. {failed_after[0][0]} {failed_after[0][1].status}"
        )
    # A checkout that failed at the drop: the shopper clicks again (same key): one order, or none, never two.
    retried = 0
    for kind, record in failed:
        if kind == "checkout":
            index = int(record.key.split("-")[-2])
            again = shoppers[index].checkout(world.brand, world.amount, record.key)
            retried += 1
            if again.status != 303:
                result.problems.append(f"checkout {record.key} again after the drop answered {again.status}")
    where = "o.idempotency_key LIKE :p"
    wait_until_settled(stack, where, time.monotonic() + 180, result, p=f"{tag}-%")
    rows = order_rows(stack, where, p=f"{tag}-%")
    count_orders(stack, result, rows)
    half = stack.query(
        "SELECT count(*) FROM gift_order o WHERE o.idempotency_key LIKE :p AND o.debit_transaction_id IS NULL", p=f"{tag}-%"
    )[0][0]
    if half:
        result.lost += half
        result.problems.append(f"{half} orders without their debit (half-written)")
    pages = [r for kind, r in records if kind == "page"]
    result.notes.append(
        f"{len(records)} requests ({len(pages)} pages, {len(records) - len(pages)} checkouts); "
        f"{len(failed)} failed in flight at a drop, {len(failed_after)} after one; {retried} checkouts clicked again"
    )
    result.seconds = time.monotonic() - started
    return result


def scenario_provider_hangs_and_fails(stack: Stack, world: World, api: Api, plan: Plan) -> Result:
    result = Result(5, "provider hangs (10 % of orders) and declines (30 %)")
    tag = f"{plan.run}-s5"
    timeout, attempts = 3, 3
    hang_rate, failure_rate = 0.1, 0.3
    stack.start_app(
        PROVIDER_LATENCY_MS=300,
        PROVIDER_HANG_RATE=hang_rate,
        PROVIDER_FAILURE_RATE=failure_rate,
        PROVIDER_TIMEOUT_SECONDS=timeout,
        ORDER_MAX_ATTEMPTS=attempts,
    )
    customers = make_customers(api, 10, tag)
    refs = [f"{tag}-{n}" for n in range(100)]
    started = time.monotonic()
    result.notes.append(_api_answers(place_api_orders(api, world, refs, customers)))
    placed_at = time.monotonic()
    where = "o.external_ref LIKE :p"
    wait_until_settled(stack, where, time.monotonic() + 240, result, p=f"{tag}-%")
    rows = order_rows(stack, where, p=f"{tag}-%")
    count_orders(stack, result, rows)

    from app.providers.simulated import SimulatedProvider

    provider = SimulatedProvider(hang_rate=hang_rate)
    hanging = [row for row in rows if provider.hangs_for(row.public_id)]
    declined = [
        row
        for row in rows
        if not provider.hangs_for(row.public_id)
        and random.Random(hashlib.sha256(row.public_id.encode()).digest()).random() < failure_rate
    ]
    fine = [row for row in rows if row not in hanging and row not in declined]
    wrong = [
        row.public_id
        for group, status, tries in ((hanging, "failed", attempts), (declined, "failed", 1), (fine, "completed", 1))
        for row in group
        if (row.status, row.attempts) != (status, tries)
    ]
    if wrong:
        result.problems.append(f"{len(wrong)} orders did not end as their provider behaved, e.g. {wrong[0]}")
    done = [row.completed_at for row in fine if row.completed_at]
    last_fine = max(done) if done else None
    first = min(row.created_at for row in rows) if rows else None
    span = (last_fine - first).total_seconds() if last_fine and first else 0.0
    result.notes.append(
        f"{len(hanging)} hanging: failed and refunded after {attempts} attempts of at most {timeout} s each; "
        f"{len(declined)} declined: failed and refunded at once; {len(fine)} completed on their first attempt"
    )
    result.notes.append(
        f"the {len(fine)} others were all done {span:.0f} s after the first order (placing took {placed_at - started:.0f} s): "
        "no worker thread stayed on a hanging order"
    )
    result.seconds = time.monotonic() - started
    return result


def scenario_webhook_receiver_down(stack: Stack, world: World, api: Api, plan: Plan) -> Result:
    result = Result(6, "webhook receiver down, then up")
    tag = f"{plan.run}-s6"
    receiver = WebhookReceiver()
    stack.start_app(PROVIDER_LATENCY_MS=100, WEBHOOK_MAX_ATTEMPTS=8)
    registered = api.call("POST", "/webhooks", {"url": receiver.url, "events": ["order.completed", "order.failed"]})
    if registered.status != 200:
        raise ChaosError(f"POST /webhooks answered {registered.status}: {registered.text[:300]}")
    webhook_id = registered.json()["data"]["id"]
    customers = make_customers(api, 5, tag)
    refs = [f"{tag}-{n}" for n in range(40)]
    started = time.monotonic()
    log(f"  receiver down; placing {len(refs)} orders")
    result.notes.append(_api_answers(place_api_orders(api, world, refs, customers)))
    time.sleep(max(0.0, 20 - (time.monotonic() - started)))
    receiver.start()
    log(f"  receiver up at {time.monotonic() - started:.0f} s")
    deliveries = (
        "SELECT d.event_id, d.status, d.attempts, o.public_id FROM webhook_delivery d JOIN gift_order o ON o.id = d.order_id"
        " WHERE o.external_ref LIKE :p AND d.endpoint_id = :endpoint"
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        rows = stack.query(deliveries, p=f"{tag}-%", endpoint=webhook_id)
        if len(rows) == len(refs) and all(status != "pending" for _e, status, _a, _o in rows):
            break
        time.sleep(1)
    else:
        result.timed_out = True
    receiver.stop()
    api.call("DELETE", f"/webhooks/{webhook_id}")
    rows = stack.query(deliveries, p=f"{tag}-%", endpoint=webhook_id)
    received = Counter(receiver.event_ids)
    per_order = Counter(public_id for _e, _s, _a, public_id in rows)
    result.placed = len(rows)
    result.completed = sum(1 for _e, status, _a, _o in rows if status == "delivered")
    result.lost = sum(1 for event_id, status, _a, _o in rows if status != "delivered" or not received.get(event_id))
    result.lost += max(0, len(refs) - len(per_order))
    result.duplicated = sum(1 for event_id, *_ in rows if received.get(event_id, 0) > 1) + sum(
        1 for n in per_order.values() if n > 1
    )
    strangers = set(received) - {event_id for event_id, *_ in rows}
    if strangers:
        result.problems.append(f"{len(strangers)} event ids received that no delivery has")
    orders = Result(6, "")
    count_orders(stack, orders, order_rows(stack, "o.external_ref LIKE :p", p=f"{tag}-%"))
    result.ledger_ok = orders.ledger_ok
    result.problems += orders.problems
    retried = sum(1 for _e, _s, attempts, _o in rows if attempts > 1)
    result.notes.append(
        f"(counts: events placed, delivered; failed+refunded stays 0) {retried} delivered after failed attempts (up to "
        f"{max((a for _e, _s, a, _o in rows), default=0)}), every attempt of an event with its one event id; the receiver "
        f"got {len(received)} distinct ids for {len(rows)} events, {sum(received.values())} POSTs"
    )
    result.notes.append("orders: " + orders.line())
    result.seconds = time.monotonic() - started
    return result


SCENARIOS = {
    1: scenario_worker_killed,
    2: scenario_smtp_down,
    3: scenario_redis_down,
    4: scenario_database_connections_killed,
    5: scenario_provider_hangs_and_fails,
    6: scenario_webhook_receiver_down,
}


# --------------------------------------------------------------------------- main


def report(result: Result) -> None:
    verdict = "PASS" if result.ok else "FAIL"
    print(f"\n== {result.number}. {result.name}: {verdict} ({result.seconds:.0f} s)", flush=True)
    print(f"   {result.line()}")
    for note in result.notes:
        print(f"   {note}")
    for problem in result.problems[:10]:
        print(f"   PROBLEM: {problem}")
    print(flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="scenarios 1 and 2, smaller (CI)")
    parser.add_argument("--only", nargs="+", type=int, choices=sorted(SCENARIOS), help="these scenarios")
    parser.add_argument("--database", default=f"chaos_{os.getpid()}", help="the PostgreSQL database to create (and drop)")
    parser.add_argument("--keep", action="store_true", help="leave the database and the logs")
    parser.add_argument(
        "--schema",
        choices=["migrations", "models"],
        default="migrations",
        help="build the schema with the migrations or the models",
    )
    args = parser.parse_args(argv)
    numbers = args.only or ([1, 2] if args.short else sorted(SCENARIOS))
    plan = Plan(short=args.short, run=f"r{secrets.token_hex(3)}")

    workdir = Path(tempfile.mkdtemp(prefix="giftstore-chaos-"))
    stack = Stack(args.database, workdir, args.schema)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    atexit.register(stop_everything)
    results: list[Result] = []
    failed_to_run: list[str] = []
    started = time.monotonic()
    try:
        log(f"chaos: scenarios {numbers} on database {args.database}, Redis :{stack.redis.port}, SMTP :{stack.smtp.port}")
        stack.create()
        world = prepare(stack)
        api = Api(stack.base, world.credentials)
        for number in numbers:
            log(f"scenario {number}: {SCENARIOS[number].__name__.removeprefix('scenario_').replace('_', ' ')}")
            try:
                result = SCENARIOS[number](stack, world, api, plan)
            except ChaosError as error:
                failed_to_run.append(f"scenario {number}: {error}")
                log(f"  could not run: {error}")
                continue
            metrics = stack.metrics()
            result.notes.append(
                "/metrics then: "
                + ", ".join(
                    f"{name.removeprefix('giftstore_')} {metrics[name]:g}"
                    for name in (
                        "giftstore_orders_pending",
                        "giftstore_queue_depth",
                        "giftstore_emails_last_24h[failed]",
                        "giftstore_webhook_deliveries_failing",
                    )
                    if name in metrics
                )
            )
            if not result.ok:
                for process in (stack.web, stack.worker):
                    if process is not None:
                        result.notes.append(f"{process.name} log, its last errors:\n{process.errors() or '    (none)'}")
            report(result)
            results.append(result)
    except KeyboardInterrupt:
        log("interrupted")
        failed_to_run.append("interrupted")
    finally:
        stack.stop_app()
        stack.smtp.stop()
        stop_everything()
        if not args.keep:
            stack.drop()
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"kept database {args.database} and logs in {workdir}")

    print("== summary")
    for result in results:
        print(f"   {result.number}. {'PASS' if result.ok else 'FAIL'}  {result.line()}  ({result.seconds:.0f} s)  {result.name}")
    for problem in failed_to_run:
        print(f"   NOT RUN: {problem}")
    print(f"   {time.monotonic() - started:.0f} s in all", flush=True)
    return 0 if results and all(r.ok for r in results) and not failed_to_run else 1


if __name__ == "__main__":
    sys.exit(main())
