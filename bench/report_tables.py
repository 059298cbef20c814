"""The report's tables of one run: latency per N, indexing and index size, memory, trees, PCA."""

from __future__ import annotations

import math

from bench.contenders import TWIN_SKETCH, TWINS
from bench.exact import TYPES
from bench.report_targets import cell, ratio

# Contenders with a section of their own (bench/report_beside.py), not in the latency tables.
BESIDE = ("faiss-", *TWINS)
INDEX_LABELS = {
    "visual": "ImageVectorField (doc values), shipped configset",
    "benchconf": "ImageVectorField (doc values), bench configset",
    "sketchtwin": f"ImageVectorField (doc values), shipped configset, {TWIN_SKETCH}-component sketch",
    "hnsw": "DenseVectorField (HNSW), bench configset",
}


def main_contenders(point: dict) -> list[str]:
    names = {key.split("/")[0] for key in point["cells"]}
    return sorted((n for n in names if not n.startswith(BESIDE)), key=_order)


def latency(point: dict) -> str:
    names = main_contenders(point)
    lines = [
        f"## Latency at N = {point['n']:,}: p50 / p95 ms, recall@10\n",
        "| contender | " + " | ".join(TYPES) + " |",
        "|---" * (len(TYPES) + 1) + "|",
    ]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(p50_p95(cell(point, name, kind)) for kind in TYPES) + " |")
    legend = "\n".join(f"- **{name}**: {point['contenders'][name]}" for name in names)
    return "\n".join(lines) + "\n\n" + legend + "\n"


def p50_p95(c: dict | None) -> str:
    return "" if c is None else f"{c['p50_ms']:.1f} / {c['p95_ms']:.1f} ({c['recall']:.3f})"


def _order(name: str) -> tuple[int, str]:
    return (0 if name.startswith("lookalike") else 1 if name.startswith("solr") else 2, name)


def indexing(r: dict) -> str:
    lines = [
        "## Indexing and index size\n",
        "| field type | documents | seconds | docs/s | client share | index bytes/doc | vector files bytes/doc "
        "| segments |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for e in r["indexing"]:
        label = INDEX_LABELS[e["kind"]]
        if e.get("skipped"):
            lines.append(
                f"| {label} | {e['from']:,}..{e['to']:,} | not run: projected {e['projected_s'] / 60:.0f} min "
                f"at {e['rate']:.0f} docs/s | | | | | |"
            )
            continue
        b = e["bytes"]
        vector = b["hnsw"] if e["kind"] == "hnsw" else b["doc_values"]
        lines.append(
            f"| {label} | {e['from']:,}..{e['to']:,} | {e['seconds']:.1f} | {e['rate']:.0f} | "
            f"{e['client_seconds'] / e['seconds']:.0%} | {b['total'] / e['to']:.0f} | {vector / e['to']:.0f} "
            f"| {b['segments']} |"
        )
    return "\n".join(lines) + (
        "\n\nThe visual cores are made anew at each N with the cells trained for it (cells are assigned"
        " at indexing), so each of their rows indexes from 0; the HNSW core grows step by step. Raw"
        " float32 is 4096 bytes per vector. The client (2 threads sending JSON batches of 1000) builds the"
        " bodies while Solr indexes; Lookalike receives base64, DenseVectorField only accepts JSON arrays"
        " of numbers (~21 KB of text per vector), which is part of its cost. Vector files: `.vec/.vex/.vem*`"
        " for HNSW, doc values (`.dvd/.dvm`, the other fields' included: the shipped schema keeps `id`,"
        " `category` and the `attr_*` columns in doc values too) for the visual cores.\n"
    )


def memory(r: dict) -> str:
    lines = [
        "## Memory of the Solr JVM (all cores loaded)\n",
        "| N | heap used | heap max | resident set (RSS, includes mapped index pages touched) | waited for merges "
        "| load average (5 min) while measuring |",
        "|---|---|---|---|---|---|",
    ]
    for p in r["points"]:
        m = p["memory"]
        lines.append(
            f"| {p['n']:,} | {m['heap_used'] / 2**20:.0f} MiB | {m['heap_max'] / 2**20:.0f} MiB | "
            f"{m['rss'] / 2**20:.0f} MiB | {p['settle_s']:.0f} s | {p['load_average']:.1f} |"
        )
    busiest, cores = max(p["load_average"] for p in r["points"]), r["cores"]
    competed = (
        f"it reached {busiest:.1f} on {cores} cores here: other processes competed with the benchmark, which"
        " inflates every contender's latencies alike, ratios less so"
        if busiest > cores
        else f"it stayed at or under {busiest:.1f} on {cores} cores here"
    )
    return "\n".join(lines) + (
        "\n\nThe load average lags: it still counts the indexing and merges that ran before the bench waited"
        f" for Solr to go idle. Above the core count it means other work on the machine; {competed}.\n"
    )


def trees(r: dict) -> str:
    builds = r.get("tree_build_s", {})
    rows = []
    for key, seconds in builds.items():
        kind, n = key.split("/")
        point = next(p for p in r["points"] if p["n"] == int(n))
        rows.append(
            f"| {kind} | {int(n):,} | {seconds:.1f} | {cell(point, kind, 'unfiltered')['p50_ms']:.1f} | "
            f"{ratio(point, kind, 'numpy-scan', 'unfiltered'):.2f}x |"
        )
    table = "\n".join(rows)
    return (
        f"## K-d tree and ball tree\n\nBuilt only up to N = {r['config']['tree_max_n']:,}. Their unfiltered"
        " p50 against numpy's brute-force scan of the same N:\n\n"
        f"| tree | N | build seconds | p50 ms | p50 / numpy's |\n|---|---|---|---|---|\n{table}\n"
    )


def pca(r: dict) -> str:
    lines = [
        "## PCA quality: recall@10 of the raw 2048-d neighbours after PCA\n",
        "| vectors | 1024 | 512 | 256 |",
        "|---|---|---|---|",
    ]
    for data in r["pca_quality"].values():
        cells = [
            f"{v['recall']:.3f} ({v['variance_kept']:.0%} var, {v['fitted_components']} comp.)"
            for v in data["recalls"].values()
        ]
        lines.append(f"| {data['what']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + (
        "\n\nA PCA fitted on fewer vectors than components keeps at most rows - 1 components "
        "(the rest are zero, which changes no distance).\n"
    )


def notes(r: dict) -> str:
    skipped = [e for e in r["indexing"] if e.get("skipped")]
    lines = [
        f"- Solr's HNSW was not built from {e['from']:,} to {e['to']:,}: at the measured {e['rate']:.0f} docs/s "
        f"it would take {e['projected_s'] / 60:.0f} min (budget {r['config']['hnsw_budget_s'] / 60:.0f} min); "
        "the Solr contenders that need it are absent at that N."
        for e in skipped
    ]
    lines += [
        f"- FAISS's HNSW was not grown from {b['from']:,} to {b['to']:,} (projected over the same budget at"
        f" {b['rate']:.0f} docs/s): its contenders are absent from that N on."
        for b in r["faiss_build"]
        if b.get("skipped")
    ]
    if not math.isfinite(r["max_dist"]):
        lines.append("- no finite maxDist threshold could be chosen.")
    return "## Notes\n\n" + ("\n".join(lines) if lines else "- every contender ran at every N.") + "\n"
