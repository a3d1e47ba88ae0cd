"""The partner API described: GET /openapi.json (OpenAPI 3.1, generated from the pydantic models
in app/api/schemas.py and the route table below) and GET /docs (the same, as a readable page).
Both are public: they are not signed.

ROUTES is the one list of the API's operations; a test checks it names every route the
blueprint serves, so the document cannot fall behind the views.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import render_template
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from app.api import URL_PREFIX, bp, schemas
from app.api.auth import FORBIDDEN_MESSAGE
from app.api.responses import json_response

ERROR_CODES = {
    400: ("VALIDATION_ERROR", "Validation error or malformed request; the message names the field."),
    402: ("BUSINESS_RULE_ERROR", "Insufficient balance."),
    403: ("", "Authentication failed (the seed's {\"Message\": ...} body, not the envelope)."),
    404: ("NOT_FOUND", "The resource does not exist (or belongs to another partner)."),
    500: ("INTERNAL_ERROR", "Something went wrong on our side."),
}


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

    @property
    def path_parameters(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]


ROUTES: list[Route] = [
    Route("POST", "/customer", "api.create_customer", "Create a customer with a funded wallet",
          schemas.CreatedCustomer, request=schemas.CustomerCreate, errors=(400, 402, 403, 500),
          description="The seed's Create Customer. The initial funds come out of the partner's funds. "
                      "An existing customer without a wallet in the currency gets one. Duplicate email in "
                      "that currency: 400 'Some customers already have wallets in the requested currency'. "
                      "Partner funds too low: 402 'Unable to pre-charge all currency groups'."),
    Route("GET", "/customers", "api.list_customers", "List customers (paginated)",
          schemas.CustomerPage, query=schemas.CustomerQuery,
          description="Filter by exact email and by status; ordered by id."),
    Route("GET", "/customers/{customerId}", "api.get_customer", "Get a customer with their wallets",
          schemas.Customer, errors=(403, 404, 500)),
    Route("POST", "/customers/{customerId}/deactivate", "api.deactivate_customer", "Deactivate a customer",
          schemas.Customer, errors=(403, 404, 500),
          description="A deactivated customer can still sign in and look, but cannot order."),
    Route("POST", "/customers/{customerId}/reactivate", "api.reactivate_customer", "Reactivate a customer",
          schemas.Customer, errors=(403, 404, 500)),
    Route("POST", "/customers/{customerId}/funds/credit", "api.credit_customer",
          "Add money to a customer's wallet from the partner's funds",
          schemas.FundsResult, request=schemas.FundsChange, errors=(400, 402, 403, 404, 500), tags=("Funds",),
          description="Idempotent on idempotencyKey: a repeat returns the first result (same transactionId) "
                      "and moves nothing. Partner funds too low: 402 'Unable to pre-charge all currency groups'."),
    Route("POST", "/customers/{customerId}/funds/debit", "api.debit_customer",
          "Take money from a customer's wallet back to the partner's funds",
          schemas.FundsResult, request=schemas.FundsChange, errors=(400, 402, 403, 404, 500), tags=("Funds",),
          description="Idempotent on idempotencyKey. A wallet never goes below zero: "
                      "402 'Insufficient wallet balance'."),
    Route("GET", "/balance", "api.balance", "The partner's available funds per currency",
          schemas.Balance, errors=(403, 500), tags=("Funds",)),
    Route("GET", "/openapi.json", "api.openapi_document", "This document (OpenAPI 3.1)",
          None, errors=(), signed=False, tags=("Documentation",)),
    Route("GET", "/docs", "api.docs_page", "The API documentation as a web page",
          None, errors=(), signed=False, tags=("Documentation",)),
]

AUTH_HEADERS = [
    ("x-api-key", "apiKey", "The API key issued to the partner.", "gsk_..."),
    ("x-client-id", "clientId", "The partner's client id.", "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"),
    ("x-timestamp", "timestamp", "ISO 8601 with Z or an offset; at most 5 minutes from now.", "2026-02-12T14:30:00.000Z"),
    ("x-signature", "signature",
     'base64(HMAC-SHA256(hmac_secret, METHOD + "\\n" + TIMESTAMP + "\\n" + CLIENT_ID + "\\n" + BODY)); '
     "BODY is the raw body sent, empty when none. Each signature is accepted once.", "…"),
]
_DOCUMENTS_ONLY = {"api.openapi_document", "api.docs_page"}
SCHEMA_MODELS: list[type[BaseModel]] = [
    schemas.CustomerCreate, schemas.FundsChange, schemas.CustomerQuery, schemas.CreatedCustomer,
    schemas.Customer, schemas.CustomerPage, schemas.WalletBalance, schemas.FundsResult, schemas.Balance,
    schemas.CurrencyBalance, schemas.ErrorEnvelope, schemas.ErrorDetail, schemas.Forbidden,
]


def _ref(model: type[BaseModel]) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def component_schemas() -> dict:
    _, top = models_json_schema(
        [(model, "validation") for model in SCHEMA_MODELS], ref_template="#/components/schemas/{model}"
    )
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
    for name in route.path_parameters:
        parameters.append({"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}})
    if route.query is not None:
        query_schema = route.query.model_json_schema()
        for name, prop in query_schema.get("properties", {}).items():
            parameters.append({"name": name, "in": "query", "required": name in query_schema.get("required", []),
                               "schema": prop})
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
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["success", "data"],
                    "properties": {"success": {"const": True}, "data": _ref(route.response)},
                }}},
            },
            **{str(status): {"$ref": f"#/components/responses/{status}"} for status in route.errors},
        }
    operation["security"] = [{name: [] for _, name, _, _ in AUTH_HEADERS}] if route.signed else []
    return operation


def openapi() -> dict:
    paths: dict = {}
    for route in ROUTES:
        paths.setdefault(URL_PREFIX + route.path, {})[route.method.lower()] = _operation(route)
    responses = {}
    for status, (code, description) in ERROR_CODES.items():
        model = schemas.Forbidden if status == 403 else schemas.ErrorEnvelope
        example = ({"Message": FORBIDDEN_MESSAGE} if status == 403
                   else {"success": False, "error": {"error": code, "message": description}})
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
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {
                name: {"type": "apiKey", "in": "header", "name": header, "description": description}
                for header, name, description, _ in AUTH_HEADERS
            },
            "parameters": {
                name: {"name": header, "in": "header", "required": True, "description": description,
                       "schema": {"type": "string"}, "example": example}
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
        routes=ROUTES,
        prefix=URL_PREFIX,
        auth_headers=AUTH_HEADERS,
        error_codes=ERROR_CODES,
        schemas=schemas_,
    )
