"""The partner portal at /portal/: the partner's team runs its program here.

Every view is declared with `portal_route(rule, role=...)`, which is the one access check:
  public    reachable signed out (sign-in page)
  member    any signed-in team member, even before they chose their own password
  viewer    looks at everything, changes nothing
  operator  consumers, funds, orders (and everything a viewer can)
  admin     everything, including the team, brands, branding and API keys
ROUTE_ROLES keeps each endpoint's role: a test walks every route with every role.

The portal keeps its own sign-in in the session (`portal_member`), apart from the store's
flask-login consumer session, so one browser can be in both without mixing them up.
Every module in this package is imported by `register_portal` and adds its views to `bp`.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import wraps

from flask import Blueprint, Flask, g, make_response, redirect, render_template, request, url_for
from flask import session as cookie  # Flask's signed-cookie session; `session` elsewhere here is the database's

from app.db import db_session
from app.domain.money import Money
from app.models import Partner, TeamMember
from app.pages import safe_next as safe_path
from app.services.team import ROLES, role_allows, signed_in_member, team_partner

PUBLIC = "public"
MEMBER = "member"
SESSION_KEY = "portal_member"

bp = Blueprint("portal", __name__, url_prefix="/portal")
ROUTE_ROLES: dict[str, str] = {}

# The navigation: (endpoint, label, role needed to see it). Entries whose view doesn't exist are skipped.
NAV = [
    ("portal.dashboard", "Dashboard", "viewer"),
    ("portal.consumers", "Consumers", "viewer"),
    ("portal.bulk_uploads", "Bulk upload", "operator"),
    ("portal.campaigns", "Campaigns", "viewer"),
    ("portal.orders", "Orders", "viewer"),
    ("portal.transactions", "Transactions", "viewer"),
    ("portal.brands", "Brands", "viewer"),
    ("portal.branding", "Branding", "viewer"),
    ("portal.settings", "Settings", "viewer"),
    ("portal.api_keys", "API keys", "admin"),
    ("portal.team", "Team", "admin"),
    ("portal.audit_log", "Audit log", "admin"),
]


def current_member() -> TeamMember | None:
    return g.get("member")


def current_partner() -> Partner | None:
    return g.get("portal_partner")


def can(role: str) -> bool:
    member = current_member()
    return member is not None and role_allows(member.role, role)


def sign_in(member: TeamMember, token: str) -> None:
    """This browser is `member`, in the sign-in session `token` (from `team.start_sign_in`): "<id>:<epoch>:<token>"."""
    cookie.pop(SESSION_KEY, None)
    cookie[SESSION_KEY] = f"{member.id}:{member.session_epoch}:{token}"
    g.member = member


def sign_in_token() -> str | None:
    """This browser's sign-in session token, from the cookie (whether or not it is still live)."""
    parts = (cookie.get(SESSION_KEY) or "").split(":", 2)
    return parts[2] if len(parts) == 3 and parts[2] else None


def sign_out() -> None:
    cookie.pop(SESSION_KEY, None)
    g.member = None


def _load_member() -> TeamMember | None:
    identifier, _, rest = (cookie.get(SESSION_KEY) or "").partition(":")
    epoch, _, token = rest.partition(":")
    if not identifier.isdigit() or not epoch.isdigit() or not token:
        return None
    # Only with a live sign-in session: signed out, idle or too old, a copy of this cookie loads nobody.
    return signed_in_member(db_session(), member_id=int(identifier), epoch=int(epoch), token=token)


@bp.before_request
def load_member():
    g.member = _load_member()
    g.portal_partner = team_partner(db_session(), g.member) if g.member else None


def safe_next(target: str | None) -> str:
    """Only a path inside the portal: never an open redirect."""
    return safe_path(target, inside="/portal/", home=url_for("portal.home"))


def _redirect(location: str):
    """A redirect that also works for htmx requests (which would otherwise swap the login page in)."""
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 204)
        response.headers["HX-Redirect"] = location
        return response
    return redirect(location, 303)


def forbidden(message: str | None = None):
    member = current_member()
    message = message or f"Your role ({member.role}) doesn't allow this. Ask an admin of your team if you need it."
    return render_template("portal/forbidden.html", message=message), 403


def _denied(role: str):
    if role == PUBLIC:
        return None
    member = current_member()
    if member is None:
        return _redirect(url_for("portal.login", next=request.full_path if request.method == "GET" else None))
    if role == MEMBER:
        return None
    if member.must_change_password:
        return _redirect(url_for("portal.set_password"))
    if not role_allows(member.role, role):
        return forbidden()
    return None


def portal_route(rule: str, *, role: str, methods=("GET",), endpoint: str | None = None):
    """Declare a portal view and the least role that may use it (checked before the view runs)."""
    if role not in (PUBLIC, MEMBER, *ROLES):
        raise ValueError(f"unknown portal role {role!r}")

    def decorator(view):
        name = endpoint or view.__name__
        ROUTE_ROLES[f"portal.{name}"] = role

        @wraps(view)
        def guarded(*args, **kwargs):
            denied = _denied(role)
            if denied is not None:
                return denied
            return view(*args, **kwargs)

        bp.add_url_rule(rule, endpoint=name, view_func=guarded, methods=list(methods))
        return view

    return decorator


def partner_funds() -> list[Money]:
    """The partner's available funds per currency, shown in the header of every portal page."""
    from app.services.partners import partner_funds as funds

    partner = current_partner()
    return [funds(db_session(), partner, currency) for currency in partner.currency_list] if partner else []


@bp.context_processor
def portal_context():
    member = current_member()
    nav = [(endpoint, label) for endpoint, label, role in NAV if member is not None and role_allows(member.role, role)]
    return {"member": member, "partner": current_partner(), "can": can, "nav": nav, "portal_funds": partner_funds}


@portal_route("/", role="viewer")
def home():
    for endpoint, _label, role in NAV:
        if can(role):
            return redirect(url_for(endpoint), 303)
    return render_template("portal/forbidden.html", message="There is nothing here for your role yet."), 200


def register_portal(app: Flask) -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    app.register_blueprint(bp)
