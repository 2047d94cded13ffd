"""Outbound HTTP to addresses a company chose (SEC-2): the one way the server calls out.

Every server-side request whose target a company can set — the HTTP API connection
(`channels/http_api.py`), webhook deliveries, and every future integration (chatbot,
"testar conexão", providers) — must go through `post`/`get` here, never through urllib,
requests or http.client directly. What it guarantees:

- http/https only, no user:password in the URL;
- the host is resolved once and every answer must be a global unicast address: loopback,
  private, link-local, site-local, multicast, reserved, unspecified, shared (100.64/10),
  IPv4-mapped/compatible, and 6to4/Teredo/NAT64 embeddings of such addresses are refused;
- the socket is opened to the address that was checked (Host header, TLS SNI and the
  certificate check keep the name), so a second DNS answer cannot move the request to
  127.0.0.1 (DNS rebinding);
- no redirect is followed (a 3xx is a refusal), connect and read time out
  (OUTBOUND_TIMEOUT), and at most `max_bytes` of the answer are read;
- failures raise an `OutboundError` whose text (`str()`) is a generic Portuguese sentence
  that may be shown to the company; the details (OS error, status, address) are in
  `.detail` and in the server log only, so the answers cannot be used to map a network.

ALLOW_PRIVATE_URLS=true (read from the app config at call time) lets private and loopback
targets through, for on-premises installs and tests; the other rules stay.

Built on the standard library (`ipaddress`, `http.client`, `ssl`): the only Python SSRF
library found, advocate, wraps requests and has had no release since 2020.
"""
from __future__ import annotations

import http.client
import ipaddress
import logging
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_BYTES = 64 * 1024
USER_AGENT = "Atende"

# Names that mean "this machine" or "the local network" without any DNS lookup.
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa")

_BOT_TOKEN = re.compile(r"/bot[^/]+")
ERROR_BODY_BYTES = 16 * 1024  # of a non-2xx answer: providers explain their errors in JSON

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPAT = ipaddress.ip_network("::/96")
# IANA special-purpose blocks that older Pythons' is_global still calls global.
_NOT_GLOBAL = tuple(ipaddress.ip_network(n) for n in (
    "192.0.0.0/24",  # IETF protocol assignments
    "3fff::/20",     # documentation (2024)
    "5f00::/16",     # SRv6 SIDs
))


class OutboundError(Exception):
    """A request that did not succeed. `str()` is safe to show to the company; `detail`
    is for the server log only."""

    public = _l("Não foi possível entregar ao destino.")

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail

    def __str__(self) -> str:
        return str(self.public)


class BlockedAddress(OutboundError):
    """The URL is not allowed (scheme, credentials) or its host is not a public address.
    Worded like any other unreachable destination: which one it was is not told."""


class Unreachable(OutboundError):
    """Name not resolved, connection refused or timed out, TLS or protocol failure."""


class Timeout(OutboundError):
    """Connected, but the destination did not answer within the timeout."""

    public = _l("O destino não respondeu a tempo.")


class Refused(OutboundError):
    """The destination answered with a status other than 2xx (redirects included)."""

    public = _l("O destino recusou a mensagem.")

    def __init__(self, detail: str, status: int, body: bytes = b"",
                 headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.body = body            # the first ERROR_BODY_BYTES of the answer
        self.headers = headers or {}

    @property
    def permanent(self) -> bool:
        """A 3xx or 4xx will not change by retrying; 408, 429 and 5xx may."""
        return 300 <= self.status < 500 and self.status not in (408, 429)


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    truncated: bool = False  # the answer was longer than max_bytes; the rest was not read


# -- addresses ---------------------------------------------------------------------------


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, 6to4, Teredo, NAT64)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _IPV4_COMPAT or any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why `ip` may not be connected to, or None for a global unicast address."""
    for test in ("is_loopback", "is_unspecified", "is_link_local", "is_multicast",
                 "is_private", "is_reserved"):
        if getattr(ip, test):
            return test[3:].replace("_", "-")
    if ip.version == 6:
        if ip.is_site_local:
            return "site-local"
        if ip.ipv4_mapped is not None or ip in _IPV4_COMPAT:
            return "ipv4-mapped"  # never a real destination; only a way round the v4 rules
        inner = _embedded_ipv4(ip)
        if inner is not None and blocked_reason(inner):
            return f"embeds {inner} ({blocked_reason(inner)})"
    if not ip.is_global or any(ip in net for net in _NOT_GLOBAL if net.version == ip.version):
        return "not global"  # 100.64/10 (shared address space) and the like
    return None


def _literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """`host` as an address when it is one, in any form the resolver would accept
    ("127.1", "0x7f.0.0.1" and "2130706433" all mean 127.0.0.1)."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_local_name(host: str) -> bool:
    name = (host or "").strip().rstrip(".").lower()
    return name in LOCAL_NAMES or name.endswith(LOCAL_SUFFIXES)


def private_target(host: str) -> bool:
    """True when `host` (from a URL) is visibly local or private without a DNS lookup: a
    literal non-public address or a localhost-like name. For checks at save time; the
    guarantee is the check on the resolved address when connecting."""
    if is_local_name(host):
        return True
    ip = _literal_ip(host)
    return ip is not None and blocked_reason(ip) is not None


def private_allowed() -> bool:
    return bool(has_app_context() and current_app.config.get("ALLOW_PRIVATE_URLS"))


def _resolve(host: str, port: int, allow_private: bool) -> list[str]:
    """The checked addresses to connect to, in the resolver's order; every answer must
    pass (a name mixing public and private answers is refused as a whole)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise Unreachable(f"resolving {host}: {exc}") from exc
    addresses: list[str] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        text = str(sockaddr[0]).split("%")[0]
        ip = ipaddress.ip_address(text)
        reason = None if allow_private else blocked_reason(ip)
        if reason:
            raise BlockedAddress(f"{host} resolves to {ip}: blocked ({reason})")
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise Unreachable(f"resolving {host}: no address")
    return addresses


# -- connections pinned to the checked address -------------------------------------------


def _pinned(conn: http.client.HTTPConnection, address: str) -> None:
    """Make `conn` open its socket to `address` while keeping `conn.host` (the URL's
    name) for the Host header and, over HTTPS, for SNI and the certificate check."""

    def create(_host_port, timeout, source_address=None):
        return socket.create_connection((address, conn.port), timeout, source_address)

    conn._create_connection = create


def _connection(scheme: str, host: str, port: int, address: str, timeout: float):
    if scheme == "https":
        context = ssl.create_default_context()
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    _pinned(conn, address)
    return conn


def _read_capped(answer, max_bytes: int, deadline: float) -> bytes:
    """Up to max_bytes + 1 bytes of the body (one more tells it was longer). The
    deadline stops a destination that trickles a byte at a time, each within the
    socket's timeout."""
    chunks, size = [], 0
    while size <= max_bytes:
        if time.monotonic() > deadline:
            raise TimeoutError("body not read within the deadline")
        chunk = answer.read(min(16384, max_bytes + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _safe_url(parts) -> str:
    """The URL for the log, without its query (it may carry a token) and with a Telegram
    bot token in the path ("/bot123:ABC/sendMessage") masked."""
    path = _BOT_TOKEN.sub("/bot***", parts.path)
    return f"{parts.scheme}://{parts.netloc}{path}"


def _config(name: str, default):
    if has_app_context():
        return current_app.config.get(name, default)
    return default


def request(method: str, url: str, body: bytes | None = None,
            headers: dict[str, str] | None = None, *, timeout: float | None = None,
            max_bytes: int = DEFAULT_MAX_BYTES) -> Response:
    """Send one request; the Response of a 2xx answer, else an OutboundError."""
    try:
        return _request(method, url, body, headers, timeout, max_bytes)
    except OutboundError as exc:
        log.warning("outbound %s refused or failed: %s", method, exc.detail)
        raise


def _request(method, url, body, headers, timeout, max_bytes) -> Response:
    timeout = float(timeout or _config("OUTBOUND_TIMEOUT", DEFAULT_TIMEOUT))
    try:
        parts = urlsplit((url or "").strip())
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise BlockedAddress(f"malformed URL: {exc}") from exc
    if scheme not in ("http", "https") or not host:
        raise BlockedAddress(f"not an http(s) URL with a host: {scheme}://{host}")
    if parts.username is not None or parts.password is not None:
        raise BlockedAddress("credentials in the URL")
    where = _safe_url(parts)
    allow_private = private_allowed()
    if not allow_private and is_local_name(host):
        raise BlockedAddress(f"{where}: local name")

    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    sent_headers = {"User-Agent": USER_AGENT, "Connection": "close", **(headers or {})}

    last: OutboundError | None = None
    for address in _resolve(host, port, allow_private):
        conn = _connection(scheme, host, port, address, timeout)
        try:
            try:
                conn.connect()
            except (TimeoutError, OSError) as exc:  # ssl.SSLError is an OSError
                last = Unreachable(f"{where} via {address}: connect: {exc!r}")
                continue
            try:
                conn.request(method, path, body=body, headers=sent_headers)
                answer = conn.getresponse()
                status = answer.status
                if not 200 <= status < 300:
                    # a 3xx is never followed: its Location could be anywhere. The body
                    # is kept (capped) for callers that read a provider's error code.
                    try:
                        error_body = _read_capped(answer, ERROR_BODY_BYTES,
                                                  time.monotonic() + timeout)
                    except (TimeoutError, http.client.HTTPException, OSError):
                        error_body = b""
                    raise Refused(f"{where} via {address}: HTTP {status}", status,
                                  error_body[:ERROR_BODY_BYTES], dict(answer.getheaders()))
                data = _read_capped(answer, max_bytes, time.monotonic() + 3 * timeout)
                return Response(status=status, headers=dict(answer.getheaders()),
                                body=data[:max_bytes], truncated=len(data) > max_bytes)
            except TimeoutError as exc:
                raise Timeout(f"{where} via {address}: {exc!r}") from exc
            except (http.client.HTTPException, OSError) as exc:
                raise Unreachable(f"{where} via {address}: {exc!r}") from exc
        finally:
            conn.close()
    raise last or Unreachable(f"{where}: no address")


def post(url: str, body: bytes, headers: dict[str, str] | None = None, **kwargs) -> Response:
    return request("POST", url, body, headers, **kwargs)


def get(url: str, headers: dict[str, str] | None = None, **kwargs) -> Response:
    return request("GET", url, None, headers, **kwargs)
