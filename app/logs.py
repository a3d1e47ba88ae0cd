"""Log lines: plain text (development) or one JSON object per line (`LOG_FORMAT=json`), each with the id of the
request it belongs to.

A request's id is the `X-Request-Id` it came with when that looks like an id (a proxy or load balancer made it),
else a new one; the response echoes it. Queued tasks carry the id of the request (or task) that queued them,
so the lines of a checkout, of its fulfilment and of the emails that follows it share one id. The id lives in a
ContextVar: each request and each task runs in its own thread or context.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar, Token
from datetime import UTC, datetime

REQUEST_ID_HEADER = "X-Request-Id"
# What an incoming id may look like: a UUID, a load balancer's trace id, short and printable. Anything else
# (too long, spaces, quotes, control characters that could forge a log line) is replaced by a new id.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,99}$")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(incoming: str | None) -> str:
    """The incoming id when it is a sane one, else a new one."""
    return incoming if incoming and SANE_REQUEST_ID.match(incoming) else new_request_id()


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(request_id: str | None) -> Token:
    return _request_id.set(request_id)


def reset_request_id(token: Token) -> None:
    _request_id.reset(token)


# The attributes every LogRecord has: whatever else a record carries came in `extra=` and goes into the JSON.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, request_id, what came in `extra=`,
    and the traceback as `exc_info` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": current_request_id(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when the record comes (test runners swap it)."""

    def __init__(self):
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(log_format: str) -> None:
    """The root logger's handler: text, or JSON lines when `log_format` is "json". Once per process; a second
    app built in the same process (tests) only changes the format."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _Stderr)), None)
    if handler is None:
        if root.handlers and log_format != "json":
            return  # someone configured logging already (a test runner, gunicorn's --log-config): leave it
        handler = _Stderr()
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
