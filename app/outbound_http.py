"""Calls from the app to addresses a partner gave us (webhooks): which URLs may be called, and one POST.

Outside development and tests (`allow_local=False`) a URL must be https and its host must resolve
only to public addresses. The check runs again right before every call (DNS can change), and the
connection goes to the address that was checked, while TLS still verifies the URL's host name.
Redirects are never followed, no proxy is used, and the response body is never read.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.domain.errors import InvalidInput

URL_MAX = 500


class UnsafeUrl(InvalidInput):
    """A URL we will not call."""


@dataclass(frozen=True)
class Answer:
    """How one POST went: the HTTP status (None when there was none) and why it failed ("" when 2xx)."""

    status_code: int | None
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# --- which URLs may be called ---------------------------------------------------------------


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address):
        # The IPv4 address inside ::ffff:a.b.c.d, or inside 6to4's 2002:aabb:ccdd::/48 (a relay would call
        # a.b.c.d). NAT64's 64:ff9b:: forms lie in ::/8, which counts as reserved: refused whatever they carry.
        ip = ip.ipv4_mapped or ip.sixtofour or ip
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_private or ip.is_loopback or ip.is_link_local)


def _parse(url: str, *, allow_local: bool):
    if not isinstance(url, str) or not url.strip():
        raise UnsafeUrl("url is required.", field="url")
    if len(url) > URL_MAX:
        raise UnsafeUrl(f"url can be at most {URL_MAX} characters.", field="url")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"url is not a valid URL ({exc}).", field="url") from None
    schemes = ("https", "http") if allow_local else ("https",)
    if parts.scheme not in schemes:
        raise UnsafeUrl("url must use https.", field="url")
    if not parts.hostname:
        raise UnsafeUrl("url must name a host.", field="url")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("url must not contain a user name or password.", field="url")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise UnsafeUrl("url must not contain spaces or control characters.", field="url")
    return parts, port or (443 if parts.scheme == "https" else 80)


def resolve(url: str, *, allow_local: bool) -> list[str]:
    """The addresses `url`'s host resolves to, all of them public unless `allow_local`.

    Raises UnsafeUrl when the URL is not https (outside development), the host does not
    resolve, or any address is private, loopback, link-local, multicast or reserved.
    """
    parts, port = _parse(url, allow_local=allow_local)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl(f"url's host {parts.hostname} does not resolve ({exc}).", field="url") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeUrl(f"url's host {parts.hostname} does not resolve.", field="url")
    if not allow_local:
        refused = [a for a in addresses if not _is_public(a)]
        if refused:
            raise UnsafeUrl(
                f"url's host {parts.hostname} resolves to a private, loopback, link-local or reserved address ({refused[0]}).",
                field="url",
            )
    return addresses


def check_url(url: str, *, allow_local: bool) -> str:
    """The URL, cleaned, if it may be called later. With `allow_local` (development, tests) DNS is skipped."""
    if allow_local:
        _parse(url, allow_local=True)
    else:
        resolve(url, allow_local=False)
    return url.strip()


# --- the HTTP call --------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer, not a new address to call: it fails the attempt (HTTPError)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _pinned(connection_class, address: str):
    """`connection_class` that connects to `address` (the one checked) whatever DNS says now,
    while TLS still verifies the certificate for the URL's host name."""

    class Pinned(connection_class):
        def connect(self):
            self._create_connection = lambda where, *args: socket.create_connection((address, where[1]), *args)
            super().connect()

    return Pinned


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, address: str):
        super().__init__()
        self.address = address

    def http_open(self, req):
        return self.do_open(_pinned(http.client.HTTPConnection, self.address), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, address: str):
        super().__init__(context=ssl.create_default_context())
        self.address = address

    def https_open(self, req):
        return self.do_open(_pinned(http.client.HTTPSConnection, self.address), req, context=self._context)


def post_to(url: str, body: bytes, headers: dict, *, address: str, timeout: float) -> int:
    """POST `body` to `url` at `address`; the response status (HTTPError for >= 300). No proxies, no redirects."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), _NoRedirects(), _PinnedHTTPHandler(address), _PinnedHTTPSHandler(address)
    )
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    # The status is the whole answer: the body is not read, so a receiver can't hold the worker by trickling one.
    with opener.open(request, timeout=timeout) as response:
        return response.status


def post(url: str, body: bytes, headers: dict, *, allow_local: bool, timeout: float) -> Answer:
    """Check `url` again (its host's addresses now), then POST `body` to the first address checked.

    Never raises for what the network or the receiver does: a refused URL, an HTTP error status
    (3xx included: never followed), a timeout or a broken connection are all in the Answer.
    """
    status_code, error = None, ""
    try:
        addresses = resolve(url, allow_local=allow_local)
        status_code = post_to(url, body, headers, address=addresses[0], timeout=timeout)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except UnsafeUrl as exc:
        error = f"Refused: {exc.message}"
    except urllib.error.HTTPError as exc:  # 3xx (never followed), 4xx, 5xx
        status_code, error = exc.code, f"HTTP {exc.code}"
        exc.close()
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        error = f"{type(reason).__name__}: {reason}".strip()
    return Answer(status_code, error)
