"""The committed Postman collection is the one tests/postman/generate.py makes from the OpenAPI document
now, it runs every operation, and its pre-request script signs what the API verifies (newman runs it
for real against a live server: `make postman`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from app.api.openapi import openapi
from app.security import request_signature, string_to_sign
from tests.postman import generate


def test_the_committed_collection_and_environment_are_what_the_generator_makes_now():
    """After changing the API (app/api/openapi.py, app/api/schemas.py): `make postman-collection`."""
    assert generate.COLLECTION_PATH.read_text(encoding="utf-8") == generate.as_text(generate.collection())
    assert generate.ENVIRONMENT_PATH.read_text(encoding="utf-8") == generate.as_text(generate.environment())


def requests_in(collection: dict) -> list[dict]:
    return [request for folder in collection["item"] for request in folder["item"]]


def test_every_operation_of_the_api_is_in_the_collection_with_a_documented_status():
    document = openapi()
    collection = json.loads(generate.COLLECTION_PATH.read_text(encoding="utf-8"))
    checked = set()
    for item in requests_in(collection):
        tests = "\n".join(item["event"][0]["script"]["exec"])
        method, route, status = re.search(r"pm\.test\('(\w+) (\S+) answers (\d+)'", tests).groups()
        assert f"pm.response.to.have.status({status});" in tests
        assert item["request"]["method"] == method
        assert status in document["paths"][route][method.lower()]["responses"]
        checked.add((method, route))
    operations = {(method.upper(), route) for route, methods in document["paths"].items() for method in methods}
    assert checked == operations


def test_the_generator_refuses_an_operation_it_does_not_know_where_to_run():
    document = openapi()
    document["paths"]["/api/partner/v1/new-thing"] = {"get": {"operationId": "new_thing", "summary": "New", "responses": {}}}
    with pytest.raises(SystemExit, match="new_thing"):
        generate.collection(document)


def test_the_pre_request_script_signs_the_raw_body_after_substitution_with_a_fresh_timestamp():
    script = generate.PRE_REQUEST
    assert "pm.variables.replaceIn(pm.request.body.raw)" in script
    assert "pm.request.data" not in script.replace("Not pm.request.data", "")  # only named in the comment
    assert "new Date(now).toISOString()" in script and "lastSignedAt" in script


# The script run by Node.js with a small stand-in for Postman's `pm` (HMAC-SHA256 from Node's crypto, as
# crypto-js computes it): its strings to sign are the verifier's (app/security.py), v1 and v2.
HARNESS = """
const nodeCrypto = require('crypto');
const input = JSON.parse(process.argv[1]);
const variables = Object.assign({}, input.variables);
const collectionVariables = {};
const headers = {};
let sentBody = input.body;
const fill = text => text.replace(/\\{\\{(\\w+)\\}\\}/g, (_, name) => variables[name] !== undefined ? String(variables[name]) : '');
const pm = {
  variables: { get: n => variables[n], set: (n, v) => { variables[n] = v; }, replaceIn: fill },
  collectionVariables: { get: n => collectionVariables[n], set: (n, v) => { collectionVariables[n] = v; } },
  request: {
    method: input.method,
    url: { toString: () => input.url },
    body: input.body === null ? undefined : { mode: 'raw', raw: input.body, update: b => { sentBody = b.raw; } },
    headers: { upsert: h => { headers[h.key] = h.value; } },
  },
};
const cryptoJsStandIn = name => name === 'crypto-js' ? {
  HmacSHA256: (message, key) => ({ toString: () => nodeCrypto.createHmac('sha256', key).update(message, 'utf8').digest('base64') }),
  enc: { Base64: 'base64' },
} : null;
(function (require, pm) {
%s
})(cryptoJsStandIn, pm);
process.stdout.write(JSON.stringify({ headers, sentBody, uniqueId: variables.uniqueId }));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed (CI has it: newman runs on it)")
@pytest.mark.parametrize("version", ["1", "2"])
def test_the_pre_request_scripts_signature_is_the_one_the_api_verifies(version):
    program = HARNESS % generate.PRE_REQUEST
    secret, client_id = "s3cret-for-the-test", "client-42"
    raw = '{\n  "fullName": "Zoë {{who}}",\n  "email": "z-{{uniqueId}}@example.com"\n}'
    url = "{{baseUrl}}/api/partner/v1/customers?status=active&email=z%40example.com&perPage=5"
    variables = {
        "baseUrl": "http://127.0.0.1:5000",
        "who": "Ä",
        "clientId": client_id,
        "hmacSecret": secret,
        "signatureVersion": version,
    }
    done = subprocess.run(
        ["node", "-e", program, json.dumps({"variables": variables, "method": "post", "url": url, "body": raw})],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    out = json.loads(done.stdout)
    headers, body = out["headers"], out["sentBody"]
    assert body == raw.replace("{{who}}", "Ä").replace("{{uniqueId}}", out["uniqueId"])  # sent = signed
    to_sign = string_to_sign(
        version,
        "POST",
        "/api/partner/v1/customers",
        "status=active&email=z%40example.com&perPage=5",
        headers["x-timestamp"],
        client_id,
        body,
    )
    assert headers["x-signature"] == request_signature(secret, to_sign)
    assert headers["x-signature-version"] == version and headers["x-client-id"] == client_id
