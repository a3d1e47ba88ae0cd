"""One rule for a list's page number from a query string: 1 to LAST_PAGE, never an error."""

from __future__ import annotations

import pytest

from app.domain.paging import LAST_PAGE, MAX_ID, CursorPage, Position, list_position, page_number, within_pages


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


@pytest.mark.parametrize(
    "args, position",
    [
        ({}, Position()),
        ({"before": "120"}, Position(before=120)),
        ({"after": " 7 "}, Position(after=7)),
        ({"before": "120", "after": "7"}, Position(before=120)),  # one way at a time: older wins
        ({"page": "3"}, Position(page=3)),
        ({"before": "9", "page": "3"}, Position(before=9)),
        ({"before": str(MAX_ID)}, Position(before=MAX_ID)),
        ({"before": str(MAX_ID + 1)}, Position()),  # names no row: the first page
        ({"before": "0"}, Position()),
        ({"before": "-4"}, Position()),
        ({"before": "1e3"}, Position()),
        ({"before": "٣"}, Position()),
        ({"before": "9" * 5000}, Position()),
        ({"before": "abc", "page": "2"}, Position(page=2)),
    ],
)
def test_a_lists_cursor_is_read_from_any_query_string_without_an_error(args, position):
    assert list_position(args) == position


def test_a_cursor_page_knows_its_neighbours_and_where_it_starts():
    middle = CursorPage(["a", "b"], total=1000, number=3, size=2, total_is_exact=False, first=5, newer=40, older=37)
    assert (middle.has_previous, middle.has_next, middle.last) == (True, True, 6)
    far = CursorPage(["a"], total=1000, number=0, size=2, total_is_exact=False, first=0, newer=9)
    assert (far.has_previous, far.has_next, far.last) == (True, False, 0)
    with pytest.raises(ValueError):
        Position(before=3, after=2)
