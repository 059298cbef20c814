"""Image URLs: only http(s), never inside the network unless allowed, size-capped, redirects
re-checked."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from embedder.fetch import FetchError, fetch_image


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.jpg",
        "http://localhost:8983/solr",
        "http://10.1.2.3/a.png",
        "http://192.168.0.1/a.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/a.png",
        "http://172.16.0.5/a.png",
        "http://0.0.0.0/a.png",
    ],
)
def test_addresses_inside_the_network_are_refused(url):
    with pytest.raises(FetchError, match="inside the network"):
        fetch_image(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.jpg", "gopher://x/", "/etc/passwd"])
def test_non_http_schemes_are_refused(url):
    with pytest.raises(FetchError, match="only http and https"):
        fetch_image(url)


@pytest.fixture
def server():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            if self.path == "/redirect-inside":
                self.send_response(302)
                self.send_header("Location", "http://10.0.0.1/secret")
                self.end_headers()
            elif self.path == "/big":
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"x" * 5000)
            else:
                self.send_response(200)
                self.send_header("Content-Length", "3")
                self.end_headers()
                self.wfile.write(b"abc")

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_allowed_private_fetch_and_size_cap(server):
    assert fetch_image(f"{server}/ok", allow_private=True) == b"abc"
    with pytest.raises(FetchError, match="limit"):
        fetch_image(f"{server}/big", allow_private=True, max_bytes=1000)


def test_a_redirect_is_checked_again(server, monkeypatch):
    # Let the first hop (loopback, our test server) through, as if it were a public host.
    import embedder.fetch as fetch

    real_check = fetch._check_url
    monkeypatch.setattr(fetch, "_check_url", lambda url, allow: real_check(url, allow or "127.0.0.1" in url))
    with pytest.raises(FetchError, match="inside the network"):
        fetch_image(f"{server}/redirect-inside")
