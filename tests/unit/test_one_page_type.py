"""One implementation per rule (issue #15): one Page type for every list, status strings as enums in the
domain (their stored values unchanged), one MAX_ID, and the HTML edges' money and sentences are the domain's."""

from __future__ import annotations

from app import pages
from app.domain import errors, money
from app.domain.branding import ARCHIVED, DRAFT, PUBLISHED, VersionStatus
from app.domain.bulk_uploads import UploadStatus
from app.domain.paging import CursorPage, Page
from app.domain.webhooks import DeliveryStatus


def test_a_page_knows_where_it_is_in_its_list():
    middle = Page(["row"], total=120, number=2, size=50)
    assert (middle.pages, middle.has_previous, middle.has_next) == (3, True, True)
    last = Page([], total=120, number=3, size=50)
    assert (last.has_previous, last.has_next) == (True, False)
    empty = Page([], total=0, number=1, size=50)
    assert (empty.pages, empty.has_previous, empty.has_next) == (1, False, False)


def test_every_list_the_services_return_is_that_one_page_type():
    from app.services import audit, catalog, consumers

    # Orders, transactions and consumers are read from a cursor: their CursorPage is a Page too.
    assert issubclass(CursorPage, Page) and issubclass(consumers.ConsumerList, CursorPage)
    assert all(issubclass(kind, Page) for kind in (catalog.CatalogPage, consumers.ConsumerList, audit.AuditLog))
    offers = catalog.CatalogPage(["offer"], 30, 2, 24)
    assert (offers.offers, offers.number, offers.pages) == (["offer"], 2, 2)


def test_statuses_are_domain_enums_that_store_the_same_strings():
    assert [status.value for status in UploadStatus] == ["checking", "checked", "committing", "committed", "failed"]
    assert [status.value for status in DeliveryStatus] == ["pending", "delivered", "failed"]
    assert [status.value for status in VersionStatus] == ["draft", "published", "archived"]
    assert (DRAFT, PUBLISHED, ARCHIVED) == (VersionStatus.DRAFT, VersionStatus.PUBLISHED, VersionStatus.ARCHIVED)
    assert UploadStatus("checking") == "checking" and f"{UploadStatus.COMMITTED}" == "committed"
    assert [status for status in UploadStatus if status.is_working] == [UploadStatus.CHECKING, UploadStatus.COMMITTING]
    assert [status for status in DeliveryStatus if not status.is_final] == [DeliveryStatus.PENDING]


def test_the_html_edges_format_money_and_sentences_with_the_domains_functions():
    assert pages.format_money is money.format_money
    assert pages.sentence is errors.sentence


def test_there_is_one_max_id():
    import app.api
    import app.api.schemas

    assert app.api.MAX_ID is app.api.schemas.MAX_ID
