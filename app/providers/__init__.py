"""Gift-card providers: who actually issues the card. The simulated one is the default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.domain.money import Money


@dataclass(frozen=True)
class IssuedCard:
    number: str
    pin: str | None
    reference: str
    redemption_url: str


class ProviderError(Exception):
    """The provider could not issue the card. `permanent` failures are not retried."""

    def __init__(self, message: str, *, permanent: bool):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class GiftCardProvider(Protocol):
    def issue(
        self,
        *,
        reference: str,
        brand_slug: str,
        has_pin: bool,
        redemption_url: str | None,
        value: Money,
        timeout: float | None = None,
    ) -> IssuedCard:
        """Issue one card. Must be idempotent on `reference`: asking twice returns the same card.

        Must answer within `timeout` seconds (when given): a provider that does not answer in time raises a
        ProviderError that is not permanent (an HTTP provider passes it to its connection as the socket timeout),
        so one hanging call never holds a worker thread longer than that."""
