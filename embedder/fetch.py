"""Fetching images by URL, safely: http(s) only, a timeout for the whole fetch, a size cap, and
never an address inside the network (loopback, private, link-local, ...) unless explicitly
allowed, checked again on every redirect."""

from __future__ import annotations

import ipaddress
import socket
import time
from urllib.parse import urljoin, urlparse

import requests
import urllib3

from embedder.errors import BadInput

MAX_REDIRECTS = 3
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv6 addresses that embed an IPv4 one
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class FetchError(BadInput):
    """The URL was refused or could not be fetched; the message says which and why."""


def fetch_image(
    url: str,
    *,
    max_bytes: int = 20 * 1024 * 1024,
    timeout: float = 10.0,
    allow_private: bool = False,
    session: requests.Session | None = None,
) -> bytes:
    """The bytes at ``url``. ``timeout`` bounds the whole fetch, redirects and a slowly
    trickling body included, not only each network operation."""
    session = session or requests.Session()
    deadline = time.monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        target = _check_url(url, allow_private)
        try:
            response = session.get(target, timeout=timeout, stream=True, allow_redirects=False)
        except requests.RequestException as error:
            raise FetchError(f"{url}: {error}") from error
        except ValueError as error:  # requests reads a redirect's Location even when not following it
            raise FetchError(f"{url}: redirects to a URL that is not valid ({error})") from None
        with response:
            if response.is_redirect:
                try:
                    url = urljoin(url, response.headers["location"])
                except ValueError as error:
                    raise FetchError(f"{url}: redirects to a URL that is not valid ({error})") from None
                continue
            if response.status_code != 200:
                raise FetchError(f"{url}: HTTP {response.status_code}")
            return _read_capped(response, url, max_bytes, deadline, timeout)
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _check_url(url: str, allow_private: bool) -> str:
    """Refuses a URL that must not be fetched; returns it as requests will send it. The host is
    read from that URL by urllib3, the parser of the client that connects: Python's urlparse
    reads http://127.0.0.1\\@example.com/ as a URL of example.com, urllib3 connects to 127.0.0.1."""
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
    if allow_private:
        return prepared
    try:
        infos = socket.getaddrinfo(host, parsed.port or 80, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchError(f"{url}: cannot resolve {host}: {error}") from error
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if _inside(address):
            raise FetchError(f"{url}: {host} is inside the network ({address}); refused")
    return prepared


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


def _read_capped(response: requests.Response, url: str, max_bytes: int, deadline: float, timeout: float) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{url}: {declared} bytes is over the {max_bytes}-byte limit")
    chunks, size = [], 0
    try:
        # read1 returns what has arrived (decoded), so a body trickling in byte by byte, which
        # never trips the per-read timeout, still meets the deadline.
        while chunk := response.raw.read1(64 * 1024, decode_content=True):
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(f"{url}: over the {max_bytes}-byte limit")
            if time.monotonic() > deadline:
                raise FetchError(f"{url}: not received within {timeout:g} s")
            chunks.append(chunk)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        raise FetchError(f"{url}: the image host failed while sending ({error})") from error
    return b"".join(chunks)
