"""The report's targets tables, and the look-ups of one run's cells that every section uses."""

from __future__ import annotations

from collections.abc import Callable

from bench import embedder_bench, floor, sync_bench
from bench.exact import KEPT, TYPES

RAW_VECTOR_BYTES = 1024 * 4
NOT_MEASURED = "not measured in this run"


def cell(point: dict, name: str, kind: str) -> dict | None:
    return point["cells"].get(f"{name}/{kind}")


def ratio(point: dict, slow: str, fast: str, kind: str) -> float | None:
    a, b = cell(point, slow, kind), cell(point, fast, kind)
    return None if a is None or b is None else a["p50_ms"] / b["p50_ms"]


def x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def last_with(r: dict, name: str) -> dict | None:
    found = [p for p in r["points"] if any(k.startswith(name + "/") for k in p["cells"])]
    return found[-1] if found else None


def fastest(point: dict, prefix: str, kind: str, min_recall: float = 0.95) -> str | None:
    """The fastest contender named ``prefix...`` with recall@10 >= ``min_recall`` on ``kind``, or
    the most accurate one when none reaches it; None when none was measured."""
    found = {
        key.split("/")[0]: c for key, c in point["cells"].items() if key.startswith(prefix) and key.endswith("/" + kind)
    }
    if not found:
        return None
    good = {name: c for name, c in found.items() if c["recall"] >= min_recall}
    return min(good, key=lambda k: good[k]["p50_ms"]) if good else max(found, key=lambda k: found[k]["recall"])


def approximate_setting(point: dict) -> str | None:
    """The plugin's approximate setting the targets use (see :func:`fastest`)."""
    return fastest(point, "lookalike-approx-", "unfiltered")


def probed(point: dict, name: str) -> tuple[int, int]:
    """The cells an approximate contender probes, and the cells there are at ``point``."""
    return int(name.rsplit("-p", 1)[1]), point["coarse_cells"]["count"]


def ranked(n: int, kind: str) -> int:
    """The documents an exact search of ``kind`` ranks among ``n``: those its filter keeps."""
    return round(n * KEPT[kind])


def ns_per_ranked(point: dict, name: str, kind: str) -> float | None:
    c = cell(point, name, kind)
    return None if c is None else c["p50_ms"] * 1e6 / ranked(point["n"], kind)


def reads(point: dict, name: str, kind: str) -> float | None:
    """Whole vectors read per timed query (Lookalike's metric); None where the run did not count them."""
    c = cell(point, name, kind)
    return None if c is None else c.get("vectors_read_per_query")


def reads_text(point: dict, name: str, kind: str) -> str:
    value = reads(point, name, kind)
    return NOT_MEASURED if value is None else f"{value:,.0f}"


def reads_clause(point: dict, name: str, kind: str, base: str | None = None) -> str:
    """ "it reads X whole vectors per query[ against Y <base>]", or that the run did not count them."""
    found = [reads(point, name, k) for k in (kind, base) if k]
    if None in found:
        return f"whole vectors read per query: {NOT_MEASURED}"
    return f"it reads {found[0]:,.0f} whole vectors per query" + (f" against {found[1]:,.0f} {base}" if base else "")


def per_ranked(point: dict, kind: str, name: str = "lookalike") -> str:
    """What one exact query of ``kind`` costs per document it ranks, against unfiltered."""
    return (
        f"{kind} ranks {ranked(point['n'], kind):,} documents in {cell(point, name, kind)['p50_ms']:.1f} ms:"
        f" {ns_per_ranked(point, name, kind):.0f} ns per document against"
        f" {ns_per_ranked(point, name, 'unfiltered'):.0f} unfiltered"
    )


def request_cost(r: dict) -> tuple[str, str, float]:
    """The cheapest Solr request at the smallest N (contender, query type, p50 ms): what a request
    costs whatever it searches (HTTP, parsing the query vector, writing the answer)."""
    first = r["points"][0]
    key = min(
        (k for k in first["cells"] if k.startswith(("lookalike", "solr"))), key=lambda k: first["cells"][k]["p50_ms"]
    )
    name, kind = key.split("/")
    return name, kind, first["cells"][key]["p50_ms"]


def cost_source(r: dict) -> str:
    """The per-request cost and where it was measured, as the report writes it."""
    name, kind, cost = request_cost(r)
    return f"{cost:.1f} ms, the cheapest Solr request: `{name}`, {kind}, N={r['points'][0]['n']:,}"


def fixed_share(r: dict, c: dict) -> float:
    """The share of cell ``c``'s p50 that the per-request cost (:func:`request_cost`) would be."""
    return min(1.0, request_cost(r)[2] / c["p50_ms"])


def needs(numpy: dict, goal: float, cost_ms: float) -> str:
    """What ``goal`` times numpy's speed asks of a request, against the per-request cost ``cost_ms``."""
    target = numpy["p50_ms"] / goal
    return f"{goal:g}x needs {target:.1f} ms, {target / cost_ms:.1f} times the per-request cost"


def _verdict(value: float | None, goal: float) -> str:
    if value is None:
        return "not measured"
    return "met" if value >= goal else f"**missed** ({value / goal:.2f} of the goal)"


def issue_5(r: dict) -> str:
    rows = []
    exact = [c["recall"] for p in r["points"] for k, c in p["cells"].items() if k.startswith("lookalike/")]
    rows.append(
        (
            "recall@10 = 1.0, default mode, every type and N",
            f"min {min(exact):.3f}",
            "met" if min(exact) >= 1.0 else "**missed**",
        )
    )
    knn_point = last_with(r, "solr-knn")
    if knn_point:
        for kind in ("filter10", "filter1"):
            value = ratio(knn_point, "solr-knn", "lookalike", kind)
            rows.append(
                (f"p50 no worse than HNSW `{{!knn}}`, {kind}, N={knn_point['n']:,}", x(value), _verdict(value, 1.0))
            )
    func_point = last_with(r, "solr-func-exact")
    if func_point:
        for kind in TYPES:
            goal = 10.0 if kind == "unfiltered" else 3.0
            value = ratio(func_point, "solr-func-exact", "lookalike", kind)
            rows.append(
                (
                    f">= {goal:.0f}x faster than `{{!func}}vectorSimilarity`, {kind}, N={func_point['n']:,}",
                    x(value),
                    _verdict(value, goal),
                )
            )
    last = r["points"][-1]
    rows.append(_approximate_target(last))
    rates = index_rates(r)
    if rates.get("visual") and rates.get("hnsw"):
        value = rates["visual"] / rates["hnsw"]
        rows.append(("indexing >= 5x faster than DenseVectorField+HNSW", x(value), _verdict(value, 5.0)))
    per_vector = visual_bytes_per_vector(r)
    if per_vector:
        value = per_vector[0] / RAW_VECTOR_BYTES
        rows.append(
            (
                f"index size per vector <= 1.3x raw float32 (N={per_vector[1]:,}, bench configset's core)",
                f"{value:.3f}x ({per_vector[0]:.0f} B)",
                "met" if value <= 1.3 else f"**missed** by {value / 1.3:.2f}x",
            )
        )
    return _table("## Targets (issue 5), as ratios from this run", rows)


def issue_16(r: dict) -> str:
    """The speed issue's targets at the largest N, each with how far it is and, where missed, why:
    a measurement of the same run."""
    rows = []
    knn_point = last_with(r, "solr-knn")
    if knn_point:
        n = f"N={knn_point['n']:,}"
        value = ratio(knn_point, "solr-knn", "lookalike", "filter10")
        rows.append(
            _why(
                (f"exact filter10 p50 <= HNSW `{{!knn}}`'s, {n}", x(value), _verdict(value, 1.0)),
                lambda: "; ".join(
                    (per_ranked(knn_point, "filter10"), reads_clause(knn_point, "lookalike", "filter10", "unfiltered"))
                ),
            )
        )
        value = ratio(knn_point, "solr-knn", "lookalike", "unfiltered")
        knn = cell(knn_point, "solr-knn", "unfiltered")
        rows.append(
            _why(
                (
                    f"exact unfiltered p50 <= 1.5x HNSW's, {n}",
                    f"{1 / value:.2f}x HNSW's p50 (HNSW recall {knn['recall']:.3f})" if value else "n/a",
                    _verdict(value and value * 1.5, 1.0),
                ),
                lambda: _why_unfiltered(knn_point, knn),
            )
        )
    last = r["points"][-1]
    name = approximate_setting(last)
    rows.append(_why(_approximate_target(last), lambda: _why_approximate(r, last, name)))
    for kind in ("unfiltered", "filter10", "filter1"):
        ours, hnsw = cell(last, name, kind) if name else None, cell(last, "solr-knn", kind)
        goal = f"approximate (`{name}`) ahead of HNSW in recall and p50, {kind}, N={last['n']:,}"
        if ours is None or hnsw is None:
            rows.append((goal, "not measured", "not measured", ""))
            continue
        behind = [
            *([f"recall {ours['recall'] - hnsw['recall']:+.3f}"] if ours["recall"] < hnsw["recall"] else []),
            *([f"p50 {ours['p50_ms'] / hnsw['p50_ms']:.2f}x HNSW's"] if ours["p50_ms"] > hnsw["p50_ms"] else []),
        ]
        measured = (
            f"recall {ours['recall']:.3f} vs {hnsw['recall']:.3f}, {ours['p50_ms']:.1f} vs {hnsw['p50_ms']:.1f} ms"
        )
        verdict = f"**missed** ({', '.join(behind)})" if behind else "met"
        rows.append(_why((goal, measured, verdict), lambda k=kind, h=hnsw: _why_behind_hnsw(r, last, name, k, h)))
    func_point = last_with(r, "solr-func-exact")
    if func_point:
        for kind in TYPES:
            value = ratio(func_point, "solr-func-exact", "lookalike", kind)
            goal = f">= 3x faster than `{{!func}}vectorSimilarity`, {kind}, N={func_point['n']:,}"
            rows.append(_why((goal, x(value), _verdict(value, 3.0)), lambda k=kind: _why_func(r, func_point, k)))
    found = floor.rows(r) if "bandwidth" in r else []
    if found:
        n, p50, floors = found[-1]
        value = p50 / floors["1"]
        rows.append(
            _why(
                (
                    f"exact unfiltered within {floor.GOAL:g}x of the memory floor (one thread), N={n:,}",
                    f"{value:.1f}x ({p50:.1f} ms against {floors['1']:.1f} ms)",
                    "met" if value <= floor.GOAL else f"**missed** ({floor.GOAL / value:.2f} of the goal)",
                ),
                lambda: _why_floor(r, n, p50, floors["1"]),
            )
        )
    return _table("## Targets (issue 16), as ratios from this run", rows, "why missed (measured in this run)")


def _why(row: tuple[str, str, str], why: Callable[[], str]) -> tuple[str, str, str, str]:
    """``row`` with a fourth column: ``why()`` where its verdict is a miss, else nothing."""
    return (*row, why() if row[2].startswith("**missed**") else "")


def _why_unfiltered(point: dict, knn: dict) -> str:
    goal = 1.5 * knn["p50_ms"]
    return (
        f"1.5x HNSW's p50 is {goal:.1f} ms, {goal * 1e6 / point['n']:.0f} ns per document for an exact scan of"
        f" all {point['n']:,}; it spends {ns_per_ranked(point, 'lookalike', 'unfiltered'):.0f} ns per document"
        f" where HNSW ranks only the graph nodes it visits; {reads_clause(point, 'lookalike', 'unfiltered')}"
    )


def _why_approximate(r: dict, point: dict, name: str | None) -> str:
    numpy = cell(point, "numpy-scan", "unfiltered")
    if name is None or numpy is None:
        return ""
    return (
        f"{needs(numpy, 15, request_cost(r)[2])} ({cost_source(r)});"
        f" numpy keeps {numpy['cpu_per_wall']:.1f} cores busy, a Solr request one; `{name}`:"
        f" {reads_clause(point, name, 'unfiltered')}"
    )


def _why_behind_hnsw(r: dict, point: dict, name: str, kind: str, hnsw: dict) -> str:
    ours = cell(point, name, kind)
    why = []
    if ours["recall"] < hnsw["recall"]:
        exact = reads(point, "lookalike", kind)
        against = "" if exact is None or reads(point, name, kind) is None else f" against {exact:,.0f} exact"
        why.append(f"{reads_clause(point, name, kind)}{against}")
        better = fastest(point, "lookalike-approx-", kind, hnsw["recall"])
        if better != name:
            found = cell(point, better, kind)
            why.append(f"`{better}` reaches recall {found['recall']:.3f} in {found['p50_ms']:.1f} ms")
    if ours["p50_ms"] > hnsw["p50_ms"]:
        why.append(f"the per-request cost is {fixed_share(r, ours):.0%} of its p50")
    return "; ".join(why)


def _why_func(r: dict, point: dict, kind: str) -> str:
    ours, func = cell(point, "lookalike", kind), cell(point, "solr-func-exact", kind)
    cost = request_cost(r)[2]
    text = (
        f"the per-request cost ({cost_source(r)}) is {fixed_share(r, ours):.0%} of `lookalike`'s"
        f" {ours['p50_ms']:.1f} ms"
    )
    if ours["p50_ms"] > cost:
        text += (
            f"; less it, {func['p50_ms'] - cost:.1f} against {ours['p50_ms'] - cost:.1f} ms:"
            f" {(func['p50_ms'] - cost) / (ours['p50_ms'] - cost):.2f}x"
        )
    return text


def _why_floor(r: dict, n: int, p50: float, floor_1: float) -> str:
    point = next(p for p in r["points"] if p["n"] == n)
    jfr = r.get("profiles", {}).get("unfiltered")
    samples = (
        f"JFR: the plugin's frames hold {jfr['where'].get('the plugin', 0):.0%} of the request threads' samples,"
        f" Lucene's {jfr['where'].get('Lucene', 0):.0%}"
        if jfr
        else f"JFR samples: {NOT_MEASURED}"
    )
    return (
        f"{p50 * 1e6 / n:.0f} ns per document against {floor_1 * 1e6 / n:.1f} ns to stream its sketch; {samples};"
        f" {reads_clause(point, 'lookalike', 'unfiltered')}"
    )


def issue_17(r: dict) -> str:
    rows = [embedder_bench.target(r["embedder"])]
    if "sync" in r:
        rows.insert(0, sync_bench.target(r["sync"]))
    return _table("## Targets (issue 17)", rows)


def _table(title: str, rows: list[tuple[str, ...]], why: str = "") -> str:
    """Rows of (target, measured, verdict), and a fourth column titled ``why`` when given."""
    head = ("target", "measured", "verdict", *([why] if why else []))
    table = "\n".join("| " + " | ".join(row) + " |" for row in rows)
    return f"{title}\n\n| {' | '.join(head)} |\n|{'---|' * len(head)}\n{table}\n"


def _approximate_target(point: dict) -> tuple[str, str, str]:
    """The approximate setting of :func:`approximate_setting` against numpy's brute force."""
    goal = f"approximate mode >= 15x faster than brute force at recall >= 0.95, N={point['n']:,}"
    name = approximate_setting(point)
    if name is None:
        return goal, "not measured", "not measured"
    recall = cell(point, name, "unfiltered")["recall"]
    value = ratio(point, "numpy-scan", name, "unfiltered")
    measured = f"{x(value)} at recall {recall:.3f} (`{name}`)"
    return goal, measured, _verdict(value, 15.0) if recall >= 0.95 else "**missed** (recall < 0.95)"


def index_rates(r: dict) -> dict[str, float]:
    done = [e for e in r["indexing"] if not e.get("skipped")]
    return {
        kind: sum(e["to"] - e["from"] for e in done if e["kind"] == kind)
        / sum(e["seconds"] for e in done if e["kind"] == kind)
        for kind in {e["kind"] for e in done}
    }


def visual_bytes_per_vector(r: dict) -> tuple[float, int] | None:
    """The ImageVectorField's bytes per vector and the N they were measured at: the bench
    configset's visual core's doc values less the HNSW core's, whose doc values are the same
    fields without a vector (the shipped core's other fields differ: id and attr_* doc values)."""
    for point in r["points"]:
        sizes = point["index_bytes"]
        if "benchconf" in sizes and sizes.get("hnsw", {}).get("total"):
            return (sizes["benchconf"]["doc_values"] - sizes["hnsw"]["doc_values"]) / point["n"], point["n"]
    return None
