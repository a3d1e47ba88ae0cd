"""axe-core in every browser test: each store and portal page a test opens is checked as it settles.

axe-core is vendored (tests/e2e/vendor/axe-4.14.1.min.js, from the npm registry's `axe-core@4.14.1`,
Mozilla Public License 2.0: vendor/axe-LICENSE). An init script puts it in the top frame of every page
of a watched browser context (init scripts are not subject to the page's Content-Security-Policy), and
runs it after each page load and after each htmx swap settles (debounced, one run at a time). Each run
reports its serious and critical violations back to Python through an exposed binding; `AxeAudit.finish()`
waits for the runs still going, and the fixture in conftest.py fails the test on any finding.

Only pages under /s/ (stores) and /portal are checked: emails, the dev outbox and about:blank are not
the store's or the portal's pages. Frames are left out (`iframes: false`): the branding preview's frames
show a draft the admin is still choosing, with its own contrast warnings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

AXE_VERSION = "4.14.1"
AXE_SOURCE = (Path(__file__).resolve().parent / "vendor" / f"axe-{AXE_VERSION}.min.js").read_text(encoding="utf-8")
FAILING_IMPACTS = ("serious", "critical")

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

RUNNER = """
(() => {
  const failing = new Set(IMPACTS);
  let running = false, again = false, timer = null, waiting = [];
  const checked = () => /^\\/(s\\/|portal(\\/|$))/.test(location.pathname);
  const idle = () => !running && timer === null;
  const wake = () => { if (idle()) { waiting.splice(0).forEach((resolve) => resolve()); } };
  const schedule = (delay) => { clearTimeout(timer); timer = setTimeout(run, delay); };
  async function run() {
    timer = null;
    if (running) { again = true; return; }
    if (!checked() || !window.axe) { wake(); return; }
    running = true;
    try {
      const results = await window.axe.run(document, { resultTypes: ["violations"], iframes: false });
      const violations = results.violations.filter((v) => failing.has(v.impact)).map((v) => ({
        rule: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " + (n.failureSummary || "").replace(/\\s+/g, " ")),
      }));
      await window.__axeReport({ url: location.pathname + location.search, viewport: innerWidth + "x" + innerHeight,
                                 title: document.title, violations });
    } catch (error) {
      await window.__axeReport({ url: location.pathname + location.search, error: String(error) });
    }
    running = false;
    if (again) { again = false; schedule(0); } else { wake(); }
  }
  window.__axeIdle = () => new Promise((resolve) => { waiting.push(resolve); wake(); });
  addEventListener("load", () => schedule(0));
  document.addEventListener("htmx:afterSettle", () => schedule(150));
  document.addEventListener("htmx:historyRestore", () => schedule(150));
})();
""".replace("IMPACTS", json.dumps(list(FAILING_IMPACTS)))

# axe in the top frame only; wrapped in a function so its `this` is the window.
INIT_SCRIPT = "if (window === window.top) { (function () {\n" + AXE_SOURCE + "\n}).call(window);\n" + RUNNER + "}\n"


@dataclass
class AxeAudit:
    """What axe found in the browser contexts of one test."""

    findings: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # "url @ viewport" of every run, in order
    contexts: list = field(default_factory=list)

    def watch(self, context) -> None:
        context.add_init_script(script=INIT_SCRIPT)
        context.expose_binding("__axeReport", self._report)
        self.contexts.append(context)

    def _report(self, _source, report: dict) -> None:
        where = f"{report['url']} @ {report.get('viewport', '?')}"
        self.checked.append(where)
        if "error" in report:
            self.findings.append(f"{where}: axe could not run: {report['error']}")
        for violation in report.get("violations", ()):
            nodes = "\n      ".join(violation["nodes"])
            self.findings.append(
                f"{where} ({report.get('title', '')}): {violation['impact']} {violation['rule']}: {violation['help']}\n      {nodes}"
            )

    def check(self, page) -> list[str]:
        """Run axe on `page` now (whatever its address) and return its findings, also recorded."""
        before = len(self.findings)
        self.settle(page)
        page.evaluate("document.dispatchEvent(new Event('htmx:afterSettle'))")
        self.settle(page)
        return self.findings[before:]

    @staticmethod
    def settle(page) -> None:
        if page.is_closed():
            return
        try:
            page.wait_for_function("() => window.__axeIdle !== undefined", timeout=5000)
            page.evaluate("window.__axeIdle()")
        except Exception as error:  # a page mid-navigation or closed: its next load is checked instead
            print(f"axe: could not wait for {page.url}: {error}")

    def finish(self) -> None:
        """Wait for every open page's runs still going."""
        for context in self.contexts:
            for page in context.pages:
                if page.url.startswith("http"):
                    self.settle(page)

    def summary(self) -> str:
        unique = list(dict.fromkeys(self.findings))
        return f"axe-core {AXE_VERSION} found {len(unique)} serious or critical violation(s):\n  " + "\n  ".join(unique)
