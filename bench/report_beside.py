"""The report's sections on what is measured beside the product's own path: the settings that are
the bench's own, with the bench configset's effect on the visual numbers measured side by side,
and FAISS in-process."""

from __future__ import annotations

import statistics

from bench.contenders import BENCHCONF, SHIPPED_SKETCH, SKETCH_TWIN, TWIN_SKETCH
from bench.exact import TYPES
from bench.faiss_contenders import KINDS as FAISS_KINDS
from bench.report_tables import p50_p95
from bench.report_targets import cell, fastest, x
from bench.solr_bench import BENCH_CONFIGSET_DIFFERENCES

# Solr contenders shown in the FAISS tables for reference.
REFERENCE = ("lookalike", "numpy-scan", "solr-knn")
NOISE = 0.05  # a p50 ratio this close to 1 is not told apart from no difference


def settings(r: dict) -> str:
    """The bench-only settings, and the bench configset's effect on the visual contenders."""
    differences = "\n".join(f"  - {d}" for d in BENCH_CONFIGSET_DIFFERENCES)
    heap = r["config"]["heap"]
    return f"""## What users run, and the bench's own settings

Every `lookalike*` contender queries the configset users run: a core made from `solr-config/` (the
product's `schema.xml` and `solrconfig.xml`, its `/select` with the `reservedDocuments` component),
through `/select`, with the client parameters `rows=10`, `fl=id`, `wt=json`, `minExactCount=10`.
What remains of the bench's own:

- **On the visual core**, as a user's collection would have them: coarse cells declared on the
  `image_vector` type (`cells="cells.bin"`, the documented step for the approximate mode), trained
  for each N; the bench's `f10` and `f100` facets as catalog columns the schema does not name
  (`attr_f10`, `attr_f100`: multi-valued strings, as the indexing job writes such columns); one
  reserved document with a `kind` (the PCA model's place), which `/select` hides.
- **The HNSW core** (`solr-knn*`, `solr-func-exact`, `solr-vectorSimilarity`) is made from
  `bench/configset`: Solr's DenseVectorField is not in the product. It touches only those contenders.
  That configset differs from the shipped one in:
{differences}
{_applied_filters(r["shipped_filters"])}
- **The server:** one standalone Solr 9.10.1 started by the project's launcher (not SolrCloud),
  `-Xmx{heap} -Xms{heap} --add-modules jdk.incubator.vector`, all cores in one JVM; the client is one
  Python thread on the same machine.

{_side_by_side(r)}"""


def _applied_filters(found: dict[str, list[str]]) -> str:
    """What Solr's debug output says it filtered by on the shipped core, and what the product added."""
    mine = {"unfiltered": 0, "filter10": 1, "keyword": 0}  # the fqs the bench's request itself has
    labels = {"unfiltered": "`{!visual}`", "filter10": "`{!visual}` with an `fq`", "keyword": "a keyword search"}
    shown = "; ".join(f"{labels[k]}: {', '.join(f'`{q}`' for q in v) or 'none'}" for k, v in found.items())
    added = [labels[k] for k, v in found.items() if len(v) > mine[k]]
    verdict = f"the shipped `/select` added a filter to {' and '.join(added)} only" if added else "none was added"
    return f"- **Filters applied on the shipped core** (`debug=query`, parsed filter queries): {shown}: {verdict}."


def _side_by_side(r: dict) -> str:
    point = next((p for p in r["points"] if any(k.startswith(BENCHCONF) for k in p["cells"])), None)
    if point is None:
        return "The bench configset's visual core was not measured in this run.\n"
    rows, ratios = [], []
    names = sorted({k.split("/")[0][len(BENCHCONF) :] for k in point["cells"] if k.startswith(BENCHCONF)})
    for name in names:
        for kind in TYPES:
            shipped, bench = cell(point, name, kind), cell(point, BENCHCONF + name, kind)
            if shipped is None or bench is None:
                continue
            value = shipped["p50_ms"] / bench["p50_ms"]
            ratios.append(value)
            rows.append(f"| {name} | {kind} | {p50_p95(shipped)} | {p50_p95(bench)} | {x(value)} |")
    low, high = min(ratios), max(ratios)
    mean = statistics.geometric_mean(ratios)
    slower, faster = sum(v > 1 + NOISE for v in ratios), sum(v < 1 - NOISE for v in ratios)
    return (
        f"**Their effect on the visual numbers**, measured side by side at N = {point['n']:,}: the same"
        " queries against a second visual core made from `bench/configset` with the same cells and"
        " documents (in its own field names), in the same JVM, the two cores taking turns on each query."
        " p50 / p95 ms (recall@10):\n\n"
        "| contender | query | shipped configset | bench configset | shipped / bench p50 |\n"
        "|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"Shipped / bench p50 ranged from {low:.2f}x to {high:.2f}x (geometric mean {mean:.2f}x over"
        f" {len(ratios)} cells): more than {NOISE:.0%} slower through the shipped configset in {slower}, more"
        f" than {NOISE:.0%} faster in {faster}, within {NOISE:.0%} in {len(ratios) - slower - faster}. The"
        " ratio is the joint effect of the differences listed above; this run does not separate them.\n"
    )


def sketch(r: dict) -> str:
    """The shipped visual core beside a twin whose sketch covers TWIN_SKETCH components instead of
    the default's SHIPPED_SKETCH."""
    title = f"## A sketch of {TWIN_SKETCH} components beside the default {SHIPPED_SKETCH}\n"
    point = next((p for p in r["points"] if any(k.startswith(SKETCH_TWIN) for k in p["cells"])), None)
    if point is None:
        return f"{title}\nNot measured in this run.\n"
    rows, ratios = [], []
    for name in sorted({k.split("/")[0][len(SKETCH_TWIN) :] for k in point["cells"] if k.startswith(SKETCH_TWIN)}):
        for kind in TYPES:
            default, twin = cell(point, name, kind), cell(point, SKETCH_TWIN + name, kind)
            if default and twin:
                ratios.append(twin["p50_ms"] / default["p50_ms"])
                rows.append(f"| {name} | {kind} | {p50_p95(default)} | {p50_p95(twin)} | {x(ratios[-1])} |")
    sizes = {
        k: point["index_bytes"][k]["total"] / point["n"] for k in ("visual", "sketchtwin") if k in point["index_bytes"]
    }
    mean = statistics.geometric_mean(ratios)
    verdict = "slower than" if mean > 1 + NOISE else "faster than" if mean < 1 - NOISE else f"within {NOISE:.0%} of"
    size = (
        f" Index bytes per document: {sizes['visual']:,.0f} ({SHIPPED_SKETCH}) and"
        f" {sizes['sketchtwin']:,.0f} ({TWIN_SKETCH})."
        if len(sizes) == 2
        else ""
    )
    stages = (
        f"a second stage of {TWIN_SKETCH - 128} components after the first 128, against the"
        f" default's {SHIPPED_SKETCH - 128}"
    )
    return (
        f"{title}\nAt N = {point['n']:,}, a second shipped core whose `image_vector` type sets"
        f" `sketchDimensions={TWIN_SKETCH}` ({stages}; a document reads a further stage only when the ones before"
        " could not rule it out), same cells and documents, the two cores taking turns on each query."
        " p50 / p95 ms (recall@10):\n\n"
        f"| contender | query | sketch {SHIPPED_SKETCH} (default) | sketch {TWIN_SKETCH} |"
        f" {TWIN_SKETCH} / {SHIPPED_SKETCH} p50 |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
        + f"\n\nOver {len(ratios)} cells the {TWIN_SKETCH}-component sketch is {verdict} the default (geometric"
        f" mean of the p50 ratios {mean:.2f}x, from {min(ratios):.2f}x to {max(ratios):.2f}x).{size}\n"
    )


def faiss(r: dict) -> str:
    builds = "\n".join(_build_row(b) for b in r["faiss_build"])
    tables = "\n".join(_faiss_table(p) for p in r["points"])
    return f"""## FAISS beside Solr: in-process, no HTTP (the floor, not a fair race)

FAISS {r["faiss_version"]} runs in the bench's own process on the same vectors and queries: no
request, no JSON, no server. {_phase(r)} Its latencies are the floor a vector library reaches on this machine;
the `lookalike`, `solr-knn` and `numpy-scan` rows are repeated for reference. "cores busy" is this
process's CPU time over the wall time of the unfiltered queries (about 1 for one thread).

{_faiss_findings(r["points"][-1])}
{tables}
Builds (FAISS's OpenMP threads set to the machine's cores; IVF trained anew at each N):

| index | documents | seconds | threads | notes |
|---|---|---|---|---|
{builds}
"""


def _phase(r: dict) -> str:
    """When the in-process contenders were measured, which a run records by measuring the bandwidth."""
    if "bandwidth" not in r:
        return "It was measured at each N between Solr's contenders, in memory beside the Solr indexes."
    return (
        "It was measured after every Solr contender, with Solr stopped, growing its indexes N by N: its indexes"
        " (a copy of the vectors each) and numpy's passes over the catalog no longer push the Solr indexes out"
        " of the page cache while Solr is timed, as they did in earlier runs."
    )


def _build_row(b: dict) -> str:
    span = f"{b['from']:,}..{b['to']:,}"
    if b.get("skipped"):
        return f"| {b['index']} | {span} | not run: over the HNSW budget at {b['rate']:.0f} docs/s | | |"
    notes = ""
    if b["index"] == "ivf":
        notes = f"{b['cells']} cells, k-means on {b['train_rows']:,} documents in {b['train_s']:.1f} s"
    return f"| {b['index']} | {span} | {b['seconds']:.1f} | {b['threads']} | {notes} |"


def _faiss_table(point: dict) -> str:
    names = sorted({k.split("/")[0] for k in point["cells"] if k.startswith("faiss-")}, key=_faiss_order)
    names += [n for n in REFERENCE if cell(point, n, "unfiltered")]
    lines = [
        f"### N = {point['n']:,}: p50 / p95 ms (recall@10)\n",
        "| contender | " + " | ".join(FAISS_KINDS) + " | cores busy |",
        "|---" * (len(FAISS_KINDS) + 2) + "|",
    ]
    for name in names:
        busy = cell(point, name, "unfiltered")
        row = " | ".join(p50_p95(cell(point, name, kind)) for kind in FAISS_KINDS)
        lines.append(
            f"| {name} | {row} | {busy['cpu_per_wall']:.2f} |" if name.startswith("faiss-") else f"| {name} | {row} | |"
        )
    legend = "\n".join(f"- **{n}**: {point['contenders'][n]}" for n in names if n.startswith("faiss-"))
    return "\n".join(lines) + "\n\n" + legend + "\n"


def _faiss_order(name: str) -> tuple[int, int]:
    family = next(i for i, f in enumerate(("faiss-flat-", "faiss-ivf-", "faiss-hnsw-")) if name.startswith(f))
    return family, int("".join(ch for ch in name.rsplit("-", 1)[1] if ch.isdigit()))


def _faiss_findings(point: dict) -> str:
    """What this run's last N says, each line from its numbers."""
    lines = []
    exact, flat1, flat_all = (
        cell(point, name, "unfiltered") for name in ("lookalike", "faiss-flat-1t", _widest_flat(point))
    )
    if exact and flat1:
        lines.append(
            f"exact unfiltered: `lookalike` {exact['p50_ms']:.1f} ms against FAISS's flat scan on one thread"
            f" {flat1['p50_ms']:.1f} ms (`lookalike` / FAISS = {x(exact['p50_ms'] / flat1['p50_ms'])})"
        )
    if flat1 and flat_all and flat_all is not flat1:
        lines.append(
            f"FAISS's flat scan with all cores' threads: {flat_all['p50_ms']:.1f} ms,"
            f" {x(flat1['p50_ms'] / flat_all['p50_ms'])} the speed of one thread, keeping"
            f" {flat_all['cpu_per_wall']:.2f} cores busy"
        )
    for kind in FAISS_KINDS:
        ours = fastest(point, "lookalike-approx-", kind) if kind == "unfiltered" else "lookalike"
        theirs = fastest(point, "faiss-", kind)
        a, b = cell(point, ours, kind) if ours else None, cell(point, theirs, kind) if theirs else None
        if a and b:
            lines.append(
                f"{kind}, fastest at recall@10 >= 0.95 (else the most accurate): `{ours}` {a['p50_ms']:.1f} ms"
                f" (recall {a['recall']:.3f}) against `{theirs}` {b['p50_ms']:.1f} ms (recall {b['recall']:.3f}):"
                f" `{ours}` / FAISS = {x(a['p50_ms'] / b['p50_ms'])}"
            )
    knn, graph = cell(point, "solr-knn", "unfiltered"), cell(point, "faiss-hnsw-ef64", "unfiltered")
    if knn and graph:
        lines.append(
            f"HNSW with the same graph parameters: Solr's `{{!knn}}` {knn['p50_ms']:.1f} ms at recall"
            f" {knn['recall']:.3f} (over its segments, through HTTP) against FAISS at efSearch=64"
            f" {graph['p50_ms']:.1f} ms at recall {graph['recall']:.3f}"
        )
    return f"At N = {point['n']:,}:\n\n" + "".join(f"- {line}.\n" for line in lines)


def _widest_flat(point: dict) -> str:
    flats = [k.split("/")[0] for k in point["cells"] if k.startswith("faiss-flat-") and k.endswith("/unfiltered")]
    return max(flats, key=lambda name: int(name.rsplit("-", 1)[1].rstrip("t")), default="faiss-flat-1t")
