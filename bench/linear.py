"""The learned linear mode, ``{!visual weights=... bias=...}``, beside the distance mode.

A merchandiser tags a category from three examples: ``embedder.learning`` fits its model on
them and a background sample of the catalog, as ``lookalike tag`` does, and Solr ranks the
whole catalog by ``w·x + b``. Each query here is one such model (examples from a random
category among the first N documents), unfiltered and within a 10% facet; recall@10 is
against the exact float64 ranking, and numpy's matrix-vector product is the in-process floor.
The distance mode's figures are the same core's ``lookalike`` cells of the same run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.contenders import Contender, SolrSearch, _b64, measure
from bench.dataset import Queries, Stored
from bench.exact import ROWS_PER_PASS, TIE_TOLERANCE, K
from bench.solr_bench import Core
from embedder import learning

EXAMPLES = 3
KINDS = ("unfiltered", "filter10")


@dataclass(frozen=True)
class LinearCase:
    """One tagging model as a query: its weights, bias and (for filter10) facet value."""

    q: int
    kind: str
    weights: np.ndarray
    bias: float
    f10: int | None
    top: np.ndarray  # the exact top-k values, best first


def models(stored: Stored, n: int, count: int, seed: int = 7) -> list[tuple[np.ndarray, float]]:
    """``count`` tagging models over the first ``n`` documents, fitted as ``lookalike tag`` fits."""
    rng = np.random.default_rng(seed)
    categories = stored.facets["category"][:n]
    fitted = []
    for _ in range(count):
        members = np.flatnonzero(categories == categories[rng.integers(n)])
        examples = np.sort(rng.choice(members, size=min(EXAMPLES, len(members)), replace=False))
        background = np.sort(rng.choice(n, size=learning.BACKGROUND_SIZE, replace=False))
        ranker = learning.fit(stored.vectors[examples], None, stored.vectors[np.setdiff1d(background, examples)])
        fitted.append((ranker.weights, ranker.bias))
    return fitted


def cases(stored: Stored, n: int, queries: Queries, fitted: list[tuple[np.ndarray, float]]) -> dict[str, list]:
    """The cases of each kind, with their exact top-k values (float64, one pass over the vectors)."""
    w = np.stack([weights for weights, _ in fitted]).astype(np.float64)
    b = np.array([bias for _, bias in fitted])
    f10 = stored.facets["f10"][:n]
    best = {kind: np.full((len(fitted), K), -np.inf) for kind in KINDS}
    for start in range(0, n, ROWS_PER_PASS):
        rows = np.asarray(stored.vectors[start : min(n, start + ROWS_PER_PASS)], dtype=np.float64)
        values = w @ rows.T + b[:, None]
        keep = f10[start : start + len(rows)][None, :] == queries.f10[: len(fitted)][:, None]
        for kind, kept in (("unfiltered", values), ("filter10", np.where(keep, values, -np.inf))):
            merged = np.concatenate([best[kind], kept], axis=1)
            best[kind] = -np.sort(-merged, axis=1)[:, :K]
    return {
        kind: [
            LinearCase(q, kind, weights, bias, int(queries.f10[q]) if kind == "filter10" else None, best[kind][q])
            for q, (weights, bias) in enumerate(fitted)
        ]
        for kind in KINDS
    }


def contenders(core_url: str, core: Core, stored: Stored, n: int) -> list[Contender]:
    solr = SolrSearch(core_url)

    def lookalike(case: LinearCase) -> list[int]:
        fq = [] if case.f10 is None else [f"{core.field('f10')}:{case.f10}"]
        q = f"{{!visual f={core.vector_field} weights=$qw bias={case.bias!r}}}"
        return solr({"q": q, "qw": _b64(case.weights), "fq": fq, "minExactCount": K})

    vectors = np.asarray(stored.vectors[:n])
    f10 = stored.facets["f10"][:n]

    def scan(case: LinearCase) -> list[int]:
        rows = None if case.f10 is None else np.flatnonzero(f10 == case.f10)
        values = (vectors if rows is None else vectors[rows]) @ case.weights + np.float32(case.bias)
        top = np.argpartition(-values, K)[:K]
        top = top[np.argsort(-values[top], kind="stable")]
        return (top if rows is None else rows[top]).tolist()

    return [
        Contender("lookalike-linear", KINDS, lookalike, "`{!visual weights=... bias=...}`: exact top-10 by w·x + b"),
        Contender("numpy-linear", KINDS, scan, "numpy float32 matrix-vector product (in-process, no HTTP)"),
    ]


def measure_point(core_url: str, core: Core, stored: Stored, n: int, queries: Queries, budget_s: float) -> dict:
    """The linear contenders' cells at ``n`` documents: ``{"name/kind": summary}``."""
    fitted = models(stored, n, len(queries))
    todo = cases(stored, n, queries, fitted)
    racers = contenders(core_url, core, stored, n)
    cells = {}
    for kind in KINDS:
        for racer, cell in zip(racers, measure(racers, todo[kind], _recall(stored), budget_s)):
            cells[f"{racer.name}/{kind}"] = cell.summary()
    return cells


def _recall(stored: Stored):
    """The share of the exact top-k found, counting a value within the tie tolerance of the
    k-th best as found (float32 sums in another order may swap near ties)."""

    def score(case: LinearCase, ids: list[int]) -> float:
        if not ids:
            return 0.0
        values = np.asarray(stored.vectors[np.sort(ids)], dtype=np.float64) @ case.weights + case.bias
        kth = case.top[-1]
        return min(K, int((values >= kth - TIE_TOLERANCE * max(1.0, abs(kth))).sum())) / K

    return score


def section(points: list[dict]) -> str:
    """The report's section: per size, the linear mode against the distance mode and the floor."""
    measured = [p for p in points if "linear" in p]
    if not measured:
        return "## The learned linear mode\n\nNot run.\n"
    lines = [
        "## The learned linear mode (`{!visual weights=...}`)\n",
        "Each query is a tagging model fitted as `lookalike tag` fits it (three examples of a random category and "
        f"{learning.BACKGROUND_SIZE} background products), ranked over the whole catalog by `w·x + b` through the "
        "shipped `/select`. The distance mode is `{!visual}` of the same run and core.\n",
        "| N | query | linear p50 / p95 ms (recall) | distance p50 ms | linear / distance | numpy-linear p50 ms |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for point in measured:
        for kind in KINDS:
            linear, floor = point["linear"][f"lookalike-linear/{kind}"], point["linear"][f"numpy-linear/{kind}"]
            distance = point["cells"].get(f"lookalike/{kind}")
            ratio = f"{linear['p50_ms'] / distance['p50_ms']:.2f}x" if distance else "n/a"
            lines.append(
                f"| {point['n']:,} | {kind} | {linear['p50_ms']:.1f} / {linear['p95_ms']:.1f} "
                f"({linear['recall']:.3f}) | {distance['p50_ms'] if distance else float('nan'):.1f} | {ratio} "
                f"| {floor['p50_ms']:.1f} |"
            )
    last = measured[-1]
    linear = last["linear"]["lookalike-linear/unfiltered"]
    distance = last["cells"].get("lookalike/unfiltered")
    if distance:
        slower = linear["p50_ms"] > distance["p50_ms"]
        why = (
            ": its upper bound prunes only through the sketched leading components and a Cauchy-Schwarz bound of "
            "the rest, looser than the distance's lower bound"
            if slower
            else ""
        )
        lines.append(
            f"\nAt N = {last['n']:,} the linear mode is {'slower than' if slower else 'as fast as or faster than'} "
            f"the distance mode unfiltered ({linear['p50_ms'] / distance['p50_ms']:.2f}x its p50), at recall "
            f"{linear['recall']:.3f}{why}."
        )
    return "\n".join(lines) + "\n"
