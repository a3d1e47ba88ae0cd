"""Access logs never keep a password-reset token, nor a gift page's.

The emailed reset link carries its token in the path (/s/<slug>/reset/<token>); the store moves it into the
session and redirects to a clean URL on the first request, but that first request line still reaches the
server's access log (werkzeug's in development, gunicorn's in production) and, on an error, Flask's own log.
A gift page (/s/<slug>/gift/<token>) keeps its token in the address (the recipient comes back to it): every
request line for it is masked the same way.
"""

from __future__ import annotations

import logging
import re

from flask import Flask

# The token segment after /reset/ or /gift/, up to whatever ends a path in a log line (space, quote, query, fragment).
RESET_TOKEN_IN_PATH = re.compile(r"(/(?:reset|gift)/)[^\s\"'?#/]+")
MASK = "[hidden]"
# werkzeug: the development server's request lines; gunicorn.access: gunicorn's (when --access-logfile is set).
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")


def mask_reset_tokens(text: str) -> str:
    return RESET_TOKEN_IN_PATH.sub(rf"\g<1>{MASK}", text)


class ResetTokenMask(logging.Filter):
    """Rewrites a record's message with any reset token masked (the record is formatted here, once)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_reset_tokens(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def mask_reset_tokens_in_logs(app: Flask) -> None:
    """Install the mask on the access loggers and the app's own (once per logger: tests build many apps)."""
    for logger in [*map(logging.getLogger, ACCESS_LOGGERS), app.logger]:
        if not any(isinstance(existing, ResetTokenMask) for existing in logger.filters):
            logger.addFilter(ResetTokenMask())
