"""One benchmark run: generate, index up to each size (the visual core anew with the cells of
that size, the HNSW core and FAISS's indexes step by step), query every contender at every size,
and collect the numbers the report is written from (bench/results-<size>.json).
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

from bench import cells, contracts, embedder_bench, floor, linear, pca_quality, profile, sync_bench
from bench.contenders import (
    BENCHCONF,
    SKETCH_TWIN,
    TWIN_SKETCH,
    TWINS,
    Case,
    Contender,
    cases,
    hnsw_contenders,
    measure,
    visual_contenders,
    visual_request,
)
from bench.dataset import Catalog, Queries, Stored, calibrate
from bench.exact import TYPES, NumpyScan, Truth, build_tree, exact_topk, mask, recall
from bench.faiss_contenders import VERSION as FAISS_VERSION
from bench.faiss_contenders import FaissIndexes
from bench.report import machine
from bench.solr_bench import CONFIGSET, CORES, SHIPPED_CONFIGSET, BenchSolr

log = logging.getLogger(__name__)
DIM = 1024
DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Size:
    sizes: tuple[int, ...]  # documents at each measuring point
    queries: int
    cell_budget_s: float  # timed seconds per contender and query type, at least MIN_QUERIES
    tree_max_n: int  # KDTree/BallTree are built up to this many documents only
    hnsw_budget_s: float  # skip an HNSW indexing step (Solr's, FAISS's) projected to take longer
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
PARTS = ("embedder", "sync", "contracts")


def run(size_name: str, port: int, fresh: bool, synthetic: bool) -> dict:
    size = SIZES[size_name]
    started = time.perf_counter()
    spectrum = calibrate(DIM, synthetic)
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
        "cores": os.cpu_count(),
        "config": asdict(size),
        "spectrum": spectrum.source,
        "synthetic_spectrum": spectrum.synthetic,
        "variance_top": spectrum.variances[:8].round(3).tolist(),
        "variance_share_256": float(spectrum.variances[:256].sum() / spectrum.variances.sum()),
        "max_dist": max_dist,
        "probes": list(cells.PROBES),
        "points": [],
        "indexing": [],
        "faiss_version": FAISS_VERSION,
        "faiss_build": [],
    }
    results["bandwidth"] = floor.bandwidth()
    solr = BenchSolr(data / "solr", port, size.heap)
    solr.start()
    solr.keep("hnsw", CONFIGSET)
    truths: dict[int, dict[str, Truth]] = {}
    try:
        hnsw_rate = None
        for n in size.sizes:
            point: dict = {"n": n, "cells": {}, "contenders": {}}
            log.info("N=%d: cells, and the visual cores made anew with them", n)
            trained = cells.train(stored, n)
            point["coarse_cells"] = trained.summary()
            twins = {"benchconf": (CONFIGSET, None), "sketchtwin": (SHIPPED_CONFIGSET, TWIN_SKETCH)}
            kinds = {"visual": (SHIPPED_CONFIGSET, None), **(twins if n == min(size.sizes) else {})}
            for kind, (base, sketch) in kinds.items():
                solr.create(kind, cells.configset(base, data / f"configset-{kind}", trained, sketch))
                _index(solr, kind, stored, n, results)
            if "shipped_filters" not in results:
                results["shipped_filters"] = _shipped_filters(solr, queries, max_dist)
            hnsw_rate = _index_hnsw(solr, stored, n, size, hnsw_rate, results)
            point["settle_s"] = solr.settle()
            point["warmed"] = solr.warm([*kinds, "hnsw"])
            truths[n] = _measure_point(solr, stored, point, queries, max_dist, size)
            results["points"].append(point)
            for twin in twins:
                solr.drop(twin)
        results["profiles"] = profile.run(solr, queries, max_dist)
        _run_parts(solr, data, size, PARTS, results, (stored, queries))
    finally:
        solr.stop()
    # In-process contenders once Solr has stopped: their memory (FAISS's indexes, numpy's passes
    # over the catalog) would otherwise push the Solr indexes out of the page cache while timed.
    indexes = FaissIndexes(DIM)
    for point in results["points"]:
        log.info("N=%d: FAISS indexes, numpy and trees", point["n"])
        results["faiss_build"] += indexes.grow(stored, point["n"], size.hnsw_budget_s)
        contenders = indexes.contenders() + _local_contenders(stored, point["n"], size, results)
        _measure_cells(point, contenders, stored, truths[point["n"]], queries, max_dist, size)
    results["pca_quality"] = pca_quality.run(synthetic)
    results["seconds"] = time.perf_counter() - started
    return results


def run_parts(size_name: str, port: int, parts: tuple[str, ...], results: dict) -> dict:
    """Measures ``parts`` again alone, on a Solr of their own, into ``results`` (the last run's),
    noting which parts were measured so and how long it took."""
    size = SIZES[size_name]
    started = time.perf_counter()
    data = DATA / size_name
    shutil.rmtree(data / "solr-parts", ignore_errors=True)
    catalog = Catalog(calibrate(DIM, results["synthetic_spectrum"]))
    stored = catalog.write(max(size.sizes), data / f"catalog-{max(size.sizes)}.npy")
    queries = catalog.queries(size.queries, within=min(size.sizes))
    solr = BenchSolr(data / "solr-parts", port, size.heap)
    solr.start()
    try:
        _run_parts(solr, data, size, parts, results, (stored, queries))
    finally:
        solr.stop()
    results["parts_run"] = {
        "parts": list(parts),
        "seconds": time.perf_counter() - started,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
    }
    return results


def _run_parts(
    solr: BenchSolr, data: Path, size: Size, parts: tuple[str, ...], results: dict, catalog: tuple[Stored, Queries]
) -> None:
    if "embedder" in parts:
        results["embedder"] = embedder_bench.run(solr.solr, data, size.embed_images, size.embed_repeats)
    if "sync" in parts:
        results["sync"] = sync_bench.run(solr, data, size.sync_rows, size.sync_image_rows)
    if "contracts" in parts:
        stored, queries = catalog
        log.info("Lucene's contracts at N=%d", max(size.sizes))
        results["contracts"] = contracts.run(
            solr, stored, max(size.sizes), queries, results["max_dist"], size.cell_budget_s
        )


def _threshold(stored: Stored, n: int, queries: Queries) -> float:
    """The maxDist of threshold queries: the median distance of the 10th neighbour at the
    smallest size, so that about half the queries have fewer than 10 answers."""
    truth = exact_topk(stored, n, queries, math.inf)["unfiltered"]
    return float(np.median(truth.distances[:, -1]))


def _shipped_filters(solr: BenchSolr, queries: Queries, max_dist: float) -> dict[str, list[str]]:
    """The filters Solr applies on the shipped core to a ``{!visual}`` request, with and without an
    fq of the user's, and to a keyword search (where the reservedDocuments component adds one)."""
    requests = {
        kind: visual_request(cases(queries, kind, max_dist, lambda q: None)[0], CORES["visual"])
        for kind in ("unfiltered", "filter10")
    }
    requests["keyword"] = {"q": "cotton"}
    return {name: solr.filters("visual", params) for name, params in requests.items()}


def _index(solr: BenchSolr, kind: str, stored: Stored, n: int, results: dict) -> dict:
    """Indexes the documents the core of ``kind`` lacks up to ``n``; notes the step."""
    have = solr.count(kind)
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
    return entry


def _index_hnsw(
    solr: BenchSolr, stored: Stored, n: int, size: Size, hnsw_rate: float | None, results: dict
) -> float | None:
    """Grows the HNSW core to ``n`` unless projected over budget (or an earlier run left it so);
    returns the rate (docs/s) of the last step."""
    have = solr.count("hnsw")
    if have >= n:
        return hnsw_rate
    if hnsw_rate and (n - have) / hnsw_rate > size.hnsw_budget_s:
        skipped = {"kind": "hnsw", "from": have, "to": n, "skipped": True, "rate": hnsw_rate}
        results["indexing"].append({**skipped, "projected_s": (n - have) / hnsw_rate})
        return hnsw_rate
    return _index(solr, "hnsw", stored, n, results)["rate"]


def _measure_point(
    solr: BenchSolr, stored: Stored, point: dict, queries: Queries, max_dist: float, size: Size
) -> dict[str, Truth]:
    """Measures the Solr contenders at ``point``; returns the exact answers, for the others."""
    n = point["n"]
    log.info("N=%d: exact answers", n)
    truth = exact_topk(stored, n, queries, max_dist)
    count = point["coarse_cells"]["count"]
    contenders = visual_contenders(
        solr.url("visual"), CORES["visual"], cells.PROBES, count, reads=lambda: solr.vectors_read("visual")
    )
    for twin, prefix in (("benchconf", BENCHCONF), ("sketchtwin", SKETCH_TWIN)):
        if solr.has(twin):
            contenders += visual_contenders(solr.url(twin), CORES[twin], cells.PROBES, count, prefix)
    if solr.count("hnsw") >= n:
        contenders += hnsw_contenders(solr.url("hnsw"), CORES["hnsw"])
    _measure_cells(point, contenders, stored, truth, queries, max_dist, size)
    log.info("N=%d: the learned linear mode", n)
    point["linear"] = linear.measure_point(solr.url("visual"), CORES["visual"], stored, n, queries, size.cell_budget_s)
    point["memory"] = solr.memory()
    # Other work on the machine competes for its cores; the report shows how much there was.
    point["load_average"] = os.getloadavg()[1]
    point["index_bytes"] = {kind: solr.index_bytes(kind) for kind in CORES if solr.has(kind)}
    return truth


def _measure_cells(
    point: dict,
    contenders: list[Contender],
    stored: Stored,
    truth: dict[str, Truth],
    queries: Queries,
    max_dist: float,
    size: Size,
) -> None:
    """Times each contender on each query type it answers, into ``point``'s cells."""
    n = point["n"]
    facets = {key: codes[:n] for key, codes in stored.facets.items()}
    for kind in TYPES:

        def rows_of(q: int, kind: str = kind) -> np.ndarray | None:
            m = mask(facets, queries, q, kind)
            return None if m is None else np.flatnonzero(m)

        todo = cases(queries, kind, max_dist, rows_of)
        for contender in contenders:
            if kind not in contender.kinds or contender.name.startswith(TWINS):
                continue
            # a visual contender and its twins on the smallest N's other visual cores take turns
            group = [contender, *(c for c in contenders if c.name in {t + contender.name for t in TWINS})]
            log.info("N=%d %s: %s", n, kind, " and ".join(c.name for c in group))
            for member, cell in zip(group, measure(group, todo, _scorer(stored, truth[kind]), size.cell_budget_s)):
                point["cells"][f"{member.name}/{kind}"] = cell.summary()
                point["contenders"][member.name] = member.what


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
