import pytest

from app.domain.errors import UnbalancedTransaction
from app.domain.ledger import AccountKind, Posting, check_balanced, transfer


def test_a_transfer_is_two_entries_that_sum_to_zero():
    postings = transfer(1, 2, 500)
    assert [p.amount for p in postings] == [-500, 500]
    assert sum(p.amount for p in postings) == 0
    check_balanced(postings)


@pytest.mark.parametrize(
    "postings",
    [
        [Posting(1, -500), Posting(2, 499)],
        [Posting(1, 500)],
        [Posting(1, 0), Posting(2, 0)],
        [Posting(1, -5.0), Posting(2, 5.0)],
    ],
)
def test_unbalanced_or_empty_postings_are_refused(postings):
    with pytest.raises(UnbalancedTransaction):
        check_balanced(postings)


@pytest.mark.parametrize("amount", [0, -1, 1.5])
def test_a_transfer_moves_a_positive_whole_amount(amount):
    with pytest.raises(UnbalancedTransaction):
        transfer(1, 2, amount)


def test_only_the_deposits_contra_account_may_go_negative():
    assert AccountKind.PARTNER_DEPOSITS.may_go_negative
    for kind in (AccountKind.PARTNER_FUNDS, AccountKind.GENERAL, AccountKind.BONUS, AccountKind.CAMPAIGN):
        assert not kind.may_go_negative
