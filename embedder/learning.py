"""Learning a merchandiser's lookalikes from examples and rejections.

A tag's candidates are ranked by a linear model fitted on the vectors exactly as the index
stores them: positives are the examples and the accepted candidates, negatives the rejected
candidates and a background sample of the collection (mostly other products). Its decision
function ``w·x + b`` is what ``{!visual weights=... bias=...}`` ranks by inside Solr, so the
collection never streams into Python. With too few examples to learn from, the centroid of the
examples is the query, ranked by distance as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from embedder.errors import BadInput

# Below this many positives, and with no rejection, a learned boundary is mostly the background's
# shape: the centroid ranks better (see docs/attribute-filling.md).
MIN_POSITIVES_TO_LEARN = 3
BACKGROUND_SIZE = 200  # products sampled from the collection as presumed negatives
# Inverse regularization strength, chosen on the shared pool_3 vectors (docs/attribute-filling.md).
C = 0.1


@dataclass(frozen=True)
class Ranker:
    """How to rank a collection for one tag: by ``weights·x + bias`` (descending) when learned,
    else by squared distance to ``centroid`` (ascending)."""

    weights: np.ndarray | None
    bias: float
    centroid: np.ndarray | None
    positives: int
    negatives: int

    @property
    def learned(self) -> bool:
        return self.weights is not None

    def decision(self, vectors: np.ndarray) -> np.ndarray:
        """Higher is more like the positives, for either kind (the centroid's is ``-distance``)."""
        vectors = np.asarray(vectors, dtype=np.float64)
        if self.weights is not None:
            return vectors @ self.weights + self.bias
        return -((vectors - self.centroid) ** 2).sum(axis=1)


def fit(
    positives: np.ndarray,
    rejected: np.ndarray | None = None,
    background: np.ndarray | None = None,
) -> Ranker:
    """The ranker for these positives (examples and accepted candidates), rejected candidates
    and background sample, all rows of the index's vector space."""
    positives = _rows(positives, "positives")
    dimension = positives.shape[1]
    rejected = _rows(rejected, "rejected", dimension, allow_empty=True)
    background = _rows(background, "background", dimension, allow_empty=True)
    centroid = positives.mean(axis=0)
    too_few = len(positives) < MIN_POSITIVES_TO_LEARN and not len(rejected)
    if too_few or not len(rejected) + len(background):
        return Ranker(None, 0.0, centroid.astype(np.float32), len(positives), len(rejected))
    X = np.vstack([positives, rejected, background])
    y = np.r_[np.ones(len(positives)), np.zeros(len(rejected) + len(background))]
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=1000).fit(X, y)
    weights = model.coef_[0].astype(np.float32)
    return Ranker(weights, float(model.intercept_[0]), centroid.astype(np.float32), len(positives), len(rejected))


def _rows(
    vectors: np.ndarray | Sequence[np.ndarray] | None,
    what: str,
    dimension: int | None = None,
    allow_empty: bool = False,
) -> np.ndarray:
    if vectors is None or len(vectors) == 0:
        if not allow_empty:
            raise BadInput(f"{what}: give 1 or more vectors")
        return np.zeros((0, dimension or 0))
    rows = np.asarray(vectors, dtype=np.float64)
    if rows.ndim != 2 or (dimension is not None and rows.shape[1] != dimension):
        raise BadInput(f"{what}: expected vectors of dimension {dimension}, got shape {rows.shape}")
    if not np.isfinite(rows).all():
        raise BadInput(f"{what}: vectors must be finite")
    return rows
