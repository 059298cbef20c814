"""Helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import csv
import io
import os
import re
import select
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from embedder import contract
from embedder.localsolr import CloudLayout, LocalSolr
from embedder.pipeline import Indexer, IndexOptions
from embedder.runtime import EmbeddingRuntime
from embedder.solr import SolrIndex

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_block(size: int, zookeeper_offset: int = 1000) -> int:
    """A base port with ``size`` consecutive free ports and a free ZooKeeper port after it."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + zookeeper_offset > 65000:
            continue
        wanted = [*range(base, base + size), base + zookeeper_offset]
        try:
            for port in wanted:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free block of ports")


@contextmanager
def local_cloud(home: Path, layout: CloudLayout) -> Iterator[LocalSolr]:
    """A local SolrCloud of ``layout`` on free ports, stopped afterwards."""
    solr = LocalSolr(home, port=free_port_block(layout.nodes), cloud=layout)
    solr.start(timeout=300)
    try:
        yield solr
    finally:
        solr.stop()


def shared_dataset(name: str) -> Path:
    """A dataset under ../shared/datasets, or a skip saying it is absent."""
    path = SHARED / "datasets" / name
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/ is only beside the developers' and CI's checkouts)")
    return path


def indexer(index: SolrIndex, extractor, options: IndexOptions) -> Indexer:
    """The indexing job over ``index`` with a loaded extractor."""
    return Indexer(index, EmbeddingRuntime(index, extractor=extractor), options)


def all_vectors(index: SolrIndex) -> dict:
    """Every product's vector, read back from Solr, as float64 for brute-force references."""
    docs = index.stream(f"id,{contract.VECTOR_FIELD}", fq=[f"{contract.VECTOR_FIELD}:*"])
    return {d["id"]: contract.decode_vector(d[contract.VECTOR_FIELD]).astype("float64") for d in docs}


def fuzz_settings(max_examples: int = 60):
    """Hypothesis settings for the bad-input suites: bounded, reproducible (derandomized, no
    example database), with no per-example deadline (a request to a real server can be slow)."""
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


def index_snapshot(index: SolrIndex) -> dict[str, dict]:
    """Every committed document of the collection, products and its own documents alike, with
    every field (the vector as base64) but ``_version_``, by id: to show that bad input changed
    nothing."""
    docs = index.search(fl="*", rows=100000).docs
    docs += list(index.get(list(contract.OWN_DOCUMENTS), fl="*").values())  # /select hides them
    return {doc["id"]: {k: v for k, v in doc.items() if k != "_version_"} for doc in docs}


def wait_for_progress(process: subprocess.Popen, at_least: int, total: int) -> str:
    """stderr until the indexing bar shows ``at_least`` of ``total`` (bounded: 600 s, 4 KB reads)."""
    seen, deadline = "", time.monotonic() + 600
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(process.stderr.fileno(), 4096).decode(errors="replace") if ready else ""
        assert chunk, f"the job ended or went silent early:\n{seen[-2000:]}"
        seen += chunk
        counts = re.findall(rf"indexing:.*?(\d+)/{total}", seen)
        if counts and int(counts[-1]) >= at_least:
            return seen
    raise AssertionError(f"no progress past {at_least}:\n{seen[-2000:]}")


def jpeg(image) -> bytes:
    """A PIL image as JPEG bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


def read_rows(catalog: Path) -> list[dict]:
    """A CSV catalog's rows."""
    with open(catalog, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_rows(catalog: Path, rows: list[dict]) -> None:
    """Writes rows as a CSV catalog, with every column any row has."""
    columns = list(dict.fromkeys(name for row in rows for name in row))
    with open(catalog, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


class PhotoHost:
    """An image host on 127.0.0.1: ``photos`` maps a path to its ETag (None: no validator) and
    bytes, changed by the test; ``fetched`` lists the paths whose bytes were asked for (GET). A GET
    of a path in ``held`` waits until ``release`` is set; HEADs never wait."""

    def __init__(self) -> None:
        self.photos: dict[str, tuple[str | None, bytes]] = {}
        self.fetched: list[str] = []
        self.held: set[str] = set()
        self.release = threading.Event()
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self):  # noqa: N802 (http.server's naming)
                self.answer(body=False)

            def do_GET(self):  # noqa: N802
                host.fetched.append(self.path)
                if self.path in host.held:
                    host.release.wait(600)
                self.answer(body=True)

            def answer(self, body: bool) -> None:
                etag, data = host.photos[self.path]
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    if etag:
                        self.send_header("ETag", etag)
                    self.end_headers()
                    if body:
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on it (its fetch deadline)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def serving_photos() -> Iterator[PhotoHost]:
    """A running PhotoHost; whatever it still holds is released when the block ends."""
    host = PhotoHost()
    threading.Thread(target=host.server.serve_forever, daemon=True).start()
    try:
        yield host
    finally:
        host.release.set()
        host.server.shutdown()
        host.server.server_close()
