"""Fetching images by URL, safely: http(s) only, a timeout, a size cap, and never an address
inside the network (loopback, private, link-local, ...) unless explicitly allowed, checked again
on every redirect."""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlparse

import requests

MAX_REDIRECTS = 3


class FetchError(ValueError):
    """The URL was refused or could not be fetched; the message says which and why."""


def fetch_image(
    url: str,
    *,
    max_bytes: int = 20 * 1024 * 1024,
    timeout: float = 10.0,
    allow_private: bool = False,
    session: requests.Session | None = None,
) -> bytes:
    session = session or requests.Session()
    for _ in range(MAX_REDIRECTS + 1):
        _check_url(url, allow_private)
        try:
            response = session.get(url, timeout=timeout, stream=True, allow_redirects=False)
        except requests.RequestException as error:
            raise FetchError(f"{url}: {error}") from error
        with response:
            if response.is_redirect:
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code != 200:
                raise FetchError(f"{url}: HTTP {response.status_code}")
            return _read_capped(response, url, max_bytes)
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _check_url(url: str, allow_private: bool) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise FetchError(f"{url}: only http and https URLs are fetched, not {parsed.scheme or 'none'!r}")
    if not parsed.hostname:
        raise FetchError(f"{url}: no host")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parsed.hostname, parsed.port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise FetchError(f"{url}: cannot resolve {parsed.hostname}: {error}") from error
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global:
            raise FetchError(f"{url}: {parsed.hostname} is inside the network ({address}); refused")


def _read_capped(response: requests.Response, url: str, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{url}: {declared} bytes is over the {max_bytes}-byte limit")
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"{url}: over the {max_bytes}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
