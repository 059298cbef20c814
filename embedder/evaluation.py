"""How well an attribute is filled from a few examples, measured against known labels.

A trial plays a merchandiser's session on labelled vectors: ``n`` random vectors carrying a
label (a style, say) are the examples, a seeded random sample of the other vectors is the
background (what Solr would return as random products), and the ranker of embedder/learning.py
ranks the whole collection. Precision@k counts the top k carrying the label, the examples left
out: they are given, not found. Then one review: the top ``REVIEWED`` candidates are judged,
the right ones become accepted positives and the wrong ones rejections, the ranker is refitted,
and precision@k is counted again among the candidates not reviewed yet. Beside it, the first
ranking's own precision past its reviewed top says what the review gained over no refit.

Also here: how far a space's neighbourhoods are from the raw vectors' (``neighbour_recall``),
the paired comparison every judgement of the report uses (``compare``), and ``study``: all that
docs/attribute-filling.md reports (embedder/fillreport.py writes it).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from embedder import learning
from embedder.errors import BadInput
from embedder.reduce import DEFAULT_NORMALIZE, NORMALIZATIONS, PCAReducer

METHODS = ("centroid", "learned")  # the examples' centroid; the learned linear ranker
REVIEWED = 10  # candidates a merchandiser judges in the first review: one page
DIMENSION = 1024  # the index's default
EXAMPLES = (1, 3, 5, 10)
PER_LABEL = 50  # trials per style and number of examples: 400 in all, standard error ~0.013
# learning.fit's constants, one changed at a time, on trials of their own (fewer: they only rank choices).
ALTERNATIVES = {
    "C 0.1": {"C": 0.1},
    "C 1": {"C": 1.0},
    "C 3": {"C": 3.0},
    "rejected weight 1": {"rejected_weight": 1.0},
    "rejected weight 3": {"rejected_weight": 3.0},
    "background 100": {"background": 100},
    "background 500": {"background": 500},
}
ALTERNATIVE_TRIALS = 20  # per style: 160 in all; the comparisons are paired, so fewer suffice


@dataclass(frozen=True)
class Trial:
    label: str
    examples: np.ndarray  # row indices carrying the label
    background: np.ndarray  # row indices of the other rows, drawn as Solr's random sample


def draw_trials(
    labels: Sequence[str], n_examples: int, per_label: int, seed: int, background: int = learning.BACKGROUND_SIZE
) -> list[Trial]:
    """``per_label`` trials for every label, seeded: the same trials serve every space and
    method, so their differences are not differences of luck."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    trials = []
    for label in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == label)
        if len(members) <= n_examples:
            raise BadInput(f"label {label!r} has {len(members)} rows: too few for {n_examples} examples and a test")
        for _ in range(per_label):
            examples = rng.choice(members, size=n_examples, replace=False)
            # A whole permutation, cut: the same draws for any background size, nested.
            others = rng.permutation(np.setdiff1d(np.arange(len(labels)), examples))
            trials.append(Trial(label, examples, others[:background]))
    return trials


@dataclass(frozen=True)
class Measured:
    """One method in one space: per-trial precision@k (k -> one value per trial)."""

    labels: np.ndarray  # each trial's label
    learned: np.ndarray  # whether each trial's first ranker was learned (not the centroid fallback)
    first: dict[int, np.ndarray]  # the first ranking
    unrefitted: dict[int, np.ndarray]  # the first ranking past its reviewed top: no refit
    reviewed: dict[int, np.ndarray]  # after the review's refit, on the candidates not yet reviewed

    def mean(self, stage: str, k: int) -> float:
        return float(np.mean(getattr(self, stage)[k]))

    def stderr(self, stage: str, k: int) -> float:
        """Standard error of the mean over trials (their spread / sqrt(trials))."""
        values = getattr(self, stage)[k]
        return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def measure(
    vectors: np.ndarray,
    labels: Sequence[str],
    trials: Sequence[Trial],
    method: str,
    ks: Sequence[int] = (10, 20),
    options: Mapping[str, float] | None = None,
) -> Measured:
    """Precision@k of ``method`` on ``trials``, before and after one review of the top REVIEWED;
    ``options`` are keywords of ``learning.fit`` for the learned method (its constants' alternatives)."""
    if method not in METHODS:
        raise BadInput(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    vectors, labels = np.asarray(vectors, dtype=np.float64), np.asarray(labels)
    first, unrefitted, reviewed = ({k: [] for k in ks} for _ in range(3))
    learned = []
    for trial in trials:
        ranker = _fit(method, vectors, trial.examples, [], trial.background, options or {})
        learned.append(ranker.learned)
        order = _ranking(ranker, vectors, trial.examples)
        judged = order[:REVIEWED]
        right = labels[judged] == trial.label
        positives = np.r_[trial.examples, judged[right]]
        background = np.setdiff1d(trial.background, judged)  # a judged product is no longer a guess
        refitted = _fit(method, vectors, positives, judged[~right], background, options or {})
        again = _ranking(refitted, vectors, np.r_[trial.examples, judged])
        for k in ks:
            first[k].append(np.mean(labels[order[:k]] == trial.label))
            unrefitted[k].append(np.mean(labels[order[REVIEWED : REVIEWED + k]] == trial.label))
            reviewed[k].append(np.mean(labels[again[:k]] == trial.label))
    arrays = [{k: np.array(v) for k, v in stage.items()} for stage in (first, unrefitted, reviewed)]
    return Measured(np.array([t.label for t in trials]), np.array(learned), *arrays)


def _fit(
    method: str,
    vectors: np.ndarray,
    positives: np.ndarray,
    rejected: Sequence[int],
    background: np.ndarray,
    options: Mapping[str, float],
) -> learning.Ranker:
    if method == "centroid":  # the centroid of the positives; it has no use for negatives
        return learning.fit(vectors[positives])
    rows = vectors[np.asarray(rejected, dtype=int)]
    return learning.fit(vectors[positives], rows, vectors[background], **options)


def _ranking(ranker: learning.Ranker, vectors: np.ndarray, excluded: np.ndarray) -> np.ndarray:
    scores = ranker.decision(vectors)
    scores[excluded] = -np.inf
    order = np.argsort(-scores, kind="stable")
    return order[: len(order) - len(excluded)]


def baseline(labels: Sequence[str], trials: Sequence[Trial]) -> float:
    """The mean precision of a random pick: the label's share of the rows that are not examples."""
    labels = np.asarray(labels)
    shares = [(np.sum(labels == t.label) - len(t.examples)) / (len(labels) - len(t.examples)) for t in trials]
    return float(np.mean(shares))


def neighbour_recall(raw: np.ndarray, reduced: np.ndarray, k: int = 10) -> float:
    """Mean recall@k of each row's exact Euclidean neighbours after reduction.

    For every row, its k nearest other rows are found in ``raw`` and in
    ``reduced``; the result is the average fraction of the raw neighbours that
    are also reduced-space neighbours (1.0 = neighbourhoods fully preserved).
    """
    raw, reduced = np.asarray(raw), np.asarray(reduced)
    if raw.ndim != 2 or reduced.ndim != 2 or raw.shape[0] != reduced.shape[0]:
        raise BadInput(f"raw and reduced must be 2-D with the same rows, got {raw.shape} and {reduced.shape}")
    if not 1 <= k < raw.shape[0]:
        raise BadInput(f"k must be between 1 and n_rows - 1 = {raw.shape[0] - 1}, got {k}")
    truth = _neighbours(raw, k)
    found = _neighbours(reduced, k)
    hits = [len(np.intersect1d(t, f, assume_unique=True)) for t, f in zip(truth, found)]
    return float(np.mean(hits) / k)


def _neighbours(X: np.ndarray, k: int) -> np.ndarray:
    # kneighbors() without a query excludes each row from its own neighbours.
    index = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(X.astype(np.float64))
    return index.kneighbors(return_distance=False)


@dataclass(frozen=True)
class Study:
    """Everything docs/attribute-filling.md reports, measured on one labelled vector set."""

    dataset: str
    labels: list[str]
    trials: dict[int, list[Trial]]  # examples -> the trials every space and method ran
    runs: dict[tuple[str, str, int], Measured]  # (space, method, examples)
    recall: dict[str, float]  # space -> recall@10 against the raw vectors
    variance_kept: float  # the least share of variance a space's PCA kept
    fit_seconds: float  # the median time of one learned fit in the default space
    constants: dict[tuple[str, int], Measured]  # (alternative or "chosen", examples), default space


def study(dataset: Path) -> Study:
    """Measures a labelled vector set (vectors.npy + labels.csv with a ``style`` column) in each
    space the index can store (``PCAReducer`` at DIMENSION, each normalization)."""
    vectors = np.load(dataset / "vectors.npy")
    with open(dataset / "labels.csv", newline="") as handle:
        labels = [row["style"] for row in csv.DictReader(handle)]
    trials = {n: draw_trials(labels, n, PER_LABEL, seed=n) for n in EXAMPLES}
    runs, recall, kept, stored = {}, {}, {}, {}
    # Thousands of fits of a few hundred rows: BLAS threads would only contend for the cores.
    with threadpool_limits(1):
        for space in NORMALIZATIONS:
            reducer = PCAReducer(DIMENSION, normalize=space).fit(vectors)
            stored[space] = reducer.transform(vectors)
            kept[space] = reducer.metadata["explained_variance_ratio_sum"]
            recall[space] = neighbour_recall(vectors, stored[space], k=10)
            for method in METHODS:
                for n in EXAMPLES:
                    runs[space, method, n] = measure(stored[space], labels, trials[n], method)
        seconds = _fit_seconds(stored[DEFAULT_NORMALIZE], trials[3])
        constants = _alternatives(stored[DEFAULT_NORMALIZE], labels)
    return Study(dataset.name, labels, trials, runs, recall, min(kept.values()), seconds, constants)


def _fit_seconds(stored: np.ndarray, trials: Sequence[Trial]) -> float:
    """The median time of one fit (3 examples and the background), as a review's refit costs."""
    times = []
    for trial in trials[:50]:
        started = time.perf_counter()
        learning.fit(stored[trial.examples], None, stored[trial.background])
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def _alternatives(stored: np.ndarray, labels: Sequence[str]) -> dict[tuple[str, int], Measured]:
    """The chosen constants and each alternative, on trials of their own (the same for all), and
    at 1 and 2 examples, learning from 1 positive against the centroid."""
    runs = {}
    for n in (3, 10):
        sizes = {learning.BACKGROUND_SIZE, *(c["background"] for c in ALTERNATIVES.values() if "background" in c)}
        draws = {size: draw_trials(labels, n, ALTERNATIVE_TRIALS, n, size) for size in sizes}
        runs["chosen", n] = measure(stored, labels, draws[learning.BACKGROUND_SIZE], "learned", ks=(10,))
        for name, change in ALTERNATIVES.items():
            options = {key: value for key, value in change.items() if key != "background"}
            chosen = draws[change.get("background", learning.BACKGROUND_SIZE)]
            runs[name, n] = measure(stored, labels, chosen, "learned", ks=(10,), options=options)
    for n in (1, 2):
        few = draw_trials(labels, n, ALTERNATIVE_TRIALS, n)
        runs["centroid", n] = measure(stored, labels, few, "centroid", ks=(10,))
        runs["learning from 1", n] = measure(stored, labels, few, "learned", ks=(10,), options={"min_positives": 1})
    return runs


def compare(a: np.ndarray, b: np.ndarray) -> tuple[float, str]:
    """The paired difference a - b and its word: above, below, or within noise (2 s.e.)."""
    difference = a - b
    error = np.std(difference, ddof=1) / np.sqrt(len(difference))
    mean = float(np.mean(difference))
    if abs(mean) <= 2 * error:
        return mean, "within noise of"
    return mean, "above" if mean > 0 else "below"
