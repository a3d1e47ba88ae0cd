"""One rule for a list's page number from a query string: 1 to LAST_PAGE, never an error."""

from __future__ import annotations

import pytest

from app.domain.paging import LAST_PAGE, page_number, within_pages


@pytest.mark.parametrize(
    "text, page",
    [
        (None, 1),
        ("", 1),
        ("1", 1),
        ("7", 7),
        (" 12 ", 12),
        ("007", 7),
        ("0", 1),
        ("000", 1),
        ("-3", 1),
        ("+3", 1),
        ("abc", 1),
        ("1.5", 1),
        ("1e3", 1),
        ("²", 1),
        ("٣", 1),
        ("١٢", 1),
        (str(LAST_PAGE), LAST_PAGE),
        (str(LAST_PAGE + 1), LAST_PAGE),
        (str(10**30), LAST_PAGE),
        ("9" * 5000, LAST_PAGE),
    ],
)
def test_a_page_number_is_read_from_any_text_without_an_error(text, page):
    assert page_number(text) == page


def test_a_page_past_the_lists_end_is_its_last_page():
    assert within_pages(LAST_PAGE, total=120, size=50) == 3
    assert within_pages(2, total=120, size=50) == 2
    assert within_pages(5, total=0, size=50) == 1
