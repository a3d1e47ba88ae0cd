"""A statement line in the words people use (app/domain/statement.py)."""

from app.domain.statement import GiftFor, describe

JORDAN = GiftFor("Harvest Lane Grocers", "Jordan Friend", "jordan@example.com", to_self=False)


def test_each_kind_of_line_reads_as_people_speak():
    assert describe(type="debit", wallet="general", store="Acme Rewards", gift=JORDAN) == (
        "Gift card for Jordan Friend (Harvest Lane Grocers)"
    )
    assert describe(type="rebate", wallet="bonus", store="Acme Rewards", gift=JORDAN, memo="Cash bonus") == "Cash back"
    assert describe(type="credit", wallet="general", store="Acme Rewards", memo="Initial funds") == "Added by Acme Rewards"
    assert describe(type="refund", wallet="general", store="Acme Rewards", gift=JORDAN) == (
        "Refund: gift card for Jordan Friend (Harvest Lane Grocers)"
    )
    assert describe(type="debit", wallet="general", store="Acme Rewards", memo="Correction") == "Taken back by Acme Rewards"


def test_who_got_the_card_is_named_as_best_known():
    nameless = GiftFor("Cobalt Coffee", "", "sam@example.com", to_self=False)
    mine = GiftFor("Cobalt Coffee", "Casey", "casey@example.com", to_self=True)
    assert describe(type="debit", wallet="campaign", store="S", gift=nameless) == "Gift card for sam@example.com (Cobalt Coffee)"
    assert describe(type="debit", wallet="general", store="S", gift=mine) == "Gift card for you (Cobalt Coffee)"


def test_a_campaign_movement_without_an_order_keeps_the_ledgers_words():
    memo = "Wellness allowance returned: the campaign ended"
    assert describe(type="debit", wallet="campaign", store="Acme Rewards", memo=memo) == memo
    assert describe(type="credit", wallet="campaign", store="Acme Rewards", memo="Wellness allowance") == "Added by Acme Rewards"
