"""embedder.learning: a tag's ranker from examples, rejections and a background sample. Its
precision on real vectors is tests/test_evaluation.py's."""

from __future__ import annotations

import numpy as np
import pytest

from embedder import learning
from embedder.errors import BadInput


def cloud(center: np.ndarray, n: int, seed: int, spread: float = 0.3) -> np.ndarray:
    return center + spread * np.random.default_rng(seed).normal(size=(n, len(center)))


D = 16
STYLE, DISTRACTOR = np.eye(D)[0] * 3, np.eye(D)[0] * 3 + np.eye(D)[1] * 1.5


def test_one_or_two_examples_without_rejections_rank_by_their_centroid():
    background = cloud(np.zeros(D), 50, seed=1)
    for n in (1, 2):
        examples = cloud(STYLE, n, seed=n)
        ranker = learning.fit(examples, None, background)
        assert not ranker.learned and ranker.weights is None
        np.testing.assert_allclose(ranker.centroid, examples.mean(axis=0), rtol=1e-6)
        X = cloud(np.zeros(D), 5, seed=9)
        np.testing.assert_allclose(ranker.decision(X), -((X - ranker.centroid) ** 2).sum(axis=1), rtol=1e-5)
    assert learning.MIN_POSITIVES_TO_LEARN == 3


def test_a_rejection_or_enough_examples_learn_and_the_decision_is_w_x_plus_b():
    background = cloud(np.zeros(D), 50, seed=1)
    with_rejection = learning.fit(cloud(STYLE, 1, seed=2), cloud(DISTRACTOR, 1, seed=3), background)
    enough = learning.fit(cloud(STYLE, 3, seed=2), None, background)
    X = cloud(np.zeros(D), 7, seed=4)
    for ranker in (with_rejection, enough):
        assert ranker.learned and ranker.weights.dtype == np.float32 and ranker.weights.shape == (D,)
        np.testing.assert_allclose(ranker.decision(X), X @ ranker.weights + ranker.bias, rtol=1e-6)
    assert (with_rejection.positives, with_rejection.negatives) == (1, 1)
    # Examples with no negative at all have nothing to learn against.
    assert not learning.fit(cloud(STYLE, 5, seed=2)).learned


def test_a_refit_with_rejections_ranks_the_rejected_lower():
    examples = cloud(STYLE, 3, seed=2)
    style, distractors = cloud(STYLE, 20, seed=5), cloud(DISTRACTOR, 20, seed=6)
    background = cloud(np.zeros(D), learning.BACKGROUND_SIZE, seed=1)
    collection = np.vstack([style, distractors, background])
    before = learning.fit(examples, None, background)
    rejected = np.arange(20, 25)  # five distractors a merchandiser turned down
    after = learning.fit(examples, collection[rejected], background)

    def ranks(ranker: learning.Ranker) -> np.ndarray:
        return np.argsort(np.argsort(-ranker.decision(collection)))[rejected]

    assert ranks(after).mean() > ranks(before).mean() + 5
    # ... and the other distractors with them, not just the five.
    unseen = np.arange(25, 40)
    assert (after.decision(collection[unseen]) - after.decision(style).mean()).mean() < (
        before.decision(collection[unseen]) - before.decision(style).mean()
    ).mean()


def test_a_rejection_weighs_more_than_a_background_row():
    examples, background = cloud(STYLE, 3, seed=2), cloud(np.zeros(D), 50, seed=1)
    row = cloud(DISTRACTOR, 1, seed=3)
    as_background = learning.fit(examples, None, np.vstack([background, row]))
    as_rejection = learning.fit(examples, row, background)
    style = cloud(STYLE, 10, seed=7)
    margin = [(r.decision(style) - r.decision(row)[0]).mean() for r in (as_background, as_rejection)]
    assert margin[1] > margin[0]


def test_the_ranking_does_not_depend_on_the_vectors_scale():
    # Raw pool_3 vectors (norm ~20) and unit ones get the same regularization.
    examples, rejected, background = cloud(STYLE, 3, seed=2), cloud(DISTRACTOR, 2, seed=3), cloud(np.zeros(D), 50, 1)
    X = cloud(STYLE / 2, 30, seed=8)
    unit = learning.fit(examples, rejected, background).decision(X)
    scaled = learning.fit(20 * examples, 20 * rejected, 20 * background).decision(20 * X)
    np.testing.assert_allclose(scaled, unit, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(
    ("positives", "rejected", "background", "message"),
    [
        (np.zeros((0, D)), None, None, "positives: give 1 or more"),
        (None, None, None, "positives: give 1 or more"),
        (np.zeros(D), None, None, "positives: expected vectors"),
        (
            np.ones((3, D)),
            np.ones((2, D + 1)),
            None,
            r"rejected: expected vectors of dimension 16, got shape \(2, 17\)",
        ),
        (np.ones((3, D)), None, np.ones((5, 8)), "background: expected vectors of dimension 16"),
        (np.full((3, D), np.nan), None, None, "positives: vectors must be finite"),
        (np.ones((3, D)), None, np.full((5, D), np.inf), "background: vectors must be finite"),
    ],
)
def test_bad_input_is_refused(positives, rejected, background, message):
    with pytest.raises(BadInput, match=message):
        learning.fit(positives, rejected, background)
