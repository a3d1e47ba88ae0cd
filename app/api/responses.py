"""JSON in the seed's envelope, with exact decimals: money is written as a JSON number with
its currency's decimal places (`100.00`), never through a float (app/representations.py)."""

from __future__ import annotations

from flask import Response

from app.representations import dumps, iso_utc, money_number  # noqa: F401  (the API's JSON values, shared with webhooks)


class ApiError(Exception):
    """An error answered as {"success": false, "error": {"error": code, "message": message}}."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_response(payload, status: int = 200) -> Response:
    return Response(dumps(payload), status=status, mimetype="application/json")


def success(data) -> Response:
    return json_response({"success": True, "data": data})


def error(status: int, code: str, message: str) -> Response:
    return json_response({"success": False, "error": {"error": code, "message": message}}, status)
