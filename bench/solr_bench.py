"""The Solr side of the benchmark: a local Solr with two cores made from bench/configset, one
holding the vectors as Lookalike's ImageVectorField (``visual``), the other as Solr's
DenseVectorField with HNSW (``hnsw``); batched indexing into either; index size per field type
and the server's memory.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.dataset import CATEGORIES, Chunk, Stored
from embedder.localsolr import LocalSolr

log = logging.getLogger(__name__)
CONFIGSET = Path(__file__).resolve().parent / "configset"
CORES = {"visual": "bench_visual", "hnsw": "bench_hnsw"}
VECTOR_FIELDS = {"visual": "image_vector", "hnsw": "knn_vector"}
BATCH = 1000
SENDERS = 2  # concurrent update requests: one per CPU core of the bench machine
# Lucene's files for each vector format: HNSW (raw vectors, graph, metadata) and doc values.
HNSW_EXTENSIONS = (".vec", ".vex", ".vem", ".vemf", ".vemq", ".veq")
DOC_VALUES_EXTENSIONS = (".dvd", ".dvm")


@dataclass(frozen=True)
class IndexRun:
    docs: int
    seconds: float
    client_seconds: float  # time the client spent building request bodies (part of `seconds`)


class BenchSolr:
    """A local Solr for the benchmark, with the two bench cores."""

    def __init__(self, home: Path, port: int, heap: str) -> None:
        options = f"-Xmx{heap} -Xms{heap} --add-modules jdk.incubator.vector"
        self.solr = LocalSolr(home, port, java_options=options)
        self.session = requests.Session()

    def start(self, configsets: dict[str, Path]) -> None:
        """Starts Solr with one core per kind, each made from its configset."""
        self.solr.start()
        for kind, core in CORES.items():
            self.solr.create_core(core, configsets[kind])

    def stop(self) -> None:
        self.solr.stop()

    def url(self, kind: str) -> str:
        return f"{self.solr.url}/{CORES[kind]}"

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

    def index_bytes(self, kind: str) -> dict[str, int]:
        """Bytes on disk of the core's live segments: in all, in the HNSW files, in doc values.
        Only the segments the index consists of count: right after a commit, files of merges in
        flight and of merged-away segments still held by a searcher are also in the directory."""
        url = f"{self.url(kind)}/admin/segments"
        live = self.session.get(url, params={"wt": "json"}, timeout=60).json()["segments"]
        params = {"action": "STATUS", "core": CORES[kind], "wt": "json"}
        status = self.session.get(f"{self.solr.url}/admin/cores", params=params, timeout=60)
        index_dir = Path(status.json()["status"][CORES[kind]]["dataDir"]) / "index"
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
    """The Solr documents of a chunk. Lookalike takes the vector as base64 float32; Solr's
    DenseVectorField only as a JSON array of numbers (Python's float repr round-trips float32)."""
    field = VECTOR_FIELDS[kind]
    for i, title in enumerate(chunk.titles()):
        vector = chunk.vectors[i]
        yield {
            "id": str(chunk.start + i),
            "title": title,
            "category": f"c{chunk.category[i] % CATEGORIES}",
            "f10": str(chunk.f10[i]),
            "f100": str(chunk.f100[i]),
            field: base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
            if kind == "visual"
            else vector.tolist(),
        }
