"""One partner, many shoppers (issue 21, scenario 5), small: the benchmark's own code at a few orders a shopper.

The full run is `.venv/bin/python tests/benchmarks/hot_partner.py`; here `hot_partner()` runs with 3 shoppers and
1-second rounds on a stack of its own (gunicorn, a separate `flask worker`) over a PostgreSQL database made beside
the suite's, so the benchmark cannot rot unnoticed. PostgreSQL only: the row locks it measures are PostgreSQL's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def hot_partner():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import hot_partner

        yield hot_partner
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture
def stack_database_url(database_url):
    """A database of the stack's own beside the suite's (the stack migrates and seeds it), dropped at the end."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: the benchmark measures PostgreSQL's row locks")
    url = make_url(database_url)
    url = url.set(database=f"{url.database}_hot")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{url.database}"')
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        admin.dispose()


def test_the_hot_partner_benchmark_runs_small(hot_partner, stack_database_url, tmp_path, monkeypatch):
    """Three shoppers of one partner and three of three partners place signed API orders through gunicorn: both
    counted, none refused, the one partner's orders spread over three card_purchases accounts, the ledger whole."""
    for name, value in hot_partner.UNTHROTTLED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(hot_partner.launch_day, "PROVIDER_LATENCY_MS", 50)
    stack = hot_partner.launch_day.Stack(stack_database_url, tmp_path, gunicorn_workers=2)
    try:
        stack.start()
        figures, lines = hot_partner.hot_partner(stack, shoppers=3, seconds=1, rounds=1, progress=False)
    finally:
        stack.stop()
    report = "\n".join(lines)
    for case in ("one partner", "3 partners"):
        assert figures[case]["placed"] > 0 and figures[case]["refused"] == [], report
    assert figures["ratio"] > 0 and figures["ledger_problems"] == [], report
    assert figures["hot_card_purchases_accounts"] == 3, report  # consecutive consumers: three slots
    assert lines[0].startswith("hot partner") and lines[0].rstrip().endswith(("PASS", "MISS")), report
