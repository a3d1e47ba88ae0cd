"""A consumer's statement in the words people use: "Gift card for Jordan Friend (Harvest Lane Grocers)",
"Cash back", "Added by Acme Rewards". Pure: the ledger line's type and balance, and what it concerns, in;
a sentence out (the store's statement page and its CSV's `description` column say the same)."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.ledger import AccountKind, TransactionType


@dataclass(frozen=True)
class GiftFor:
    """The order a line is about: who got the card, and which brand."""

    brand: str
    recipient_name: str
    recipient_email: str
    to_self: bool

    @property
    def words(self) -> str:
        """'Gift card for Jordan Friend (Harvest Lane Grocers)'; 'Gift card for you (...)' when it was for the buyer."""
        who = "you" if self.to_self else (self.recipient_name or self.recipient_email)
        return f"Gift card for {who} ({self.brand})"


def describe(*, type: str, wallet: str, store: str, gift: GiftFor | None = None, memo: str = "") -> str:
    """What one movement of a consumer's balance was, as they would say it.

    `type` is the transaction's (credit, debit, rebate, refund, adjustment), `wallet` the balance it moved
    (general, bonus, campaign), `store` the partner's name as the store shows it, `gift` the order it paid
    for or refunded, `memo` the ledger's own words (kept where nothing plainer can be said).
    """
    if type == TransactionType.REBATE:
        return "Cash back"
    if gift is not None:
        if type == TransactionType.DEBIT:
            return gift.words
        if type == TransactionType.REFUND:
            return f"Refund: {gift.words[0].lower()}{gift.words[1:]}"
    if type == TransactionType.CREDIT:
        return f"Added by {store}"
    if type == TransactionType.DEBIT and wallet != AccountKind.CAMPAIGN:
        return f"Taken back by {store}"
    return memo or type.capitalize()
