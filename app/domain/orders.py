"""Order states and when a gift is delivered.

scheduled -> pending (its delivery time came) | cancelled (the sender took it back before then);
pending -> completed | failed. Final states (completed, failed, cancelled) never change.

A scheduled gift is charged when it is placed and issued and emailed at `deliver_at` (UTC), from now up
to a year ahead. The store's form sends the local date and time the sender typed plus their offset from
UTC (from the browser; none: UTC); the API sends ISO 8601 with an offset.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

from app.domain.errors import DomainError, InvalidInput


class OrderStatus(StrEnum):
    SCHEDULED = "scheduled"
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (OrderStatus.COMPLETED, OrderStatus.FAILED, OrderStatus.CANCELLED)


_ALLOWED = {
    OrderStatus.SCHEDULED: {OrderStatus.PENDING, OrderStatus.CANCELLED},
    OrderStatus.PENDING: {OrderStatus.COMPLETED, OrderStatus.FAILED},
    OrderStatus.COMPLETED: set(),
    OrderStatus.FAILED: set(),
    OrderStatus.CANCELLED: set(),
}


def check_transition(current: OrderStatus | str, new: OrderStatus | str) -> None:
    current, new = OrderStatus(current), OrderStatus(new)
    if new not in _ALLOWED[current]:
        raise DomainError(f"An order that is {current} cannot become {new}.")


def may_become(new: OrderStatus | str) -> list[str]:
    """The statuses from which an order may move to `new` (for conditional updates)."""
    new = OrderStatus(new)
    return [current.value for current, allowed in _ALLOWED.items() if new in allowed]


# --- when it is delivered -------------------------------------------------------------------------

DELIVERY_HORIZON = timedelta(days=365)
UNSEND_WINDOW_MAX = 1440  # minutes: a partner's unsend window for immediate gifts is at most a day
_LOCAL = re.compile(r"\A(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?\Z")
_OFFSET_LIMIT = 14 * 60  # minutes: the widest UTC offsets in use


def check_deliver_at(deliver_at: datetime, now: datetime, *, field: str = "deliver_at") -> datetime:
    """`deliver_at` in UTC if it is after now and at most a year ahead; InvalidInput otherwise."""
    if deliver_at.tzinfo is None:
        raise InvalidInput("The delivery time needs its offset from UTC.", field=field)
    deliver_at = deliver_at.astimezone(UTC)
    if deliver_at <= now:
        raise InvalidInput("The delivery time has passed: choose a time from now on, or leave it empty to send now.", field=field)
    if deliver_at > now + DELIVERY_HORIZON:
        raise InvalidInput("A gift can be scheduled at most a year ahead.", field=field)
    return deliver_at


def local_delivery_time(text: str, offset_minutes: str, now: datetime) -> datetime | None:
    """The store form's "Deliver on" (a datetime-local value, `2026-12-24T09:00`) with the sender's offset from
    UTC in minutes (east positive, "" for UTC), as a checked UTC datetime; None when the field is empty (now)."""
    text = (text or "").strip()
    if not text:
        return None
    match = _LOCAL.match(text)
    offset_text = (offset_minutes or "").strip() or "0"
    if not re.fullmatch(r"[+-]?\d{1,4}", offset_text) or abs(int(offset_text)) > _OFFSET_LIMIT:
        raise InvalidInput("Your time zone could not be read: reload the page and try again.", field="deliver_on")
    if match is None:
        raise InvalidInput("Enter the delivery date and time as shown, e.g. 2026-12-24 09:00.", field="deliver_on")
    try:
        year, month, day, hour, minute = (int(part) for part in match.groups()[:5])
        local = datetime(year, month, day, hour, minute, int(match.group(6) or 0))
    except ValueError:
        raise InvalidInput("That delivery date does not exist.", field="deliver_on") from None
    zone = timezone(timedelta(minutes=int(offset_text)))
    return check_deliver_at(local.replace(tzinfo=zone), now, field="deliver_on")


def parse_iso_delivery_time(text: str, now: datetime, *, field: str = "deliverAt") -> datetime:
    """The API's `deliverAt`: ISO 8601 with an offset (`2026-12-24T09:00:00+01:00` or `...Z`), checked, in UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise InvalidInput(
            f"{field} must be an ISO 8601 date and time with an offset, e.g. 2026-12-24T09:00:00Z.", field=field
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{field} needs an offset from UTC (Z or +01:00).", field=field)
    return check_deliver_at(moment, now, field=field)


def check_unsend_window(minutes: int) -> int:
    if not 0 <= minutes <= UNSEND_WINDOW_MAX:
        raise InvalidInput(f"The unsend window must be from 0 to {UNSEND_WINDOW_MAX} minutes.", field="unsend_window_minutes")
    return minutes
