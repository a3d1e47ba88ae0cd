"""Before a gift goes to someone else's address: when the review asks "I checked the address"."""

from __future__ import annotations

ADDRESS_NOT_CHECKED = (
    "This gift is over the amount for which we ask you to check the address: tick “I checked the address” to confirm."
)


def address_check_needed(face_value_minor: int, *, to_self: bool, over_minor: int) -> bool:
    """A gift for someone else whose value is over the store's threshold (minor units of its currency; 0: every gift)."""
    return not to_self and face_value_minor > over_minor
