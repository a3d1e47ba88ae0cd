"""Domain errors. Views map them to a form message, a partial or a JSON error."""


class DomainError(Exception):
    """A rule of the business was not met. `message` is safe to show to the user."""

    code = "BUSINESS_RULE_ERROR"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def sentence(message: str) -> str:
    """A message as a sentence: capital first letter, full stop at the end (services' lower-case
    API messages read well on a page this way)."""
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


class InvalidInput(DomainError):
    code = "VALIDATION_ERROR"


class InvalidFields(InvalidInput):
    """Several fields of one form are wrong: `problems` maps each field to its message, so a form can show
    them all at once. `message` lists them all; `field` is the first."""

    def __init__(self, problems: dict[str, str]):
        super().__init__(" ".join(problems.values()), field=next(iter(problems), None))
        self.problems = problems


class NotFound(DomainError):
    code = "NOT_FOUND"


class InsufficientFunds(DomainError):
    """An account would go below zero."""


class PartnerFundsTooLow(InsufficientFunds):
    pass


class DuplicateConsumer(InvalidInput):
    pass


class InvalidCredentials(DomainError):
    code = "INVALID_CREDENTIALS"


class TemporaryPasswordExpired(InvalidCredentials):
    pass


class InvalidResetLink(DomainError):
    code = "INVALID_RESET_LINK"


class UnbalancedTransaction(DomainError):
    """Programming error: a transaction's entries must sum to zero."""
