"""A bounded load test on loopback: Solr with the plugin (keyword + image queries) and the
sidecar's /search, each for a fixed time from a few client threads; sustained throughput,
p50/p99 latency and errors. ``make bench`` runs it after the main benchmark (``python -m
bench.load`` alone); it writes bench/results-load.json, shown in bench/REPORT.md's "Load" section.

Client and servers share the machine's cores, so the figures are a floor for a real deployment
whose clients run elsewhere.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import requests

from bench.dataset import MATERIALS, Catalog, calibrate
from embedder import contract
from embedder.localsolr import LocalSolr
from embedder.solr import SolrIndex

FOLDER = Path(__file__).resolve().parent
log = logging.getLogger("bench.load")


def measure(
    name: str, request: Callable[[requests.Session, int], requests.Response], threads: int, seconds: float
) -> dict:
    """Runs ``request`` from ``threads`` clients for ``seconds``; latencies of every request."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(worker: int) -> None:
        session, n = requests.Session(), worker
        while time.monotonic() < stop_at:
            began = time.perf_counter()
            try:
                response = request(session, n)
                failed = None if response.status_code == 200 else f"HTTP {response.status_code}"
            except requests.RequestException as error:
                failed = type(error).__name__
            with lock:
                latencies.append(time.perf_counter() - began)
                if failed:
                    errors.append(failed)
            n += threads

    began = time.monotonic()
    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - began
    ms = np.array(latencies) * 1000
    result = {
        "name": name,
        "threads": threads,
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "throughput": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
    }
    log.info("%s", result)
    return result


def index_catalog(index: SolrIndex, catalog: Catalog, docs: int) -> None:
    if index.count() == docs:
        return
    index.delete_all()
    for chunk in catalog.chunks(docs):
        titles = chunk.titles()
        index.add(
            [
                {
                    "id": f"L{chunk.start + i}",
                    "title": titles[i],
                    "category": f"c{chunk.category[i]}",
                    contract.VECTOR_FIELD: contract.encode_vector(v),
                    contract.VERSION_FIELD: "load",
                }
                for i, v in enumerate(chunk.vectors)
            ]
        )
    index.commit()


def run(docs: int, seconds: float, threads: int, port: int, synthetic: bool) -> dict:
    catalog = Catalog(calibrate(contract.DEFAULT_DIMENSION, synthetic))
    solr = LocalSolr(FOLDER / "data" / "load-home", port)
    solr.start()
    index = SolrIndex(f"{solr.url}/{solr.collection}")
    index_catalog(index, catalog, docs)
    queries = catalog.queries(200, docs)
    encoded = [contract.encode_vector(v) for v in queries.vectors]
    select = f"{index.url}/select"

    def keyword_and_image(session: requests.Session, n: int) -> requests.Response:
        return session.post(
            select,
            data={
                "q": "{!visual f=image_vector v=$qv}",
                "qv": encoded[n % len(encoded)],
                "minExactCount": 10,
                "fq": f"title:{MATERIALS[queries.material[n % len(encoded)]]}",
                "fl": "id,score",
                "wt": "json",
            },
            timeout=30,
        )

    def sidecar_search(session: requests.Session, n: int) -> requests.Response:
        vector = queries.vectors[n % len(encoded)].tolist()
        text = MATERIALS[queries.material[n % len(encoded)]]
        return session.post(f"{sidecar}/search", json={"vector": vector, "text": text, "k": 10}, timeout=30)

    results = {
        "docs": docs,
        "spectrum": catalog.spectrum.source,
        "runs": [measure("Solr: keyword + image (`{!visual}` + keyword fq)", keyword_and_image, threads, seconds)],
    }
    service_port = port + 1
    sidecar = f"http://127.0.0.1:{service_port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "embedder.cli",
            "--solr",
            solr.url,
            "serve",
            "--port",
            str(service_port),
            "--weights",
            "none",
            "--threads",
            str(threads),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(f"{sidecar}/health")
        results["runs"].append(measure("sidecar: /search by vector + keywords", sidecar_search, threads, seconds))
    finally:
        server.terminate()
        server.wait(timeout=30)
        solr.stop()
    return results


def _wait_for(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up")


def section(results: dict) -> str:
    """The "Load" section of bench/REPORT.md."""
    lines = [
        "## Load (bounded, loopback)",
        "",
        f"{results['docs']:,} products (spectrum: {results.get('spectrum', 'not recorded')}); "
        "each run drives one target from "
        f"{results['runs'][0]['threads']} client threads for a fixed time (`python -m bench.load`, "
        "results in `bench/results-load.json`). Clients share the 2 cores with the servers.",
        "",
        "| target | requests | throughput (req/s) | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results["runs"]:
        lines.append(
            f"| {r['name']} | {r['requests']} | {r['throughput']:.1f} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['errors']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8996)
    parser.add_argument("--synthetic-spectrum", action="store_true", help="generate on the power law (no real vectors)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    results = run(args.docs, args.seconds, args.threads, args.port, args.synthetic_spectrum)
    write(results)
    print(section(results))


def write(results: dict) -> None:
    (FOLDER / "results-load.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
