import pytest

from app.domain.passwords import MAX_LENGTH, password_problems, password_rules


def test_a_long_password_with_letters_and_digits_passes():
    assert password_problems("Correct-horse-42", email="alex@example.com") == []


@pytest.mark.parametrize(
    "password, broken",
    [
        ("short1", "At least 10 characters"),
        ("onlylettershere", "At least one number or symbol"),
        ("1234567890123", "At least one letter"),
        ("password123", "Not a common password and not your email"),
        ("alexander-2024", "Not a common password and not your email"),
        ("", "At least 10 characters"),
    ],
)
def test_each_rule_is_reported_when_broken(password, broken):
    assert broken in password_problems(password, email="alexander@example.com")


def test_overlong_passwords_are_refused():
    assert password_problems("a1" * MAX_LENGTH, email="")[0] == f"At most {MAX_LENGTH} characters"


def test_the_rules_list_says_which_are_met_for_the_inline_checklist():
    rules = {rule.key: rule.met for rule in password_rules("abcdefghij", email="")}
    assert rules == {"length": True, "letter": True, "digit_or_symbol": False, "not_guessable": True}
