"""JSON in the seed's envelope, with exact decimals: money is written as a JSON number with
its currency's decimal places (`100.00`), never through a float."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from flask import Response

from app.domain.money import Money, minor_digits


class ApiError(Exception):
    """An error answered as {"success": false, "error": {"error": code, "message": message}}."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def money_number(amount: Money) -> Decimal:
    """100.00 for USD, 100 for JPY: the currency's decimal places, written as a JSON number."""
    return amount.to_decimal().quantize(Decimal(1).scaleb(-minor_digits(amount.currency)))


def iso_utc(moment: datetime | None) -> str | None:
    """'2026-02-12T14:30:00.123456Z'; the database hands back naive UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC).isoformat().replace("+00:00", "Z")


def dumps(value) -> str:
    """json.dumps for the API: Decimal is written as its exact digits, unquoted; floats are refused."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("cannot encode a non-finite Decimal")
        return format(value, "f")
    if isinstance(value, float):
        raise TypeError("floats are not allowed in API responses: use Decimal")
    if value is None or isinstance(value, (bool, int, str)):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} in an API response")


def json_response(payload, status: int = 200) -> Response:
    return Response(dumps(payload), status=status, mimetype="application/json")


def success(data) -> Response:
    return json_response({"success": True, "data": data})


def error(status: int, code: str, message: str) -> Response:
    return json_response({"success": False, "error": {"error": code, "message": message}}, status)
