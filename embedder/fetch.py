"""Fetching images by URL, or only their validators (a HEAD: has the image changed?), safely:
http(s) only, one deadline for the whole fetch, a size cap, and never an address inside the
network (loopback, private, link-local, ...) unless explicitly allowed, checked again on every
redirect.

Pinning: each hop's host is resolved once, every address it answers is checked, and the socket is
connected to exactly those checked addresses. The HTTP client never looks the name up again, so a
name that answers a public address to the check and a loopback one to a second lookup (DNS
rebinding), or a URL that two parsers read differently, cannot move the connection. The name is
still used for everything else: the Host header, TLS SNI and the certificate's hostname check.

Deadline: one clock covers resolving, connecting, the status line, the headers and the body, over
every redirect. A socket timeout bounds each recv, not their sum (a host sending a header line a
second never trips it), so when the clock runs out a timer shuts down every socket of the fetch,
which ends at once any recv blocked on it."""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
from typing import NamedTuple
from urllib.parse import urljoin, urlparse

import requests
import requests.adapters
import urllib3

from embedder.errors import BadInput

MAX_REDIRECTS = 3
TIMEOUT = 10.0  # seconds for a whole fetch, unless the caller says otherwise (the service's, the job's)
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv6 addresses that embed an IPv4 one
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class FetchError(BadInput):
    """The URL was refused or could not be fetched; the message says which and why."""


def fetch_image(
    url: str,
    *,
    max_bytes: int = 20 * 1024 * 1024,
    timeout: float = TIMEOUT,
    allow_private: bool = False,
    session: requests.Session | None = None,
) -> bytes:
    """The bytes at ``url``. ``timeout`` bounds the whole fetch: the lookups, the connections,
    every redirect and a slowly trickling status line, header or body. ``session`` lends its
    headers, auth, cookies and TLS settings, not its proxies or mounted adapters: the connection
    must go to the address that was checked."""
    session = session or requests.Session()
    with _Deadline(timeout) as deadline:
        url, response = _follow("GET", url, allow_private, session, deadline)
        with response:
            if response.status_code != 200:
                raise FetchError(f"{url}: HTTP {response.status_code}")
            return _read_capped(response, url, max_bytes, deadline)


def fetch_validators(
    url: str, *, timeout: float = TIMEOUT, allow_private: bool = False, session: requests.Session | None = None
) -> str:
    """What says whether the image at ``url`` changed, without fetching it: the ETag of a HEAD
    request (checked, pinned and bounded as ``fetch_image``), else its Last-Modified; "" when
    the host gives neither or does not answer HEAD (405, 501)."""
    session = session or requests.Session()
    with _Deadline(timeout) as deadline:
        url, response = _follow("HEAD", url, allow_private, session, deadline)
        with response:
            if response.status_code in (405, 501):
                return ""
            if response.status_code != 200:
                raise FetchError(f"{url}: HTTP {response.status_code}")
            if response.headers.get("etag"):
                return "etag " + response.headers["etag"]
            modified = response.headers.get("last-modified")
            return "last-modified " + modified if modified else ""


def _follow(
    method: str, url: str, allow_private: bool, session: requests.Session, deadline: _Deadline
) -> tuple[str, requests.Response]:
    """The first answer to ``method`` that is not a redirect, and the URL that gave it; every
    hop is checked and pinned again. The caller closes the response."""
    for _ in range(MAX_REDIRECTS + 1):
        hop = _check_url(url, allow_private)
        addresses = _resolve(hop, deadline)
        try:
            response = _send(session, method, hop.target, addresses, deadline)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
            raise deadline.failure(url, str(error)) from error
        if not response.is_redirect:
            return url, response
        with response:
            try:
                url = urljoin(url, response.headers["location"])
            except ValueError as error:
                raise FetchError(f"{url}: redirects to a URL that is not valid ({error})") from None
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


class _Hop(NamedTuple):
    url: str  # as given, for messages
    target: str  # as requests sends it
    host: str
    port: int
    private_allowed: bool


def _check_url(url: str, allow_private: bool) -> _Hop:
    """Refuses a URL that must not be fetched by its form; _resolve then checks its addresses. The
    host is read from the URL as requests will send it, by urllib3, the parser of the client that
    connects: Python's urlparse reads http://127.0.0.1\\@example.com/ as a URL of example.com,
    urllib3 as one of 127.0.0.1. (Pinning makes a disagreement harmless anyway: whatever the client
    reads, it connects only to addresses resolved from this host and checked.)"""
    try:
        scheme = urlparse(url).scheme
        if scheme not in ("http", "https"):
            raise FetchError(f"{url}: only http and https URLs are fetched, not {scheme or 'none'!r}")
        prepared = requests.Request("GET", url).prepare().url
        parsed = urllib3.util.parse_url(prepared)
    except FetchError:
        raise
    except (requests.RequestException, urllib3.exceptions.HTTPError, ValueError) as error:
        raise FetchError(f"{url}: not a valid URL ({error})") from None
    host = (parsed.host or "").strip("[]")
    if parsed.scheme not in ("http", "https") or not host:
        raise FetchError(f"{url}: no host")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return _Hop(url, prepared, host, port, allow_private)


def _resolve(hop: _Hop, deadline: _Deadline) -> list[tuple]:
    """The hop's addresses, looked up once: the ones the connection is pinned to. All are checked,
    so a name with one public and one loopback address is refused whichever would be tried first.
    getaddrinfo has no timeout of its own, so it runs in a thread the deadline waits for; one that
    outlives the deadline ends in the background, when the system resolver gives up."""
    found: list = []

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(hop.host, hop.port, proto=socket.IPPROTO_TCP))
        except (OSError, UnicodeError) as error:
            found.append(error)

    thread = threading.Thread(target=lookup, name=f"resolve {hop.host}", daemon=True)
    thread.start()
    thread.join(deadline.left())
    if not found:
        raise deadline.error(hop.url)
    infos = found[0]
    if isinstance(infos, Exception) or not infos:
        raise FetchError(f"{hop.url}: cannot resolve {hop.host}: {infos or 'no address'}")
    for info in infos if not hop.private_allowed else ():
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if _inside(address):
            raise FetchError(f"{hop.url}: {hop.host} is inside the network ({address}); refused")
    return infos


def _inside(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Not a public unicast address, or an IPv6 address carrying an IPv4 one that is not (IPv4-mapped,
    IPv4-compatible, 6to4, NAT64 64:ff9b::/96)."""
    if not address.is_global or address.is_multicast:
        return True
    if address.version == 4:
        return False
    embedded = [address.ipv4_mapped, address.sixtofour]
    if address in NAT64 or address in IPV4_COMPATIBLE:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return any(v4 is not None and not v4.is_global for v4 in embedded)


class _Deadline:
    """One clock for a whole fetch. When it runs out, a timer shuts down every socket the fetch
    opened, which wakes a recv blocked on it; ``passed`` then tells the fetch that a failure (or a
    body without a length cut short, which reads as a clean end) is the deadline's."""

    def __init__(self, timeout: float) -> None:
        self.timeout, self.start = timeout, time.monotonic()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()  # the timer thread and the fetch share _sockets and _expired
        self._expired = False
        self._timer = threading.Timer(timeout, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def left(self) -> float:
        """Seconds left, never 0: a socket timeout of 0 means non-blocking, not 'no time'."""
        return max(self.start + self.timeout - time.monotonic(), 0.001)

    @property
    def passed(self) -> bool:
        return self._expired or time.monotonic() >= self.start + self.timeout

    def watch(self, sock: socket.socket) -> None:
        """Shuts ``sock`` down at the deadline, through a duplicate descriptor: TLS wraps the socket
        in a new object and detaches this one, and shutdown acts on the connection, whichever
        descriptor names it. The duplicate is closed when the fetch ends."""
        with self._lock:
            self._sockets.append(sock.dup())
            if self._expired:
                _shut(self._sockets[-1])

    def _expire(self) -> None:
        with self._lock:
            self._expired = True  # before the shutdowns, so a read they end sees it
            for sock in self._sockets:
                _shut(sock)

    def error(self, url: str) -> FetchError:
        elapsed = time.monotonic() - self.start
        return FetchError(f"{url}: not received within the {self.timeout:g} s deadline (gave up after {elapsed:.1f} s)")

    def failure(self, url: str, message: str) -> FetchError:
        return self.error(url) if self.passed else FetchError(f"{url}: {message}")


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # not connected yet, or already closed by the peer
        pass


def _send(
    session: requests.Session, method: str, url: str, addresses: list[tuple], deadline: _Deadline
) -> requests.Response:
    request = session.prepare_request(requests.Request(method, url))
    verify = session.verify
    if verify is True and session.trust_env:  # a CA bundle named in the environment, as requests reads it
        verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    adapter = _PinnedAdapter(addresses, deadline)
    # The timeout bounds each socket operation; the deadline's timer bounds their sum.
    return adapter.send(request, stream=True, timeout=deadline.left(), verify=verify, cert=session.cert)


def _connect(addresses: list[tuple], deadline: _Deadline) -> socket.socket:
    """A socket connected to the first checked address that accepts, by the socket address the
    lookup gave, so nothing is resolved again; each try is bounded by the time left."""
    error: OSError = OSError("no address to connect to")
    for family, kind, proto, _, sockaddr in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(deadline.left())
            sock.connect(sockaddr)
            deadline.watch(sock)
            return sock
        except OSError as failed:
            sock.close()
            error = failed
    raise error


class _PinnedConnection:
    """Mixed into urllib3's connections: the socket goes to the checked addresses, while the Host
    header, SNI and certificate check keep using the host the pool was made for, the name."""

    def __init__(self, *args, addresses: list[tuple], deadline: _Deadline, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._addresses, self._deadline = addresses, deadline

    def _new_conn(self) -> socket.socket:
        try:
            return _connect(self._addresses, self._deadline)
        except OSError as error:
            raise urllib3.exceptions.NewConnectionError(
                self, f"Failed to establish a new connection: {error}"
            ) from error


class _PinnedHTTPConnection(_PinnedConnection, urllib3.connection.HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnection, urllib3.connection.HTTPSConnection):
    pass


class _PinnedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class _PinnedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, but its pool for the one request of a hop connects to the checked
    addresses; requests then sets the pool's certificate checks as usual."""

    def __init__(self, addresses: list[tuple], deadline: _Deadline) -> None:
        super().__init__(max_retries=0)
        self._pinned = {"addresses": addresses, "deadline": deadline}

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        return self.get_connection(request.url)

    def get_connection(self, url, proxies=None):  # what requests before 2.32.2 calls
        parsed = urllib3.util.parse_url(url)
        pool = _PinnedHTTPSPool if parsed.scheme == "https" else _PinnedHTTPPool
        return pool(parsed.host, parsed.port, maxsize=1, **self._pinned)


def _read_capped(response: requests.Response, url: str, max_bytes: int, deadline: _Deadline) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{url}: {declared} bytes is over the {max_bytes}-byte limit")
    chunks, size = [], 0
    try:
        # read1 returns what has arrived (decoded); size is checked per chunk, so a gzip bomb
        # stops at the limit, not when it is fully inflated.
        while chunk := response.raw.read1(64 * 1024, decode_content=True):
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(f"{url}: over the {max_bytes}-byte limit")
            if deadline.passed:
                raise deadline.error(url)
            chunks.append(chunk)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        raise deadline.failure(url, f"the image host failed while sending ({error})") from error
    if deadline.passed:  # the timer's shutdown reads as the end of a body sent without a length
        raise deadline.error(url)
    return b"".join(chunks)
