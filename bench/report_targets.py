"""The report's targets tables, and the look-ups of one run's cells that every section uses."""

from __future__ import annotations

from bench import embedder_bench, floor, sync_bench
from bench.exact import TYPES

RAW_VECTOR_BYTES = 1024 * 4


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
    """The speed issue's targets at the largest N, each with how far it is and what the run shows."""
    rows = []
    knn_point = last_with(r, "solr-knn")
    if knn_point:
        n = f"N={knn_point['n']:,}"
        value = ratio(knn_point, "solr-knn", "lookalike", "filter10")
        rows.append((f"exact filter10 p50 <= HNSW `{{!knn}}`'s, {n}", x(value), _verdict(value, 1.0)))
        value = ratio(knn_point, "solr-knn", "lookalike", "unfiltered")
        knn = cell(knn_point, "solr-knn", "unfiltered")
        rows.append(
            (
                f"exact unfiltered p50 <= 1.5x HNSW's, {n}",
                f"{1 / value:.2f}x HNSW's p50 (HNSW recall {knn['recall']:.3f})" if value else "n/a",
                _verdict(value and value * 1.5, 1.0),
            )
        )
    last = r["points"][-1]
    rows.append(_approximate_target(last))
    name = approximate_setting(last)
    for kind in ("unfiltered", "filter10", "filter1"):
        ours, hnsw = cell(last, name, kind) if name else None, cell(last, "solr-knn", kind)
        goal = f"approximate (`{name}`) ahead of HNSW in recall and p50, {kind}, N={last['n']:,}"
        if ours is None or hnsw is None:
            rows.append((goal, "not measured", "not measured"))
            continue
        behind = [
            *([f"recall {ours['recall'] - hnsw['recall']:+.3f}"] if ours["recall"] < hnsw["recall"] else []),
            *([f"p50 {ours['p50_ms'] / hnsw['p50_ms']:.2f}x HNSW's"] if ours["p50_ms"] > hnsw["p50_ms"] else []),
        ]
        measured = (
            f"recall {ours['recall']:.3f} vs {hnsw['recall']:.3f}, {ours['p50_ms']:.1f} vs {hnsw['p50_ms']:.1f} ms"
        )
        rows.append((goal, measured, f"**missed** ({', '.join(behind)})" if behind else "met"))
    func_point = last_with(r, "solr-func-exact")
    if func_point:
        for kind in TYPES:
            value = ratio(func_point, "solr-func-exact", "lookalike", kind)
            rows.append(
                (
                    f">= 3x faster than `{{!func}}vectorSimilarity`, {kind}, N={func_point['n']:,}",
                    x(value),
                    _verdict(value, 3.0),
                )
            )
    found = floor.rows(r) if "bandwidth" in r else []
    if found:
        n, p50, floors = found[-1]
        value = p50 / floors["1"]
        rows.append(
            (
                f"exact unfiltered within {floor.GOAL:g}x of the memory floor (one thread), N={n:,}",
                f"{value:.1f}x ({p50:.1f} ms against {floors['1']:.1f} ms)",
                "met" if value <= floor.GOAL else f"**missed** ({floor.GOAL / value:.2f} of the goal)",
            )
        )
    return _table("## Targets (issue 16), as ratios from this run", rows)


def issue_17(r: dict) -> str:
    rows = [embedder_bench.target(r["embedder"])]
    if "sync" in r:
        rows.insert(0, sync_bench.target(r["sync"]))
    return _table("## Targets (issue 17)", rows)


def _table(title: str, rows: list[tuple[str, str, str]]) -> str:
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    return f"{title}\n\n| target | measured | verdict |\n|---|---|---|\n{table}\n"


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
