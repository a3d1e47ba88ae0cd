"""SQLModel tables. Importing this package registers every table on SQLModel.metadata."""

from app.models.api_refusal import ApiRefusedRequest
from app.models.branding import BrandingVersion
from app.models.bulk import BulkUpload, BulkUploadRow
from app.models.campaign import Campaign, CampaignMember, CampaignPeriod
from app.models.catalog import Brand, PartnerBrand
from app.models.consumer import Consumer, PasswordReset
from app.models.customer_creation import CustomerCreation
from app.models.daily_totals import DailyBrandTotals, DailyTotals
from app.models.email import EmailMessage
from app.models.gift_page import GiftPageLink
from app.models.ledger import Account, Entry, Transaction
from app.models.order import Order
from app.models.partner import ApiKey, ApiSignatureSeen, Partner, TermsVersion
from app.models.segment import ConsumerTag
from app.models.sign_in_session import SignInSession
from app.models.team import AuditEvent, TeamMember
from app.models.webhook import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "Account",
    "ApiKey",
    "ApiRefusedRequest",
    "ApiSignatureSeen",
    "AuditEvent",
    "Brand",
    "BrandingVersion",
    "BulkUpload",
    "BulkUploadRow",
    "Campaign",
    "CampaignMember",
    "CampaignPeriod",
    "Consumer",
    "ConsumerTag",
    "CustomerCreation",
    "DailyBrandTotals",
    "DailyTotals",
    "EmailMessage",
    "Entry",
    "GiftPageLink",
    "Order",
    "Partner",
    "PartnerBrand",
    "PasswordReset",
    "SignInSession",
    "TeamMember",
    "TermsVersion",
    "Transaction",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
