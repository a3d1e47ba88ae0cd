"""The bare site: landing page, health check and the benchmark baseline."""

from flask import Blueprint, render_template

bp = Blueprint("site", __name__)


@bp.get("/")
def index():
    return render_template("site/index.html")


@bp.get("/healthz")
def health():
    return {"status": "ok"}


@bp.get("/hello")
def hello():
    """Hello world: the baseline the benchmarks compare every page with."""
    return "Hello, world!"
