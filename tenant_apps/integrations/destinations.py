"""Where a webhook may be sent (SSRF protection, SPEC §11), and the one HTTP client
that sends it.

* Only ``https`` URLs, unless ``WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS`` (development and
  tests; never production) also allows ``http`` and local receivers.
* The host name is resolved once per attempt (``resolve``, the one place a test may
  fake DNS) and every address it resolves to must be public: loopback, private,
  link-local (169.254.169.254 cloud metadata included), multicast, reserved,
  unspecified and shared (CGNAT) addresses are refused, for IPv4 and IPv6, IPv4-mapped
  and NAT64-embedded IPv4 included.
* The connection goes to the address that was checked, never to a second lookup (DNS
  rebinding), with the name as ``Host`` and as TLS SNI and certificate name; the peer
  address of the connected socket is checked again before a byte is sent.
* No redirects, a connect timeout of ``WEBHOOK_CONNECT_TIMEOUT`` (3 s) within a total of
  ``WEBHOOK_TIMEOUT`` (10 s), and at most 64 KiB of the response body is read.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

MAX_RESPONSE_BYTES = 64 * 1024
LOGGED_BODY_BYTES = 1024

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, not "private" in 3.11


class DestinationRefused(Exception):
    """The URL may not receive webhooks; ``str()`` says why (shown to the user)."""


def allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS", False))


def address_refused(address: str) -> str | None:
    """Why ``address`` may not be a webhook destination, or None if it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    checks = (  # the most specific name first (169.254.0.0/16 is "private" too)
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
        ("shared", isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED),
        ("private", ip.is_private),
        ("not globally routable", not ip.is_global),
    )
    for label, hit in checks:
        if hit:
            return f"{ip} is a {label} address"
    return None


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests replace this function, nothing else)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str  # the name, for Host, SNI and the certificate
    port: int
    path: str  # path and query
    address: str  # the checked address to connect to


def parse_url(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused("This is not a valid URL.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise DestinationRefused("The URL must be an https:// URL with a host name.")
    if scheme != "https" and not allow_private():
        raise DestinationRefused("Webhook URLs must use https://.")
    if parts.username or parts.password:
        raise DestinationRefused("The URL may not carry a user name or password.")
    host = parts.hostname.rstrip(".").lower()
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, host, port or (443 if scheme == "https" else 80), path


def check_url(url: str) -> Destination:
    """Resolve ``url``'s host and check every address; the destination to connect to.
    Raises ``DestinationRefused``."""
    scheme, host, port, path = parse_url(url)
    try:
        literal: str | None = str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise DestinationRefused(f"The host name {host} does not resolve.") from exc
        if not addresses:
            raise DestinationRefused(f"The host name {host} does not resolve.")
    if not allow_private():
        for address in addresses:
            reason = address_refused(address)
            if reason is not None:
                raise DestinationRefused(f"The URL's host is not a public address ({reason}).")
    return Destination(
        scheme=scheme, host=host.strip("[]"), port=port, path=path, address=addresses[0]
    )


# Sending -----------------------------------------------------------------------------------


def _check_peer(conn: HTTPConnection) -> None:
    sock = conn.sock
    if sock is None or allow_private():
        return
    reason = address_refused(sock.getpeername()[0])
    if reason is not None:
        conn.close()
        raise DestinationRefused(f"Connected to a refused address ({reason}).")


class _CheckedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _check_peer(self)


class _CheckedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _check_peer(self)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


@dataclass(frozen=True)
class Response:
    status_code: int | None
    body: str
    error: str
    duration_ms: int


def _timeouts() -> tuple[float, float]:
    total = min(float(getattr(settings, "WEBHOOK_TIMEOUT", 10.0)), 10.0)
    connect = min(float(getattr(settings, "WEBHOOK_CONNECT_TIMEOUT", 3.0)), total)
    return connect, total


def post(url: str, *, body: bytes, headers: dict[str, str]) -> Response:
    """POST ``body`` to ``url`` through the checks above. Never raises for the network:
    a refused destination, a timeout or a reset is a ``Response`` with ``error``."""
    started = time.monotonic()

    def done(status: int | None, text: str = "", error: str = "") -> Response:
        return Response(status, text, error[:500], int((time.monotonic() - started) * 1000))

    try:
        destination = check_url(url)
    except DestinationRefused as exc:
        return done(None, error=str(exc))
    connect_timeout, total = _timeouts()
    timeout = urllib3.Timeout(connect=connect_timeout, read=total)
    pool: HTTPConnectionPool
    options: dict[str, Any] = {
        "host": destination.address,
        "port": destination.port,
        "timeout": timeout,
        "maxsize": 1,
        "retries": False,
        "block": False,
    }
    if destination.scheme == "https":
        # SNI, and the certificate's name: the host, not the address connected to.
        pool = _HTTPSPool(
            **options, server_hostname=destination.host, assert_hostname=destination.host
        )
    else:
        pool = _HTTPPool(**options)
    default_port = 443 if destination.scheme == "https" else 80
    host_header = destination.host if ":" not in destination.host else f"[{destination.host}]"
    if destination.port != default_port:
        host_header = f"{host_header}:{destination.port}"
    try:
        response = pool.urlopen(
            "POST",
            destination.path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        chunks: list[bytes] = []
        size = 0
        truncated = False
        deadline = started + total
        while True:
            if time.monotonic() > deadline:
                response.close()
                return done(response.status, error=f"Timed out after {total:g} s.")
            chunk = response.read(8192)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size >= MAX_RESPONSE_BYTES:
                truncated = True
                break
        response.close()
        text = b"".join(chunks)[:LOGGED_BODY_BYTES].decode("utf-8", errors="replace")
        error = "" if 200 <= response.status < 300 else f"HTTP {response.status}"
        if 300 <= response.status < 400:
            error = f"HTTP {response.status}: redirects are not followed"
        if truncated:
            error = (error + "; " if error else "") + "response body cut at 64 KiB"
        return done(response.status, text, error)
    except DestinationRefused as exc:
        return done(None, error=str(exc))
    except urllib3.exceptions.NewConnectionError as exc:  # a ConnectTimeoutError subclass
        return done(None, error=f"Connection failed: {exc.__context__ or exc}")
    except urllib3.exceptions.ConnectTimeoutError:
        return done(None, error=f"Connection timed out after {connect_timeout:g} s.")
    except urllib3.exceptions.ReadTimeoutError:
        return done(None, error=f"Timed out after {total:g} s waiting for the response.")
    except urllib3.exceptions.HTTPError as exc:
        reason = getattr(exc, "reason", None) or exc
        return done(None, error=f"Connection failed: {reason}")
    except OSError as exc:
        return done(None, error=f"Connection failed: {exc}")
    finally:
        pool.close()
