"""A webhook delivery's states: pending (tried again until it is delivered or gives up) -> delivered | failed."""

from __future__ import annotations

from enum import StrEnum


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self is not DeliveryStatus.PENDING
