"""Flat lists (issue 21, scenario 4), small: the benchmark's generator and its request list at a few hundred orders.

The full run is tests/benchmarks/flat_lists.py (a million orders on gunicorn); here the same generator fills the
demo store twice (100, then 400 orders) and every measured request runs twice at each size through Flask's
test client, so neither the SQL nor the URLs can rot unnoticed. The generator writes PostgreSQL's SQL.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app.services.ledger import ledger_problems

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def flat_lists():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import flat_lists

        yield flat_lists
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_the_flat_lists_benchmark_generates_a_valid_ledger_and_measures_every_list_small(app, session, database_url, flat_lists):
    if not database_url.startswith("postgresql"):
        pytest.skip("the generator writes PostgreSQL's SQL (generate_series, sequences)")
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    site = flat_lists.Site(flat_lists.psycopg_dsn(database_url), lambda: flat_lists.FlaskBrowser(app.test_client()))

    figures, lines = flat_lists.run_flat_lists(
        site,
        lambda small_partners: flat_lists.prepare(session, slug="acme", small_partners=small_partners, tag="small"),
        lambda: flat_lists.refresh_rollup_in(app),
        orders=400,
        small_orders=100,
        small_partners=2,
        small_partner_orders=60,
        requests=2,
        warmups=0,
        warm_rounds=1,
        progress=False,
    )

    report = "\n".join(lines)
    session.rollback()
    assert ledger_problems(session) == [], report
    small, large = figures["stages"]
    assert large["orders"] - small["orders"] == 300 and large["consumers"] > small["consumers"], report
    assert large["entries"] >= 2 * large["transactions"] > 0, report
    assert len(figures["requests"]) == 17, report
    for name, row in figures["requests"].items():
        assert row["statuses"] == ([200, 200], [200, 200]), f"{name}: {row}\n{report}"
        assert row["verdict"] in ("PASS", "MISS", "-"), f"{name}: {row}\n{report}"  # ERROR: a status or no rows
        assert all(rows is None or rows > 0 for rows in row["rows"]), f"{name}: {row}\n{report}"
    assert lines[0].startswith("flat lists") and "within 1.5x" in lines[-1], report
