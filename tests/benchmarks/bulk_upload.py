"""How fast a 10,000-row CSV bulk upload of consumers is checked and committed, on SQLite and PostgreSQL.

    .venv/bin/python tests/benchmarks/bulk_upload.py [--rows 10000] [--only sqlite|postgresql]

For each database, in a child process of its own (so peak memory is that run's): a fresh database
(SQLite: a temp file; PostgreSQL: a scratch `bulk_bench_<pid>` made and dropped with psql on
127.0.0.1), a partner with enough funds, an operator, then a generated file (all new consumers
with initial funds, 0.5 % bad emails) goes through the real code: `upload_file` (read and store),
the queued check task, `request_commit` and the queued commit task, run the way a worker runs them.
The welcome tasks the commit queues (Argon2 hash + email per consumer: "email delivery") are
counted, not run; a sample of 20 is timed to tell how long they take afterwards.

Prints rows, seconds for upload, check and commit, rows/s, peak RSS and the welcome cost, and
PASS when check + commit take at most 10 s. Not a test module: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PG_ADMIN = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-Atqc"]
PG_URL = "postgresql://postgres@127.0.0.1:5432/{name}"
TARGET_SECONDS = 10.0
WELCOME_SAMPLE = 20


def make_csv(rows: int) -> bytes:
    lines = ["action,email,full_name,currency,initial_funds"]
    for i in range(rows):
        email = f"bench{i}@example" if i % 200 == 199 else f"bench{i}@example.com"
        lines.append(f"create,{email},Bench Person {i},USD,{i % 50 + 1}.{i % 100:02d}")
    return ("\r\n".join(lines) + "\r\n").encode()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(database_url: str, rows: int) -> dict:
    """One run against an empty database: returns the figures."""
    from sqlmodel import SQLModel, func, select

    from app import create_app
    from app.db import db_session
    from app.domain.money import Money
    from app.models import Consumer
    from app.services import bulk_upload, partners, team
    from app.services.ledger import ledger_problems

    with tempfile.TemporaryDirectory() as scratch:
        app = create_app(
            {
                "APP_ENV": "test",
                "DATABASE_URL": database_url,
                "QUEUE_IMMEDIATE": True,
                "RUN_WORKER_IN_PROCESS": False,
                "QUEUE_FILE": f"{scratch}/queue.db",
            }
        )
        SQLModel.metadata.create_all(app.extensions["db_engine"])
        huey = app.extensions["queue"]
        huey.immediate = False  # tasks wait in memory until we run them, as for a separate worker

        def run_queued(names: set[str]) -> dict[str, int]:
            """Run the queued tasks with these names; count the others (left for later)."""
            left: dict[str, int] = {}
            waiting = []
            while (task := huey.dequeue()) is not None:
                if task.name in names:
                    huey.execute(task)
                else:
                    left[task.name] = left.get(task.name, 0) + 1
                    waiting.append(task)
            for task in waiting:
                huey.enqueue(task)
            return left

        with app.app_context():
            session = db_session()
            partner, _ = partners.create_partner(
                session, slug="bench", name="Bench", currency="USD", funds=Money(100_000_000, "USD")
            )
            member, _ = team.invite(
                session, partner=partner, email="operator@example.com", full_name="Op Erator", role="operator", actor="bench"
            )
            run_queued(set())
            data = make_csv(rows)
            rss_before = peak_rss_mb()

            started = time.perf_counter()
            upload = bulk_upload.upload_file(session, partner=partner, member=member, filename="bench.csv", data=data)
            uploaded = time.perf_counter()
            run_queued({"check_bulk_upload"})
            checked = time.perf_counter()
            count = bulk_upload.request_commit(session, partner=partner, upload=upload, member=member)
            left = run_queued({"commit_bulk_upload"})
            committed = time.perf_counter()

            session.rollback()
            created = session.exec(select(func.count()).select_from(Consumer).where(Consumer.partner_id == partner.id)).one()
            problems = ledger_problems(session)
            session.refresh(upload)
            status, errors = upload.status, upload.errors

            sample = session.exec(select(Consumer.id).where(Consumer.partner_id == partner.id).limit(WELCOME_SAMPLE)).all()
            welcome_started = time.perf_counter()
            bulk_upload.welcome(session, list(sample))
            welcome_seconds = (time.perf_counter() - welcome_started) / len(sample)
        app.extensions["db_engine"].dispose()

    return {
        "rows": rows,
        "bytes": len(data),
        "upload_s": uploaded - started,
        "check_s": checked - uploaded,
        "commit_s": committed - checked,
        "committed_rows": count,
        "consumers": created,
        "status": status,
        "errors": errors,
        "welcome_tasks_queued": left.get("welcome_bulk_consumers", 0),
        "welcome_ms_each": welcome_seconds * 1000,
        "ledger_ok": not problems,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": rss_before,
    }


def child(backend: str, rows: int) -> dict:
    """Run one backend in its own process: its peak memory is its own."""
    result = subprocess.run(
        [sys.executable, __file__, "--child", backend, "--rows", str(rows)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        raise SystemExit(f"{backend} run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_backend(backend: str, rows: int) -> dict:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            return measure(f"sqlite:///{folder}/bench.db", rows)
    name = f"bulk_bench_{os.getpid()}"
    subprocess.run([*PG_ADMIN, f"CREATE DATABASE {name}"], check=True, capture_output=True)
    try:
        return measure(PG_URL.format(name=name), rows)
    finally:
        subprocess.run([*PG_ADMIN, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)


def report(backend: str, figures: dict) -> bool:
    work = figures["upload_s"] + figures["check_s"] + figures["commit_s"]
    ok = work <= TARGET_SECONDS and figures["ledger_ok"] and figures["status"] == "committed"
    minutes = figures["welcome_ms_each"] * figures["consumers"] / 1000 / 60
    print(
        f"{backend}: {figures['rows']:,} rows ({figures['bytes'] / 1e6:.2f} MB), {figures['errors']} bad rows, "
        f"{figures['consumers']:,} consumers created, ledger {'balanced' if figures['ledger_ok'] else 'WRONG'}"
    )
    print(f"  upload (read + store) {figures['upload_s']:6.2f} s")
    print(f"  check (queued task)   {figures['check_s']:6.2f} s   {figures['rows'] / figures['check_s']:8,.0f} rows/s")
    print(
        f"  commit (queued task)  {figures['commit_s']:6.2f} s   {figures['committed_rows'] / figures['commit_s']:8,.0f} rows/s"
    )
    print(
        f"  total                 {work:6.2f} s   {figures['rows'] / work:8,.0f} rows/s   {'PASS' if ok else 'MISS'} (target {TARGET_SECONDS:.0f} s)"
    )
    print(f"  peak RSS {figures['peak_rss_mb']:.0f} MB (app and data ready: {figures['rss_before_mb']:.0f} MB)")
    print(
        f"  then, email delivery: {figures['welcome_tasks_queued']} welcome tasks queued (one per batch), "
        f"{figures['welcome_ms_each']:.0f} ms per consumer (Argon2 + email) = {minutes:.1f} min of one worker"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--child", choices=("sqlite", "postgresql"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_backend(args.child, args.rows)))
        return 0
    backends = [args.only] if args.only else ["sqlite", "postgresql"]
    results = [report(backend, child(backend, args.rows)) for backend in backends]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
