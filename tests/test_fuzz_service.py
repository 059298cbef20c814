"""Bad input to the HTTP sidecar in bulk (property-based), over real HTTP (waitress) against the
real local Solr holding the demo catalog: bad images through /embed, /search and /products
(random bytes, truncated and corrupted files, decompression bombs, zero bytes, wrong content
types, valid images of odd modes), request fields of any JSON shape (huge numbers, NaN,
infinities, nesting), uploads over the size limit, and image URLs aimed inside the network
(loopback and private ranges in every spelling, IPv4-mapped and NAT64 IPv6, link-local and
metadata addresses, redirects from a local server into the network, slow and broken image hosts,
non-HTTP schemes).

Properties: the sidecar answers every case with a 4xx (or a 200 for a valid image) and a JSON
error with a message, never a 5xx; it keeps answering /health, Solr keeps answering its ping;
no URL inside the network is ever fetched (a local canary server records every request it gets);
and the demo documents (ids, vectors, every field) are exactly as they were."""

from __future__ import annotations

import base64
import gzip
import io
import json
import math
import socket
import threading
import time
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

import embedder.fetch as fetch
from embedder import contract, state
from embedder.fetch import FetchError, fetch_image
from tests.helpers import fuzz_settings, index_snapshot
from tests.test_fuzz_images import BOMBS, images

UPLOAD_LIMIT = 2 * 1024 * 1024  # the service_url fixture's max_upload_bytes


def jpeg(size: tuple[int, int] = (32, 24), color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def nothing_breaks(service_url, demo_index, demo_snapshot):
    """After every test: the sidecar is healthy, Solr answers, the documents are unchanged."""
    yield
    health = requests.get(f"{service_url}/health", timeout=30)
    assert health.status_code == 200 and health.json()["documents"] == 60, health.text
    assert requests.get(f"{demo_index.url}/admin/ping", params={"wt": "json"}, timeout=30).status_code == 200
    assert index_snapshot(demo_index) == demo_snapshot


def call(service_url: str, path: str, **kwargs) -> tuple[int, dict]:
    """Status and JSON body; no 5xx, and an error always has a non-empty message."""
    response = requests.post(f"{service_url}{path}", timeout=60, **kwargs)
    assert response.status_code < 500, f"{path}: {response.status_code} {response.text[:2000]}"
    body = response.json()
    if response.status_code >= 400:
        assert isinstance(body.get("error"), str) and body["error"].strip(), response.text[:2000]
    return response.status_code, body


# -- images --------------------------------------------------------------------------------------


@st.composite
def bad_or_odd_images(draw) -> tuple[bytes, bool]:
    """Image bytes, and whether they are a valid image (which must embed)."""
    kind = draw(st.sampled_from(["valid", "truncated", "random", "bomb", "text", "flipped"]))
    if kind == "valid":
        return draw(images())[0], True
    if kind == "truncated":
        data = draw(images())[0]
        return data[: draw(st.integers(1, max(1, len(data) // 2)))], False
    if kind == "flipped":
        data = bytearray(draw(images())[0])
        data[draw(st.integers(0, min(len(data) - 1, 40)))] ^= 0xFF  # in the header
        return bytes(data), None  # may still decode: either answer is fine, a 5xx is not
    if kind == "bomb":
        fmt = draw(st.sampled_from(sorted(BOMBS)))
        side = draw(st.sampled_from([7000, 20000, 65535]))
        return BOMBS[fmt][0](side, side), False
    if kind == "text":
        return draw(
            st.sampled_from([b"<html><body>hi</body></html>", b"%PDF-1.4\n", b'{"image": 1}', b"GIF89a"])
        ), False
    return draw(st.binary(min_size=1, max_size=512)), False


def check_image_answer(status: int, body: dict, valid: bool | None, path: str) -> None:
    if valid:
        assert status == 200, body
        if path == "/embed":
            assert len(body["vector"]) == 1024 and all(math.isfinite(v) for v in body["vector"])
    elif valid is False:
        assert status == 400, body


@fuzz_settings(max_examples=40)
@given(
    bad_or_odd_images(),
    st.sampled_from(["/embed", "/search"]),
    st.sampled_from(["multipart", "multipart-wrong-type", "base64"]),
)
@example((b"", False), "/embed", "multipart")
@example((BOMBS["PNG"][0](100_000, 100_000), False), "/search", "base64")
@example((jpeg(), True), "/embed", "multipart-wrong-type")
def test_bad_and_odd_images_through_embed_and_search(service_url, case, path, how):
    data, valid = case
    if how == "base64":
        status, body = call(service_url, path, json={"image_base64": base64.b64encode(data).decode(), "k": 3})
    else:
        content_type = "text/html" if how == "multipart-wrong-type" else "image/jpeg"
        status, body = call(service_url, path, files={"image": ("photo.jpg", data, content_type)}, data={"k": "3"})
    if not data:
        assert status == 400 and "empty" in body["error"]
        return
    check_image_answer(status, body, valid, path)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": b"\xff\xd8\xff", "headers": {"Content-Type": "image/jpeg"}},
        {"data": "<a/>", "headers": {"Content-Type": "application/xml"}},
        {"data": "{not json", "headers": {"Content-Type": "application/json"}},
        {"data": "NaN", "headers": {"Content-Type": "application/json"}},
        {"data": '"a string"', "headers": {"Content-Type": "application/json"}},
        {"data": b"\xff\xfe{\x00}\x00", "headers": {"Content-Type": "application/json"}},
        {"data": "--x\r\nnot a part", "headers": {"Content-Type": "multipart/form-data; boundary=x"}},
        {"files": {"image": ("a.jpg", b"", "image/jpeg")}},
        {"files": {"image": ("a.jpg", jpeg(), "image/jpeg")}, "data": {"url": "http://example.com/a.jpg"}},
        {"json": {"image_base64": "!!!!"}},
        {"json": {"image_base64": "QUJD"}},
        {"json": {"image_base64": 12}},
        {"json": {"url": 12}},
        {"json": {"url": ["http://127.0.0.1/"]}},
        {"json": {}},
    ],
)
def test_wrong_content_types_and_bodies_get_a_4xx(service_url, kwargs):
    status, body = call(service_url, "/embed", **kwargs)
    assert 400 <= status < 500, body


# -- fields of any shape ---------------------------------------------------------------------------

HUGE = 10**400  # an int no float can hold
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.just(HUGE) | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)
FQ = [
    "title:(",
    'category:"',
    "{!visual f=image_vector v=$nope}",
    "{!collapse field=category}",
    "*:*",
    "{!frange l=0 u=1}sqdist(image_vector,$qv)",
    "{!func}sqdist(title,1)",
    "{!join from=id to=id}*:*",
    '_query_:"{!visual}"',
    "image_vector:abc",
    "price:[a TO b]",
    "{!lucene df=nope}x",
    "{!terms f=id}SKU0001",
    "{!bool must=$x}",
    "id:SKU0001 OR",
    "((((((((((a))))))))))",
]
FIELDS = {
    "/search": ["k", "max_dist", "text", "fq", "facets", "id", "vector", "weights", "bias", "hybrid"],
    "/recommend": ["like", "unlike", "text", "fq", "k", "mode", "max_dist", "facets"],
    "/tag/preview": ["attribute", "value", "example_ids", "accepted_ids", "rejected_ids", "k", "max_dist", "fq"],
    "/navigate/start": ["size", "fq"],
}
LIKELY = {
    "k": st.sampled_from([0, 5, 1e400, -1, 1001, "5", 5.5, HUGE, True]),
    "max_dist": st.sampled_from([-1, 0, 1e400, "nan", HUGE, "12.5", False]),
    "vector": st.sampled_from([[HUGE] * 1024, [1e400] * 1024, [0.5] * 1024, [0.5] * 1023, [], [True] * 1024]),
    "id": st.sampled_from(["SKU0001", "NOPE", "", "x" * 300, contract.MODEL_DOC_ID]),
    "weights": st.sampled_from([[HUGE] * 1024, [0.5] * 1024, [-1.0] * 1023, [], "AAAA"]),
    "bias": st.sampled_from([0, -3.5, 1e400, "nan", HUGE, "x"]),
    "accepted_ids": st.sampled_from([["SKU0001"], ["NOPE"], [], "SKU0001", ["SKU0001"] * 1001]),
    "rejected_ids": st.sampled_from([["SKU0003"], ["NOPE"], [contract.MODEL_DOC_ID], ["x" * 600]]),
    "like": st.sampled_from([["SKU0001"], ["NOPE"], [], ["SKU0001"] * 101, "SKU0001", [contract.MODEL_DOC_ID]]),
    "fq": st.lists(st.sampled_from(FQ), max_size=3),
    "facets": st.sampled_from([["image_vector"], ["nope"], ["title"]]),
    "size": st.sampled_from([0, 4, 1e400, HUGE]),
    "mode": st.sampled_from(["rank", "filter", "x"]),
}


@st.composite
def payloads(draw):
    path = draw(st.sampled_from(sorted(FIELDS)))
    names = draw(st.lists(st.sampled_from(FIELDS[path]), unique=True, max_size=4))
    body = {name: draw(LIKELY[name] if name in LIKELY and draw(st.booleans()) else ANY_JSON) for name in names}
    return path, body


@fuzz_settings(max_examples=100)
@given(payloads())
@example(("/search", {"k": 1e400}))  # each of these was a 500 (OverflowError)
@example(("/search", {"max_dist": HUGE}))
@example(("/search", {"vector": [HUGE] * 1024}))
@example(("/recommend", {"like": ["SKU0001"], "k": 1e400}))
@example(("/tag/preview", {"attribute": "a", "value": "b", "example_ids": ["SKU0001"], "max_dist": HUGE}))
@example(("/navigate/start", {"size": 1e400}))
@example(("/search", {"fq": ["{!collapse field=category}", "{!func}sqdist(title,1)"]}))
def test_request_fields_of_any_shape_get_a_4xx_not_a_5xx(service_url, case):
    path, body = case
    text = json.dumps(body)  # NaN, Infinity and 10**400 as Python's json writes them
    call(service_url, path, data=text, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    "path, body",
    [
        ("/tag/apply", {"attribute": "Bad Name", "value": "x", "ids": ["SKU0001"]}),
        ("/tag/apply", {"attribute": "a", "value": "x", "ids": ["NOPE"]}),
        ("/tag/apply", {"attribute": "a", "value": "x", "ids": ["SKU0001"] * 100000}),
        ("/tag/apply", {"attribute": "a" * 65, "value": "x", "ids": ["SKU0001"]}),
        ("/tag/apply", {"attribute": "a", "value": ["x"], "ids": ["SKU0001"]}),
        ("/tag/apply", {"attribute": "a", "value": "x", "ids": [contract.MODEL_DOC_ID]}),
        ("/clusters/999/attribute", {"attribute": "look", "value": "a"}),
        ("/clusters/x/attribute", {"attribute": "look", "value": "a"}),
        ("/clusters", {"k": 1e400}),
        ("/clusters", {"k": 1}),
        ("/navigate/step", {"session": "nope", "choose": "SKU0001"}),
        ("/products", {"products": [{"id": "SKU0001", "image_url": "http://127.0.0.1/x.jpg", "title": "changed"}]}),
        ("/products", {"products": [{"id": "SKU0001", "image_base64": "bm90IGFuIGltYWdl", "title": "changed"}]}),
        ("/products", {"products": [{"id": "SKU0001", "image_base64": "!!", "title": "changed"}]}),
        ("/products", {"products": [{"id": "SKU0001", "image_url": "http://x/a.jpg", "image_base64": "QUJD"}]}),
        ("/products", {"products": [{"id": "SKU0001", "image_url": "http://10.0.0.1/", "image_vector": "AAAA"}]}),
        ("/products", {"products": [{"id": "SKU0001", "image_url": "http://10.0.0.1/", "price": "cheap"}]}),
        ("/products", {"products": [{"id": "SKU0001", "image_url": "http://10.0.0.1/", "kind": "model"}]}),
        ("/products", {"products": [7]}),
        ("/products", {"products": [{}] * 101}),
    ],
)
def test_bad_writes_change_nothing(service_url, path, body):
    status, answer = call(service_url, path, data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert 400 <= status < 500, answer


# -- the upload limit -----------------------------------------------------------------------------


def _chunks(total: int):
    for _ in range(total // 65536):
        yield b"\0" * 65536


@pytest.mark.parametrize(
    "kwargs",
    [
        {"files": {"image": ("big.jpg", b"\0" * (UPLOAD_LIMIT + 1), "image/jpeg")}},
        {"json": {"image_base64": "A" * (UPLOAD_LIMIT + 4)}},
        {"data": {"text": "x" * (UPLOAD_LIMIT + 1)}},
        {"data": _chunks(UPLOAD_LIMIT + 65536 * 4), "headers": {"Content-Type": "application/json"}},  # chunked
        {"files": {"image": ("a.jpg", jpeg(), "image/jpeg"), **{f"f{n}": ("x", b"x") for n in range(1100)}}},
    ],  # parts
)
def test_uploads_over_the_limit_get_413_with_a_message(service_url, kwargs):
    for path in ("/embed", "/search"):
        if "data" in kwargs and not isinstance(kwargs["data"], dict):
            kwargs = {**kwargs, "data": _chunks(UPLOAD_LIMIT + 65536 * 4)}
        status, body = call(service_url, path, **kwargs)
        assert status == 413 and "limit" in body["error"], body


# -- image URLs -------------------------------------------------------------------------------------


class Canary:
    """A local HTTP server, IPv4 and IPv6, that records every request: any hit but an allowed
    first hop is a URL that got through. /to?u=URL redirects to URL, /chain/N redirects to
    /chain/N+1, /image.jpg is a valid image, /trickle, /reset, /gzip-bomb, /huge and /stall are
    broken image hosts."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        canary = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's naming)
                canary.hits.append(self.path)
                path = urlparse(self.path).path
                if path == "/to":
                    self.send_response(302)
                    self.send_header("Location", parse_qs(urlparse(self.path).query)["u"][0])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif path.startswith("/chain/"):
                    self.send_response(302)
                    self.send_header("Location", f"/chain/{int(path.rsplit('/', 1)[1]) + 1}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif path == "/trickle":
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(100):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.1)
                elif path == "/reset":
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(jpeg()[:200])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                elif path == "/gzip-bomb":
                    body = gzip.compress(b"\0" * (30 * 1024 * 1024))
                    self.send_response(200)
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif path == "/huge":
                    self.send_response(200)
                    self.send_header("Content-Length", str(10**12))
                    self.end_headers()
                elif path == "/stall":
                    time.sleep(3)
                else:
                    data = jpeg()
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            def log_message(self, *args):
                pass

        class DualStack(ThreadingHTTPServer):
            address_family = socket.AF_INET6
            daemon_threads = True

            def server_bind(self):
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                super().server_bind()

        try:
            self.server = DualStack(("::", 0), Handler)
        except OSError:  # no IPv6 here: loopback IPv4 only
            self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def canary():
    server = Canary()
    yield server
    server.server.shutdown()


@pytest.fixture
def first_hop_allowed(canary, monkeypatch):
    """Lets the canary's /to and /chain URLs through the address check (as if the canary were a
    public host), and nothing else: where they redirect is checked as usual."""
    real = fetch._check_url
    first = (f"{canary.url}/to?", f"{canary.url}/chain/", f"{canary.url}/reset")
    monkeypatch.setattr(fetch, "_check_url", lambda url, allow: real(url, allow or url.startswith(first)))
    canary.hits.clear()
    yield
    assert all(hit.startswith(("/to?", "/chain/", "/reset")) for hit in canary.hits), canary.hits


def _own_addresses() -> list[str]:
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)})
    except socket.gaierror:
        return []


def inside_urls(port: int) -> list[str]:
    """Loopback, private, link-local and metadata addresses, in every spelling."""
    hosts = [
        "127.0.0.1",
        "127.0.0.2",
        "127.1",
        "0x7f.1",
        "0x7f000001",
        "2130706433",
        "017700000001",
        "0177.0.0.1",
        "0",
        "0.0.0.0",
        "localhost",
        "LOCALHOST",
        "[::1]",
        "[0:0:0:0:0:0:0:1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[0:0:0:0:0:ffff:127.0.0.1]",
        "[::127.0.0.1]",
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::]",
        "[::]",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "169.254.169.254",
        "[fd00::1]",
        "[fe80::1]",
        "[::ffff:169.254.169.254]",
        "[64:ff9b::a9fe:a9fe]",
        "224.0.0.1",
        "255.255.255.255",
        "198.18.0.1",
        "①②⑦.0.0.1",
        "１２７.０.０.１",
        socket.gethostname(),
    ]
    hosts += [f"[{a}]" if ":" in a else a for a in _own_addresses()]
    urls = [f"http://{host}:{port}/image.jpg" for host in hosts] + [f"https://{hosts[0]}:{port}/image.jpg"]
    urls += [
        f"http://127.0.0.1:{port}\\@example.com/image.jpg",  # urlparse: example.com; urllib3: 127.0.0.1
        f"http://example.com@127.0.0.1:{port}/image.jpg",
        f"http://127.0.0.1:{port}#@example.com/",
        f"HTTP://127.0.0.1:{port}/image.jpg",
        f" http://127.0.0.1:{port}/image.jpg",
        f"http://127.0.0.1\t:{port}/image.jpg",
        "http://169.254.169.254/latest/meta-data/",
    ]
    return urls


NOT_HTTP = [
    "file:///etc/passwd",
    "file://localhost/etc/passwd",
    "ftp://127.0.0.1/a.jpg",
    "gopher://127.0.0.1:70/_x",
    "dict://127.0.0.1:11211/stat",
    "data:image/png;base64,iVBORw0KGgo=",
    "jar:http://x/a.jar!/",
    "/etc/passwd",
    "//127.0.0.1/image.jpg",
    "http:/127.0.0.1/image.jpg",
    "http:127.0.0.1",
    "javascript:alert(1)",
    "",
    "http://",
    "http://:80/",
    "http://127.0.0.1:99999/",
    "http://[::1/",
    "http://a:b/",
    "http://" + "a" * 70 + ".com/",
]


@pytest.fixture
def public_name(monkeypatch):
    """Makes the address check resolve example.com to a public address (this machine is offline),
    as an attacker's own domain would, so that parser tricks around it are really tried."""
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host == "example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("93.184.216.34", port))]
        return real(host, port, *args, **kwargs)

    patched = types.SimpleNamespace(**{name: getattr(socket, name) for name in dir(socket) if not name.startswith("_")})
    patched.getaddrinfo = resolve
    monkeypatch.setattr(fetch, "socket", patched)  # only the check's view of the resolver


def test_urls_inside_the_network_are_refused_everywhere(service_url, canary, public_name):
    canary.hits.clear()
    for url in inside_urls(canary.port) + NOT_HTTP:
        with pytest.raises(FetchError, match="inside the network|only http|not a valid URL|cannot resolve"):
            fetch_image(url, timeout=2)  # refused by the check, not merely unreachable
        for path in ("/embed", "/search") if url else ():  # an empty url is no url
            status, body = call(service_url, path, json={"url": url})
            assert status == 400, (url, body)
    assert canary.hits == []


def test_product_image_urls_inside_the_network_or_not_http_index_nothing(service_url, demo_index, canary, public_name):
    """Not even a local file: image_url was read as a path on the sidecar's disk."""
    canary.hits.clear()
    local_image = str(demo_index.catalog_dir / "images" / "SKU0001.jpg")
    urls = (
        inside_urls(canary.port)
        + NOT_HTTP
        + [local_image, f"file://{local_image}", "tests/conftest.py", "../../etc/hostname", "~/.ssh/id_rsa", "embedder"]
    )
    products = [{"id": f"FUZZ{n}", "image_url": url, "title": "x"} for n, url in enumerate(urls) if url]
    for batch in (products[i : i + 20] for i in range(0, len(products), 20)):
        status, body = call(service_url, "/products", json={"products": batch})
        assert status == 400 and not body.get("indexed"), body
    assert canary.hits == []


@pytest.mark.parametrize(
    "target",
    [
        "{canary}/image.jpg",
        "http://[::1]:{port}/image.jpg",
        "http://localhost:{port}/image.jpg",
        "http://[::ffff:127.0.0.1]:{port}/image.jpg",
        "http://0x7f.1:{port}/image.jpg",
        "http://10.0.0.1/x.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        "/image.jpg",
        "//127.0.0.1:{port}/image.jpg",
        "http://127.0.0.1:{port}\\@example.com/image.jpg",
        "{canary}/chain/0",
        "http://[::1",
    ],
)
def test_redirects_into_the_network_are_refused(service_url, canary, first_hop_allowed, public_name, target):
    target = target.format(canary=canary.url, port=canary.port)
    url = f"{canary.url}/to?u={requests.utils.quote(target, safe='')}"
    with pytest.raises(FetchError, match="inside the network|only http|not a valid URL|redirects"):
        fetch_image(url, timeout=2)
    for path in ("/embed", "/search"):
        status, body = call(service_url, path, json={"url": url})
        assert status == 400, (target, body)


def test_a_redirect_loop_stops(service_url, canary, first_hop_allowed):
    with pytest.raises(FetchError, match="redirects"):
        fetch_image(f"{canary.url}/chain/0", timeout=2)


@pytest.mark.parametrize(
    "path, message",
    [("/trickle", "within"), ("/reset", ""), ("/gzip-bomb", "limit"), ("/huge", "limit"), ("/stall", "")],
)
def test_slow_and_broken_image_hosts_fail_cleanly_and_in_time(canary, path, message):
    started = time.monotonic()
    with pytest.raises(FetchError, match=message):
        fetch_image(f"{canary.url}{path}", allow_private=True, timeout=1.0, max_bytes=10 * 1024 * 1024)
    assert time.monotonic() - started < 5, "the fetch outlived its timeout"


def test_a_broken_image_host_is_the_client_s_fault_not_solr_s(service_url, canary, first_hop_allowed):
    """A host that drops the connection mid-body: a 400 naming the URL, not 503 'Solr is down'."""
    status, body = call(service_url, "/embed", json={"url": f"{canary.url}/reset"})
    assert status == 400 and "/reset" in body["error"], body


def test_the_pca_model_document_cannot_be_overwritten_as_a_product(service_url, demo_index):
    image = base64.b64encode(jpeg()).decode()
    status, body = call(
        service_url, "/products", json={"products": [{"id": contract.MODEL_DOC_ID, "image_base64": image}]}
    )
    assert status == 400 and contract.MODEL_DOC_ID in body["failed"], body
    assert state.load_model(demo_index) is not None
