"""The partner API described: GET /openapi.json (OpenAPI 3.1, generated from the pydantic models
in app/api/schemas.py and the route table below) and GET /docs (the same, as a readable page).
Both are public: they are not signed.

ROUTES is the one list of the API's operations; a test checks it names every route the
blueprint serves, so the document cannot fall behind the views.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, render_template
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.api import URL_PREFIX, bp, schemas
from app.api.auth import FORBIDDEN_MESSAGE
from app.api.responses import json_response

ERROR_CODES = {
    400: ("VALIDATION_ERROR", "Validation error or malformed request; the message names the field."),
    402: ("BUSINESS_RULE_ERROR", "Insufficient balance."),
    403: ("", 'Authentication failed (the seed\'s {"Message": ...} body, not the envelope).'),
    404: ("NOT_FOUND", "The resource does not exist (or belongs to another partner)."),
    413: ("VALIDATION_ERROR", "The request body is larger than the server accepts; the message says the limit in bytes."),
    429: (
        "TOO_MANY_REQUESTS",
        "Too many requests for this API key, or from this IP address whatever the key; "
        "wait the seconds in the Retry-After header.",
    ),
    500: ("INTERNAL_ERROR", "Something went wrong on our side."),
}
# Path parameters by name: ids are database ids, an order is named by its public id.
PATH_PARAMETERS = {
    "customerId": {"type": "integer", "minimum": 1, "maximum": schemas.MAX_ID},
    "webhookId": {"type": "integer", "minimum": 1, "maximum": schemas.MAX_ID},
    "campaignId": {"type": "integer", "minimum": 1, "maximum": schemas.MAX_ID},
    "publicId": {"type": "string", "pattern": "^ord_[0-9a-f]{16}$", "examples": ["ord_3f2a9c0d1e4b5a69"]},
}


# How the lists that grow without end (orders, transactions) are paged.
PAGING = (
    "Newest first. To read on, send the answer's nextCursor as cursor (null: this was the last page): each page "
    "then costs the same however deep, and no row is shown twice or skipped while new ones arrive. page (an "
    f"offset) still works, slower the deeper it goes. total is exact up to {schemas.COUNT_CAP:,} matching rows; "
    f"past that it is {schemas.COUNT_CAP:,} and totalIsExact is false."
)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # OpenAPI form, relative to URL_PREFIX: /customers/{customerId}
    endpoint: str  # the Flask view, "api.<name>"
    summary: str
    response: type[BaseModel] | None
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = (400, 403, 500)
    description: str = ""
    signed: bool = True
    tags: tuple[str, ...] = field(default=("Customers",))
    headers: tuple[dict, ...] = ()  # the operation's own header parameters (beyond the signature's)

    @property
    def path_parameters(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]


ROUTES: list[Route] = [
    Route(
        "POST",
        "/customer",
        "api.create_customer",
        "Create a customer with a funded wallet",
        schemas.CreatedCustomer,
        request=schemas.CustomerCreate,
        errors=(400, 402, 403, 500),
        description="The seed's Create Customer. The initial funds come out of the partner's funds. "
        "An existing customer without a wallet in the currency gets one. Duplicate email in "
        "that currency: 400 'Some customers already have wallets in the requested currency'. "
        "Partner funds too low: 402 'Unable to pre-charge all currency groups'. "
        "Optionally idempotent: with an idempotencyKey in the body or the Idempotency-Key header, the same key "
        "and the same request return the first answer again (same status and body, one customer, also when "
        "retries race); the same key with another request is a 400 'idempotencyKey was already used for a "
        "different request'. A refusal is not kept: the key can be sent again once the cause is fixed.",
        headers=(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Optional, the same as idempotencyKey in the body (send either, or both alike).",
                "schema": {"type": "string", "minLength": 8, "maxLength": 80, "pattern": "^[A-Za-z0-9_.:-]+$"},
                "example": "customer-2026-000042",
            },
        ),
    ),
    Route(
        "GET",
        "/customers",
        "api.list_customers",
        "List customers (paginated)",
        schemas.CustomerPage,
        query=schemas.CustomerQuery,
        description="Filter by exact email and by status; ordered by id.",
    ),
    Route(
        "GET",
        "/customers/{customerId}",
        "api.get_customer",
        "Get a customer with their wallets",
        schemas.Customer,
        errors=(403, 404, 500),
    ),
    Route(
        "PUT",
        "/customers/{customerId}/tags",
        "api.put_customer_tags",
        "Replace a customer's tags",
        schemas.Customer,
        request=schemas.CustomerTags,
        errors=(400, 403, 404, 500),
        description="The tags the customer has from now on (the answer is GET /customers/{customerId}'s). A tag is 1-40 "
        "letters, digits, - or _, kept in lower case; at most 20. Campaigns for everyone with a tag (eligibleTag) "
        "allocate to a customer who gets it now, once, while they are active with budget left; one who loses it keeps "
        "what was given but gets no later allocation. Brand bonuses for a tag (segment in GET /catalog) apply to "
        "their orders only while they have it.",
    ),
    Route(
        "POST",
        "/customers/{customerId}/deactivate",
        "api.deactivate_customer",
        "Deactivate a customer",
        schemas.Customer,
        errors=(403, 404, 500),
        description="A deactivated customer can still sign in and look, but cannot order.",
    ),
    Route(
        "POST",
        "/customers/{customerId}/reactivate",
        "api.reactivate_customer",
        "Reactivate a customer",
        schemas.Customer,
        errors=(403, 404, 500),
    ),
    Route(
        "POST",
        "/customers/{customerId}/funds/credit",
        "api.credit_customer",
        "Add money to a customer's wallet from the partner's funds",
        schemas.FundsResult,
        request=schemas.FundsChange,
        errors=(400, 402, 403, 404, 500),
        tags=("Funds",),
        description="Idempotent on idempotencyKey: a repeat returns the first result (same transactionId) "
        "and moves nothing. Partner funds too low: 402 'Unable to pre-charge all currency groups'.",
    ),
    Route(
        "POST",
        "/customers/{customerId}/funds/debit",
        "api.debit_customer",
        "Take money from a customer's wallet back to the partner's funds",
        schemas.FundsResult,
        request=schemas.FundsChange,
        errors=(400, 402, 403, 404, 500),
        tags=("Funds",),
        description="Idempotent on idempotencyKey. A wallet never goes below zero: 402 'Insufficient wallet balance'.",
    ),
    Route(
        "GET",
        "/balance",
        "api.balance",
        "The partner's available funds per currency",
        schemas.Balance,
        errors=(403, 500),
        tags=("Funds",),
    ),
    Route(
        "GET",
        "/catalog",
        "api.list_catalog",
        "List the brands the partner's customers can buy (paginated)",
        schemas.CatalogPage,
        query=schemas.CatalogQuery,
        tags=("Catalog",),
        description="Enabled brands sold in the partner's currencies (amounts only in those: every brand listed can be "
        "ordered) with the partner's price adjustment (discountPercent, and a fee per "
        "currency in amounts), bonus (value or cash, percent, promo window, whether active now), "
        "fixed denominations or a min-max range, and currencies. Filter by currency and exact "
        "category; ordered by name.",
    ),
    Route(
        "POST",
        "/orders",
        "api.create_order",
        "Buy a gift card for a customer with their wallet balance",
        schemas.Order,
        request=schemas.OrderCreate,
        errors=(400, 402, 403, 404, 500),
        tags=("Orders",),
        description="Charges the customer's balances (campaign, then general, then bonus) and answers at once "
        "with the order, usually pending; fulfilment follows (poll GET /orders/{publicId} or register "
        "a webhook). Idempotent on externalRefId: the same reference with the same body returns the "
        "same order and charges once; with a different body it is a 400 naming externalRefId. A "
        "deactivated customer, a brand not available to the partner, an amount that is not one of the "
        "brand's denominations or outside its range, a currency the brand or partner does not "
        "use, or a deliverAt without an offset, past or more than a year ahead is a 400 naming the field. "
        "With deliverAt the order is scheduled (charged now, card issued and emailed then). Balance too low: 402 'Insufficient wallet balance'. "
        "Nothing is charged when the answer is an error.",
    ),
    Route(
        "GET",
        "/orders",
        "api.list_orders",
        "List orders (paginated, newest first)",
        schemas.OrderPage,
        query=schemas.OrderQuery,
        errors=(400, 403, 404, 500),
        tags=("Orders",),
        description="Filter by status, customerId, externalRefId and creation day (from, to: UTC days, both "
        "included). Cards are never listed: read one order for its card. " + PAGING,
    ),
    Route(
        "GET",
        "/orders/{publicId}",
        "api.get_order",
        "Get an order, with its card once completed",
        schemas.Order,
        errors=(403, 404, 500),
        tags=("Orders",),
        description="card holds the number, PIN and redemption link when the status is completed, else null. "
        "delivery.sentAt is when the gift email went to the mail server, delivery.openedAt when the recipient "
        "first opened the gift page it links to (both null until then). A scheduled order (deliverAt) is "
        "scheduled until its time, then pending, then completed or failed; cancelled once taken back.",
    ),
    Route(
        "POST",
        "/orders/{publicId}/cancel",
        "api.cancel_order",
        "Cancel a gift that is not delivered yet, refunding it",
        schemas.Order,
        errors=(402, 403, 404, 500),
        tags=("Orders",),
        description="Only while the order is scheduled (its deliverAt has not come, or the store's unsend window "
        "after confirm): it becomes cancelled and exactly the balances it was charged from get the money back "
        "(an order.cancelled webhook follows). Cancelling a cancelled order again returns it unchanged. Once "
        "delivery has begun (pending, completed or failed): 402 BUSINESS_RULE_ERROR, nothing changes. When the "
        "cancel and the delivery race, exactly one wins.",
    ),
    Route(
        "GET",
        "/transactions",
        "api.list_transactions",
        "List the partner's ledger transactions (paginated, newest first)",
        schemas.TransactionPage,
        query=schemas.TransactionQuery,
        errors=(400, 403, 404, 500),
        tags=("Transactions",),
        description="Types credit, debit, rebate, refund, adjustment; statuses completed, pending, failed. "
        "Filter by type, status, customerId and creation day (from, to: UTC days, both included). "
        "Amounts are positive: the type says which way the money went. " + PAGING,
    ),
    Route(
        "POST",
        "/webhooks",
        "api.create_webhook",
        "Register a webhook for order and campaign events",
        schemas.CreatedWebhook,
        request=schemas.WebhookCreate,
        tags=("Webhooks",),
        description="Events order.completed, order.failed and order.cancelled (a WebhookEvent), campaign.ended and campaign.budget_low "
        "(a CampaignWebhookEvent) are POSTed to an HTTPS URL on "
        "the public internet, signed like your requests: x-signature = base64(HMAC-SHA256(secret, "
        "'POST' + LF + x-timestamp + LF + x-client-id + LF + body)), plus x-event-id (the same on every "
        "retry). Any 2xx answer delivers it; anything else, a timeout or a redirect is retried with a "
        "doubling delay, up to a limit. The secret is shown only in this answer. At most 10 webhooks.",
    ),
    Route(
        "GET",
        "/webhooks",
        "api.list_webhooks",
        "List the partner's webhooks",
        schemas.WebhookList,
        errors=(403, 500),
        tags=("Webhooks",),
    ),
    Route(
        "DELETE",
        "/webhooks/{webhookId}",
        "api.delete_webhook",
        "Delete a webhook",
        schemas.Webhook,
        errors=(403, 404, 500),
        tags=("Webhooks",),
        description="Nothing more is sent to it; deliveries still pending give up.",
    ),
    Route(
        "GET",
        "/webhooks/{webhookId}/deliveries",
        "api.list_deliveries",
        "List a webhook's deliveries with every attempt (paginated, newest first)",
        schemas.DeliveryPage,
        query=schemas.DeliveryQuery,
        errors=(400, 403, 404, 500),
        tags=("Webhooks",),
    ),
    Route(
        "POST",
        "/campaigns",
        "api.create_campaign",
        "Create a campaign with a budget from the partner's funds",
        schemas.Campaign,
        request=schemas.CampaignCreate,
        errors=(400, 402, 403, 500),
        tags=("Campaigns",),
        description="The budget moves from the partner's funds into the campaign at once; each customer added later "
        "gets perCustomerAmount from it, spent first (before their general and bonus balances) on the "
        "brands and categories listed (none listed: every brand), while the campaign is active and inside "
        "its window. It starts now (or at startsAt: scheduled until then). Idempotent on idempotencyKey: "
        "the same body again returns the same campaign and moves nothing; another body is a 400. "
        "Partner funds too low: 402 BUSINESS_RULE_ERROR, nothing created. With recurrence, every member gets "
        "perCustomerAmount again at each period start (weeks from Monday 00:00, months from the 1st 00:00, in the "
        "partner's time zone); what they have left then expires back to the budget or rolls over (up to "
        "rolloverCap). After downtime one allocation is made, for the current period. When the remaining budget "
        "can't pay the next allocations (recurring: every member's next one) or falls below lowBudgetThreshold, "
        "the partner's admins get one email and campaign.budget_low fires, once until the budget is enough again; "
        "with pauseWhenExhausted the campaign pauses itself when a member's allocation can't be paid.",
    ),
    Route(
        "GET",
        "/campaigns",
        "api.list_campaigns",
        "List campaigns (paginated, newest first)",
        schemas.CampaignPage,
        query=schemas.CampaignQuery,
        errors=(400, 403, 500),
        tags=("Campaigns",),
        description="Filter by status: scheduled, active, paused or ended.",
    ),
    Route(
        "GET",
        "/campaigns/{campaignId}",
        "api.get_campaign",
        "Get a campaign with its money",
        schemas.Campaign,
        errors=(403, 404, 500),
        tags=("Campaigns",),
        description="budget = returned + remaining + unused + spent, always.",
    ),
    Route(
        "PATCH",
        "/campaigns/{campaignId}",
        "api.update_campaign",
        "Change a campaign's rules from now on",
        schemas.Campaign,
        request=schemas.CampaignUpdate,
        errors=(400, 402, 403, 404, 500),
        tags=("Campaigns",),
        description="Fields left out keep their value; endsAt null removes the end date. Allocations already made "
        "and past transactions stay as they were. An ended campaign can't change: 402. recurrence null stops the "
        "repeats; a new or changed recurrence counts the current period as given (the next allocation comes at "
        "the next period start); lowBudgetThreshold null removes the threshold.",
    ),
    Route(
        "POST",
        "/campaigns/{campaignId}/budget",
        "api.change_campaign_budget",
        "Increase or decrease a campaign's budget",
        schemas.CampaignBudgetResult,
        request=schemas.CampaignBudgetChange,
        errors=(400, 402, 403, 404, 500),
        tags=("Campaigns",),
        description="A positive amount moves partner funds into the budget (402 when they are too low); a negative "
        "one moves unallocated budget back (402 when the budget has less left). Idempotent on "
        "idempotencyKey: a repeat returns the first transactionId and moves nothing. An ended campaign's "
        "budget can only decrease.",
    ),
    Route(
        "POST",
        "/campaigns/{campaignId}/members",
        "api.add_campaign_members",
        "Add customers to a campaign",
        schemas.MemberResults,
        request=schemas.CampaignMembersAdd,
        errors=(400, 402, 403, 404, 500),
        tags=("Campaigns",),
        description="Each customer added gets perCustomerAmount from the budget in a campaign balance of their own. "
        "A result per id: allocated, already_member (nothing more), not_found (not your customer), "
        "inactive (deactivated), insufficient_budget (the budget can't pay it: nothing moved). "
        "An ended campaign takes no members: 402.",
    ),
    Route(
        "DELETE",
        "/campaigns/{campaignId}/members/{customerId}",
        "api.remove_campaign_member",
        "Remove a customer from a campaign",
        schemas.MemberRemoved,
        errors=(403, 404, 500),
        tags=("Campaigns",),
        description="Their unused campaign balance goes back to the budget.",
    ),
    Route(
        "POST",
        "/campaigns/{campaignId}/pause",
        "api.pause_campaign",
        "Pause a campaign: its balances can't be spent",
        schemas.Campaign,
        errors=(402, 403, 404, 500),
        tags=("Campaigns",),
        description="Only an active campaign can be paused: 402 otherwise.",
    ),
    Route(
        "POST",
        "/campaigns/{campaignId}/resume",
        "api.resume_campaign",
        "Resume a paused campaign",
        schemas.Campaign,
        errors=(402, 403, 404, 500),
        tags=("Campaigns",),
        description="Only a paused campaign can be resumed: 402 otherwise.",
    ),
    Route(
        "POST",
        "/campaigns/{campaignId}/end",
        "api.end_campaign",
        "End a campaign for good",
        schemas.CampaignEnded,
        errors=(402, 403, 404, 500),
        tags=("Campaigns",),
        description="Spending stops; every member's unused balance goes back to the budget, and the budget to "
        "partner funds when returnUnusedOnEnd is set (else use return-unused). Already ended: 402.",
    ),
    Route(
        "POST",
        "/campaigns/{campaignId}/return-unused",
        "api.return_unused_campaign_budget",
        "Return a campaign's unallocated budget to the partner's funds",
        schemas.CampaignReturned,
        errors=(403, 404, 500),
        tags=("Campaigns",),
    ),
    Route(
        "GET",
        "/openapi.json",
        "api.openapi_document",
        "This document (OpenAPI 3.1)",
        None,
        errors=(),
        signed=False,
        tags=("Documentation",),
    ),
    Route(
        "GET",
        "/docs",
        "api.docs_page",
        "The API documentation as a web page",
        None,
        errors=(),
        signed=False,
        tags=("Documentation",),
    ),
]

AUTH_HEADERS = [
    ("x-api-key", "apiKey", "The API key issued to the partner.", "gsk_..."),
    ("x-client-id", "clientId", "The partner's client id.", "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"),
    (
        "x-timestamp",
        "timestamp",
        "ISO 8601 with Z or an offset (+00:00 or +0000), seconds with up to 9 fractional digits; at most 5 minutes "
        "from now. Signed exactly as sent. Give every request its own (a retry too): each signature is accepted "
        "once, and two requests with the same method, body and timestamp have the same v1 signature.",
        "2026-02-12T14:30:00.000Z",
    ),
    (
        "x-signature",
        "signature",
        "base64(HMAC-SHA256(hmac_secret, STRING_TO_SIGN)), where STRING_TO_SIGN depends on x-signature-version. "
        'Version 1 (the default): METHOD + "\\n" + TIMESTAMP + "\\n" + CLIENT_ID + "\\n" + BODY; it does not cover '
        "the path or the query, so prefer version 2. "
        'Version 2: METHOD + "\\n" + PATH + "\\n" + QUERY + "\\n" + TIMESTAMP + "\\n" + CLIENT_ID + "\\n" + BODY, '
        "where PATH is the path as sent (e.g. /api/partner/v1/customers/1), QUERY the query string without the '?', "
        "its name=value parameters sorted by name then value and kept percent-encoded as sent (empty when none; "
        "'status=active&email=a%40b.example' signs as 'email=a%40b.example&status=active'). "
        "BODY is the raw body sent, empty when none. Each signature is accepted once. A key can be set to require "
        "version 2: version 1 requests with it are refused (403).",
        "3yV1pQk0mL8sR2tW6xZ9aB4cD7eF0gH1iJ5kN8oP2qU=",
    ),
]
# Optional, so it is no security scheme (those are all required): a header parameter of every signed operation.
SIGNATURE_VERSION_HEADER = (
    "x-signature-version",
    "signatureVersion",
    "Optional: which string x-signature signs, 1 (the default) or 2 (also covers the path and query; see "
    "x-signature). Any other value is refused (403).",
    "2",
)
_SIGNATURE_VERSION_PARAMETER = {
    "name": SIGNATURE_VERSION_HEADER[0],
    "in": "header",
    "required": False,
    "description": SIGNATURE_VERSION_HEADER[2],
    "schema": {"type": "string", "enum": ["1", "2"], "default": "1"},
    "example": SIGNATURE_VERSION_HEADER[3],
}
_DOCUMENTS_ONLY = {"api.openapi_document", "api.docs_page"}
SCHEMA_MODELS: list[type[BaseModel]] = [
    schemas.CustomerCreate,
    schemas.CustomerTags,
    schemas.FundsChange,
    schemas.CustomerQuery,
    schemas.CreatedCustomer,
    schemas.Customer,
    schemas.CustomerPage,
    schemas.WalletBalance,
    schemas.FundsResult,
    schemas.Balance,
    schemas.CurrencyBalance,
    schemas.CatalogQuery,
    schemas.OrderQuery,
    schemas.TransactionQuery,
    schemas.DeliveryQuery,
    schemas.CatalogPage,
    schemas.OrderCreate,
    schemas.Order,
    schemas.OrderPage,
    schemas.TransactionPage,
    schemas.WebhookCreate,
    schemas.Webhook,
    schemas.CreatedWebhook,
    schemas.WebhookList,
    schemas.DeliveryPage,
    schemas.WebhookEvent,
    schemas.CampaignWebhookEvent,
    schemas.CampaignCreate,
    schemas.CampaignUpdate,
    schemas.CampaignQuery,
    schemas.CampaignBudgetChange,
    schemas.CampaignMembersAdd,
    schemas.Campaign,
    schemas.CampaignPage,
    schemas.CampaignBudgetResult,
    schemas.MemberResults,
    schemas.MemberRemoved,
    schemas.CampaignEnded,
    schemas.CampaignReturned,
    schemas.CampaignWallet,
    schemas.ErrorEnvelope,
    schemas.ErrorDetail,
    schemas.Forbidden,
]


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def component_schemas() -> dict:
    _, top = models_json_schema([(model, "validation") for model in SCHEMA_MODELS], ref_template="#/components/schemas/{model}")
    return top.get("$defs", {})


def _operation(route: Route) -> dict:
    operation: dict = {
        "operationId": route.endpoint.removeprefix("api."),
        "summary": route.summary,
        "tags": list(route.tags),
    }
    if route.description:
        operation["description"] = route.description
    parameters = [{"$ref": f"#/components/parameters/{name}"} for _, name, _, _ in AUTH_HEADERS] if route.signed else []
    if route.signed:
        parameters.append(dict(_SIGNATURE_VERSION_PARAMETER))
    parameters += [dict(header) for header in route.headers]
    for name in route.path_parameters:
        parameters.append({"name": name, "in": "path", "required": True, "schema": PATH_PARAMETERS[name]})
    if route.query is not None:
        query_schema = route.query.model_json_schema()
        for name, prop in query_schema.get("properties", {}).items():
            parameters.append({"name": name, "in": "query", "required": name in query_schema.get("required", []), "schema": prop})
    if parameters:
        operation["parameters"] = parameters
    if route.request is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(route.request)}}}
    if route.endpoint in _DOCUMENTS_ONLY:
        media = "application/json" if route.path.endswith(".json") else "text/html"
        operation["responses"] = {"200": {"description": route.summary, "content": {media: {}}}}
    else:
        operation["responses"] = {
            "200": {
                "description": "Success",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["success", "data"],
                            "properties": {"success": {"const": True}, "data": _ref(route.response)},
                        }
                    }
                },
            },
            **{str(status): {"$ref": f"#/components/responses/{status}"} for status in _errors(route)},
        }
    operation["security"] = [{name: [] for _, name, _, _ in AUTH_HEADERS}] if route.signed else []
    return operation


def _errors(route: Route) -> list[int]:
    """The route's own errors, plus 413 and 429: every signed request's body is read (to check its signature)
    and counts against its key's rate limit."""
    return sorted(set(route.errors) | ({413, 429} if route.signed else set()))


def _webhooks() -> dict:
    """The events the partner's endpoints receive (OpenAPI 3.1 `webhooks`)."""
    signature_headers = {
        header: {"description": description, "required": True, "schema": {"type": "string"}}
        for header, description in [
            ("x-client-id", "The partner's client id."),
            ("x-timestamp", "When it was sent, ISO 8601 UTC."),
            ("x-signature", 'base64(HMAC-SHA256(webhook secret, "POST" + LF + x-timestamp + LF + x-client-id + LF + body))'),
            ("x-event-id", "The event's id; the same on every retry: deduplicate on it."),
            ("x-event-type", "The event's type, e.g. order.completed"),
        ]
    }
    return {
        event: {
            "post": {
                "operationId": event.replace(".", "_"),
                "summary": summary,
                "tags": ["Webhooks"],
                "parameters": [{"name": h, "in": "header", **spec} for h, spec in signature_headers.items()],
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(model)}}},
                "responses": {"2XX": {"description": "Delivered; anything else is retried."}},
            }
        }
        for event, summary, model in [
            ("order.completed", "An order was completed: its card was issued", schemas.WebhookEvent),
            ("order.failed", "An order failed and was refunded", schemas.WebhookEvent),
            ("order.cancelled", "A scheduled order was cancelled before delivery and refunded", schemas.WebhookEvent),
            ("campaign.ended", "A campaign ended (by hand or at its end date)", schemas.CampaignWebhookEvent),
            (
                "campaign.budget_low",
                "A campaign's remaining budget fell below its perCustomerAmount (once per crossing)",
                schemas.CampaignWebhookEvent,
            ),
        ]
    }


def openapi() -> dict:
    paths: dict = {}
    for route in ROUTES:
        paths.setdefault(URL_PREFIX + route.path, {})[route.method.lower()] = _operation(route)
    responses = {}
    for status, (code, description) in ERROR_CODES.items():
        model = schemas.Forbidden if status == 403 else schemas.ErrorEnvelope
        example = (
            {"Message": FORBIDDEN_MESSAGE}
            if status == 403
            else {"success": False, "error": {"error": code, "message": description}}
        )
        responses[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": _ref(model), "example": example}},
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Partner API",
            "version": "1",
            "description": "Signed server-to-server API for partners. Every answer is "
            '{"success": true, "data": ...} or {"success": false, "error": {"error": CODE, "message": ...}}; '
            "money is a JSON number in major units with the currency's decimal places.",
        },
        "paths": paths,
        "webhooks": _webhooks(),
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {
                name: {"type": "apiKey", "in": "header", "name": header, "description": description}
                for header, name, description, _ in AUTH_HEADERS
            },
            "parameters": {
                name: {
                    "name": header,
                    "in": "header",
                    "required": True,
                    "description": description,
                    "schema": {"type": "string"},
                    "example": example,
                }
                for header, name, description, example in AUTH_HEADERS
            },
            "responses": responses,
        },
    }


@bp.get("/openapi.json")
def openapi_document():
    return json_response(openapi())


@bp.get("/docs")
def docs_page():
    document = openapi()
    schemas_ = document["components"]["schemas"]
    return render_template(
        "api/docs.html",
        rate_limit=current_app.extensions["settings"].API_RATE_LIMIT,
        routes=ROUTES,
        route_models={m.__name__ for r in ROUTES for m in (r.query, r.request, r.response) if m is not None},
        prefix=URL_PREFIX,
        auth_headers=[*AUTH_HEADERS, SIGNATURE_VERSION_HEADER],
        error_codes=ERROR_CODES,
        schemas=schemas_,
    )
