"""Lucene's contracts, each measured beside the path it spares (the exact-everywhere issue).

Every row is one request asked two or three ways on the same queries, taking turns
(``bench.contenders.measure``), on cores of their own made from the shipped configset: the
``contracts`` core (the catalog's vectors and a ``price``) and the ``offset`` core (the same
vectors, and the queries, shifted by ``OFFSET`` in every component). The first way is the
plugin's; the others are what the same answer costs without the contract, through Solr's own
switches (an exact hit count turns the collector's skipping off; a cached ``fq`` is computed over
the whole index) or a full scan. The answers are compared query by query, so that a row whose
answers differ says so.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.contenders import Case, Contender, SolrSearch, _b64, cases, measure
from bench.dataset import Queries, Stored
from bench.exact import K
from bench.solr_bench import CORES, OFFSET, SHIPPED_CONFIGSET, BenchSolr

KINDS = ("contracts", "offset")
CENTRED_TOP = "top 10, the same data centred"  # the latency table's unfiltered top-10, on this core
READ_QUERIES = 8  # requests whose whole-vector reads are counted (untimed), per way


@dataclass(frozen=True)
class Way:
    """One way of asking a row's request: its label and its /select parameters."""

    label: str
    kind: str  # the core asked
    params: Callable[[Case], dict[str, object]]
    compared: bool = True  # whether its answers must equal the first way's


@dataclass(frozen=True)
class Row:
    name: str
    contract: str  # what the plugin does, for the report
    ways: tuple[Way, ...]
    answer: str = "ids"  # what is compared: the hits' ids in order, or the hit count ("count")


def _visual(case: Case, kind: str, extra: str = "") -> dict[str, object]:
    """A ``{!visual}`` clause on the core of ``kind`` (``$qv``: the query point in that core's space)."""
    field = CORES[kind].vector_field
    return {"vis": f"{{!visual f={field}{extra} v=$qv}}", "qv": _b64(case.vector + CORES[kind].offset)}


def _top(case: Case, kind: str, extra: str = "", **params: object) -> dict[str, object]:
    visual = _visual(case, kind, extra)
    return {"q": visual.pop("vis"), **visual, **params}


def _keyword(case: Case) -> str:
    field, value = case.filter
    return f"{field}:{value}"


def _filtered(case: Case, fq: str | None) -> dict[str, object]:
    """The keyword query, ranked by keyword, within ``fq`` (a ``{!visual}`` clause) when given."""
    visual = _visual(case, "contracts", fq or "")
    params: dict[str, object] = {"q": _keyword(case), "qv": visual["qv"], "minExactCount": K}
    if fq is not None:
        params["fq"] = visual["vis"]
    return params


def _hybrid(case: Case, **params: object) -> dict[str, object]:
    visual = _visual(case, "contracts", " score=similarity")
    return {"q": "{!bool should=$kw should=$vis}", "kw": _keyword(case), **visual, **params}


def rows(max_dist: float, sort_thresholds: dict[str, float]) -> tuple[Row, ...]:
    threshold = f" maxDist={max_dist!r}"
    return (
        Row(
            "count",
            "a count needs no score: no distance is computed",
            (
                Way("`rows=0&sort=id asc`", "contracts", lambda c: _top(c, "contracts", rows=0, sort="id asc")),
                Way(
                    "`rows=0` sorted by score (Solr's default): every score asked for",
                    "contracts",
                    lambda c: _top(c, "contracts", rows=0),
                ),
            ),
            answer="count",
        ),
        Row(
            "visual fq (threshold)",
            "`fq={!visual maxDist cache=false}` is a post filter: distances only for the keyword's matches",
            (
                Way("`cache=false`: post filter", "contracts", lambda c: _filtered(c, threshold + " cache=false")),
                Way("cached `fq`: computed over the whole index", "contracts", lambda c: _filtered(c, threshold)),
            ),
        ),
        Row(
            "visual fq (no threshold)",
            "`fq={!visual cache=false}` keeps every product with a vector and computes nothing",
            (
                Way("`cache=false`: post filter", "contracts", lambda c: _filtered(c, " cache=false")),
                Way("no `fq`", "contracts", lambda c: _filtered(c, None)),
            ),
        ),
        *(_sort_row(name, value) for name, value in sort_thresholds.items()),
        Row(
            "hybrid (keyword-led)",
            "`{!bool should=$kw should=$vis}`: block maximum scores let MaxScore skip the visual clause",
            (
                Way("`minExactCount=10`: MaxScore", "contracts", lambda c: _hybrid(c, minExactCount=K)),
                Way("exact hit count: both clauses everywhere", "contracts", lambda c: _hybrid(c)),
            ),
        ),
        Row(
            "offset data",
            f"vectors offset by {OFFSET:g} in every component: the centred sketch prunes them too",
            (
                Way("top 10, offset data", "offset", lambda c: _top(c, "offset", minExactCount=K)),
                Way(
                    "full scan of the same core (`sort=sqdist(...) asc`)",
                    "offset",
                    lambda c: {**_visual(c, "offset"), "q": "*:*", "sort": "sqdist(image_vector,$qv) asc, id asc"},
                ),
                Way(CENTRED_TOP, "contracts", lambda c: _top(c, "contracts", minExactCount=K), False),
            ),
        ),
    )


def _sort_row(name: str, max_dist: float) -> Row:
    threshold = f" maxDist={max_dist!r}"
    by_price = {"sort": "price asc, id asc"}
    return Row(
        f"sort by a field ({name})",
        f"`maxDist={max_dist:.1f}` sorted by `price`: the bulk scorer follows the collector's competitive iterator",
        (
            Way(
                "`minExactCount=10`: skips",
                "contracts",
                lambda c: _top(c, "contracts", threshold, minExactCount=K, **by_price),
            ),
            Way(
                "exact hit count: every match collected",
                "contracts",
                lambda c: _top(c, "contracts", threshold, **by_price),
            ),
        ),
    )


def _share_threshold(stored: Stored, n: int, queries: Queries, share: float, sample: int = 20_000) -> float:
    """The squared distance within which ``share`` of the catalog lies from a query (the median
    over the queries, on a sample of the first ``n`` documents)."""
    rows = np.sort(np.random.default_rng(5).choice(n, size=min(n, sample), replace=False))
    docs = np.asarray(stored.vectors[rows], dtype=np.float32)
    return float(np.median([np.quantile(((docs - q) ** 2).sum(axis=1), share) for q in queries.vectors]))


def run(solr: BenchSolr, stored: Stored, n: int, queries: Queries, max_dist: float, budget_s: float) -> dict:
    """Indexes the two cores up to ``n`` and measures every row; the cores are dropped after."""
    built = {}
    for kind in KINDS:
        solr.create(kind, SHIPPED_CONFIGSET)
        step = solr.index(kind, stored, 0, n)
        size = solr.index_bytes(kind)
        built[kind] = {"seconds": step.seconds, "bytes": size["total"], "segments": size["segments"]}
    solr.settle()
    solr.warm(KINDS)
    todo = cases(queries, "hybrid", math.inf, lambda q: None)  # each with its keyword filter
    sort_thresholds = {"the top-10 threshold": max_dist, "1% within": _share_threshold(stored, n, queries, 0.01)}
    measured = {row.name: _measure(solr, row, todo, budget_s) for row in rows(max_dist, sort_thresholds)}
    for kind in KINDS:
        solr.drop(kind)
    load = os.getloadavg()[1]  # other work on the machine competes for its cores
    return {"n": n, "offset": OFFSET, "max_dist": max_dist, "cores": built, "rows": measured, "load_average": load}


def _measure(solr: BenchSolr, row: Row, todo: list[Case], budget_s: float) -> dict:
    searches = {kind: SolrSearch(solr.url(kind)) for kind in KINDS}
    answers: list[dict[int, object]] = [{} for _ in row.ways]

    def contender(i: int, way: Way) -> Contender:
        def search(case: Case) -> list[int]:
            ids, found = searches[way.kind].answer(way.params(case))
            answers[i][case.q] = found if row.answer == "count" else ids
            return ids

        return Contender(way.label, (), search, way.label)

    contenders = [contender(i, way) for i, way in enumerate(row.ways)]
    # Queries asked again would come from the queryResultCache: the counted ones are kept apart.
    timed, counted = todo[:-READ_QUERIES], todo[-READ_QUERIES:]
    cells = measure(contenders, timed, lambda case, ids: math.nan, budget_s)
    reads = [_reads(solr, way, counted) for way in row.ways]
    reference = answers[0]
    ways = []
    for way, cell, answered, read in zip(row.ways, cells, answers, reads):
        summary = {k: v for k, v in cell.summary().items() if k != "recall"}
        summary["vectors_read"] = float(np.median(read))
        if way.compared:
            summary["same"] = sum(answered[q] == reference[q] for q in answered) / len(answered)
        ways.append({"label": way.label, **summary})
    return {"contract": row.contract, "answer": row.answer, "ways": ways}


def _reads(solr: BenchSolr, way: Way, todo: list[Case]) -> list[int]:
    """Whole vectors read by each request (untimed: the metric is read before and after it)."""
    search = SolrSearch(solr.url(way.kind))
    counts = []
    for case in todo:
        before = solr.vectors_read(way.kind)
        search(way.params(case))
        counts.append(solr.vectors_read(way.kind) - before)
    return counts


def section(r: dict | None) -> str:
    """The report's section: each row's ways, their p50 and its ratio to the plugin's way."""
    title = "## Lucene's contracts, measured beside the path each one spares\n"
    if r is None:
        return f"{title}\nNot run: `python -m bench --only contracts` measures it.\n"
    lines = [
        title,
        f"N = {r['n']:,}, on two cores of their own from the shipped configset: the catalog with a `price`, and "
        f"the same vectors (and queries) offset by {r['offset']:g} in every component. Keyword: `title:<material>` "
        f"(5%); threshold: `maxDist={r['max_dist']:.2f}`. The first way of each row is the plugin's; each other "
        "way is timed in turn with it on the same queries, and its answers are compared with the first's "
        "(the hits in order, or the hit count). Vectors read: the median, over "
        f"{READ_QUERIES} other queries asked untimed, of the whole vectors the request read (the "
        "core's `QUERY.visual.vectorsRead` metric before and after it; sketches are not counted). Load "
        f"average while measured: {r['load_average']:.2f} on {os.cpu_count()} cores.\n",
        "| row | what the plugin does | way | p50 / p95 ms | p50 / plugin's | vectors read | same answers |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    findings = []
    for name, row in r["rows"].items():
        first = row["ways"][0]
        for i, way in enumerate(row["ways"]):
            ratio = way["p50_ms"] / first["p50_ms"]
            same = f"{way['same']:.0%}" if "same" in way else "not compared"
            lines.append(
                f"| {name if i == 0 else ''} | {row['contract'] if i == 0 else ''} | {way['label']} "
                f"| {way['p50_ms']:.1f} / {way['p95_ms']:.1f} | {ratio:.2f}x | {way['vectors_read']:,.0f} "
                f"| {same if i else 'reference'} |"
            )
        other = row["ways"][1]
        findings.append(_finding(name, first, other))
    return "\n".join(lines) + "\n\n" + "\n".join(findings) + "\n"


def _finding(name: str, plugin: dict, other: dict) -> str:
    ratio = other["p50_ms"] / plugin["p50_ms"]
    pace = (
        f"{ratio:.1f}x faster than"
        if ratio >= 1.1
        else ("as fast as" if ratio > 0.9 else f"{1 / ratio:.1f}x slower than")
    )
    agreement = (
        "the same answers"
        if other.get("same") == 1.0
        else f"answers equal in {other.get('same', float('nan')):.0%} of queries"
    )
    times = (
        f"{plugin['p50_ms']:.1f} against {other['p50_ms']:.1f} ms p50, reading {plugin['vectors_read']:,.0f} "
        f"against {other['vectors_read']:,.0f} vectors"
    )
    return f"- {name}: the plugin's way is {pace} {other['label']} ({times}), with {agreement}."
