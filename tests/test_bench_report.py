"""The bench's whole-vector reads: counted around a cell's timed queries only, and the report's
"why" of each missed target, its table of reads and the no-op discussion, from hand-made results."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench import contracts, report_discussion, report_targets, sync_bench
from bench.contenders import Case, Contender, measure
from bench.dataset import Catalog, calibrate
from bench.exact import KEPT, TYPES, mask


def test_reads_are_counted_around_the_timed_queries_only():
    read = [0]

    def search(case: Case) -> list[int]:
        read[0] += 7
        return []

    counted = Contender("lookalike", TYPES, search, "", reads=lambda: read[0])
    plain = Contender("numpy-scan", TYPES, lambda case: [], "")
    todo = [Case(q, "unfiltered", np.zeros(4, np.float32), None, math.inf, None) for q in range(6)]
    cells = measure([counted, plain], todo, lambda case, ids: 1.0, budget_s=60.0, warmup=2)
    assert read[0] == 6 * 7  # the warm-ups searched too
    assert cells[0].summary()["vectors_read_per_query"] == 7.0
    assert "vectors_read_per_query" not in cells[1].summary()


def test_the_shares_the_report_ranks_are_those_the_catalog_filters_keep(tmp_path):
    catalog = Catalog(calibrate(16, synthetic=True), seed=4)
    stored = catalog.write(20_000, tmp_path / "catalog.npy")
    queries = catalog.queries(20, within=20_000)
    for kind in TYPES:
        kept = [1.0 if (m := mask(stored.facets, queries, q, kind)) is None else m.mean() for q in range(20)]
        assert np.mean(kept) == pytest.approx(KEPT[kind], rel=0.1)


def _cell(p50_ms: float, recall: float = 1.0, reads: float | None = None) -> dict:
    found = {"queries": 28, "p50_ms": p50_ms, "p95_ms": p50_ms * 1.2, "recall": recall, "cpu_per_wall": 0.1}
    return found if reads is None else {**found, "vectors_read_per_query": reads}


def _results(counted: bool) -> dict:
    """Two points, the largest with the exact plugin behind HNSW at filter10 and unfiltered, behind
    `{!func}` at filter1, and the approximate mode behind numpy's 15x."""

    def reads(value: float) -> float | None:
        return value if counted else None

    exact = {"unfiltered": 60.0, "filter10": 30.0, "filter1": 8.0, "hybrid": 22.0, "maxdist": 52.0}
    large = {
        **{f"lookalike/{k}": _cell(ms, reads=reads(1000.0 * (i + 1))) for i, (k, ms) in enumerate(exact.items())},
        **{f"solr-func-exact/{k}": _cell(ms * 3.5 if k != "filter1" else 16.0) for k, ms in exact.items()},
        **{f"solr-knn/{k}": _cell(ms, 0.9) for k, ms in (("unfiltered", 18.0), ("filter10", 27.0), ("filter1", 25.0))},
        **{f"lookalike-approx-p10/{k}": _cell(ms, 0.96, reads(40.0)) for k, ms in (("unfiltered", 15.0),)},
        "numpy-scan/unfiltered": {**_cell(150.0), "cpu_per_wall": 2.0},
    }
    points = [
        {"n": 100_000, "coarse_cells": {"count": 300}, "cells": {"lookalike/filter1": _cell(3.0)}},
        {"n": 1_000_000, "coarse_cells": {"count": 1000}, "cells": large},
    ]
    profiles = {"unfiltered": {"where": {"the plugin": 0.74, "Lucene": 0.09}}}
    return {"points": points, "bandwidth": {"1": 18e9, "2": 33e9}, "profiles": profiles}


def _rows(table: str) -> dict[str, list[str]]:
    """A markdown table's rows below its header, by their first column."""
    rows = [line.strip("|").split(" | ") for line in table.splitlines() if line.startswith("| ")][1:]
    return {row[0].strip(): [c.strip() for c in row[1:]] for row in rows}


def test_each_missed_issue_16_target_says_why_from_the_run():
    rows = _rows(report_targets.issue_16(_results(counted=True)))
    for target, (_, verdict, why) in rows.items():
        assert bool(why) == verdict.startswith("**missed**"), target
    filter10 = rows["exact filter10 p50 <= HNSW `{!knn}`'s, N=1,000,000"][2]
    assert "100,000 documents in 30.0 ms: 300 ns per document against 60 unfiltered" in filter10
    assert "2,000 whole vectors per query against 1,000 unfiltered" in filter10
    func = rows[">= 3x faster than `{!func}vectorSimilarity`, filter1, N=1,000,000"][2]
    assert "(3.0 ms, the cheapest Solr request: `lookalike`, filter1, N=100,000) is 38% of" in func
    assert "less it, 13.0 against 5.0 ms: 2.60x" in func
    floor = rows["exact unfiltered within 2x of the memory floor (one thread), N=1,000,000"][2]
    assert "the plugin's frames hold 74%" in floor
    assert "15x needs 10.0 ms" in rows[next(t for t in rows if t.startswith("approximate mode"))][2]


def test_the_reads_table_gives_documents_ranked_reads_and_cost_per_document():
    section = report_discussion.vectors_read(_results(counted=True))
    rows = _rows(section)
    assert rows["filter1"] == ["10,000", "3,000", "8.0", "800", ""]
    assert rows["unfiltered"][-1] == "40 (15.0 ms)"
    assert "- filter10 ranks 100,000 documents in 30.0 ms: 300 ns per document against 60 unfiltered;" in section


def test_results_without_reads_render_as_not_measured():
    r = _results(counted=False)
    section = report_discussion.vectors_read(r)
    assert _rows(section)["hybrid"][1] == report_targets.NOT_MEASURED
    assert "lookalike-approx-p10" not in section  # no column of reads that were not counted
    rows = _rows(report_targets.issue_16(r))
    assert rows["exact filter10 p50 <= HNSW `{!knn}`'s, N=1,000,000"][2].endswith(
        f"whole vectors read per query: {report_targets.NOT_MEASURED}"
    )


def test_the_no_op_discussion_reads_the_parts_against_the_jobs_clock_either_way():
    def case(job_s: float) -> dict:
        parts = {"read_catalog_s": 1.6, "lookup_s": 12.2, "hash_s": 1.5, "lookups": 3125}
        return {"what": "w", "rows": 100_000, "noop": {"seconds": job_s + 2, "job_seconds": job_s}, "parts": parts}

    over, under = (sync_bench._discussion({"batch": 32, "cases": {"c": case(s)}}) for s in (13.9, 16.4))
    assert "15.3 s, 1.4 s more than the job's clock" in over and "-" not in over.split("µs per row.")[1]
    assert "The parts add up to 15.3 s; the other 1.1 s of the job's clock" in under


def test_the_same_unfiltered_work_on_the_contracts_core_is_set_beside_the_latency_table_at_its_n_only():
    point = {"n": 1000, "cells": {"lookalike/unfiltered": {"p50_ms": 30.0, "vectors_read_per_query": 40.0}}}
    way = {"label": contracts.CENTRED_TOP, "p50_ms": 20.0, "vectors_read": 41.0}
    r = {
        "points": [point],
        "indexing": [{"kind": "hnsw", "to": 1000, "seconds": 12.0}, {"kind": "visual", "to": 1000, "seconds": 5.0}],
        "contracts": {"n": 1000, "rows": {"offset data": {"ways": [way]}}},
    }
    text = report_discussion._same_work_elsewhere(r)
    assert "took 20.0 ms, reading 41 whole vectors" in text and "30.0 ms reading 40: 1.50x" in text
    assert "the HNSW core indexed 12 s" in text
    assert report_discussion._same_work_elsewhere({**r, "contracts": {**r["contracts"], "n": 500}}) == ""
    warm = {**point, "warmed": {"bytes": 1e9, "seconds": 2.0}, "index_bytes": {"visual": {"segments": 37}}}
    warmed = {**r, "points": [warm]}
    text = report_discussion._same_work_elsewhere(warmed)
    assert "read into the page cache first" in text and "(37 against a count this run did not record)" in text
    recorded = {**warmed, "contracts": {**r["contracts"], "cores": {"contracts": {"segments": 5}}}}
    assert "(37 against 5)" in report_discussion._same_work_elsewhere(recorded)
