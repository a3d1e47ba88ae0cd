"""The one CSV writer: a cell a spreadsheet would run as a formula is written as text, numbers stay numbers,
and a file of ours that comes back reads as it was typed."""

import csv
import io
from decimal import Decimal

import pytest

from app.services.csv_export import csv_chunks, csv_text, original_value, safe_cell


@pytest.mark.parametrize(
    "text", ["=1+1", "+1 555 0100", "-5 off", "@SUM(A1)", "\t=1+1", "\r=1+1", '=HYPERLINK("http://evil.example")', "-5"]
)
def test_text_that_starts_like_a_formula_gets_a_leading_quote_and_comes_back_as_typed(text):
    assert safe_cell(text) == "'" + text
    assert original_value(safe_cell(text)) == text


@pytest.mark.parametrize("text", ["plain = fine", "Bluefin Sushi gift card", "", "'quoted", "ord_0123456789abcdef"])
def test_other_text_is_written_as_it_is(text):
    assert safe_cell(text) == text
    assert original_value(text) == text


def test_numbers_are_written_as_numbers_even_when_negative():
    assert safe_cell(Decimal("-25.00")) == "-25.00"
    assert safe_cell(Decimal("1E+2")) == "100"
    assert safe_cell(-7) == "-7" and safe_cell(None) == ""


def test_a_value_that_only_looks_like_a_number_is_still_text():
    assert safe_cell(True) == "True"
    assert safe_cell(Decimal("-Infinity")) == "'-Infinity"


def test_every_row_of_a_file_goes_through_the_guard():
    text = csv_text([["memo", "amount"], ["=cmd|' /C calc'!A0", Decimal("-1.50")], ["fine", Decimal("2.00")]])
    assert text.endswith("\r\n")
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["memo", "amount"],
        ["'=cmd|' /C calc'!A0", "-1.50"],
        ["fine", "2.00"],
    ]


def test_a_stream_sends_the_first_row_alone_then_chunks_of_rows():
    rows = [["header"], *([f"row {n}"] for n in range(7))]
    chunks = list(csv_chunks(rows, rows_per_chunk=3))
    assert [chunk.count("\r\n") for chunk in chunks] == [1, 3, 3, 1]
    assert "".join(chunks) == csv_text(rows)
    assert list(csv_chunks([])) == []
