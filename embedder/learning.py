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

# Measured on the shared pool_3 vectors as the index stores them by default (unit length): the
# figures are docs/attribute-filling.md's, "The ranker's constants, measured".
# Below 3 positives and with no rejection, learning gains nothing over the centroid (1 and 2
# examples: within noise); from 3 it is within 0.02 of it on unit vectors (-0.01 P@10 from 3
# examples, +0.02 from 10) and +0.08 on raw ones (collections whose model predates normalization).
MIN_POSITIVES_TO_LEARN = 3
# Presumed negatives sampled from the collection (~12% share the style): 100 and 500 rank within
# noise of 200, and 500 doubles the fit time and the Solr round trip.
BACKGROUND_SIZE = 200
# Inverse regularization, on rows scaled to unit mean norm: 0.1 to 1 are within noise, 3 overfits
# three examples (-0.01 P@10).
C = 0.3
# A rejected candidate is a certain negative near the boundary, a background row a guess: weighing
# a rejection as 1 or 3 background rows loses 0.02 to 0.04 P@10 after a review.
REJECTED_WEIGHT = 10.0


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
    *,
    C: float = C,  # the keywords default to the constants above; the report measures alternatives
    rejected_weight: float = REJECTED_WEIGHT,
    min_positives: int = MIN_POSITIVES_TO_LEARN,
) -> Ranker:
    """The ranker for these positives (examples and accepted candidates), rejected candidates
    and background sample, all rows of the index's vector space."""
    positives = _rows(positives, "positives")
    dimension = positives.shape[1]
    rejected = _rows(rejected, "rejected", dimension, allow_empty=True)
    background = _rows(background, "background", dimension, allow_empty=True)
    centroid = positives.mean(axis=0)
    too_few = len(positives) < min_positives and not len(rejected)
    if too_few or not len(rejected) + len(background):
        return Ranker(None, 0.0, centroid.astype(np.float32), len(positives), len(rejected))
    X = np.vstack([positives, rejected, background])
    y = np.r_[np.ones(len(positives)), np.zeros(len(rejected) + len(background))]
    weight = np.r_[np.ones(len(positives)), np.full(len(rejected), rejected_weight), np.ones(len(background))]
    for label in (0.0, 1.0):  # balanced: each class carries half the weight, 3 positives as much as 200 rows
        weight[y == label] *= len(y) / (2 * weight[y == label].sum())
    # One scale for every row, folded back into w (Solr ranks the stored vectors): C then means the
    # same on unit vectors and on raw pool_3 (norm ~20), where C=0.3 would barely regularize (while
    # tuning, raw vectors: 0.41 P@10 from 3 examples unscaled, 0.45 scaled). A scale per feature
    # lost 0.02 to 0.3: it inflates the flat trailing PCA components. A linear SVM was level at
    # best (C=0.01) and worse above; the logistic loss stays.
    scale = float(np.linalg.norm(X, axis=1).mean()) or 1.0
    model = LogisticRegression(C=C, max_iter=1000).fit(X / scale, y, sample_weight=weight)
    weights = (model.coef_[0] / scale).astype(np.float32)
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
