"""One benchmark run: generate, index step by step up to each size, query every contender at
every size, and collect the numbers the report is written from (bench/results-<size>.json).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bench import cells, embedder_bench, pca_quality, sync_bench
from bench.contenders import Case, Contender, cases, measure, solr_contenders
from bench.dataset import Catalog, Queries, Stored, calibrate
from bench.exact import TYPES, NumpyScan, Truth, build_tree, exact_topk, mask, recall
from bench.report import machine
from bench.solr_bench import CONFIGSET, BenchSolr

log = logging.getLogger(__name__)
DIM = 1024
DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Size:
    sizes: tuple[int, ...]  # documents at each measuring point, indexed incrementally
    queries: int
    cell_budget_s: float  # timed seconds per contender and query type, at least MIN_QUERIES
    tree_max_n: int  # KDTree/BallTree are built up to this many documents only
    hnsw_budget_s: float  # skip an HNSW indexing step projected to take longer
    heap: str
    embed_images: int
    embed_repeats: int  # turns of raw and job per batch size (the machine is shared and noisy)
    sync_rows: int  # products of the no-op re-index (--vectors catalog)
    sync_image_rows: int  # ... of its catalog of image files


SIZES = {
    "small": Size((20_000, 50_000), 40, 8.0, 50_000, 900, "2g", 64, 3, 20_000, 5_000),
    "medium": Size((100_000, 300_000), 40, 15.0, 100_000, 3600, "4g", 96, 5, 100_000, 20_000),
    "large": Size((100_000, 300_000, 1_000_000), 30, 15.0, 100_000, 5400, "4g", 96, 5, 100_000, 20_000),
}
# The parts of a run that `python -m bench --only` measures again alone (into the last results).
PARTS = ("embedder", "sync")


def run(size_name: str, port: int, fresh: bool) -> dict:
    size = SIZES[size_name]
    started = time.perf_counter()
    spectrum = calibrate(DIM)
    catalog = Catalog(spectrum)
    data = DATA / size_name
    if fresh:
        shutil.rmtree(data / "solr", ignore_errors=True)
    stored = catalog.write(max(size.sizes), data / f"catalog-{max(size.sizes)}.npy")
    queries = catalog.queries(size.queries, within=min(size.sizes))
    max_dist = _threshold(stored, min(size.sizes), queries)
    results: dict = {
        "size": size_name,
        "machine": machine(),
        "config": asdict(size),
        "spectrum": spectrum.source,
        "variance_top": spectrum.variances[:8].round(3).tolist(),
        "variance_share_256": float(spectrum.variances[:256].sum() / spectrum.variances.sum()),
        "max_dist": max_dist,
        "points": [],
        "indexing": [],
    }
    centroids = cells.train(stored, max(size.sizes))
    results["cells"] = {"count": len(centroids), "dims": centroids.shape[1], "probes": cells.probes(len(centroids))}
    visual_configset = cells.configset(CONFIGSET, data / "configset-visual", centroids)
    solr = BenchSolr(data / "solr", port, size.heap)
    solr.start({"visual": visual_configset, "hnsw": CONFIGSET})
    try:
        hnsw_rate = None
        for n in size.sizes:
            hnsw_rate = _index_up_to(solr, stored, n, size, hnsw_rate, results)
            settled_s = solr.settle()
            point = _measure_point(solr, stored, n, queries, max_dist, size, results["cells"]["probes"], results)
            point["settle_s"] = settled_s
            results["points"].append(point)
        _run_parts(solr, data, size, PARTS, results)
    finally:
        solr.stop()
    results["pca_quality"] = pca_quality.run()
    results["seconds"] = time.perf_counter() - started
    return results


def run_parts(size_name: str, port: int, parts: tuple[str, ...], results: dict) -> dict:
    """Measures ``parts`` again alone, on a Solr of their own, into ``results`` (the last run's),
    noting which parts were measured so and how long it took."""
    size = SIZES[size_name]
    started = time.perf_counter()
    data = DATA / size_name
    shutil.rmtree(data / "solr-parts", ignore_errors=True)
    solr = BenchSolr(data / "solr-parts", port, size.heap)
    solr.solr.start()
    try:
        _run_parts(solr, data, size, parts, results)
    finally:
        solr.stop()
    results["parts_run"] = {
        "parts": list(parts),
        "seconds": time.perf_counter() - started,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
    }
    return results


def _run_parts(solr: BenchSolr, data: Path, size: Size, parts: tuple[str, ...], results: dict) -> None:
    if "embedder" in parts:
        results["embedder"] = embedder_bench.run(solr.solr, data, size.embed_images, size.embed_repeats)
    if "sync" in parts:
        results["sync"] = sync_bench.run(solr, data, size.sync_rows, size.sync_image_rows)


def _threshold(stored: Stored, n: int, queries: Queries) -> float:
    """The maxDist of threshold queries: the median distance of the 10th neighbour at the
    smallest size, so that about half the queries have fewer than 10 answers."""
    truth = exact_topk(stored, n, queries, math.inf)["unfiltered"]
    return float(np.median(truth.distances[:, -1]))


def _index_up_to(
    solr: BenchSolr, stored: Stored, n: int, size: Size, hnsw_rate: float | None, results: dict
) -> float | None:
    """Indexes the documents up to ``n`` into both cores (HNSW unless projected over budget);
    returns the HNSW rate (docs/s) of the last step."""
    for kind in ("visual", "hnsw"):
        have = solr.count(kind)
        if have >= n:
            continue
        if kind == "hnsw" and hnsw_rate and (n - have) / hnsw_rate > size.hnsw_budget_s:
            results["indexing"].append(
                {
                    "kind": kind,
                    "from": have,
                    "to": n,
                    "skipped": True,
                    "projected_s": (n - have) / hnsw_rate,
                    "rate": hnsw_rate,
                }
            )
            continue
        log.info("indexing %s: documents %d..%d", kind, have, n)
        step = solr.index(kind, stored, have, n)
        entry = {
            "kind": kind,
            "from": have,
            "to": n,
            "seconds": step.seconds,
            "client_seconds": step.client_seconds,
            "rate": step.docs / step.seconds,
            "bytes": solr.index_bytes(kind),
            "memory": solr.memory(),
        }
        results["indexing"].append(entry)
        if kind == "hnsw":
            hnsw_rate = entry["rate"]
    return hnsw_rate


def _measure_point(
    solr: BenchSolr,
    stored: Stored,
    n: int,
    queries: Queries,
    max_dist: float,
    size: Size,
    probes: tuple[int, ...],
    results: dict,
) -> dict:
    log.info("N=%d: exact answers", n)
    truth = exact_topk(stored, n, queries, max_dist)
    contenders = [
        c
        for c in solr_contenders(solr.url("visual"), solr.url("hnsw"), probes)
        if not c.name.startswith("solr") or solr.count("hnsw") >= n
    ]
    contenders += _local_contenders(stored, n, size, results)
    facets = {key: codes[:n] for key, codes in stored.facets.items()}
    point: dict = {"n": n, "cells": {}, "contenders": {}}
    for kind in TYPES:

        def rows_of(q: int, kind: str = kind) -> np.ndarray | None:
            m = mask(facets, queries, q, kind)
            return None if m is None else np.flatnonzero(m)

        todo = cases(queries, kind, max_dist, rows_of)
        for contender in contenders:
            if kind not in contender.kinds:
                continue
            log.info("N=%d %s: %s", n, kind, contender.name)
            cell = measure(contender, todo, _scorer(stored, truth[kind]), size.cell_budget_s)
            point["cells"][f"{contender.name}/{kind}"] = cell.summary()
            point["contenders"][contender.name] = contender.what
    point["memory"] = solr.memory()
    # Other work on the machine competes for its cores; the report shows how much there was.
    point["load_average"] = os.getloadavg()[1]
    point["index_bytes"] = {kind: solr.index_bytes(kind) for kind in ("visual", "hnsw")}
    return point


def _scorer(stored: Stored, truth: Truth):
    def score(case: Case, ids: list[int]) -> float:
        return recall(stored, case.vector.astype(np.float64), ids, truth, case.q)

    return score


def _local_contenders(stored: Stored, n: int, size: Size, results: dict) -> list[Contender]:
    scan = NumpyScan(stored, n)
    local = [
        Contender(
            "numpy-scan",
            TYPES,
            lambda c: scan.search(c.vector, c.rows, c.max_dist),
            "numpy brute force (float32 BLAS matrix-vector product; filters gather their rows first)",
        ),
    ]
    if n <= size.tree_max_n:
        for kind in ("kdtree", "balltree"):
            search, seconds = build_tree(kind, stored, n)
            results.setdefault("tree_build_s", {})[f"{kind}/{n}"] = seconds
            local.append(
                Contender(
                    kind,
                    ("unfiltered",),
                    lambda c, s=search: s(c.vector),
                    f"scikit-learn {kind} (leaf_size=40), unfiltered only",
                )
            )
    return local
