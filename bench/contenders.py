"""Every contender as one search function over the same queries, and the timing loop.

A contender answers some query types (``bench.exact.TYPES``) and returns document ids, best
first. Solr contenders are timed from the client (HTTP POST, JSON parse), like an application
would see them; in-process contenders (numpy, trees, FAISS) have no HTTP in their time.
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import requests

from bench.dataset import MATERIALS, Queries
from bench.exact import TYPES, K
from bench.solr_bench import Core

FILTERED = ("filter10", "filter1", "hybrid")
BENCHCONF = "benchconf-"  # names the contenders of the visual core made from bench/configset
SHIPPED_SKETCH = 512  # ImageVectorField's default sketch of a 1024-d vector (half its components)
TWIN_SKETCH = 256  # the sketch of the shipped core's twin: the default before 512
SKETCH_TWIN = f"sketch{TWIN_SKETCH}-"  # ... of the shipped visual core with a sketch of TWIN_SKETCH components
TWINS = (BENCHCONF, SKETCH_TWIN)  # the smallest N's second visual cores, measured in turns with the first


@dataclass(frozen=True)
class Case:
    """One query of one type: its vector, its filter and its distance threshold."""

    q: int
    kind: str
    vector: np.ndarray
    filter: tuple[str, str] | None  # (bench field, value): each Solr core names the field itself
    max_dist: float
    rows: np.ndarray | None  # the documents the filter keeps, for in-process contenders


def cases(queries: Queries, kind: str, max_dist: float, rows_of: Callable[[int], np.ndarray | None]) -> list[Case]:
    filters = {
        "filter10": lambda q: ("f10", str(queries.f10[q])),
        "filter1": lambda q: ("f100", str(queries.f100[q])),
        "hybrid": lambda q: ("title", MATERIALS[queries.material[q]]),
    }
    return [
        Case(
            q=q,
            kind=kind,
            vector=queries.vectors[q],
            filter=filters[kind](q) if kind in filters else None,
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
    # the whole vectors its core's visual queries have read so far (Lookalike's metric), if it has one
    reads: Callable[[], int] | None = None


@dataclass
class Cell:
    """Measurements of one contender on one query type."""

    latencies: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # this process's CPU seconds, all its threads
    recalls: list[float] = field(default_factory=list)
    vectors_read: int | None = None  # whole vectors the timed queries read, where the contender counts them

    def summary(self) -> dict[str, float]:
        ms = np.asarray(self.latencies) * 1000
        reads = {} if self.vectors_read is None else {"vectors_read_per_query": self.vectors_read / len(ms)}
        return {
            "queries": len(ms),
            "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)),
            "recall": float(np.mean(self.recalls)),
            # cores an in-process contender kept busy; for Solr, the client's share of the time
            "cpu_per_wall": float(sum(self.cpu) / sum(self.latencies)),
            **reads,
        }


def measure(
    contenders: list[Contender],
    todo: list[Case],
    score: Callable[[Case, list[int]], float],
    budget_s: float,
    min_queries: int = 5,
    warmup: int = 2,
) -> list[Cell]:
    """Runs ``warmup`` cases untimed, then the others in order until they are done or each
    contender has spent the time budget with at least ``min_queries`` timed. Contenders measured
    together take turns on each case, so that a change in the machine's load reaches them alike. A
    warm-up query is not timed again: the shipped configset's queryResultCache would answer it.
    A contender with ``reads`` has them counted around the timed queries, untimed."""
    for case in todo[:warmup]:
        for contender in contenders:
            contender.search(case)
    cells = [Cell() for _ in contenders]
    before = [contender.reads() if contender.reads else 0 for contender in contenders]
    for case in todo[warmup:]:
        for contender, cell in zip(contenders, cells):
            cpu = time.process_time()
            started = time.perf_counter()
            ids = contender.search(case)
            elapsed = time.perf_counter() - started
            cell.cpu.append(time.process_time() - cpu)
            cell.latencies.append(elapsed)
            cell.recalls.append(score(case, ids))
        if all(sum(c.latencies) > budget_s for c in cells) and len(cells[0].latencies) >= min_queries:
            break
    for contender, cell, read in zip(contenders, cells, before):
        if contender.reads:
            cell.vectors_read = contender.reads() - read
    return cells


class SolrSearch:
    """POSTs /select requests to one core and returns the ids of the hits."""

    def __init__(self, core_url: str) -> None:
        self.url = f"{core_url}/select"
        self.session = requests.Session()

    def __call__(self, params: dict[str, object]) -> list[int]:
        return self.answer(params)[0]

    def answer(self, params: dict[str, object]) -> tuple[list[int], int]:
        """The hits' ids, best first, and the hit count Solr reports."""
        response = self.session.post(self.url, data={"rows": K, "fl": "id", "wt": "json", **params}, timeout=600)
        if response.status_code != 200:
            raise RuntimeError(f"{self.url}: HTTP {response.status_code}: {response.text[-800:]}")
        found = response.json()["response"]
        return [int(doc["id"]) for doc in found["docs"]], found["numFound"]


def _b64(vector: np.ndarray) -> str:
    return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")


def _array(vector: np.ndarray) -> str:
    return json.dumps(vector.tolist())


def _fq(case: Case, core: Core, tag: str = "") -> list[str]:
    if case.filter is None:
        return []
    field, value = case.filter
    fq = f"{core.field(field)}:{value}"
    return [f"{{!tag={tag}}}{fq}" if tag else fq]


def _min_score(case: Case) -> float:
    """Solr's euclidean similarity is 1 / (1 + squared distance): the score at the threshold."""
    return 1.0 / (1.0 + case.max_dist)


def _nudged(case: Case) -> Case:
    """``case`` with its vector one float step up in every component: another request to Solr's
    caches, the same neighbours within the recall's tie tolerance."""
    return replace(case, vector=np.nextafter(case.vector, np.float32(np.inf)))


def visual_request(case: Case, core: Core, extra: str = "") -> dict[str, object]:
    """The parameters of a ``{!visual}`` request for ``case`` (``extra``: more local params)."""
    threshold = f" maxDist={case.max_dist!r}" if math.isfinite(case.max_dist) else ""
    q = f"{{!visual f={core.vector_field}{threshold}{extra} v=$qv}}"
    return {"q": q, "qv": _b64(case.vector), "fq": _fq(case, core), "minExactCount": K}


def visual_contenders(
    core_url: str,
    core: Core,
    probes: tuple[int, ...],
    cells: int,
    prefix: str = "",
    reads: Callable[[], int] | None = None,
) -> list[Contender]:
    """``{!visual}`` exact and at each probe setting, through one core's /select (``prefix``
    names the contenders of a second visual core; ``reads``: the core's whole vectors read)."""
    visual = SolrSearch(core_url)
    where = "the shipped configset" if core.shipped else "bench/configset"

    def lookalike(case: Case, extra: str = "") -> list[int]:
        return visual(visual_request(case, core, extra))

    approximate = [
        Contender(
            f"{prefix}lookalike-approx-p{probe}",
            ("unfiltered", "filter10", "filter1"),
            lambda case, probe=probe: lookalike(case, f" probe={probe}"),
            f"`{{!visual probe={probe}}}` in {where}: the opt-in approximate mode, {probe} of {cells} coarse "
            "cells probed",
            reads,
        )
        for probe in probes
    ]
    threaded = [
        Contender(
            f"{prefix}lookalike-mt",
            ("unfiltered", "filter10", "filter1"),
            lambda case: visual({**visual_request(_nudged(case), core), "multiThreaded": "true"}),
            f"`{{!visual}}` in {where} with `multiThreaded=true`: Solr searches the segments on every core (each"
            " component of the query one float step up, or `lookalike`'s answer would come from Solr's cache)",
            reads,
        )
    ]
    return [
        Contender(
            f"{prefix}lookalike",
            TYPES,
            lookalike,
            f"`{{!visual}}` on ImageVectorField in {where} (`/select`): exact top-10 (this plugin, default mode)",
            reads,
        ),
        *([] if prefix else threaded),
        *approximate,
    ]


def hnsw_contenders(core_url: str, core: Core) -> list[Contender]:
    """Solr's own vector search on DenseVectorField (HNSW), and its stock exact function query."""
    hnsw = SolrSearch(core_url)

    def knn(case: Case) -> list[int]:
        q = f"{{!knn f={core.vector_field} topK={K} v=$qa}}"
        return hnsw({"q": q, "qa": _array(case.vector), "fq": _fq(case, core)})

    def knn_postfilter(case: Case) -> list[int]:
        q = f"{{!knn f={core.vector_field} topK={K} excludeTags=filt v=$qa}}"
        return hnsw({"q": q, "qa": _array(case.vector), "fq": _fq(case, core, "filt")})

    def func(case: Case) -> list[int]:
        function = f"vectorSimilarity({core.vector_field},$qa)"
        fq = _fq(case, core)
        if math.isfinite(case.max_dist):
            # frange matches but scores constantly: the threshold is a post filter on the
            # function query (evaluated only on the documents the main query matched).
            fq.append(f"{{!frange l={_min_score(case)!r} cache=false cost=200}}{function}")
        q = f"{{!func}}{function}"
        return hnsw({"q": q, "qa": _array(case.vector), "fq": fq, "minExactCount": K})

    def similarity_threshold(case: Case) -> list[int]:
        q = f"{{!vectorSimilarity f={core.vector_field} minReturn={_min_score(case)!r} v=$qa}}"
        return hnsw({"q": q, "qa": _array(case.vector), "fq": _fq(case, core)})

    return [
        Contender(
            "solr-knn",
            TYPES[:4],
            knn,
            "Solr `{!knn topK=10}` on DenseVectorField (HNSW, bench/configset); fq used as preFilter (the default)",
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
    ]
