"""Static files: compressed (brotli, else gzip) with pages and JSON, and cached for good under a versioned URL.

`url_for('static', filename=...)` adds `?v=<the file's content hash>`: a deploy that changes a file changes its
URL, so a request carrying the current hash is answered with a year's immutable cache; any other keeps the
short default (SEND_FILE_MAX_AGE_DEFAULT). Compression itself is flask-compress, set up in create_app.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Flask, request

YEAR = 365 * 24 * 3600
# What is compressed: pages, partials, stylesheets, scripts, JSON (the API), SVG. Not images already
# compressed (PNG logos), nor CSV exports (streamed, their first byte should not wait for a compressor).
COMPRESSED_MIMETYPES = [
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/problem+json",
    "image/svg+xml",
]


def compression_settings() -> dict:
    return {
        "COMPRESS_ALGORITHM": ["br", "gzip"],
        "COMPRESS_ALGORITHM_STREAMING": ["br"],
        "COMPRESS_MIMETYPES": COMPRESSED_MIMETYPES,
        "COMPRESS_BR_LEVEL": 5,  # pages are compressed per request: a level that costs well under a millisecond
        "COMPRESS_MIN_SIZE": 500,
    }


def register_assets(app: Flask) -> None:
    folder = Path(app.static_folder or "")
    versions: dict[str, str] = {}

    def version_of(filename: str) -> str:
        if filename not in versions:
            try:
                versions[filename] = hashlib.sha256((folder / filename).read_bytes()).hexdigest()[:12]
            except OSError:
                versions[filename] = ""
        return versions[filename]

    @app.url_defaults
    def versioned_static(endpoint, values):
        if endpoint == "static" and "filename" in values and "v" not in values:
            version = version_of(values["filename"])
            if version:
                values["v"] = version

    @app.after_request
    def cache_versioned_static(response):
        if request.endpoint == "static" and response.status_code in (200, 304):
            filename = (request.view_args or {}).get("filename", "")
            if request.args.get("v") and request.args.get("v") == version_of(filename):
                response.cache_control.max_age = YEAR
                response.cache_control.public = True
                response.cache_control.immutable = True
        return response
