"""Handing email to SMTP (app/outbound_mail.py): the bytes flask-mail sent, over one connection a thread keeps,
replaced when the server dropped it or a send failed."""

from __future__ import annotations

import random
import smtplib
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from flask_mail import Mail, Message

from app import outbound_mail
from tests.conftest import free_port


@pytest.fixture
def mail_app():
    """A bare Flask app with flask-mail set up as create_app sets it (no database: this is about SMTP only)."""
    app = Flask(__name__)
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_DEFAULT_SENDER="Gift Store <no-reply@giftstore.local>")
    Mail(app)
    with app.app_context():
        yield app
    outbound_mail.close()


class Server:
    """A real SMTP server remembering, per message, the client's address and port: one per connection."""

    def __init__(self, port: int, *, idle_timeout: float = 300, refuse: str = ""):
        self.peers: list[tuple[str, int]] = []
        self.refuse = refuse  # an address whose messages are answered "try again later"
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=port, timeout=idle_timeout)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        if self.refuse in envelope.rcpt_tos:
            return "451 Try again later"
        with self.lock:
            self.peers.append(session.peer)
        return "250 OK"

    @property
    def connections(self) -> int:
        with self.lock:
            return len(set(self.peers))

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def server(mail_app):
    started = Server(mail_app.config["MAIL_PORT"])
    yield started
    started.stop()


def send(n: int = 1) -> None:
    outbound_mail.send(subject=f"Welcome {n}", to=f"person{n}@example.com", text="Hello", html="<p>Hello</p>")


SUBJECTS_AND_ADDRESSES = [
    ("Your Acme Rewards account is ready", "ann@example.com"),
    ("Your Café Crème — Récompenses account is ready ☕, with a tail long enough to fold over the line", "jo+x@example.com"),
    ("X" * 40 + " sent you a " + "Y" * 60 + " gift card", "a.rather.long.address.of.someone@subdomain.example.com"),
    ("日本語の件名です。とても長い件名で折り返しが必要になります。日本語の件名です。", "bo@example.com"),
    ("Plain", '"Lee, Sam" <sam@example.com>'),
]


@pytest.mark.parametrize(("subject", "to"), SUBJECTS_AND_ADDRESSES)
def test_the_bytes_sent_are_byte_for_byte_those_flask_mail_built(mail_app, subject, to):
    text = "Hi Zoë,\n\n  Temporary password: kfq7-m2xp-9tzr\n" * 40
    html = "<p>Hi Zoë ☕</p>" * 200
    message = Message(subject=subject, recipients=[to], body=text, html=html, date=1_790_000_000)
    random.seed(21)  # the same MIME boundaries for both
    ours = outbound_mail.message_bytes(message)
    random.seed(21)
    assert ours == message.as_bytes()
    for header in (b"From: ", b"To: ", b"Subject: ", b"Date: ", b"Message-ID: "):
        assert header in ours


def test_one_connection_carries_many_messages(server):
    for n in range(5):
        send(n)
    assert len(server.peers) == 5 and server.connections == 1


def test_a_connection_the_server_dropped_is_replaced_before_the_next_message(mail_app):
    server = Server(mail_app.config["MAIL_PORT"], idle_timeout=0.3)  # aiosmtpd closes a connection idle that long
    try:
        send(1)
        time.sleep(1.0)
        send(2)  # would fail on the closed connection: it is noticed and replaced first
        assert len(server.peers) == 2 and server.connections == 2
    finally:
        server.stop()


def test_a_server_restarted_between_messages_gets_a_new_connection(mail_app):
    port = mail_app.config["MAIL_PORT"]
    first = Server(port)
    send(1)
    first.stop()
    second = Server(port)
    try:
        send(2)
        assert len(second.peers) == 1
    finally:
        second.stop()


def test_a_failed_send_raises_closes_the_connection_and_the_next_one_opens_a_new_one(mail_app):
    server = Server(mail_app.config["MAIL_PORT"], refuse="person1@example.com")
    try:
        send(0)
        with pytest.raises(smtplib.SMTPDataError):
            send(1)
        assert outbound_mail._connection.host is None
        send(2)
        assert len(server.peers) == 2 and server.connections == 2
    finally:
        server.stop()


def test_no_server_raises_as_flask_mail_did(mail_app):
    with pytest.raises(ConnectionRefusedError):
        send()


def test_a_connection_is_renewed_after_its_share_of_messages(server, monkeypatch):
    monkeypatch.setattr(outbound_mail, "MESSAGES_PER_CONNECTION", 2)
    for n in range(5):
        send(n)
    assert server.connections == 3


def test_other_mail_settings_get_their_own_connection(mail_app, server):
    send(1)
    other = Server(free_port())
    try:
        mail_app.extensions["mail"].port = other.controller.port
        send(2)
        assert len(server.peers) == 1 and len(other.peers) == 1
    finally:
        other.stop()


def test_each_thread_keeps_its_own_connection(mail_app, server):
    def worker(first: int) -> None:
        with mail_app.app_context():
            for n in range(first, first + 3):
                send(n)
            outbound_mail.close()

    threads = [threading.Thread(target=worker, args=(k * 10,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(server.peers) == 9 and server.connections == 3
