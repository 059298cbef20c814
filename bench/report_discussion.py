"""The report's "Where the time goes": each statement computed from one run's numbers."""

from __future__ import annotations

from bench.contenders import SHIPPED_SKETCH
from bench.contracts import CENTRED_TOP
from bench.exact import TYPES
from bench.floor import FIRST_STAGE_BYTES
from bench.report_targets import (
    NOT_MEASURED,
    RAW_VECTOR_BYTES,
    approximate_setting,
    cell,
    fixed_share,
    needs,
    ns_per_ranked,
    per_ranked,
    probed,
    ranked,
    ratio,
    reads,
    reads_clause,
    reads_text,
    request_cost,
    x,
)


def discussion(r: dict) -> str:
    first, last = r["points"][0], r["points"][-1]
    floor_name, floor_kind, floor_ms = request_cost(r)
    bullets = [
        _request_cost(r, floor_name, floor_kind, floor_ms),
        _per_document(last),
        _same_work_elsewhere(r),
        _hnsw(first, last),
        _approximate(last, floor_ms),
    ]
    return f"## Where the time goes (N = {last['n']:,})\n\n" + "\n".join(f"- {b}" for b in bullets if b) + "\n"


def _request_cost(r: dict, name: str, kind: str, floor_ms: float) -> str:
    last = r["points"][-1]
    text = (
        f"**Per-request cost.** The cheapest Solr request at N = {r['points'][0]['n']:,} (`{name}`, {kind}) took"
        f" {floor_ms:.1f} ms (p50): HTTP, parsing the query vector, searching, writing the answer."
    )
    filtered = cell(last, "lookalike", "filter1")
    if filtered:
        text += (
            f" With a 1% filter an exact search scores {ranked(last['n'], 'filter1'):,} documents at"
            f" N = {last['n']:,}; `lookalike` took {filtered['p50_ms']:.1f} ms there, so that fixed cost would be"
            f" {fixed_share(r, filtered):.0%} of it."
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
        f" first 128 components, the rest up to {SHIPPED_SKETCH} only when needed)"
        " and reads the whole"
        " vector only where the bound cannot rule the document out; what it spends per document is that"
        " bound's arithmetic and Lucene's doc-values access (see the JFR samples)."
    )
    if "solr-func-exact" in per_doc:
        text += (
            " `{!func}` reads every whole vector, compares it with Lucene's `VectorUtil` and scores every"
            f" document: {per_doc['solr-func-exact'] / per_doc['lookalike']:.1f}x Lookalike's cost per document."
        )
    return text


def _same_work_elsewhere(r: dict) -> str:
    """The unfiltered top-10 of the latency table beside the contracts' centred core at the same N:
    about as many whole-vector reads, so a gap between their p50s lies in what else differs."""
    last, contracts = r["points"][-1], r.get("contracts")
    ours = cell(last, "lookalike", "unfiltered")
    ways = (w for row in (contracts or {}).get("rows", {}).values() for w in row["ways"])
    centred = next((w for w in ways if w["label"] == CENTRED_TOP), None)
    if not ours or not centred or contracts["n"] != last["n"]:
        return ""
    text = (
        f'**The same work on another core.** In "Lucene\'s contracts" an unfiltered top-10 at the same N on a'
        f" core indexed just before it was timed (the hybrid queries' vectors, no keyword, no cells) took"
        f" {centred['p50_ms']:.1f} ms, reading {centred['vectors_read']:.0f} whole vectors per query; the latency"
        f" table's `lookalike` took {ours['p50_ms']:.1f} ms reading {reads_text(last, 'lookalike', 'unfiltered')}:"
        f" {ours['p50_ms'] / centred['p50_ms']:.2f}x at about as many whole-vector reads."
    )
    if not last.get("warmed"):
        return text + (
            " This run does not separate why; between the visual core's indexing and its timing, the HNSW"
            f" core indexed {_hnsw_indexing_s(r, last['n']):,.0f} s, which can push the visual core's pages out"
            " of the page cache, and this run read neither core's files into it before timing."
        )
    segments = contracts.get("cores", {}).get("contracts", {}).get("segments")
    theirs = f"{segments}" if segments else "a count this run did not record"
    return text + (
        " Both were timed with their index files read into the page cache first, so the gap is not disk reads."
        " The cores also differ in their queries' vectors, in cells and in segments"
        f" ({last['index_bytes']['visual']['segments']} against {theirs}); this run does not separate which of"
        " them costs the difference."
    )


def _hnsw_indexing_s(r: dict, n: int) -> float:
    return sum(step["seconds"] for step in r["indexing"] if step["kind"] == "hnsw" and step["to"] == n)


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
    probes, count = probed(point, name)
    text = (
        f"**The approximate mode** ranks the documents of the probed cells exactly: `{name}` probes {probes} of"
        f" {count} cells ({probes / count:.1%}) and found recall@10 {approx['recall']:.3f} in"
        f" {approx['p50_ms']:.1f} ms."
    )
    if numpy:
        text += (
            f" numpy's scan took {numpy['p50_ms']:.1f} ms ({x(numpy['p50_ms'] / approx['p50_ms'])});"
            f" {needs(numpy, 15, floor_ms)} above. numpy kept"
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


def vectors_read(r: dict) -> str:
    """Per query type at the largest N: the documents exact ``lookalike`` ranks, the whole vectors it
    reads per query, its p50 and its cost per ranked document; the approximate settings' reads."""
    point = r["points"][-1]
    title = f"## Whole vectors read per query (N = {point['n']:,})\n"
    kinds = [kind for kind in TYPES if cell(point, "lookalike", kind)]
    if not kinds:
        return f"{title}\nNot measured in this run.\n"
    approximate = sorted(
        {k.split("/")[0] for k, c in point["cells"].items() if k.startswith("lookalike-approx-")},
        key=lambda name: probed(point, name)[0],
    )
    approximate = [a for a in approximate if any(reads(point, a, kind) is not None for kind in kinds)]
    lines = [
        title,
        "An exact `{!visual}` ranks every document its filter keeps (`maxdist`: every document, against its"
        " threshold), bounding each distance from the vector's sketch first:"
        " it reads a whole 4 KB vector only where the bound cannot rule the document out. Reads are the core's"
        " `QUERY.visual.vectorsRead` counted around each cell's timed queries (the warm-ups not counted),"
        " divided by the timed queries; an approximate column gives its reads and p50.\n",
        "| query type | documents ranked | whole vectors read / query | p50 ms | ns per ranked document |"
        + "".join(f" `{a}` |" for a in approximate),
        "|---|---:|---:|---:|---:|" + "---:|" * len(approximate),
    ]
    for kind in kinds:
        columns = [
            kind,
            f"{ranked(point['n'], kind):,}",
            reads_text(point, "lookalike", kind),
            f"{cell(point, 'lookalike', kind)['p50_ms']:.1f}",
            f"{ns_per_ranked(point, 'lookalike', kind):.0f}",
            *(_approximate_reads(point, a, kind) for a in approximate),
        ]
        lines.append("| " + " | ".join(columns) + " |")
    counted = reads(point, "lookalike", "unfiltered") is not None
    if "unfiltered" in kinds:
        lines.append("")
        lines += [
            f"- {per_ranked(point, kind)}"
            + (f"; {reads_clause(point, 'lookalike', kind, 'unfiltered')}" if counted else "")
            for kind in kinds
            if kind != "unfiltered"
        ]
    if not counted:
        lines.append(f"\nWhole vectors read per query: {NOT_MEASURED} (its results predate the count).")
    return "\n".join(lines) + "\n"


def _approximate_reads(point: dict, name: str, kind: str) -> str:
    c = cell(point, name, kind)
    return "" if c is None else f"{reads_text(point, name, kind)} ({c['p50_ms']:.1f} ms)"
