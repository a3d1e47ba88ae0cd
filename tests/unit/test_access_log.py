import logging

import pytest

from app.access_log import ResetTokenMask, mask_reset_tokens

TOKEN = "q3Vx_Rk9-abcDEF0123456789ghijklmnopqrstuvwx"


def record(msg, args) -> logging.LogRecord:
    return logging.LogRecord("werkzeug", logging.INFO, __file__, 1, msg, args, None)


def test_a_werkzeug_request_line_with_a_reset_link_is_logged_without_its_token():
    # werkzeug's development server: "%s - - [%s] %s" with the (possibly coloured) request line.
    line = record(
        "%s - - [%s] %s\n", ("127.0.0.1", "03/Dec/2026 10:00:00", f'"\x1b[32mGET /s/acme/reset/{TOKEN} HTTP/1.1\x1b[0m" 303 -')
    )
    assert ResetTokenMask().filter(line) is True
    assert TOKEN not in line.getMessage()
    assert '"\x1b[32mGET /s/acme/reset/[hidden] HTTP/1.1\x1b[0m" 303 -' in line.getMessage()


def test_a_gunicorn_access_line_with_a_reset_link_is_logged_without_its_token():
    # gunicorn: its access_log_format with a mapping of atoms; the Referer (%(f)s) may carry the link too.
    atoms = {
        "h": "10.0.0.5",
        "r": f"POST /s/acme/reset/{TOKEN}?x=1 HTTP/1.1",
        "s": "303",
        "f": f"https://gifts.example/s/acme/reset/{TOKEN}",
    }
    line = record('%(h)s "%(r)s" %(s)s "%(f)s"', atoms)
    ResetTokenMask().filter(line)
    assert (
        line.getMessage()
        == '10.0.0.5 "POST /s/acme/reset/[hidden]?x=1 HTTP/1.1" 303 "https://gifts.example/s/acme/reset/[hidden]"'
    )


@pytest.mark.parametrize("text", ["GET /s/acme/reset HTTP/1.1", "GET /s/acme/login HTTP/1.1", "POST /s/acme/forgot"])
def test_lines_without_a_token_are_left_as_they_are(text):
    assert mask_reset_tokens(text) == text
    line = record("%s", (text,))
    ResetTokenMask().filter(line)
    assert (line.msg, line.args) == ("%s", (text,))


def test_a_gift_page_link_is_logged_without_its_token():
    # The recipient's gift page keeps its token in the address (issue #18): every request line for it is masked.
    line = record("%s - - [%s] %s\n", ("127.0.0.1", "03/Dec/2026 10:00:00", f'"GET /s/acme/gift/{TOKEN} HTTP/1.1" 200 -'))
    ResetTokenMask().filter(line)
    assert TOKEN not in line.getMessage() and '"GET /s/acme/gift/[hidden] HTTP/1.1" 200 -' in line.getMessage()
