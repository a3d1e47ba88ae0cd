"""The password policy, in one place: the form, the inline checklist and the server use it."""

from __future__ import annotations

from dataclasses import dataclass

MIN_LENGTH = 10
MAX_LENGTH = 128

# A few of the most common passwords that satisfy the length rule.
_COMMON = {
    "password123",
    "password1234",
    "1234567890",
    "qwertyuiop",
    "iloveyou123",
    "welcome123",
    "letmein123",
    "passw0rd123",
    "abc1234567",
    "qwerty12345",
    "administrator",
    "0987654321",
    "1q2w3e4r5t",
    "changeme123",
}


@dataclass(frozen=True, slots=True)
class Rule:
    key: str
    text: str
    met: bool


def password_rules(password: str, *, email: str = "") -> list[Rule]:
    password = password or ""
    local_part = email.split("@", 1)[0].lower() if email else ""
    lowered = password.lower()
    return [
        Rule("length", f"At least {MIN_LENGTH} characters", MIN_LENGTH <= len(password) <= MAX_LENGTH),
        Rule("letter", "At least one letter", any(c.isalpha() for c in password)),
        Rule("digit_or_symbol", "At least one number or symbol", any(not c.isalpha() for c in password if not c.isspace())),
        Rule(
            "not_guessable",
            "Not a common password and not your email",
            bool(password) and lowered not in _COMMON and not (len(local_part) >= 3 and local_part in lowered),
        ),
    ]


def password_problems(password: str, *, email: str = "") -> list[str]:
    """The rules a password does not meet; empty when it is acceptable."""
    problems = [rule.text for rule in password_rules(password, email=email) if not rule.met]
    if len(password or "") > MAX_LENGTH:
        problems.insert(0, f"At most {MAX_LENGTH} characters")
    return problems
