"""The recipient email's "Did you mean …?" hint: likely typos of common domains, nothing for real domains."""

import pytest

from app.domain.email_typos import COMMON_DOMAINS, edit_distance, suggest_domain, suggest_email


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("jordan@gmial.com", "jordan@gmail.com"),
        ("jordan@gamil.com", "jordan@gmail.com"),
        ("jordan@gmal.com", "jordan@gmail.com"),
        ("jordan@gmail.co", "jordan@gmail.com"),
        ("jordan@gmail.con", "jordan@gmail.com"),
        ("jordan@gmail.cmo", "jordan@gmail.com"),
        ("jordan@gmial.con", "jordan@gmail.com"),
        ("Jordan@GMIAL.com", "Jordan@gmail.com"),
        ("jordan@hotmial.com", "jordan@hotmail.com"),
        ("jordan@hotmai.com", "jordan@hotmail.com"),
        ("jordan@yaho.com", "jordan@yahoo.com"),
        ("jordan@yahooo.com", "jordan@yahoo.com"),
        ("jordan@outlok.com", "jordan@outlook.com"),
        ("jordan@iclod.com", "jordan@icloud.com"),
        ("jordan@icoud.com", "jordan@icloud.com"),
        ("jordan@protonmial.com", "jordan@protonmail.com"),
        ("jordan@comcast.nte", "jordan@comcast.net"),
        ("jordan@acme-widgets.con", "jordan@acme-widgets.com"),
        ("first.last+gift@outlook.cmo", "first.last+gift@outlook.com"),
    ],
)
def test_a_likely_typo_of_a_common_domain_gets_the_domain_meant(typed, meant):
    assert suggest_email(typed) == meant


@pytest.mark.parametrize(
    "address",
    [
        "jordan@gmail.com",
        "jordan@proton.me",
        "jordan@example.org",
        "jordan@example.com",
        "jordan@fastmail.com",
        "jordan@cox.net",  # two letters from gmx.net, but a short name: a real provider
        "jordan@yahoo.ca",  # another country's ending, not a slip
        "jordan@hotmail.de",
        "jordan@mail.com",
        "jordan@email.com",
        "jordan@harvest-lane.co.uk",
        "jordan@uni-heidelberg.de",
        "not an address",
        "@gmial.com",
        "",
    ],
)
def test_a_real_or_uncommon_domain_gets_no_hint(address):
    assert suggest_email(address) is None


def test_every_common_domain_is_left_alone():
    assert [domain for domain in COMMON_DOMAINS if suggest_domain(domain) is not None] == []
    assert len(COMMON_DOMAINS) >= 20


def test_edit_distance_counts_a_swap_as_one_edit():
    assert edit_distance("gmial", "gmail") == 1
    assert edit_distance("yaho", "yahoo") == 1
    assert edit_distance("cox", "gmx") == 2
    assert edit_distance("", "abc") == 3
