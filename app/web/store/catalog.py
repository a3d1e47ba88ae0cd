"""The store's catalog: the home page and its search, a brand's page with its amount picker and quote, the header wallet."""

from __future__ import annotations

from datetime import datetime

from flask import g, make_response, render_template, request
from markupsafe import Markup

from app.db import db_session
from app.domain.errors import NotFound
from app.pages import wants_partial
from app.services import catalog, consumers, segments
from app.services.catalog_search import CATALOG_PAGE_SIZE, CatalogSearch, amount_choice
from app.web.catalog_cache import catalog_cache
from app.web.store import bp


@bp.get("/")
def home():
    """The catalog. The whole page, or only its results (#catalog) for the active search's htmx requests."""
    session = db_session()
    wallets = consumers.wallets(session, g.consumer)
    search = CatalogSearch.from_args(request.args)
    currency = wallets[0].currency if wallets else None
    spendable = consumers.spendable_campaigns(wallets, currency)
    results = _rendered_catalog(session, search, currency, spendable, _bonus_tags(session))
    if wants_partial():
        body = results
    else:
        body = render_template(
            "store/home.html",
            wallets=wallets,
            catalog=results,
            search=search,
            categories=_categories(session, currency),
            sorts=catalog.SORTS,
            campaign_balances=spendable,
        )
    response = make_response(body)
    response.vary.add("HX-Request")
    return response


def _catalog_key(*parts) -> tuple:
    """What a store's rendered catalog depends on besides `parts`: the partner and its catalog version
    (moved on by every brand change), and where the app is mounted (the tiles' links)."""
    partner = g.partner
    return (partner.id, partner.slug, partner.catalog_version, request.script_root, *parts)


def _bonus_tags(session) -> frozenset[str]:
    """The consumer's tags that some bonus of the store is for (its segments, cached with the catalog's version):
    all that the tiles' bonuses depend on, so consumers in the same segments share a cached catalog."""
    segments_of_bonuses = catalog_cache().get_or_make(
        _catalog_key("bonus segments"), lambda: (catalog.bonus_segments(session, g.partner), None)
    )
    if not segments_of_bonuses:
        return frozenset()
    return segments.consumer_tag_set(session, g.consumer) & segments_of_bonuses


def _rendered_catalog(
    session, search: CatalogSearch, currency: str | None, spendable: list[consumers.CampaignBalance], tags: frozenset[str]
) -> Markup:
    """#catalog (store/_catalog.html) for this search, from the catalog cache while it is current.

    The tiles name the consumer's campaign balances that pay for each brand ("Wellness balance applies"), so
    the key holds what those badges depend on: each spendable balance's campaign, name and brand lists (not
    its amount). Consumers with no campaign balance, or with the same ones, share an entry. The bonus badges
    (and the "Biggest bonus" order) depend on the consumer's tags that bonuses are for (`tags`): the key holds
    them too, so a bonus for a segment is never shown to someone outside it."""
    paid_by = search.paid_by(spendable)
    balances_key = tuple((c.campaign_id, c.name, c.brand_slugs, c.categories) for c in spendable)
    tags_key = tuple(sorted(tags))

    def render() -> tuple[Markup, datetime | None]:
        def browse(page: int) -> catalog.CatalogPage:
            return catalog.browse(
                session,
                g.partner,
                currency=currency,
                query=search.q,
                category=search.category,
                sort=search.sort,
                page=page,
                per_page=CATALOG_PAGE_SIZE,
                paid_by=paid_by,
                tags=tags,
            )

        results = browse(search.page)
        if results.number > results.pages:  # a page past the end (an old link): show the last one
            results = browse(results.pages)
        body = render_template("store/_catalog.html", results=results, search=search, campaign_balances=spendable)
        return Markup(body), results.badges_change_at

    return catalog_cache().get_or_make(_catalog_key("results", currency, search, balances_key, tags_key), render)


def _categories(session, currency: str | None) -> list[str]:
    return catalog_cache().get_or_make(
        _catalog_key("categories", currency), lambda: (catalog.categories(session, g.partner, currency=currency), None)
    )


@bp.get("/brands/<brand_slug>")
def brand(brand_slug: str):
    """One gift card: what it is, the partner's bonus, and an amount picker priced as you choose."""
    session = db_session()
    offer = catalog.offer(session, g.partner, brand_slug, tags=segments.consumer_tag_set(session, g.consumer))
    wallets = consumers.wallets(session, g.consumer)
    choice = amount_choice(offer, request.args.get("amount"), wallets)
    return render_template(
        "store/brand.html",
        offer=offer,
        choice=choice,
        wallets=wallets,
        paying_campaigns=consumers.campaigns_paying_for(wallets, offer.brand, choice.currency),
    )


@bp.get("/brands/<brand_slug>/quote", endpoint="quote")
def quote_partial(brand_slug: str):
    """#quote for the amount picked: what the consumer pays and what they get. 422 when the amount won't do."""
    session = db_session()
    try:
        offer = catalog.offer(session, g.partner, brand_slug, tags=segments.consumer_tag_set(session, g.consumer))
    except NotFound as error:
        return render_template("store/_quote.html", choice=None, problem=error.message), 404
    choice = amount_choice(offer, request.args.get("amount", ""), consumers.wallets(session, g.consumer))
    return render_template("store/_quote.html", choice=choice, problem=choice.problem), 422 if choice.problem else 200


@bp.get("/wallet")
def wallet():
    """The header's balance, refreshed in place by the `wallet-changed` event."""
    return render_template("store/_wallet.html", wallets=consumers.wallets(db_session(), g.consumer))
