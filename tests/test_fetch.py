"""Image URLs: only http(s), never inside the network unless allowed, size-capped, redirects
re-checked."""

from __future__ import annotations

import concurrent.futures
import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests

import embedder.fetch as fetch
from embedder.fetch import FetchError, fetch_image, fetch_validators
from embedder.pipeline import IndexOptions
from embedder.samples import generate_catalog
from tests.helpers import indexer, read_rows, write_rows
from tests.test_seams_service import call, post, sidecar


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


MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"


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

        def do_HEAD(self):  # noqa: N802
            if self.path == "/no-head":
                self.send_response(405)
            elif self.path == "/gone":
                self.send_response(404)
            else:
                self.send_response(200)
                headers = {
                    "/etag": {"ETag": '"v2"', "Last-Modified": MODIFIED},
                    "/modified": {"Last-Modified": MODIFIED},
                }
                for name, value in headers.get(self.path, {}).items():
                    self.send_header(name, value)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_allowed_private_fetch_and_size_cap(server):
    assert fetch_image(f"{server}/ok", allow_private=True) == b"abc"
    with pytest.raises(FetchError, match="limit"):
        fetch_image(f"{server}/big", allow_private=True, max_bytes=1000)


def test_validators_are_the_etag_else_last_modified_else_none(server):
    assert fetch_validators(f"{server}/etag", allow_private=True) == 'etag "v2"'
    assert fetch_validators(f"{server}/modified", allow_private=True) == f"last-modified {MODIFIED}"
    assert fetch_validators(f"{server}/plain", allow_private=True) == ""
    assert fetch_validators(f"{server}/no-head", allow_private=True) == ""  # a host that only answers GET
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_validators(f"{server}/gone", allow_private=True)
    with pytest.raises(FetchError, match="inside the network"):
        fetch_validators(f"{server}/etag")  # the same checks as a fetch


def test_a_redirect_is_checked_again(server, monkeypatch):
    # Let the first hop (loopback, our test server) through, as if it were a public host.
    real_check = fetch._check_url
    monkeypatch.setattr(fetch, "_check_url", lambda url, allow: real_check(url, allow or "127.0.0.1" in url))
    with pytest.raises(FetchError, match="inside the network"):
        fetch_image(f"{server}/redirect-inside")


# --- Pinning: the connection goes to the addresses the check saw, never to a second lookup -------------------------

REAL_GETADDRINFO = socket.getaddrinfo
PUBLIC = ("93.184.216.34", "93.184.216.35")  # never contacted: every connection to them is intercepted


class Resolver:
    """Stands in for socket.getaddrinfo: the n-th lookup of a scripted name gets the n-th answer (the last
    one after that), a comma-separated list of addresses, or None for 'no such name'; every lookup of a
    scripted name is recorded. Other names (the loopback literals of the test servers) resolve as usual."""

    def __init__(self, answers: dict[str, list[str | None]]) -> None:
        self.answers, self.lookups = answers, []

    def __call__(self, host, port, *args, **kwargs):
        if host not in self.answers:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        answers = self.answers[host]
        answer = answers[min(self.lookups.count(host), len(answers) - 1)]
        self.lookups.append(host)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port, 0, 0))
            if ":" in ip
            else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port))
            for ip in answer.split(",")
        ]


class RawServer:
    """A TCP server on 127.0.0.1 (TLS when given a context) that reads each connection's request head and
    then plays ``script(conn, request, server)``. Scripts wait on ``server.stop`` instead of sleeping and
    send a bounded amount, and the accept loop is bounded too, so no thread outlives its test for long."""

    def __init__(self, script, tls: ssl.SSLContext | None = None) -> None:
        self.script, self.tls = script, tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.connections = 0
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        for _ in range(600):  # at most 2 minutes
            if self.stop.is_set():
                return
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            self.connections += 1
            threading.Thread(target=self._play, args=(conn,), daemon=True).start()

    def _play(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            if self.tls:
                conn = self.tls.wrap_socket(conn, server_side=True)
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 65536:
                data = conn.recv(4096)
                if not data:
                    return
                request += data
            self.requests.append(request)
            self.script(conn, request, self)
        except OSError:  # the client hung up (as a fetch past its deadline does) or failed the handshake
            pass
        finally:
            conn.close()

    def hosts(self) -> list[str]:
        return [
            line.split(b":", 1)[1].strip().decode()
            for r in self.requests
            for line in r.split(b"\r\n")[1:]
            if line.lower().startswith(b"host:")
        ]

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def servers():
    started: list[RawServer] = []

    def start(script, tls=None) -> RawServer:
        started.append(RawServer(script, tls))
        return started[-1]

    yield start
    for server in started:
        server.close()


def answer(body: bytes = b"secret", status: str = "200 OK", headers: str = ""):
    def script(conn, request, server):
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n{headers}\r\n"
        conn.sendall(head.encode() + body)

    return script


def routes(**paths):
    """Answers by the request's path: routes(start=answer(...), final=answer(...))."""

    def script(conn, request, server):
        path = request.split(b" ", 2)[1].decode().lstrip("/")
        paths[path](conn, request, server)

    return script


def intercept_public(monkeypatch, stand_in: RawServer | None) -> list[list[tuple]]:
    """Replaces the fetcher's connect: records the addresses it was given (they must all be the public test
    addresses) and connects to ``stand_in`` on loopback instead, or refuses when there is none. No packet
    leaves the machine."""
    connects: list[list[tuple]] = []

    def connect(addresses, deadline):
        connects.append([info[4] for info in addresses])
        assert all(info[4][0] in PUBLIC for info in addresses), addresses
        if stand_in is None:
            raise ConnectionRefusedError("intercepted: the public test address is never contacted")
        sock = socket.socket()
        sock.settimeout(5)
        sock.connect(("127.0.0.1", stand_in.port))
        deadline.watch(sock)
        return sock

    monkeypatch.setattr(fetch, "_connect", connect)
    return connects


def test_a_name_rebound_to_loopback_after_the_check_is_never_connected_to(servers, monkeypatch):
    """The check's lookup answers a public address, any later one loopback: the fetch connects to the
    public address it checked (intercepted, refused) and never reaches the loopback server."""
    inside = servers(answer())
    resolver = Resolver({"rebind.test": [PUBLIC[0], "127.0.0.1"]})
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    connects = intercept_public(monkeypatch, None)
    with pytest.raises(FetchError, match="intercepted"):
        fetch_image(f"http://rebind.test:{inside.port}/image.jpg", timeout=5)
    assert connects == [[(PUBLIC[0], inside.port)]]
    assert resolver.lookups == ["rebind.test"]
    assert inside.connections == 0


def test_the_request_travels_over_the_pinned_connection_on_every_hop(servers, monkeypatch):
    """Both hops of a redirect go to their own checked (public, intercepted) address with the name in the
    Host header; each name is looked up once, and the loopback answers of later lookups are never used."""
    inside = servers(answer())
    final = f"http://cdn.test:{inside.port}/final"
    stand_in = servers(routes(start=answer(b"", "302 Found", f"Location: {final}\r\n"), final=answer(b"image")))
    resolver = Resolver({"rebind.test": [PUBLIC[0], "127.0.0.1"], "cdn.test": [PUBLIC[1], "127.0.0.1"]})
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    connects = intercept_public(monkeypatch, stand_in)
    assert fetch_image(f"http://rebind.test:{inside.port}/start", timeout=5) == b"image"
    assert connects == [[(PUBLIC[0], inside.port)], [(PUBLIC[1], inside.port)]]
    assert resolver.lookups == ["rebind.test", "cdn.test"]
    assert stand_in.hosts() == [f"rebind.test:{inside.port}", f"cdn.test:{inside.port}"]
    assert inside.connections == 0


def test_with_private_addresses_allowed_each_hop_is_still_looked_up_once(servers, monkeypatch):
    """Any second lookup of a name fails here, so the fetch only works if every hop connects to the one
    lookup it made."""

    def redirect(conn, request, server):
        answer(b"", "302 Found", f"Location: http://b.test:{server.port}/final\r\n")(conn, request, server)

    server = servers(routes(start=redirect, final=answer(b"image")))
    resolver = Resolver({"a.test": ["127.0.0.1", None], "b.test": ["127.0.0.1", None]})
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    assert fetch_image(f"http://a.test:{server.port}/start", allow_private=True, timeout=5) == b"image"
    assert resolver.lookups == ["a.test", "b.test"]
    assert server.hosts() == [f"a.test:{server.port}", f"b.test:{server.port}"]


def test_every_address_of_a_name_is_checked(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", Resolver({"mixed.test": [f"{PUBLIC[0]},127.0.0.1"]}))
    connects = intercept_public(monkeypatch, None)
    with pytest.raises(FetchError, match="inside the network"):
        fetch_image("http://mixed.test/image.jpg", timeout=5)
    assert connects == []


def test_the_checked_addresses_are_tried_in_order(servers, monkeypatch):
    """Nothing listens on [::1] at the server's port (or there is no IPv6): the next checked address is used."""
    server = servers(answer(b"image"))
    monkeypatch.setattr(socket, "getaddrinfo", Resolver({"dual.test": ["::1,127.0.0.1"]}))
    assert fetch_image(f"http://dual.test:{server.port}/x.jpg", allow_private=True, timeout=5) == b"image"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """Self-signed certificates for images.test and for other.test (names only: no IP address in them)."""
    if not shutil.which("openssl"):
        pytest.skip("no openssl to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    for name in ("images.test", "other.test"):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
            + ["-keyout", str(folder / f"{name}.key"), "-out", str(folder / f"{name}.pem"), "-days", "2"]
            + ["-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
            check=True,
            capture_output=True,
            timeout=60,
        )
    return folder


@pytest.mark.parametrize("served", ["images.test", "other.test"])
def test_https_is_pinned_and_still_verified_against_the_name(servers, monkeypatch, certificates, served):
    """Connected to the checked address, the TLS client still sends the name as SNI and checks the
    certificate against the name: a certificate for another name is refused."""
    seen_sni: list[str] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates / f"{served}.pem", certificates / f"{served}.key")
    context.sni_callback = lambda sock, name, ctx: seen_sni.append(name)
    stand_in = servers(answer(b"image"), tls=context)
    inside = servers(answer())
    monkeypatch.setattr(socket, "getaddrinfo", Resolver({"images.test": [PUBLIC[0], "127.0.0.1"]}))
    connects = intercept_public(monkeypatch, stand_in)
    session = requests.Session()
    session.verify = str(certificates / f"{served}.pem")  # trust the served certificate: only its name can fail
    url = f"https://images.test:{inside.port}/x.jpg"
    if served == "images.test":
        assert fetch_image(url, timeout=5, session=session) == b"image"
        assert stand_in.hosts() == [f"images.test:{inside.port}"]
    else:
        with pytest.raises(FetchError, match="(?i)hostname mismatch"):
            fetch_image(url, timeout=5, session=session)
    assert seen_sni == ["images.test"]
    assert connects == [[(PUBLIC[0], inside.port)]]
    assert inside.connections == 0


# --- One deadline for the whole fetch --------------------------------------------------------------------------------

TIMEOUT = 1.5
# The bound: the deadline plus a second. A fetch past its deadline ends when a timer shuts its
# sockets, within 0.01 s of it here (2 cores, load average 4): room for a machine far slower than that.
BOUND = TIMEOUT + 1


def trickle(*parts: bytes, step: float):
    """Sends each part, one every ``step`` seconds."""

    def script(conn, request, server):
        for part in parts:
            if server.stop.wait(step):
                return
            conn.sendall(part)

    return script


def deadline_failure(url: str, **kwargs) -> float:
    """Fetches ``url`` with the test TIMEOUT, expecting the deadline's error; returns the seconds taken."""
    started = time.monotonic()
    with pytest.raises(FetchError) as failure:
        fetch_image(url, timeout=TIMEOUT, **kwargs)
    took = time.monotonic() - started
    assert took < BOUND, f"the fetch took {took:.1f} s for a {TIMEOUT} s deadline"
    found = re.search(r"within the 1\.5 s deadline \(gave up after (\d+\.\d) s\)", str(failure.value))
    assert found, failure.value
    assert TIMEOUT - 0.05 <= float(found[1]) <= took + 0.05, (found[1], took)  # the real elapsed time
    return took


STATUS = b"HTTP/1.1 200 OK\r\n"


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(trickle(*(bytes([b]) for b in STATUS), *[b"X-Pad: 1\r\n"] * 40, step=0.15), id="status-line"),
        pytest.param(trickle(STATUS, *[b"X-Pad: 1\r\n"] * 40, step=0.25), id="headers"),
        pytest.param(trickle(STATUS + b"Connection: close\r\n\r\n", *[b"x"] * 100, step=0.1), id="body"),
        pytest.param(lambda conn, request, server: server.stop.wait(30), id="silent"),
    ],
)
def test_a_slow_host_meets_one_deadline(servers, script):
    """A status line sent byte by byte, headers a line at a time, a body byte by byte, or nothing at all:
    no single read times out, only the deadline over all of them ends the fetch."""
    server = servers(script)
    deadline_failure(f"http://127.0.0.1:{server.port}/x.jpg", allow_private=True)


def test_the_deadline_spans_redirects(servers):
    """Four hops of at least 0.5 s each: every hop is well within 1.5 s, their sum is not."""

    def slow_redirect(conn, request, server):
        if not server.stop.wait(0.5):
            answer(b"", "302 Found", "Location: /again\r\n")(conn, request, server)

    server = servers(slow_redirect)
    deadline_failure(f"http://127.0.0.1:{server.port}/start", allow_private=True)
    assert server.connections >= 2


def test_the_deadline_covers_the_lookup(monkeypatch):
    release = threading.Event()

    def stuck(host, port, *args, **kwargs):
        if host != "slow-dns.test":
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        release.wait(10)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    try:
        deadline_failure("http://slow-dns.test/x.jpg")
    finally:
        release.set()


def test_the_deadline_covers_the_connect():
    """A listener whose accept queue is full: on Linux the handshake is never answered (elsewhere the
    connection may open and never be answered, which the deadline ends all the same)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        with socket.create_connection(listener.getsockname(), timeout=5):  # fills the queue
            deadline_failure(f"http://127.0.0.1:{listener.getsockname()[1]}/x.jpg", allow_private=True)


def test_a_catalog_row_on_a_trickling_host_fails_alone_within_the_deadline(servers, index, extractor, tmp_path):
    """The indexing job fetches through the same code, loopback included (a catalog's internal
    image hosts are allowed by default), each URL within the job's deadline."""
    server = servers(trickle(STATUS, *[b"X-Pad: 1\r\n"] * 40, step=0.25))
    catalog = generate_catalog(tmp_path / "catalog")
    rows = read_rows(catalog)
    rows[7]["image"] = f"http://127.0.0.1:{server.port}/slow.jpg"
    write_rows(catalog, rows)
    report = tmp_path / "report.jsonl"
    options = IndexOptions(batch_size=16, progress=False, report_path=report, fetch_timeout=TIMEOUT)
    summary = indexer(index, extractor, options).run(catalog)
    assert summary.counts["added"] == len(rows) - 1 and summary.counts["failed"] == 1
    [failure] = [json.loads(line) for line in report.read_text().splitlines()]
    assert failure["id"] == rows[7]["id"] and failure["status"] == "failed"
    took = re.search(r"within the 1\.5 s deadline \(gave up after (\d+\.\d) s\)", failure["reason"])
    assert took and float(took[1]) < BOUND, failure["reason"]
    assert server.connections >= 1  # it was asked, and gave up
    assert {doc["id"] for doc in index.stream("id")} == {row["id"] for row in rows} - {rows[7]["id"]}


def test_health_answers_while_trickling_urls_hold_every_service_thread(servers, local_solr, extractor, tmp_path):
    """The sidecar as the tests and `serve` run it, with 4 threads, each held by a search whose image
    URL trickles: /health waits for the first of them to reach its deadline, and no longer."""
    threads = 4
    server = servers(trickle(STATUS, *[b"X-Pad: 1\r\n"] * 40, step=0.25))
    slow = {"url": f"http://127.0.0.1:{server.port}/slow.jpg"}
    config = {"threads": threads, "allow_private_urls": True, "fetch_timeout": TIMEOUT}
    with (
        sidecar(local_solr.url, tmp_path, extractor, **config) as (_, url),
        concurrent.futures.ThreadPoolExecutor(threads) as pool,
    ):
        searches = [pool.submit(post, url, "/search", json=slow) for _ in range(threads)]
        for _ in range(100):  # until every thread is fetching (bounded: 10 s)
            if server.connections >= threads:
                break
            time.sleep(0.1)
        assert server.connections == threads
        started = time.monotonic()
        health = call("GET", url, "/health")
        waited = time.monotonic() - started
        answers = [search.result() for search in searches]
    assert health.status_code == 200 and health.json()["solr"], health.text
    assert waited < BOUND, f"/health waited {waited:.1f} s"
    assert all(a.status_code == 400 and "1.5 s deadline" in a.json()["error"] for a in answers)
