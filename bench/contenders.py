"""Every contender as one search function over the same queries, and the timing loop.

A contender answers some query types (``bench.exact.TYPES``) and returns document ids, best
first. Solr contenders are timed from the client (HTTP POST, JSON parse), like an application
would see them; in-process contenders (numpy, trees) have no HTTP in their time.
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import requests

from bench.dataset import MATERIALS, Queries
from bench.exact import TYPES, K

FILTERED = ("filter10", "filter1", "hybrid")


@dataclass(frozen=True)
class Case:
    """One query of one type: its vector, its filter (a Solr fq) and its distance threshold."""

    q: int
    kind: str
    vector: np.ndarray
    fq: str | None
    max_dist: float
    rows: np.ndarray | None  # the documents the filter keeps, for in-process contenders


def cases(queries: Queries, kind: str, max_dist: float, rows_of: Callable[[int], np.ndarray | None]) -> list[Case]:
    fqs = {
        "filter10": lambda q: f"f10:{queries.f10[q]}",
        "filter1": lambda q: f"f100:{queries.f100[q]}",
        "hybrid": lambda q: f"title:{MATERIALS[queries.material[q]]}",
    }
    return [
        Case(
            q=q,
            kind=kind,
            vector=queries.vectors[q],
            fq=fqs[kind](q) if kind in fqs else None,
            max_dist=max_dist if kind == "maxdist" else math.inf,
            rows=rows_of(q),
        )
        for q in range(len(queries))
    ]


@dataclass(frozen=True)
class Contender:
    name: str
    kinds: tuple[str, ...]
    search: Callable[[Case], list[int]]
    what: str  # one line for the report


@dataclass
class Cell:
    """Measurements of one contender on one query type."""

    latencies: list[float] = field(default_factory=list)
    recalls: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        ms = np.asarray(self.latencies) * 1000
        return {
            "queries": len(ms),
            "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)),
            "recall": float(np.mean(self.recalls)),
        }


def measure(
    contender: Contender,
    todo: list[Case],
    score: Callable[[Case, list[int]], float],
    budget_s: float,
    min_queries: int = 5,
    warmup: int = 2,
) -> Cell:
    """Runs the cases in order (after ``warmup`` untimed ones) until they are done or the time
    budget is spent with at least ``min_queries`` timed."""
    for case in todo[:warmup]:
        contender.search(case)
    cell = Cell()
    spent = 0.0
    for case in todo:
        started = time.perf_counter()
        ids = contender.search(case)
        elapsed = time.perf_counter() - started
        cell.latencies.append(elapsed)
        cell.recalls.append(score(case, ids))
        spent += elapsed
        if spent > budget_s and len(cell.latencies) >= min_queries:
            break
    return cell


class SolrSearch:
    """POSTs /select requests to one core and returns the ids of the hits."""

    def __init__(self, core_url: str) -> None:
        self.url = f"{core_url}/select"
        self.session = requests.Session()

    def __call__(self, params: dict[str, object]) -> list[int]:
        response = self.session.post(self.url, data={"rows": K, "fl": "id", "wt": "json", **params}, timeout=600)
        if response.status_code != 200:
            raise RuntimeError(f"{self.url}: HTTP {response.status_code}: {response.text[-800:]}")
        return [int(doc["id"]) for doc in response.json()["response"]["docs"]]


def _b64(vector: np.ndarray) -> str:
    return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")


def _array(vector: np.ndarray) -> str:
    return json.dumps(vector.tolist())


def _fq(case: Case, tag: str = "") -> list[str]:
    return [] if case.fq is None else [f"{{!tag={tag}}}{case.fq}" if tag else case.fq]


def _min_score(case: Case) -> float:
    """Solr's euclidean similarity is 1 / (1 + squared distance): the score at the threshold."""
    return 1.0 / (1.0 + case.max_dist)


def solr_contenders(visual_url: str, hnsw_url: str, probes: tuple[int, ...]) -> list[Contender]:
    visual, hnsw = SolrSearch(visual_url), SolrSearch(hnsw_url)

    def lookalike(case: Case, extra: str = "") -> list[int]:
        threshold = f" maxDist={case.max_dist!r}" if math.isfinite(case.max_dist) else ""
        q = f"{{!visual f=image_vector{threshold}{extra} v=$qv}}"
        return visual({"q": q, "qv": _b64(case.vector), "fq": _fq(case), "minExactCount": K})

    def knn(case: Case) -> list[int]:
        q = f"{{!knn f=knn_vector topK={K} v=$qa}}"
        return hnsw({"q": q, "qa": _array(case.vector), "fq": _fq(case)})

    def knn_postfilter(case: Case) -> list[int]:
        q = f"{{!knn f=knn_vector topK={K} excludeTags=filt v=$qa}}"
        return hnsw({"q": q, "qa": _array(case.vector), "fq": _fq(case, "filt")})

    def func(case: Case) -> list[int]:
        function = "vectorSimilarity(knn_vector,$qa)"
        fq = _fq(case)
        if math.isfinite(case.max_dist):
            # frange matches but scores constantly: the threshold is a post filter on the
            # function query (evaluated only on the documents the main query matched).
            fq.append(f"{{!frange l={_min_score(case)!r} cache=false cost=200}}{function}")
        q = f"{{!func}}{function}"
        return hnsw({"q": q, "qa": _array(case.vector), "fq": fq, "minExactCount": K})

    def similarity_threshold(case: Case) -> list[int]:
        q = f"{{!vectorSimilarity f=knn_vector minReturn={_min_score(case)!r} v=$qa}}"
        return hnsw({"q": q, "qa": _array(case.vector), "fq": _fq(case)})

    approximate = [
        Contender(
            f"lookalike-approx-p{probe}",
            ("unfiltered",),
            lambda case, probe=probe: lookalike(case, f" probe={probe}"),
            f"`{{!visual probe={probe}}}`: the opt-in approximate mode, {probe} coarse cells probed",
        )
        for probe in probes
    ]
    return [
        Contender(
            "lookalike", TYPES, lookalike, "`{!visual}` on ImageVectorField: exact top-10 (this plugin, default mode)"
        ),
        Contender(
            "solr-knn",
            TYPES[:4],
            knn,
            "Solr `{!knn topK=10}` on DenseVectorField (HNSW); fq used as preFilter (the default)",
        ),
        Contender(
            "solr-knn-postfilter",
            FILTERED,
            knn_postfilter,
            "Solr `{!knn topK=10 excludeTags=...}`: HNSW first, fq applied after",
        ),
        Contender(
            "solr-func-exact",
            TYPES,
            func,
            "Solr's stock exact path `{!func}vectorSimilarity(knn_vector,...)` "
            "(plus an `{!frange}` post filter for maxDist)",
        ),
        Contender(
            "solr-vectorSimilarity",
            ("maxdist",),
            similarity_threshold,
            "Solr `{!vectorSimilarity minReturn=...}` (HNSW graph walk above a threshold)",
        ),
        *approximate,
    ]
