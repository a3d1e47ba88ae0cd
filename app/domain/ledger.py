"""Double-entry rules: accounts, transaction types and statuses, balanced postings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.domain.errors import UnbalancedTransaction


class AccountKind(StrEnum):
    PARTNER_FUNDS = "partner_funds"  # what a partner can hand out
    PARTNER_DEPOSITS = "partner_deposits"  # money paid in from outside; a contra account
    CARD_PURCHASES = "card_purchases"  # what the partner's consumers spent on gift cards (paid to the provider)
    GENERAL = "general"  # consumer wallet
    BONUS = "bonus"  # consumer wallet: cash bonuses
    CAMPAIGN = "campaign"  # consumer wallet: one per campaign
    CAMPAIGN_BUDGET = "campaign_budget"  # a campaign's budget not yet allocated to its members; partner level

    @property
    def may_go_negative(self) -> bool:
        return self is AccountKind.PARTNER_DEPOSITS

    @property
    def is_consumer_wallet(self) -> bool:
        return self in (AccountKind.GENERAL, AccountKind.BONUS, AccountKind.CAMPAIGN)


class TransactionType(StrEnum):
    CREDIT = "credit"  # funds added to a wallet / campaign / partner
    DEBIT = "debit"  # funds subtracted (a purchase, a removal)
    REBATE = "rebate"  # bonus cash returned
    REFUND = "refund"  # reversal of a previous debit
    ADJUSTMENT = "adjustment"


class TransactionStatus(StrEnum):
    COMPLETED = "completed"
    PENDING = "pending"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Posting:
    account_id: int
    amount: int  # signed minor units: + increases the account's balance


def check_balanced(postings: list[Posting]) -> None:
    if len(postings) < 2:
        raise UnbalancedTransaction("a transaction needs at least two entries")
    if any(type(p.amount) is not int or p.amount == 0 for p in postings):
        raise UnbalancedTransaction("entries move a non-zero whole number of minor units")
    if sum(p.amount for p in postings) != 0:
        raise UnbalancedTransaction("a transaction's entries must sum to zero")


def transfer(from_account_id: int, to_account_id: int, amount: int) -> list[Posting]:
    """Move `amount` minor units from one account to another."""
    if type(amount) is not int or amount <= 0:
        raise UnbalancedTransaction("a transfer moves a positive whole number of minor units")
    return [Posting(from_account_id, -amount), Posting(to_account_id, amount)]
