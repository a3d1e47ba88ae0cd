"""The bare site: landing page and the benchmark baseline (/healthz and /readyz: app/operations.py)."""

from flask import Blueprint, current_app, render_template

bp = Blueprint("site", __name__)


@bp.get("/")
def index():
    return render_template("site/index.html")


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page links to (pages link static/favicon.svg)."""
    response = current_app.send_static_file("favicon.ico")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/hello")
def hello():
    """Hello world: the baseline the benchmarks compare every page with."""
    return "Hello, world!"
