"""The password policy, in one place: the form, the inline checklist (server-computed as the person types,
store/_password_rules.html through an htmx endpoint) and the server use it.

"Hard to guess" is zxcvbn's estimate (https://github.com/dwolfhub/zxcvbn-python, pinned in pyproject.toml):
its dictionaries of common passwords, names and words, keyboard patterns, sequences, repeats, dates and
l33t substitutions, with the person's own email as one more word to avoid. A password needs a score of
3 ("safely unguessable: moderate protection from offline attacks") or more: `password` scores 0 and
`Password1!` 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from zxcvbn import zxcvbn

MIN_LENGTH = 10
MAX_LENGTH = 128
MIN_STRENGTH = 3  # zxcvbn's score, 0-4
_ESTIMATED_LENGTH = 72  # zxcvbn refuses longer input; the first 72 characters decide


@dataclass(frozen=True, slots=True)
class Rule:
    key: str
    text: str
    met: bool


def strength(password: str, *, email: str = "") -> int:
    """zxcvbn's score (0-4) of `password`, with the email and its parts as words the person would pick."""
    if not password:
        return 0
    local_part = email.split("@", 1)[0].lower() if email else ""
    user_inputs = [
        word for word in (email.lower(), local_part, *local_part.replace("-", ".").replace("_", ".").split(".")) if word
    ]
    return int(zxcvbn(password[:_ESTIMATED_LENGTH], user_inputs=user_inputs)["score"])


def password_rules(password: str, *, email: str = "") -> list[Rule]:
    password = password or ""
    local_part = email.split("@", 1)[0].lower() if email else ""
    lowered = password.lower()
    not_email = not (len(local_part) >= 3 and local_part in lowered)
    return [
        Rule("length", f"At least {MIN_LENGTH} characters", MIN_LENGTH <= len(password) <= MAX_LENGTH),
        Rule("letter", "At least one letter", any(c.isalpha() for c in password)),
        Rule("digit_or_symbol", "At least one number or symbol", any(not c.isalpha() for c in password if not c.isspace())),
        Rule(
            "not_guessable",
            "Hard to guess (no common password, word or pattern, nor your email)",
            bool(password) and not_email and strength(password, email=email) >= MIN_STRENGTH,
        ),
    ]


def password_problems(password: str, *, email: str = "") -> list[str]:
    """The rules a password does not meet; empty when it is acceptable."""
    problems = [rule.text for rule in password_rules(password, email=email) if not rule.met]
    if len(password or "") > MAX_LENGTH:
        problems.insert(0, f"At most {MAX_LENGTH} characters")
    return problems
