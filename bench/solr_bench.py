"""The Solr side of the benchmark: a local Solr with the bench cores, batched indexing into any of
them, index size per field type and the server's memory.

- ``visual``: Lookalike's ImageVectorField in the configset users run (solr-config/: the product's
  schema, its /select with the reservedDocuments component), with the cells trained for the
  current N declared on its vector type; recreated at each measuring point.
- ``hnsw``: Solr's DenseVectorField with HNSW, which the product does not have, in the bench's own
  configset (bench/configset).
- ``benchconf``: ImageVectorField in bench/configset, at the smallest N only, to measure what the
  bench configset's settings would change in the visual numbers (``BENCH_CONFIGSET_DIFFERENCES``).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests

from bench.dataset import CATEGORIES, Chunk, Stored
from embedder import artifacts, contract
from embedder.localsolr import LocalSolr

log = logging.getLogger(__name__)
CONFIGSET = Path(__file__).resolve().parent / "configset"
SHIPPED_CONFIGSET = artifacts.CONFIGSET  # solr-config/ in a checkout


OFFSET = 1000.0  # the exact-everywhere issue's offset data: far from the origin, still finite


@dataclass(frozen=True)
class Core:
    name: str
    shipped: bool  # made from solr-config/, else from bench/configset
    vector_field: str
    offset: float = 0.0  # added to every component of its vectors (and of the queries sent to it)

    def field(self, bench_field: str) -> str:
        """Where a bench field lives in this core's schema: the shipped schema names no f10 or
        f100, so they are catalog columns it does not name, which the indexing job writes as
        ``attr_<column>`` (multi-valued strings); title and category are its own fields."""
        if self.shipped and bench_field in ("f10", "f100"):
            return contract.CATALOG_ATTRIBUTE_PREFIX + bench_field
        return bench_field


CORES = {
    "visual": Core("bench_visual", True, "image_vector"),
    "hnsw": Core("bench_hnsw", False, "knn_vector"),
    "benchconf": Core("bench_visual_benchconf", False, "image_vector"),
    "sketchtwin": Core("bench_visual_sketchtwin", True, "image_vector"),
    # bench/contracts.py's: the catalog, and the same vectors far from the origin
    "contracts": Core("bench_contracts", True, "image_vector"),
    "offset": Core("bench_offset", True, "image_vector", OFFSET),
}
# What bench/configset sets otherwise than solr-config/ (checked against both files by
# tests/test_bench_setup.py), for the report: the benchconf core measures their joint effect.
BENCH_CONFIGSET_DIFFERENCES = (
    "no `queryResultWindowSize` (Solr's default, 1; shipped: 20) and no `queryResultCache` (shipped: 512 entries)",
    "`/select` without the shipped defaults `sort=score desc, id asc` (ties in id order), "
    "`echoParams=explicit` (the request's parameters, query vector included, echoed in the answer), "
    "`q.op=AND` and `df=text`",
    "no `reservedDocuments` search component (shipped: it adds `-kind:*` to searches whose main "
    "query is not `{!visual}`)",
    "`MMapDirectoryFactory` (shipped: `NRTCachingDirectoryFactory`), autoCommit every 60 s (shipped: 15 s)",
    "no `ImageVectorUpdateProcessorFactory` update chain (the bench sends base64 vectors, which need "
    "none) and no `ExactStatsCache`",
    "`id` without doc values, `title` not stored, no `text` copy fields",
)
# The bench documents carry no reserved document; a user's collection holds its PCA model as one.
RESERVED_DOCUMENT = {"id": contract.MODEL_DOC_ID, contract.KIND_FIELD: "model"}
BATCH = 1000
SENDERS = 2  # concurrent update requests: one per CPU core of the bench machine
# Lucene's files for each vector format: HNSW (raw vectors, graph, metadata) and doc values.
HNSW_EXTENSIONS = (".vec", ".vex", ".vem", ".vemf", ".vemq", ".veq")
DOC_VALUES_EXTENSIONS = (".dvd", ".dvm")
WARM_CHUNK = 1 << 24


@dataclass(frozen=True)
class IndexRun:
    docs: int
    seconds: float
    client_seconds: float  # time the client spent building request bodies (part of `seconds`)


class BenchSolr:
    """A local Solr for the benchmark, with the bench cores."""

    def __init__(self, home: Path, port: int, heap: str) -> None:
        options = f"-Xmx{heap} -Xms{heap} --add-modules jdk.incubator.vector"
        self.solr = LocalSolr(home, port, java_options=options)
        self.session = requests.Session()

    def start(self) -> None:
        self.solr.start()

    def create(self, kind: str, configset: Path) -> None:
        """Makes the core of ``kind`` from ``configset``, dropping the one there was (its index
        too): cells are assigned at indexing, so new cells need a new index."""
        self.drop(kind)
        self.solr.create_core(CORES[kind].name, configset)
        if CORES[kind].shipped:
            self._post(kind, json.dumps([RESERVED_DOCUMENT]), commit=True)

    def keep(self, kind: str, configset: Path) -> None:
        """Makes the core of ``kind`` from ``configset`` unless an earlier run left it."""
        self.solr.create_core(CORES[kind].name, configset)

    def drop(self, kind: str, timeout_s: float = 120.0) -> None:
        """Unloads the core of ``kind`` with its files, if there is one."""
        if not self.has(kind):
            return
        params = {"action": "UNLOAD", "core": CORES[kind].name, "deleteInstanceDir": "true", "wt": "json"}
        response = self.session.get(f"{self.solr.url}/admin/cores", params=params, timeout=300)
        if response.status_code != 200:
            raise RuntimeError(f"unloading {kind} failed: {response.text[-800:]}")
        # Solr deletes the files when the core has closed, which a searcher in use may delay.
        folder = self.solr.home / "solr" / CORES[kind].name
        deadline = time.monotonic() + timeout_s
        while folder.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{folder} still there {timeout_s:.0f}s after unloading its core")
            time.sleep(0.2)

    def stop(self) -> None:
        self.solr.stop()

    def has(self, kind: str) -> bool:
        params = {"action": "STATUS", "core": CORES[kind].name, "wt": "json"}
        status = self.session.get(f"{self.solr.url}/admin/cores", params=params, timeout=60).json()
        return bool(status["status"].get(CORES[kind].name, {}).get("name"))

    def url(self, kind: str) -> str:
        return f"{self.solr.url}/{CORES[kind].name}"

    def count(self, kind: str) -> int:
        params = {"q": "*:*", "rows": 0, "wt": "json"}
        return self.session.get(f"{self.url(kind)}/select", params=params, timeout=60).json()["response"]["numFound"]

    def index(self, kind: str, stored: Stored, start: int, stop: int) -> IndexRun:
        """Sends documents ``start .. stop`` in batches from SENDERS threads, then commits."""
        started = time.perf_counter()
        client = 0.0
        pending: list[Future] = []
        with ThreadPoolExecutor(SENDERS) as pool:
            for chunk in _batches(stored, start, stop):
                built = time.perf_counter()
                body = json.dumps(list(documents(kind, chunk)))
                client += time.perf_counter() - built
                while len(pending) >= 2 * SENDERS:
                    pending.pop(0).result()
                pending.append(pool.submit(self._post, kind, body))
            for future in pending:
                future.result()
        self._post(kind, None, commit=True)
        return IndexRun(stop - start, time.perf_counter() - started, client)

    def _post(self, kind: str, body: str | None, commit: bool = False) -> None:
        params = {"wt": "json", **({"commit": "true"} if commit else {})}
        response = self.session.post(
            f"{self.url(kind)}/update",
            params=params,
            data=(body or "[]").encode(),
            headers={"Content-Type": "application/json"},
            timeout=3600,
        )
        if response.status_code != 200:
            raise RuntimeError(f"indexing into {kind} failed: {response.text[-1500:]}")

    def filters(self, kind: str, params: dict[str, object]) -> list[str]:
        """The filters Solr applies to a /select request with ``params`` (its components' included)."""
        data = {**params, "rows": 0, "debug": "query", "wt": "json"}
        response = self.session.post(f"{self.url(kind)}/select", data=data, timeout=60)
        if response.status_code != 200:
            raise RuntimeError(f"{kind}: HTTP {response.status_code}: {response.text[-800:]}")
        return response.json()["debug"].get("parsed_filter_queries", [])

    def vectors_read(self, kind: str) -> int:
        """The whole vectors the core's visual queries have read so far (the plugin's metric)."""
        params = {"group": "core", "prefix": "QUERY.visual.vectorsRead", "wt": "json"}
        metrics = self.session.get(f"{self.solr.url}/admin/metrics", params=params, timeout=60).json()["metrics"]
        value = metrics.get(f"solr.core.{CORES[kind].name}", {}).get("QUERY.visual.vectorsRead", 0)
        return int(value["count"] if isinstance(value, dict) else value)

    def index_bytes(self, kind: str) -> dict[str, int]:
        """Bytes on disk of the core's live segments: in all, in the HNSW files, in doc values.
        Only the segments the index consists of count: right after a commit, files of merges in
        flight and of merged-away segments still held by a searcher are also in the directory."""
        url = f"{self.url(kind)}/admin/segments"
        live = self.session.get(url, params={"wt": "json"}, timeout=60).json()["segments"]
        index_dir = self._index_dir(kind)
        sizes = {
            p.name: p.stat().st_size
            for p in index_dir.iterdir()
            if p.is_file() and re.split(r"[._]", p.name[1:], maxsplit=1)[0] in {n[1:] for n in live}
        }
        return {
            "total": sum(sizes.values()),
            "hnsw": sum(s for name, s in sizes.items() if name.endswith(HNSW_EXTENSIONS)),
            "doc_values": sum(s for name, s in sizes.items() if name.endswith(DOC_VALUES_EXTENSIONS)),
            "segments": len(live),
        }

    def _index_dir(self, kind: str) -> Path:
        params = {"action": "STATUS", "core": CORES[kind].name, "wt": "json"}
        status = self.session.get(f"{self.solr.url}/admin/cores", params=params, timeout=60)
        return Path(status.json()["status"][CORES[kind].name]["dataDir"]) / "index"

    def warm(self, kinds: Iterable[str]) -> dict[str, float]:
        """Reads the index files of each core once, so that every contender is timed on pages in
        the page cache: indexing another core (the HNSW build at 1M writes gigabytes for 20
        minutes) evicts them, and two warm-up queries fault in only a few of the whole vectors an
        exact search reads at random (measured at 1M: 137.9 ms p50 as found, 62.4 ms right after)."""
        started, read = time.perf_counter(), 0
        for kind in kinds:
            for path in sorted(self._index_dir(kind).iterdir()):
                try:
                    with path.open("rb") as file:
                        while chunk := file.read(WARM_CHUNK):
                            read += len(chunk)
                except FileNotFoundError:  # a file a searcher released since the listing
                    continue
        return {"bytes": read, "seconds": time.perf_counter() - started}

    def settle(self, idle_share: float = 0.05, window_s: float = 5.0, timeout_s: float = 1800.0) -> float:
        """Waits until Solr's process uses under ``idle_share`` of a core over ``window_s``, so that
        the merges an indexing step left running (HNSW merges rebuild graphs: minutes of CPU) do not
        compete with the queries being timed; returns the seconds waited."""
        started = time.perf_counter()
        ticks = os.sysconf("SC_CLK_TCK")
        while time.perf_counter() - started < timeout_s:
            before = self._cpu_ticks()
            time.sleep(window_s)
            share = (self._cpu_ticks() - before) / ticks / window_s
            if share < idle_share:
                return time.perf_counter() - started
            log.info("waiting for Solr to go idle (background merges): %.0f%% of a core", share * 100)
        raise TimeoutError(f"Solr still busy after {timeout_s:.0f}s")

    def _cpu_ticks(self) -> int:
        fields = Path(f"/proc/{self.solr.pid()}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    def memory(self) -> dict[str, int]:
        """The Solr JVM's used heap (as the JVM reports it, no forced GC) and resident set."""
        info = self.session.get(f"{self.solr.url}/admin/info/system", params={"wt": "json"}, timeout=60).json()
        rss_kb = 0
        for line in Path(f"/proc/{self.solr.pid()}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
        raw = info["jvm"]["memory"]["raw"]
        return {"heap_used": int(raw["used"]), "heap_max": int(raw["max"]), "rss": rss_kb * 1024}


def _batches(stored: Stored, start: int, stop: int) -> Iterator[Chunk]:
    for first in range(start, stop, BATCH):
        yield stored.chunk(first, min(stop, first + BATCH))


def documents(kind: str, chunk: Chunk) -> Iterator[dict[str, object]]:
    """The Solr documents of a chunk, in the core's fields. Lookalike takes the vector as base64
    float32; Solr's DenseVectorField only as a JSON array of numbers (Python's float repr
    round-trips float32)."""
    core = CORES[kind]
    for i, title in enumerate(chunk.titles()):
        vector = chunk.vectors[i] + np.float32(core.offset)
        shipped = {"price": _price(chunk.start + i)} if core.shipped else {}
        yield {
            **shipped,
            "id": str(chunk.start + i),
            "title": title,
            "category": f"c{chunk.category[i] % CATEGORIES}",
            core.field("f10"): str(chunk.f10[i]),
            core.field("f100"): str(chunk.f100[i]),
            core.vector_field: vector.tolist()
            if core.vector_field == "knn_vector"
            else base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii"),
        }


def _price(doc: int) -> float:
    """A catalog's price, spread evenly over [0, 100) and unrelated to the vector."""
    return (doc * 7919 % 10_000) / 100
