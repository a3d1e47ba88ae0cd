"""SQLModel tables. Importing this package registers every table on SQLModel.metadata."""
from app.models.catalog import Brand, PartnerBrand
from app.models.consumer import Consumer, PasswordReset
from app.models.email import EmailMessage
from app.models.ledger import Account, Entry, Transaction
from app.models.order import Order
from app.models.partner import ApiKey, ApiSignatureSeen, Partner, TermsVersion

__all__ = [
    "Account",
    "ApiKey",
    "ApiSignatureSeen",
    "Brand",
    "Consumer",
    "EmailMessage",
    "Entry",
    "Order",
    "Partner",
    "PartnerBrand",
    "PasswordReset",
    "TermsVersion",
    "Transaction",
]
