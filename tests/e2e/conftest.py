"""Browser tests: Debian's Chromium, driven by Playwright, against the app served on a real port.

Every test here is marked `e2e` (deselect with `-m "not e2e"`). They run on SQLite only.
When Chromium is missing they skip, unless REQUIRE_E2E=1 makes that a failure (CI).
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import Mailbox, build_app, free_port
from tests.e2e.axe import DESKTOP, AxeAudit

E2E_DIR = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config, items):
    # This hook sees the items of the whole session, not only this directory's.
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (rep_setup, rep_call, rep_teardown) for fixtures to read."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# --- browser -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} not found: install Debian's chromium to run the browser tests"
        if os.environ.get("REQUIRE_E2E") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def axe(request, browser):
    """axe-core on every store and portal page of every context the test opens (tests/e2e/axe.py), at 1280×800
    unless the test asks for another viewport: the test fails on any serious or critical violation."""
    audit = AxeAudit()
    new_context = browser.new_context

    def watched_context(**options):
        options.setdefault("viewport", DESKTOP)
        context = new_context(**options)
        audit.watch(context)
        return context

    browser.new_context = watched_context
    yield audit
    del browser.new_context
    audit.finish()
    for context in audit.contexts:
        context.close()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.passed and audit.findings:
        pytest.fail(audit.summary(), pytrace=False)


@pytest.fixture
def page(browser, request, axe):
    """A fresh browser context (no cookies) and page; a screenshot in test-artifacts/ if the test fails."""
    context = browser.new_context()
    page = context.new_page()
    yield page
    axe.finish()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        artifacts = request.config.rootpath / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        try:
            page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
        except Exception as error:  # a screenshot must never hide the real failure
            print(f"could not save the failure screenshot: {error}")
    context.close()


# --- live server -------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveStore:
    app: Flask
    url: str  # e.g. http://127.0.0.1:41234, also the app's BASE_URL (links in emails)
    mailbox: Mailbox


@pytest.fixture
def live_store_settings() -> dict:
    """Override in a test module: by default queued work runs at once, inside the request."""
    return {"QUEUE_IMMEDIATE": True}


@pytest.fixture
def live_store(tmp_path, smtp_server, mailbox, live_store_settings):
    """The app on a real port with its own SQLite file; emails go out to `mailbox`."""
    controller, _ = smtp_server
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = build_app(
        f"sqlite:///{tmp_path}/e2e.db",
        controller.port,
        tmp_path,
        BASE_URL=url,
        QUEUE_FILE=str(tmp_path / "queue.db"),
        **live_store_settings,
    )
    server = make_server("127.0.0.1", port, app, threaded=True)  # listens from here on
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-store", daemon=True)
    thread.start()
    try:
        yield LiveStore(app=app, url=url, mailbox=mailbox)
    finally:
        server.shutdown()
        server.server_close()
        worker = app.extensions.get("queue_worker")
        if worker is not None:
            worker.stop(graceful=True)
        thread.join(timeout=10)
        app.extensions["db_engine"].dispose()
