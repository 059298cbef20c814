"""The report's "Where the time goes": each statement computed from one run's numbers."""

from __future__ import annotations

from bench.floor import FIRST_STAGE_BYTES
from bench.report_tables import main_contenders
from bench.report_targets import RAW_VECTOR_BYTES, approximate_setting, cell, ratio, x


def discussion(r: dict) -> str:
    first, last = r["points"][0], r["points"][-1]
    floor_name, floor_kind = min(
        (
            (name, kind)
            for name in main_contenders(first)
            if name.startswith(("lookalike", "solr"))
            for kind in ("unfiltered", "filter10", "filter1", "hybrid", "maxdist")
            if cell(first, name, kind)
        ),
        key=lambda nk: cell(first, *nk)["p50_ms"],
    )
    floor_ms = cell(first, floor_name, floor_kind)["p50_ms"]
    bullets = [
        _request_cost(last, first["n"], floor_name, floor_kind, floor_ms),
        _per_document(last),
        _hnsw(first, last),
        _approximate(last, floor_ms),
    ]
    return f"## Where the time goes (N = {last['n']:,})\n\n" + "\n".join(f"- {b}" for b in bullets if b) + "\n"


def _request_cost(last: dict, first_n: int, name: str, kind: str, floor_ms: float) -> str:
    text = (
        f"**Per-request cost.** The cheapest Solr request at N = {first_n:,} (`{name}`, {kind}) took"
        f" {floor_ms:.1f} ms (p50): HTTP, parsing the query vector, searching, writing the answer."
    )
    filtered = cell(last, "lookalike", "filter1")
    if filtered:
        text += (
            f" With a 1% filter an exact search scores {last['n'] // 100:,} documents at N = {last['n']:,};"
            f" `lookalike` took {filtered['p50_ms']:.1f} ms there, so that fixed cost would be"
            f" {min(1.0, floor_ms / filtered['p50_ms']):.0%} of it."
        )
        func = {kind: ratio(last, "solr-func-exact", "lookalike", kind) for kind in ("filter1", "unfiltered")}
        if None not in func.values():
            text += (
                f" Against `{{!func}}vectorSimilarity` it is {x(func['filter1'])} faster at filter1 and"
                f" {x(func['unfiltered'])} unfiltered."
            )
    return text


def _per_document(point: dict) -> str:
    n = point["n"]
    names = ("lookalike", "solr-func-exact", "numpy-scan", "faiss-flat-1t")
    per_doc = {
        name: cell(point, name, "unfiltered")["p50_ms"] * 1e6 / n for name in names if cell(point, name, "unfiltered")
    }
    if "lookalike" not in per_doc:
        return ""
    costs = ", ".join(f"{name} {ns:.0f} ns" for name, ns in per_doc.items())
    text = f"**Per-document cost of an unfiltered exact top-10** (p50 / N): {costs}."
    numpy = cell(point, "numpy-scan", "unfiltered")
    if numpy:
        text += (
            f" numpy's scan reads every 4 KB vector: {RAW_VECTOR_BYTES / per_doc['numpy-scan']:.1f} GB/s, keeping"
            f" {numpy['cpu_per_wall']:.1f} cores busy."
        )
    text += (
        f" Lookalike bounds each distance from the vector's sketch first ({FIRST_STAGE_BYTES} bytes for the"
        f" first 128 components, {FIRST_STAGE_BYTES} more for the next 128 when needed) and reads the whole"
        " vector only where the bound cannot rule the document out; what it spends per document is that"
        " bound's arithmetic and Lucene's doc-values access (see the JFR samples)."
    )
    if "solr-func-exact" in per_doc:
        text += (
            " `{!func}` reads every whole vector, compares it with Lucene's `VectorUtil` and scores every"
            f" document: {per_doc['solr-func-exact'] / per_doc['lookalike']:.1f}x Lookalike's cost per document."
        )
    return text


def _hnsw(first: dict, last: dict) -> str:
    knn_first, knn_last = cell(first, "solr-knn", "unfiltered"), cell(last, "solr-knn", "unfiltered")
    if not (knn_first and knn_last):
        return ""
    text = (
        f"**Solr's HNSW** took {knn_first['p50_ms']:.1f} ms at N = {first['n']:,} and {knn_last['p50_ms']:.1f} ms"
        f" at N = {last['n']:,} ({knn_last['p50_ms'] / knn_first['p50_ms']:.1f}x for"
        f" {last['n'] / first['n']:.3g}x the documents), at recall@10 {knn_last['recall']:.3f}: Lucene searches"
        f" the graph of every segment ({last['index_bytes']['hnsw']['segments']} segments, no force-merge, as an"
        " index being updated has) with Solr's default graph parameters (M=16, beam width 100); no tuning"
        " was tried."
    )
    for kind in ("filter1", "filter10"):
        value = ratio(last, "solr-knn", "lookalike", kind)
        if value is not None:
            faster = "faster" if value > 1 else "slower"
            text += f" At {kind} the exact plugin is {x(max(value, 1 / value))} {faster} than `{{!knn}}`."
    return text + (
        " (Lucene scans the filtered documents exactly when the filter keeps fewer than its graph search"
        " would visit, and walks the graph otherwise.)"
    )


def _approximate(point: dict, floor_ms: float) -> str:
    name = approximate_setting(point)
    if name is None:
        return ""
    approx, numpy = cell(point, name, "unfiltered"), cell(point, "numpy-scan", "unfiltered")
    probes = int(name.rsplit("-p", 1)[1])
    count = point["coarse_cells"]["count"]
    text = (
        f"**The approximate mode** ranks the documents of the probed cells exactly: `{name}` probes {probes} of"
        f" {count} cells ({probes / count:.1%}) and found recall@10 {approx['recall']:.3f} in"
        f" {approx['p50_ms']:.1f} ms."
    )
    if numpy:
        goal = numpy["p50_ms"] / 15
        text += (
            f" numpy's scan took {numpy['p50_ms']:.1f} ms ({x(numpy['p50_ms'] / approx['p50_ms'])}); 15x needs"
            f" {goal:.1f} ms, {goal / floor_ms:.1f} times the per-request cost above. numpy kept"
            f" {numpy['cpu_per_wall']:.1f} cores busy; a Solr request searches its segments on one thread"
            " unless it asks for `multiThreaded=true`."
        )
    threaded, single = cell(point, "lookalike-mt", "unfiltered"), cell(point, "lookalike", "unfiltered")
    if threaded and single:
        text += (
            f" With it, the exact unfiltered top-10 took {threaded['p50_ms']:.1f} ms against"
            f" {single['p50_ms']:.1f} ms on one thread ({single['p50_ms'] / threaded['p50_ms']:.2f}x on"
            f" {point['index_bytes']['visual']['segments']} segments)."
        )
    return text
