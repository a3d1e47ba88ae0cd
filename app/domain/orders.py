"""Order states: pending -> completed | failed. Final states never change."""

from __future__ import annotations

from enum import StrEnum

from app.domain.errors import DomainError


class OrderStatus(StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self is not OrderStatus.PENDING


_ALLOWED = {
    OrderStatus.PENDING: {OrderStatus.COMPLETED, OrderStatus.FAILED},
    OrderStatus.COMPLETED: set(),
    OrderStatus.FAILED: set(),
}


def check_transition(current: OrderStatus | str, new: OrderStatus | str) -> None:
    current, new = OrderStatus(current), OrderStatus(new)
    if new not in _ALLOWED[current]:
        raise DomainError(f"An order that is {current} cannot become {new}.")


def may_become(new: OrderStatus | str) -> list[str]:
    """The statuses from which an order may move to `new` (for conditional updates)."""
    new = OrderStatus(new)
    return [current.value for current, allowed in _ALLOWED.items() if new in allowed]
