"""The Postman collection of the partner API, generated from its OpenAPI document (app/api/openapi.py).

    .venv/bin/python tests/postman/generate.py      (or `make postman-collection`)

writes postman/gift-store.postman_collection.json and postman/gift-store.postman_environment.json;
tests/unit/test_postman_collection.py checks the committed files are what this writes now, and
`make postman` runs the collection with newman against a live server (tests/postman/run.py).

Every operation of the document is one request, in SCENARIO's order: a run creates a customer, funds
it, orders a card for it, runs a campaign and a webhook, each request expecting its documented status
(200; the last folder shows documented errors). A new operation in the document and not in SCENARIO
stops this script: say where it goes in the run.

The collection's pre-request script signs every request (v1 or v2 by the `signatureVersion`
variable) over the exact raw body after variable substitution, with a fresh timestamp each time.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from app.api.openapi import openapi  # noqa: E402

COLLECTION_PATH = ROOT / "postman" / "gift-store.postman_collection.json"
ENVIRONMENT_PATH = ROOT / "postman" / "gift-store.postman_environment.json"
NAME = "Gift Store partner API"
SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


@dataclass(frozen=True)
class Var:
    """A {{variable}} written into a JSON body without quotes (a number: {{customerId}})."""

    name: str


@dataclass(frozen=True)
class Step:
    operation: str  # the OpenAPI operationId
    name: str = ""  # defaults to the operation's summary
    status: int = 200  # what the API answers (must be one of the operation's documented responses)
    body: dict = field(default_factory=dict)  # fields set over the request schema's required examples
    query: dict = field(default_factory=dict)  # query parameters sent (the others are listed, disabled)
    path: dict = field(default_factory=dict)  # path parameter -> its value (default: {{name}})
    saves: dict = field(default_factory=dict)  # collection variable -> JavaScript expression over `data`
    checks: tuple[str, ...] = ()  # further JavaScript assertions over `data` (or `error` for an error)


# The run, in order: (folder, steps). Values a run must not repeat use {{uniqueId}} (fresh per request).
SCENARIO: list[tuple[str, list[Step]]] = [
    (
        "Customers",
        [
            Step(
                "create_customer",
                body={
                    "fullName": "Postman Customer",
                    "email": "postman-{{uniqueId}}@example.com",
                    "initialFunds": 100,
                    "idempotencyKey": "postman-{{uniqueId}}",
                },
                saves={"customerId": "data.id", "customerEmail": "data.email"},
                checks=("data.walletBalance === 100",),
            ),
            Step("get_customer", checks=("data.id === Number(pm.collectionVariables.get('customerId'))",)),
            Step(
                "list_customers",
                query={"email": "{{customerEmail}}", "perPage": "10"},
                checks=("data.total === 1", "data.items[0].email === pm.collectionVariables.get('customerEmail')"),
            ),
            Step("deactivate_customer", checks=("data.status === 'inactive'",)),
            Step("reactivate_customer", checks=("data.status === 'active'",)),
            Step("put_customer_tags", body={"tags": ["postman", "vip"]}),
        ],
    ),
    (
        "Funds",
        [
            Step("credit_customer", body={"amount": 25, "idempotencyKey": "postman-credit-{{uniqueId}}"}),
            Step("debit_customer", body={"amount": 5, "reason": "Correction", "idempotencyKey": "postman-debit-{{uniqueId}}"}),
            Step("balance"),
        ],
    ),
    (
        "Catalog",
        [
            Step(
                "list_catalog",
                query={"currency": "usd", "perPage": "100"},
                saves={
                    "brandSlug": "data.items.find(brand => brand.amounts.some(a => a.currency === 'USD')).slug",
                    "orderAmount": "(a => a.denominations ? Math.min(...a.denominations) : a.minAmount)"
                    "(data.items.find(brand => brand.amounts.some(a => a.currency === 'USD'))"
                    ".amounts.find(a => a.currency === 'USD'))",
                },
                checks=("data.items.length > 0",),
            ),
        ],
    ),
    (
        "Orders",
        [
            Step(
                "create_order",
                body={
                    "customerId": Var("customerId"),
                    "brand": "{{brandSlug}}",
                    "amount": Var("orderAmount"),
                    "externalRefId": "postman-{{uniqueId}}",
                },
                saves={"orderId": "data.id"},
                checks=("['pending', 'completed'].includes(data.status)",),
            ),
            Step("get_order", path={"publicId": "{{orderId}}"}),
            # An order sent at once is being (or was) delivered: too late to cancel.
            Step("cancel_order", status=402, path={"publicId": "{{orderId}}"}),
            Step("list_orders", query={"customerId": "{{customerId}}"}, checks=("data.total >= 1",)),
            Step("list_transactions", query={"customerId": "{{customerId}}"}, checks=("data.total >= 3",)),
        ],
    ),
    (
        "Campaigns",
        [
            Step(
                "create_campaign",
                body={
                    "name": "Postman campaign",
                    "budget": 100,
                    "perCustomerAmount": 10,
                    "idempotencyKey": "postman-{{uniqueId}}",
                },
                saves={"campaignId": "data.id"},
                checks=("data.status === 'active'",),
            ),
            Step("list_campaigns", query={"status": "active"}),
            Step("get_campaign"),
            Step("update_campaign", body={"name": "Postman campaign (renamed)", "priority": 5}),
            Step("change_campaign_budget", body={"amount": 50, "idempotencyKey": "postman-{{uniqueId}}"}),
            Step(
                "add_campaign_members",
                body={"customerIds": [Var("customerId")]},
                checks=("data.results[0].result === 'allocated'",),
            ),
            Step("remove_campaign_member"),
            Step("pause_campaign", checks=("data.status === 'paused'",)),
            Step("resume_campaign", checks=("data.status === 'active'",)),
            Step("end_campaign"),
            Step("return_unused_campaign_budget"),
        ],
    ),
    (
        "Webhooks",
        [
            Step(
                "create_webhook",
                body={"url": "{{webhookUrl}}", "events": ["order.completed", "order.failed"]},
                saves={"webhookId": "data.id"},
            ),
            Step("list_webhooks"),
            Step("list_deliveries"),
            Step("delete_webhook"),
        ],
    ),
    (
        "Documentation",
        [Step("openapi_document"), Step("docs_page")],
    ),
    (
        "Errors",
        [
            Step(
                "get_customer",
                name="A customer that is not yours: 404",
                status=404,
                path={"customerId": "2147483647"},
                checks=("error.error === 'NOT_FOUND'",),
            ),
            Step(
                "debit_customer",
                name="More than the wallet holds: 402",
                status=402,
                body={"amount": 1000000, "reason": "Too much", "idempotencyKey": "postman-{{uniqueId}}"},
                checks=("error.error === 'BUSINESS_RULE_ERROR'",),
            ),
            Step(
                "create_customer",
                name="A field that is not valid: 400 naming it",
                status=400,
                body={"fullName": "Postman Customer", "email": "postman-{{uniqueId}}@example.com", "initialFunds": -1},
                checks=("error.error === 'VALIDATION_ERROR'", "error.message.includes('initialFunds')"),
            ),
        ],
    ),
]

PRE_REQUEST = """\
// Signs every request of this collection as the Gift Store partner API checks it.
// Variables (environment): baseUrl, apiKey, clientId, hmacSecret, signatureVersion ("1" or "2").
const cryptoJs = require('crypto-js');  // (CryptoJS is also a global of Postman's sandbox: not redeclared)

// A fresh timestamp for every request, never the same one twice: two requests with the same method and
// body in the same millisecond would have the same v1 signature, and the second would be refused as a replay.
let now = Date.now();
const lastSignedAt = Number(pm.collectionVariables.get('lastSignedAt') || 0);
if (now <= lastSignedAt) {
    now = lastSignedAt + 1;
}
pm.collectionVariables.set('lastSignedAt', String(now));
const timestamp = new Date(now).toISOString();

// {{uniqueId}}: a value no other request uses (emails, idempotency keys, order references).
pm.variables.set('uniqueId', now.toString(36) + Math.random().toString(36).slice(2, 8));

// The body exactly as sent: the raw text with its {{variables}} filled in. (Not pm.request.data: it is
// undefined in current Postman and newman, so a script that signs it signs an empty body and every POST
// gets 403.) The filled-in text is also what is sent, so what was signed and what is sent are the same bytes.
let body = '';
if (pm.request.body && pm.request.body.mode === 'raw' && pm.request.body.raw) {
    body = pm.variables.replaceIn(pm.request.body.raw);
    pm.request.body.update({ mode: 'raw', raw: body, options: { raw: { language: 'json' } } });
}

const method = pm.request.method.toUpperCase();
const clientId = pm.variables.get('clientId');
const version = String(pm.variables.get('signatureVersion') || '1');
let toSign;
if (version === '2') {
    // v2 also signs PATH (as sent) and QUERY: its name=value pairs sorted by name, then value, kept as sent.
    const url = pm.variables.replaceIn(pm.request.url.toString()).split('#')[0];
    const target = url.replace(/^[a-z][a-z0-9+.-]*:\\/\\/[^/?]*/i, '');
    const mark = target.indexOf('?');
    const path = mark < 0 ? target : target.slice(0, mark);
    const pairs = (mark < 0 ? '' : target.slice(mark + 1)).split('&').filter(Boolean).map(function (pair) {
        const equals = pair.indexOf('=');
        return equals < 0 ? [pair, '', ''] : [pair.slice(0, equals), '=', pair.slice(equals + 1)];
    });
    pairs.sort(function (a, b) {
        return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0;
    });
    const query = pairs.map(function (pair) { return pair.join(''); }).join('&');
    toSign = [method, path || '/', query, timestamp, clientId, body].join('\\n');
} else {
    toSign = [method, timestamp, clientId, body].join('\\n');
}
const signature = cryptoJs.HmacSHA256(toSign, pm.variables.get('hmacSecret')).toString(cryptoJs.enc.Base64);

pm.request.headers.upsert({ key: 'x-api-key', value: pm.variables.get('apiKey') });
pm.request.headers.upsert({ key: 'x-client-id', value: clientId });
pm.request.headers.upsert({ key: 'x-timestamp', value: timestamp });
pm.request.headers.upsert({ key: 'x-signature-version', value: version });
pm.request.headers.upsert({ key: 'x-signature', value: signature });
"""

DESCRIPTION = """\
Every operation of the Gift Store partner API, generated from its OpenAPI document
(/api/partner/v1/openapi.json). Import it with the environment beside it, fill in baseUrl,
apiKey, clientId and hmacSecret (from `flask --app app create-partner` or the portal's API keys
page), and run the whole collection: each request checks its documented status.

The collection's pre-request script signs every request:
- over the exact raw body after variable substitution (pm.variables.replaceIn(pm.request.body.raw)),
  never pm.request.data, which is undefined in current Postman and newman;
- with a fresh timestamp each time (no two requests share one, so none is refused as a replay);
- v1 or v2 by the signatureVersion variable (v2 also covers the path and query: prefer it).

A request the API refuses gets a bare 403; the portal's API keys page shows why (its last 50
refused requests per key) and has a signing playground.

Command line: `npx newman run gift-store.postman_collection.json -e gift-store.postman_environment.json`."""

ENVIRONMENT = [
    ("baseUrl", "http://127.0.0.1:5000", "default"),
    ("apiKey", "", "secret"),
    ("clientId", "", "default"),
    ("hmacSecret", "", "secret"),
    ("signatureVersion", "2", "default"),
    ("webhookUrl", "https://partner.example.com/hooks/giftstore", "default"),
]
COLLECTION_VARIABLES = ["customerId", "customerEmail", "brandSlug", "orderAmount", "orderId", "campaignId", "webhookId"]


def _example(schema: dict, components: dict):
    """The first example of a property (through anyOf and $ref), else its default."""
    if "$ref" in schema:
        return _example(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if schema.get("examples"):
        return schema["examples"][0]
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            found = _example(option, components)
            if found is not None:
                return found
    return schema.get("default")


def _json_body(values: dict) -> str:
    """Pretty JSON (as people write it in Postman), with Var(...) written as bare {{name}}."""
    marks = {}

    def mark(value):
        if isinstance(value, Var):
            token = f"@@var{len(marks)}@@"
            marks[token] = "{{" + value.name + "}}"
            return token
        if isinstance(value, list):
            return [mark(item) for item in value]
        if isinstance(value, dict):
            return {name: mark(item) for name, item in value.items()}
        return value

    text = json.dumps(mark(values), indent=2, ensure_ascii=False)
    for token, variable in marks.items():
        text = text.replace(f'"{token}"', variable)
    return text


def _body(operation: dict, step: Step, components: dict) -> str | None:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        if step.body:
            raise SystemExit(f"{step.operation} takes no body, but SCENARIO gives it one")
        return None
    schema = components[content["schema"]["$ref"].rsplit("/", 1)[1]]
    properties = schema.get("properties", {})
    unknown = set(step.body) - set(properties)
    if unknown:
        raise SystemExit(f"{step.operation}: SCENARIO sets {sorted(unknown)}, which its schema does not have")
    values = {name: _example(properties[name], components) for name in schema.get("required", [])}
    values.update(step.body)
    return _json_body({name: values[name] for name in properties if name in values})


def _query(operation: dict, step: Step) -> list[dict]:
    query = []
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "query":
            continue
        name = parameter["name"]
        schema = parameter.get("schema", {})
        if name in step.query:
            query.append({"key": name, "value": step.query[name]})
        else:
            example = _example(schema, {}) if "$ref" not in schema else None
            query.append({"key": name, "value": "" if example is None else str(example), "disabled": True})
        if schema.get("description") or parameter.get("description"):
            query[-1]["description"] = parameter.get("description") or schema["description"]
    unknown = set(step.query) - {item["key"] for item in query}
    if unknown:
        raise SystemExit(f"{step.operation}: SCENARIO sends query parameters {sorted(unknown)} it does not document")
    return query


def _script(lines: str) -> list[str]:
    return lines.rstrip("\n").split("\n")


def _tests(step: Step, method: str, route: str) -> list[str]:
    lines = [
        f"pm.test('{method} {route} answers {step.status}', function () {{",
        f"    pm.response.to.have.status({step.status});",
        "});",
    ]
    if step.saves or step.checks:
        subject = "data" if step.status == 200 else "error"
        lines.append(f"if (pm.response.code === {step.status}) {{")
        lines.append(f"    const {subject} = pm.response.json().{'data' if step.status == 200 else 'error'};")
        for name, expression in step.saves.items():
            lines.append(f"    pm.collectionVariables.set('{name}', String({expression}));")
        for check in step.checks:
            quoted = check.replace("\\", "\\\\").replace("'", "\\'")
            lines.append(f"    pm.test('{quoted}', function () {{ pm.expect({check}).to.be.true; }});")
        lines.append("}")
    return lines


def _request(document: dict, step: Step, operations: dict) -> dict:
    method, route, operation = operations[step.operation]
    documented = {int(status) for status in operation["responses"] if status.isdigit()}
    if step.status not in documented:
        raise SystemExit(f"{step.operation}: {step.status} is not one of its documented statuses {sorted(documented)}")
    components = document["components"]["schemas"]
    path = re.sub(r"\{(\w+)\}", lambda m: step.path.get(m.group(1), "{{" + m.group(1) + "}}"), route)
    query = _query(operation, step)
    sent = "&".join(f"{item['key']}={item['value']}" for item in query if not item.get("disabled"))
    request: dict = {
        "method": method,
        "header": [],
        "url": {
            "raw": "{{baseUrl}}" + path + (f"?{sent}" if sent else ""),
            "host": ["{{baseUrl}}"],
            "path": [part for part in path.split("/") if part],
        },
    }
    if query:
        request["url"]["query"] = query
    body = _body(operation, step, components)
    if body is not None:
        request["header"].append({"key": "Content-Type", "value": "application/json"})
        request["body"] = {"mode": "raw", "raw": body, "options": {"raw": {"language": "json"}}}
    description = operation.get("description", "")
    if description:
        request["description"] = description
    return {
        "name": step.name or operation["summary"],
        "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": _tests(step, method, route)}}],
        "request": request,
    }


def collection(document: dict | None = None) -> dict:
    document = document or openapi()
    operations = {
        operation["operationId"]: (method.upper(), route, operation)
        for route, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    planned = {step.operation for _folder, steps in SCENARIO for step in steps}
    missing = sorted(set(operations) - planned)
    if missing:
        raise SystemExit(f"the OpenAPI document has operations the collection does not run: {missing} (add them to SCENARIO)")
    gone = sorted(planned - set(operations))
    if gone:
        raise SystemExit(f"SCENARIO names operations the OpenAPI document does not have: {gone}")
    return {
        "info": {
            "_postman_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "gift-store/partner-api/postman-collection")),
            "name": NAME,
            "description": DESCRIPTION,
            "schema": SCHEMA,
        },
        "event": [{"listen": "prerequest", "script": {"type": "text/javascript", "exec": _script(PRE_REQUEST)}}],
        "variable": [{"key": name, "value": ""} for name in [*COLLECTION_VARIABLES, "lastSignedAt"]],
        "item": [
            {"name": folder, "item": [_request(document, step, operations) for step in steps]} for folder, steps in SCENARIO
        ],
    }


def environment() -> dict:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "gift-store/partner-api/postman-environment")),
        "name": f"{NAME} (local)",
        "values": [{"key": key, "value": value, "type": kind, "enabled": True} for key, value, kind in ENVIRONMENT],
        "_postman_variable_scope": "environment",
    }


def as_text(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    COLLECTION_PATH.parent.mkdir(exist_ok=True)
    COLLECTION_PATH.write_text(as_text(collection()), encoding="utf-8")
    ENVIRONMENT_PATH.write_text(as_text(environment()), encoding="utf-8")
    print(f"wrote {COLLECTION_PATH.relative_to(ROOT)} and {ENVIRONMENT_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
