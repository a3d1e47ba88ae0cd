"""Absolute links for emails and CLI output, built from BASE_URL (no request needed)."""

from flask import current_app


def external_url(endpoint: str, **values) -> str:
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["BASE_URL"].rstrip("/") + path
