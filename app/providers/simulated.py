"""A provider that issues made-up cards, with configurable latency and failure rate.

Everything is derived from the order's reference, so the same order always gets the same
card (like a real provider's idempotency key) and tests are deterministic.
"""

from __future__ import annotations

import hashlib
import random
import time

from app.domain.money import Money
from app.providers import IssuedCard, ProviderError


class SimulatedProvider:
    def __init__(self, *, latency_ms: int = 0, failure_rate: float = 0.0):
        self.latency_ms = latency_ms
        self.failure_rate = failure_rate

    def issue(self, *, reference: str, brand_slug: str, has_pin: bool, redemption_url: str | None, value: Money) -> IssuedCard:
        rng = random.Random(hashlib.sha256(reference.encode()).digest())
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if rng.random() < self.failure_rate:
            raise ProviderError("The brand's provider declined this card.", permanent=True)
        number = "".join(str(rng.randrange(10)) for _ in range(16))
        pin = "".join(str(rng.randrange(10)) for _ in range(4)) if has_pin else None
        url = (redemption_url or "").replace("{code}", number).replace("{pin}", pin or "")
        return IssuedCard(
            number=" ".join(number[i : i + 4] for i in range(0, 16, 4)),
            pin=pin,
            reference=f"sim-{hashlib.sha256(reference.encode()).hexdigest()[:12]}",
            redemption_url=url,
        )
