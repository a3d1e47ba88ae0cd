"""Handing one email to the SMTP server: the message flask-mail composes, over a connection each thread keeps.

flask-mail opened a connection for every email (connect, EHLO, the message, QUIT) and built the message's bytes
with the `SMTP` email policy, which parses every header again to write it: together most of an email's cost when a
bulk upload sends 10,000 welcome emails. Here a thread keeps its connection for up to `MESSAGES_PER_CONNECTION`
messages while it stays healthy, and the bytes come from the same message with each header folded exactly as that
policy folds it (byte for byte: tests/unit/test_outbound_mail.py) but remembered, since most headers repeat.

A connection is reused only when the server has said nothing since its last message: one the server closed
meanwhile (its idle timeout, a restart) has something to read and is replaced before use. Any failure while sending
closes the connection and goes to the caller as before, whose queue retries the email: a message is never sent a
second time here.
"""

from __future__ import annotations

import os
import select
import smtplib
import threading
import time
from email import policy
from email._policybase import Compat32
from functools import lru_cache

from flask import current_app
from flask_mail import BadHeaderError, Message, sanitize_address, sanitize_addresses

MESSAGES_PER_CONNECTION = 100  # then a fresh one: some servers limit a session's messages
IDLE_SECONDS = 60  # a connection left longer is not trusted (servers close idle ones after a few minutes)
TIMEOUT_SECONDS = 60  # a server that stops answering fails the attempt instead of holding a worker thread forever


@lru_cache(maxsize=1024)
def _folded(name: str, value: str) -> bytes:
    # Most headers repeat from one message to the next (MIME-Version, the parts' Content-Type, From, a welcome's Subject).
    return policy.SMTP.fold_binary(name, value)


class _FoldedAsSmtp(Compat32):
    """Reads headers as plain strings (cheap) and writes each exactly as the `SMTP` policy writes it."""

    def fold_binary(self, name, value):
        return _folded(name, value)

    def fold(self, name, value):
        return _folded(name, value).decode("ascii")


_AS_SMTP = _FoldedAsSmtp(linesep="\r\n", mangle_from_=False)


def message_bytes(message: Message) -> bytes:
    """The bytes flask-mail sends for `message` (the same headers, parts and encodings), built in a third of the time."""
    mime = message._message()
    mime.policy = _AS_SMTP
    return mime.as_bytes()


class _Connection(threading.local):
    host: smtplib.SMTP | None = None
    pid: int = 0  # a process forked from the one that opened it never writes to its socket
    settings: tuple = ()
    messages: int = 0
    last_used: float = 0.0


_connection = _Connection()


def send(*, subject: str, to: str, text: str, html: str) -> None:
    """Hand one message to the SMTP server (MAIL_SERVER and the other MAIL_ settings). Raises on any failure."""
    mail = current_app.extensions["mail"]
    message = Message(subject=subject, recipients=[to], body=text, html=html)
    if message.has_bad_headers():
        raise BadHeaderError("a newline in the subject or an address")
    if mail.suppress:
        return
    message.date = time.time()
    data = message_bytes(message)
    host = _open(mail)
    try:
        host.sendmail(sanitize_address(message.sender), sanitize_addresses(message.send_to), data)
    except BaseException:
        close()  # a connection that failed once is not trusted with the next message
        raise
    _connection.messages += 1
    _connection.last_used = time.monotonic()


def close() -> None:
    """Close this thread's connection: with QUIT while the server still listens, else just the socket."""
    host, _connection.host = _connection.host, None
    if host is None:
        return
    try:
        if not _has_news(host):
            host.quit()
    except (smtplib.SMTPException, OSError):
        pass
    host.close()


def _has_news(host: smtplib.SMTP) -> bool:
    """Something to read on an idle connection: the server closed it (end of file) or said goodbye (421)."""
    if host.sock is None:
        return True
    readable, _, _ = select.select([host.sock], [], [], 0)
    return bool(readable)


def _open(mail) -> smtplib.SMTP:
    settings = (mail.server, mail.port, mail.use_ssl, mail.use_tls, mail.username, mail.password)
    if _connection.pid != os.getpid():
        _connection.host = None  # the parent's: left to the parent, not closed from here
    if _connection.host is not None and not _reusable(settings):
        close()
    if _connection.host is None:
        _connection.host = _connect(mail)
        _connection.pid, _connection.settings, _connection.messages = os.getpid(), settings, 0
    return _connection.host


def _reusable(settings: tuple) -> bool:
    host = _connection.host
    if host is None or _connection.settings != settings:
        return False
    if _connection.messages >= MESSAGES_PER_CONNECTION or time.monotonic() - _connection.last_used > IDLE_SECONDS:
        return False
    return not _has_news(host)  # a healthy idle SMTP connection has nothing to say


def _connect(mail) -> smtplib.SMTP:
    """A connection as flask-mail opened one (SSL or STARTTLS, login when a username and password are set)."""
    host: smtplib.SMTP
    if mail.use_ssl:
        host = smtplib.SMTP_SSL(mail.server, mail.port, timeout=TIMEOUT_SECONDS)
    else:
        host = smtplib.SMTP(mail.server, mail.port, timeout=TIMEOUT_SECONDS)
    try:
        host.set_debuglevel(int(mail.debug))
        if mail.use_tls:
            host.starttls()
        if mail.username and mail.password:
            host.login(mail.username, mail.password)
    except BaseException:
        host.close()
        raise
    return host
