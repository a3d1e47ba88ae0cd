"""A provider that issues made-up cards, with configurable latency, failure rate and hang rate.

Everything is derived from the order's reference, so the same order always gets the same
card (like a real provider's idempotency key) and tests are deterministic. A share of orders
(`hang_rate`) never get an answer: each attempt waits out its timeout and fails (temporarily).
"""

from __future__ import annotations

import hashlib
import random
import time

from app.domain.money import Money
from app.providers import IssuedCard, ProviderError

# Without a timeout a hanging call still ends (a test must not hang forever); callers pass one.
HANG_WITHOUT_TIMEOUT_SECONDS = 3600.0


def timed_out(timeout: float) -> ProviderError:
    return ProviderError(f"The provider did not answer within {timeout:g} s.", permanent=False)


class SimulatedProvider:
    def __init__(self, *, latency_ms: int = 0, failure_rate: float = 0.0, hang_rate: float = 0.0):
        self.latency_ms = latency_ms
        self.failure_rate = failure_rate
        self.hang_rate = hang_rate

    def hangs_for(self, reference: str) -> bool:
        """Whether this order's provider never answers (its own draw: the cards stay as they were)."""
        return random.Random(hashlib.sha256(b"hang:" + reference.encode()).digest()).random() < self.hang_rate

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
        rng = random.Random(hashlib.sha256(reference.encode()).digest())
        latency = HANG_WITHOUT_TIMEOUT_SECONDS if self.hangs_for(reference) else self.latency_ms / 1000
        if timeout is not None and latency > timeout:
            time.sleep(timeout)
            raise timed_out(timeout)
        if latency:
            time.sleep(latency)
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
