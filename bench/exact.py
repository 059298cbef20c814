"""The exact answers every contender is scored against, recall@k, and the in-process
contenders: a numpy brute-force scan (the memory-bandwidth floor) and scikit-learn's KDTree and
BallTree (the product brief's approach).

Query types share one vocabulary: ``unfiltered``, ``filter10`` and ``filter1`` (facets keeping
10% and 1% of the documents), ``hybrid`` (a keyword filter on the title, 5%) and ``maxdist``
(only documents within a squared distance).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import BallTree, KDTree

from bench.dataset import MATERIALS, Queries, Stored

K = 10
TYPES = ("unfiltered", "filter10", "filter1", "hybrid", "maxdist")
# The share of the documents each type's filter keeps (bench/dataset.py draws f10 from 10 values, f100
# from 100, the title's material from MATERIALS), hence of those an exact search ranks; maxdist ranks all.
KEPT = {"unfiltered": 1.0, "filter10": 1 / 10, "filter1": 1 / 100, "hybrid": 1 / len(MATERIALS), "maxdist": 1.0}
# Results whose true distance is within this relative tolerance of the k-th true distance count
# as correct: float32 sums in another order may swap exact ties (ann-benchmarks does the same).
TIE_TOLERANCE = 1e-5
ROWS_PER_PASS = 50_000


def mask(facets: dict[str, np.ndarray], queries: Queries, q: int, kind: str) -> np.ndarray | None:
    """Which of the documents whose facet codes are ``facets`` query ``q`` of type ``kind`` may
    return, or None for all of them."""
    if kind == "filter10":
        return facets["f10"] == queries.f10[q]
    if kind == "filter1":
        return facets["f100"] == queries.f100[q]
    if kind == "hybrid":
        return facets["material"] == queries.material[q]
    return None


@dataclass(frozen=True)
class Truth:
    """Exact top-k ids and squared distances per query (inf where fewer documents match)."""

    ids: np.ndarray
    distances: np.ndarray


def exact_topk(stored: Stored, n: int, queries: Queries, max_dist: float) -> dict[str, Truth]:
    """The exact top-k of every query type over the first ``n`` documents, in float64."""
    best = {t: (np.full((len(queries), K), -1), np.full((len(queries), K), np.inf)) for t in TYPES}
    q64 = queries.vectors.astype(np.float64)
    for start in range(0, n, ROWS_PER_PASS):
        rows = np.asarray(stored.vectors[start : min(n, start + ROWS_PER_PASS)], dtype=np.float64)
        d = (rows**2).sum(1)[None, :] - 2 * q64 @ rows.T + (q64**2).sum(1)[:, None]
        ids = np.arange(start, start + len(rows))
        facets = {key: codes[start : start + len(rows)] for key, codes in stored.facets.items()}
        for kind in TYPES:
            masked = d.copy()
            if kind == "maxdist":
                masked[masked > max_dist] = np.inf
            for q in range(len(queries)):
                m = mask(facets, queries, q, kind)
                if m is not None:
                    masked[q, ~m] = np.inf
            _merge(best[kind], ids, masked)
    return {t: Truth(*best[t]) for t in TYPES}


def _merge(best: tuple[np.ndarray, np.ndarray], ids: np.ndarray, d: np.ndarray) -> None:
    all_ids = np.concatenate([best[0], np.broadcast_to(ids, d.shape)], axis=1)
    all_d = np.concatenate([best[1], d], axis=1)
    top = np.argsort(all_d, axis=1, kind="stable")[:, :K]
    best[0][:] = np.take_along_axis(all_ids, top, 1)
    best[1][:] = np.take_along_axis(all_d, top, 1)


def recall(stored: Stored, query: np.ndarray, returned: list[int], truth: Truth, q: int) -> float:
    """Distance-based recall@k of one answer: the share of the expected hits whose true distance
    is at most the k-th true distance (within TIE_TOLERANCE)."""
    expected = int(np.isfinite(truth.distances[q]).sum())
    if expected == 0:
        return 1.0
    kth = truth.distances[q][expected - 1]
    got = np.asarray(returned[:K], dtype=np.int64)
    if len(got) == 0:
        return 0.0
    d = ((np.asarray(stored.vectors[got], dtype=np.float64) - query) ** 2).sum(1)
    return min(expected, int((d <= kth * (1 + TIE_TOLERANCE)).sum())) / expected


class NumpyScan:
    """Brute force in numpy: one matrix-vector product over the candidate rows (all of them, or
    the rows of a filter, gathered first), then an argpartition. Float32 BLAS, so it runs at
    about the machine's memory bandwidth: the floor for any exact scan of float32 vectors."""

    def __init__(self, stored: Stored, n: int) -> None:
        self.vectors = np.asarray(stored.vectors[:n])
        self.norms = np.einsum("ij,ij->i", self.vectors, self.vectors)

    def search(self, query: np.ndarray, rows: np.ndarray | None, max_dist: float) -> list[int]:
        if rows is None:
            d = self.norms - 2 * (self.vectors @ query)
            ids = None
        else:
            d = self.norms[rows] - 2 * (self.vectors[rows] @ query)
            ids = rows
        d += float(query @ query)
        k = min(K, len(d))
        top = np.argpartition(d, k - 1)[:k]
        top = top[np.argsort(d[top])]
        top = top[d[top] <= max_dist]
        return (top if ids is None else ids[top]).tolist()


def build_tree(kind: str, stored: Stored, n: int) -> tuple[Callable[[np.ndarray], list[int]], float]:
    """A KDTree or BallTree over the first ``n`` vectors: its search function and build seconds."""
    tree_class = {"kdtree": KDTree, "balltree": BallTree}[kind]
    data = np.asarray(stored.vectors[:n], dtype=np.float64)
    started = time.perf_counter()
    tree = tree_class(data, leaf_size=40)
    seconds = time.perf_counter() - started

    def search(query: np.ndarray) -> list[int]:
        return tree.query(query[None, :].astype(np.float64), k=K, return_distance=False)[0].tolist()

    return search, seconds
