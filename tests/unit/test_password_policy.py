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
        ("password123", "Hard to guess (no common password, word or pattern, nor your email)"),
        ("alexander-2024", "Hard to guess (no common password, word or pattern, nor your email)"),
        ("", "At least 10 characters"),
    ],
)
def test_each_rule_is_reported_when_broken(password, broken):
    assert broken in password_problems(password, email="alexander@example.com")


def test_overlong_passwords_are_refused():
    assert password_problems("a1" * MAX_LENGTH, email="")[0] == f"At most {MAX_LENGTH} characters"


def test_the_rules_list_says_which_are_met_for_the_inline_checklist():
    rules = {rule.key: rule.met for rule in password_rules("abcdefghij", email="")}
    assert rules == {"length": True, "letter": True, "digit_or_symbol": False, "not_guessable": False}  # a sequence
    rules = {rule.key: rule.met for rule in password_rules("Maple-syrup-2024", email="")}
    assert all(rules.values())


@pytest.mark.parametrize("password", ["password", "Password1!", "Passw0rd!2024", "Qwerty12345!", "Summer2024!", "Aa1!Aa1!Aa1!"])
def test_common_passwords_and_patterns_are_refused_by_the_strength_estimate(password):
    """zxcvbn's dictionaries and patterns, not a short list: each of these met every other rule (or nearly)."""
    assert "Hard to guess (no common password, word or pattern, nor your email)" in password_problems(password)


@pytest.mark.parametrize("password", ["Maple-syrup-2024", "Harbour-Lights-2031!", "kfq7-m2xp-9tzr", "correct horse battery 9"])
def test_long_unusual_passwords_are_strong_enough(password):
    assert password_problems(password, email="robin@example.com") == []


def test_the_strength_estimate_takes_the_first_72_characters_of_a_long_password():
    assert password_problems("Maple-syrup-2024 " * 7, email="") == []  # 119 characters: allowed, and zxcvbn sees 72
