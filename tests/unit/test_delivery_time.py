"""Scheduled delivery's pure rules (app/domain/orders.py): the store's local time and offset, the API's ISO 8601,
from now up to a year ahead; the order states a scheduled gift moves through."""

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.errors import DomainError, InvalidInput
from app.domain.orders import (
    OrderStatus,
    check_transition,
    check_unsend_window,
    local_delivery_time,
    may_become,
    parse_iso_delivery_time,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_the_store_form_time_is_read_in_the_senders_offset_and_stored_in_utc():
    assert local_delivery_time("2026-06-24T09:00", "120", NOW) == datetime(2026, 6, 24, 7, 0, tzinfo=UTC)
    assert local_delivery_time("2026-06-24T09:00", "-300", NOW) == datetime(2026, 6, 24, 14, 0, tzinfo=UTC)
    assert local_delivery_time("2026-06-24T09:00", "", NOW) == datetime(2026, 6, 24, 9, 0, tzinfo=UTC)  # no JS: UTC
    assert local_delivery_time("", "60", NOW) is None  # empty: now


@pytest.mark.parametrize(
    "text, offset",
    [
        ("2026-06-01T11:59", "0"),
        ("2027-06-02T12:01", "0"),
        ("2026-02-30T09:00", "0"),
        ("tomorrow", "0"),
        ("2026-06-24T09:00", "9999"),
    ],
)
def test_bad_or_out_of_range_store_times_are_refused(text, offset):
    with pytest.raises(InvalidInput) as refused:
        local_delivery_time(text, offset, NOW)
    assert refused.value.field == "deliver_on"


def test_the_api_wants_iso_8601_with_an_offset_within_a_year():
    assert parse_iso_delivery_time("2026-12-24T09:00:00+01:00", NOW) == datetime(2026, 12, 24, 8, 0, tzinfo=UTC)
    assert parse_iso_delivery_time("2026-12-24T09:00:00Z", NOW) == datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
    for bad in (
        "2026-12-24T09:00:00",
        "24/12/2026",
        (NOW - timedelta(seconds=1)).isoformat(),
        (NOW + timedelta(days=366)).isoformat(),
    ):
        with pytest.raises(InvalidInput):
            parse_iso_delivery_time(bad, NOW)


def test_a_scheduled_order_becomes_pending_or_cancelled_and_cancelled_is_final():
    check_transition("scheduled", "pending")
    check_transition("scheduled", "cancelled")
    for current in ("pending", "completed", "failed", "cancelled"):
        with pytest.raises(DomainError):
            check_transition(current, "cancelled")
    assert may_become(OrderStatus.CANCELLED) == ["scheduled"]
    assert OrderStatus.CANCELLED.is_final and not OrderStatus.SCHEDULED.is_final


def test_the_unsend_window_is_0_to_a_day():
    assert check_unsend_window(0) == 0 and check_unsend_window(1440) == 1440
    with pytest.raises(InvalidInput):
        check_unsend_window(1441)
