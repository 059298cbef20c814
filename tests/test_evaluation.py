"""Filling an attribute from a few examples, measured (embedder/evaluation.py) and reported
(embedder/fillreport.py): on made-up labels whose answer is known, and on the real InceptionV3
pool_3 vectors with style labels (../shared/datasets/inception-pool3-styles)."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from embedder import evaluation, fillreport, learning
from embedder.errors import BadInput
from embedder.evaluation import REVIEWED, baseline, draw_trials, measure
from embedder.reduce import PCAReducer
from tests.helpers import shared_dataset


@pytest.fixture(scope="module")
def styles() -> tuple[np.ndarray, list[str]]:
    dataset = shared_dataset("inception-pool3-styles")
    with open(dataset / "labels.csv", newline="") as handle:
        labels = [row["style"] for row in csv.DictReader(handle)]
    return np.load(dataset / "vectors.npy"), labels


def separable(sizes: dict[str, int], seed: int = 1) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    groups = [rng.normal(50 * i, 1, (n, 8)) for i, n in enumerate(sizes.values())]
    return np.vstack(groups), [label for label, n in sizes.items() for _ in range(n)]


def test_trials_are_seeded_and_their_background_leaves_out_the_examples():
    labels = ["a"] * 30 + ["b"] * 30
    trials = draw_trials(labels, 3, per_label=4, seed=7, background=20)
    again = draw_trials(labels, 3, per_label=4, seed=7, background=20)
    assert len(trials) == 8 and [t.label for t in trials] == ["a"] * 4 + ["b"] * 4
    for trial, same in zip(trials, again):
        assert np.array_equal(trial.examples, same.examples) and np.array_equal(trial.background, same.background)
        assert all(labels[i] == trial.label for i in trial.examples)
        assert len(trial.background) == 20 and not set(trial.background) & set(trial.examples)
    with pytest.raises(BadInput, match="label 'a' has 30 rows: too few for 30 examples"):
        draw_trials(labels, 30, per_label=1, seed=0)
    assert baseline(labels, trials) == pytest.approx(27 / 57)


@pytest.mark.parametrize("method", ["centroid", "learned"])
def test_on_separable_labels_the_first_page_is_perfect(method):
    vectors, labels = separable({"a": 40, "b": 40})
    run = measure(vectors, labels, draw_trials(labels, 3, per_label=3, seed=0), method, ks=(10,))
    assert run.mean("first", 10) == 1.0 and run.mean("reviewed", 10) == 1.0
    assert run.learned.all() == (method == "learned")


def test_precision_after_the_review_counts_neither_examples_nor_reviewed_products():
    # "a" has exactly the 3 examples and the 10 the first page finds: nothing of it is left.
    vectors, labels = separable({"a": 3 + REVIEWED, "b": 60})
    run = measure(vectors, labels, draw_trials(labels, 3, per_label=3, seed=0)[:3], "learned", ks=(10,))
    assert run.mean("first", 10) == 1.0
    assert run.mean("reviewed", 10) == 0.0 and run.mean("unrefitted", 10) == 0.0


def test_an_unknown_method_is_refused():
    vectors, labels = separable({"a": 20, "b": 20})
    with pytest.raises(BadInput, match="method must be one of centroid, learned"):
        measure(vectors, labels, draw_trials(labels, 3, 1, 0), "svm")


def test_on_real_vectors_three_examples_find_their_style_better_than_chance(styles):
    vectors, labels = styles
    stored = PCAReducer(n_components=256).fit_transform(vectors)
    trials = draw_trials(labels, 3, per_label=20, seed=0)
    run = measure(stored, labels, trials, "centroid", ks=(10,))
    assert run.mean("first", 10) / baseline(labels, trials) > 3.0  # measured: 3.8x (docs/attribute-filling.md)


def test_on_real_vectors_the_learned_ranker_beats_the_centroid(styles):
    vectors, labels = styles
    trials = draw_trials(labels, 3, per_label=20, seed=0)
    # On raw vectors, from the examples alone (report: +0.07 P@10 from 3 examples) ...
    raw = PCAReducer(n_components=256, normalize="none").fit_transform(vectors)
    learned, centroid = (measure(raw, labels, trials, m, ks=(10,)) for m in ("learned", "centroid"))
    assert learned.mean("first", 10) > centroid.mean("first", 10) + 0.03
    # ... and on the default unit vectors, where the two start level, once a review's rejections
    # are learned from (report: +0.04).
    unit = PCAReducer(n_components=256).fit_transform(vectors)
    learned, centroid = (measure(unit, labels, trials, m, ks=(10,)) for m in ("learned", "centroid"))
    assert learned.mean("reviewed", 10) > centroid.mean("reviewed", 10) + 0.02
    assert learned.mean("reviewed", 10) > learned.mean("unrefitted", 10) + 0.05  # the refit pays


def test_the_report_judges_by_its_figures(tmp_path, monkeypatch):
    vectors, labels = separable({"a": 30, "b": 30})
    (tmp_path / "data").mkdir()
    np.save(tmp_path / "data" / "vectors.npy", vectors.astype(np.float32))
    with open(tmp_path / "data" / "labels.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["row", "style"], *enumerate(labels)])
    monkeypatch.setattr(evaluation, "PER_LABEL", 2)
    monkeypatch.setattr(evaluation, "ALTERNATIVE_TRIALS", 2)
    text = fillreport.write_report(tmp_path / "data", tmp_path / "report.md")
    assert (tmp_path / "report.md").read_text() == text
    assert "| P@10 >= 0.45 from 3 examples | 1.000 ± 0.000 | yes, by 0.550 |" in text
    assert "| higher after one review, 3 examples | 1.000 vs 1.000 before | no, level within noise |" in text
    assert f"{learning.BACKGROUND_SIZE} random other vectors" in text
    # A miss is explained: there is nothing left to find after the review of "a" from 10 examples.
    assert re.search(r"From 10 examples the refit is .* the first ranking on the same unreviewed pool", text)
