"""Imports only go down (issue #15): the import-linter contract in pyproject.toml holds.

Edges (app.web, app.portal, app.api, app.cli, app.tasks) never import each other; services never import an
edge; the modules below services (emails, look, representations, outbound_http, queue, models, domain...)
never import a service or an edge. `lint-imports` checks the same in `make lint`.
"""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

ROOT = Path(__file__).resolve().parents[2]


def test_imports_only_go_down(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert status == EXIT_STATUS_SUCCESS, capsys.readouterr().out
