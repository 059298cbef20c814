"""Filling an attribute from three examples, on the real InceptionV3 pool_3 vectors with style
labels (../shared/datasets/inception-pool3-styles): it must beat a random pick clearly."""

from __future__ import annotations

import csv

import numpy as np

from embedder.evaluation import fill_precision
from embedder.reduce import PCAReducer
from tests.helpers import shared_dataset


def test_three_examples_find_their_style_better_than_chance():
    dataset = shared_dataset("inception-pool3-styles")
    vectors = np.load(dataset / "vectors.npy")
    with open(dataset / "labels.csv", newline="") as handle:
        labels = [row["style"] for row in csv.DictReader(handle)]
    reduced = PCAReducer(n_components=256).fit_transform(vectors)
    results = fill_precision(reduced, labels, ks=(10,), trials=30)
    assert len(results) == 8
    lift = np.mean([r.precision[10] for r in results]) / np.mean([r.baseline for r in results])
    assert lift > 2.0  # measured: about 2.9x a random pick (docs/attribute-filling.md)
    for result in results:
        assert result.precision[10] > 0.8 * result.baseline, result


def test_on_separable_labels_the_precision_is_perfect():
    rng = np.random.default_rng(1)
    vectors = np.concatenate([rng.normal(0, 1, (40, 8)), rng.normal(50, 1, (40, 8))])
    results = fill_precision(vectors, ["a"] * 40 + ["b"] * 40, ks=(10,), trials=5)
    assert [r.precision[10] for r in results] == [1.0, 1.0]
    assert [round(r.baseline, 3) for r in results] == [round(37 / 77, 3)] * 2
