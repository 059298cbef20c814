"""embedder.reduce: PCA 2048 -> N, its normalization, its persistence, and neighbour recall on
real pool_3 vectors. Tests of the PCA itself use ``normalize="none"``: the default L2-normalizes."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.metrics import pairwise_distances

from embedder.evaluation import neighbour_recall
from embedder.reduce import FORMAT, PCAReducer
from tests.helpers import shared_dataset


def low_rank(n: int, d: int = 64, rank: int = 12, seed: int = 0) -> np.ndarray:
    """Non-negative-ish data with a decaying spectrum, like pool_3 vectors."""
    rng = np.random.default_rng(seed)
    scales = 2.0 ** -np.arange(rank)
    latent = rng.normal(size=(n, rank)) * scales
    basis = rng.normal(size=(rank, d))
    return (latent @ basis + 0.01 * rng.normal(size=(n, d)) + 1.0).astype(np.float32)


def subspace_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared cosine of the principal angles between row spaces (1 = same)."""
    return float(np.linalg.norm(a @ b.T) ** 2 / a.shape[0])


@pytest.fixture(scope="module")
def real_vectors() -> np.ndarray:
    return np.load(shared_dataset("inception-pool3-styles") / "vectors.npy")


def test_fit_transform_shapes_and_dtype() -> None:
    X = low_rank(300)
    reducer = PCAReducer(n_components=16)
    Z = reducer.fit_transform(X)
    assert Z.shape == (300, 16) and Z.dtype == np.float32
    assert reducer.n_fitted_components == 16 and reducer.input_dim == 64
    np.testing.assert_allclose(reducer.transform(X[:5]), Z[:5], rtol=1e-5, atol=1e-5)


def test_components_are_in_pca_order() -> None:
    reducer = PCAReducer(n_components=20, normalize="none").fit(low_rank(300))
    assert np.all(np.diff(reducer.explained_variance_) <= 0)
    Z = reducer.transform(low_rank(300))
    assert np.all(np.diff(Z.var(axis=0)) <= 1e-6)  # the output columns, too


def test_matches_sklearn_pca_up_to_sign() -> None:
    X = low_rank(300)
    ours = PCAReducer(n_components=8, normalize="none").fit_transform(X)
    reference = PCA(n_components=8).fit_transform(X.astype(np.float64))
    np.testing.assert_allclose(np.abs(ours), np.abs(reference), atol=1e-4)


def test_tall_data_uses_an_equivalent_exact_solver() -> None:
    # n >= 10 * d switches to the covariance solver: same subspace as a full SVD.
    X = low_rank(1000, d=32)
    tall = PCAReducer(n_components=6, normalize="none").fit(X)
    full = PCA(n_components=6, svd_solver="full").fit(X.astype(np.float64))
    assert subspace_agreement(tall.components_, full.components_) > 1 - 1e-6
    np.testing.assert_allclose(tall.explained_variance_, full.explained_variance_, rtol=1e-4)


def test_fewer_samples_than_components_zero_pads_without_changing_distances() -> None:
    X = low_rank(20)
    reducer = PCAReducer(n_components=48, normalize="none").fit(X)
    assert reducer.n_fitted_components == 20
    assert reducer.metadata["n_fitted_components"] == 20
    Z = reducer.transform(X)
    assert Z.shape == (20, 48)
    assert not Z[:, 20:].any()
    unpadded = PCA(n_components=20).fit_transform(X.astype(np.float64))
    np.testing.assert_allclose(pairwise_distances(Z), pairwise_distances(unpadded), atol=1e-4)
    # All 20 components span the centred data, so raw distances survive too.
    np.testing.assert_allclose(pairwise_distances(Z), pairwise_distances(X), atol=1e-3)


def test_whitening_gives_unit_variance() -> None:
    X = low_rank(400)
    Z = PCAReducer(n_components=5, whiten=True, normalize="none").fit_transform(X)
    np.testing.assert_allclose(Z.var(axis=0, ddof=1), 1.0, rtol=1e-3)


def test_metadata_is_json_and_complete() -> None:
    reducer = PCAReducer(n_components=10).fit(low_rank(200))
    meta = json.loads(json.dumps(reducer.metadata))
    assert meta["input_dim"] == 64 and meta["output_dim"] == 10 and meta["n_fitted_components"] == 10
    assert meta["fit_size"] == 200 and meta["version"] == reducer.version
    assert 0.9 < meta["explained_variance_ratio_sum"] <= 1.0
    assert meta["created_at"].startswith("20") and meta["sklearn_version"]
    assert meta["normalize"] == "both"  # the default


# -- normalization -----------------------------------------------------------------------


def unit(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=1, keepdims=True)


@pytest.mark.parametrize("normalize", ["none", "input", "both"])
def test_transform_is_the_normalized_projection(normalize: str) -> None:
    X = low_rank(200) * np.random.default_rng(2).uniform(0.5, 3, (200, 1)).astype(np.float32)  # varied norms
    reducer = PCAReducer(n_components=10, normalize=normalize).fit(X)
    inputs = X if normalize == "none" else unit(X)
    np.testing.assert_allclose(reducer.mean_, inputs.mean(axis=0), atol=1e-5)  # fitted on what it transforms
    expected = (inputs - reducer.mean_) @ reducer.components_.T
    if normalize == "both":
        expected = unit(expected)
        np.testing.assert_allclose(np.linalg.norm(reducer.transform(X), axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(reducer.transform(X), expected, rtol=1e-4, atol=1e-5)


def test_a_zero_vector_gives_no_nan() -> None:
    X = low_rank(100)
    X[7] = 0.0  # a blank image's pool_3, in the fit too
    zero = np.zeros((1, 64), np.float32)
    for normalize in ("input", "both"):
        reducer = PCAReducer(n_components=6, normalize=normalize).fit(X)
        assert np.isfinite(reducer.mean_).all() and np.isfinite(reducer.components_).all()
        assert np.isfinite(reducer.transform(zero)).all()
    # Normalizing leaves a zero row at zero: it projects as the origin does.
    reducer = PCAReducer(n_components=6, normalize="input").fit(X)
    np.testing.assert_allclose(reducer.transform(zero)[0], -reducer.mean_ @ reducer.components_.T, rtol=1e-5)


def test_unknown_normalization_is_refused() -> None:
    with pytest.raises(ValueError, match="normalize must be one of none, input, both, got 'l1'"):
        PCAReducer(normalize="l1")


# -- versions and persistence ------------------------------------------------------------


def test_version_is_stable_for_the_same_model_and_changes_with_it() -> None:
    X = low_rank(200)
    version = PCAReducer(n_components=10).fit(X).version
    assert len(version) == 16 and int(version, 16) >= 0
    assert PCAReducer(n_components=10).fit(X).version == version
    assert PCAReducer(n_components=10).fit(low_rank(200, seed=1)).version != version
    assert PCAReducer(n_components=11).fit(X).version != version
    assert PCAReducer(n_components=10, whiten=True).fit(X).version != version
    normalized = {n: PCAReducer(n_components=10, normalize=n).fit(X).version for n in ("none", "input", "both")}
    assert len(set(normalized.values())) == 3 and normalized["both"] == version


def test_a_model_without_normalization_keeps_the_version_format_1_gave_it() -> None:
    # Collections store their model's version in every product: a new version would re-embed all.
    reducer = PCAReducer(n_components=10, normalize="none").fit(low_rank(200))
    digest = hashlib.sha256(json.dumps({"n_components": 10, "whiten": False}).encode())
    for array in (reducer.mean_, reducer.components_, reducer.explained_variance_):
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array, dtype="<f4").tobytes())
    assert reducer.version == digest.hexdigest()[:16]


def test_a_format_1_file_loads_as_unnormalized(tmp_path: Path) -> None:
    X = low_rank(200)
    reducer = PCAReducer(n_components=10, normalize="none").fit(X)
    with np.load(io.BytesIO(reducer.to_bytes())) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(str(arrays["metadata"]))
    del meta["normalize"]
    arrays["metadata"] = np.array(json.dumps({**meta, "format": "lookalike-pca/1"}))
    np.savez(tmp_path / "old.npz", **arrays)
    old = PCAReducer.load(tmp_path / "old.npz")
    assert old.normalize == "none" and old.version == reducer.version
    np.testing.assert_array_equal(old.transform(X), reducer.transform(X))
    arrays["metadata"] = np.array(json.dumps({**meta, "format": "lookalike-pca/9"}))
    np.savez(tmp_path / "future.npz", **arrays)
    with pytest.raises(ValueError, match=f"format 'lookalike-pca/9', expected one of lookalike-pca/1, {FORMAT}"):
        PCAReducer.load(tmp_path / "future.npz")


@pytest.mark.parametrize("normalize", ["none", "input", "both"])
def test_save_load_round_trip(tmp_path: Path, normalize: str) -> None:
    X = low_rank(200)
    reducer = PCAReducer(n_components=12, whiten=True, normalize=normalize).fit(X)
    path = tmp_path / "pca.npz"
    reducer.save(path)
    for loaded in (PCAReducer.load(path), PCAReducer.from_bytes(reducer.to_bytes())):
        assert loaded.version == reducer.version and loaded.normalize == normalize
        assert loaded.metadata == reducer.metadata
        np.testing.assert_array_equal(loaded.transform(X), reducer.transform(X))


def test_the_file_holds_no_pickles(tmp_path: Path) -> None:
    data = PCAReducer(n_components=4).fit(low_rank(50)).to_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        assert all(npz[name].dtype != object for name in npz.files)


def test_tampered_model_is_refused(tmp_path: Path) -> None:
    reducer = PCAReducer(n_components=6).fit(low_rank(100))
    with np.load(io.BytesIO(reducer.to_bytes())) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["components"][0, 0] += 0.5
    path = tmp_path / "tampered.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"tampered\.npz.*corrupt.*hashes to"):
        PCAReducer.load(path)


def test_damaged_or_foreign_files_are_refused(tmp_path: Path) -> None:
    data = bytearray(PCAReducer(n_components=6).fit(low_rank(100)).to_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"damaged\.npz"):
        PCAReducer.load(damaged)
    with pytest.raises(ValueError, match="not a readable PCA model"):
        PCAReducer.from_bytes(b"definitely not a zip")
    with pytest.raises(ValueError, match=r"missing\.npz"):
        PCAReducer.load(tmp_path / "missing.npz")


# -- input checks -------------------------------------------------------------------------


def test_bad_inputs_raise_value_errors_naming_the_problem() -> None:
    reducer = PCAReducer(n_components=4).fit(low_rank(50))
    with pytest.raises(ValueError, match=r"expects 64 features per row, got shape \(3, 2048\)"):
        reducer.transform(np.zeros((3, 2048), np.float32))
    with pytest.raises(ValueError, match=r"2-D array.*shape \(64,\)"):
        reducer.transform(np.zeros(64, np.float32))
    bad = low_rank(5)
    bad[3, 7] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 row\(s\), first \[3\]"):
        reducer.transform(bad)
    with pytest.raises(ValueError, match="at least 2 rows"):
        PCAReducer(n_components=4).fit(low_rank(1))
    with pytest.raises(ValueError, match="n_components must be >= 1, got 0"):
        PCAReducer(n_components=0)


def test_unfitted_reducer_raises_not_fitted() -> None:
    reducer = PCAReducer()
    with pytest.raises(NotFittedError):
        reducer.transform(np.zeros((1, 2048), np.float32))
    with pytest.raises(NotFittedError):
        reducer.to_bytes()


# -- incremental fitting ------------------------------------------------------------------


def test_partial_fit_agrees_with_pca() -> None:
    X = low_rank(600)
    incremental = PCAReducer(n_components=8)
    for start in range(0, 600, 100):
        incremental.partial_fit(X[start : start + 100])
    exact = PCAReducer(n_components=8).fit(X)
    assert incremental.fit_size == 600
    assert subspace_agreement(incremental.components_, exact.components_) > 0.999
    np.testing.assert_allclose(incremental.explained_variance_, exact.explained_variance_, rtol=0.02)
    Z = incremental.transform(X)
    assert Z.shape == (600, 8) and Z.dtype == np.float32


def test_partial_fit_batches_must_cover_the_components() -> None:
    reducer = PCAReducer(n_components=8)
    with pytest.raises(ValueError, match="batch has 5 rows.*at least 8 rows per batch"):
        reducer.partial_fit(low_rank(5))
    fitted = PCAReducer(n_components=8).fit(low_rank(50))
    with pytest.raises(ValueError, match="cannot continue a reducer fitted with fit"):
        fitted.partial_fit(low_rank(50))


# -- neighbour recall -------------------------------------------------------------------


def test_neighbour_recall_bounds_and_checks() -> None:
    X = low_rank(100)
    assert neighbour_recall(X, X, k=5) == 1.0
    shuffled = np.random.default_rng(0).permutation(X)
    assert neighbour_recall(X, shuffled, k=5) < 0.3
    with pytest.raises(ValueError, match="same rows"):
        neighbour_recall(X, X[:50])
    with pytest.raises(ValueError, match="k must be between 1 and n_rows - 1 = 99, got 100"):
        neighbour_recall(X, X, k=100)


@pytest.mark.parametrize(("dim", "floor"), [(512, 0.93), (256, 0.87)])
def test_recall_on_real_pool3_vectors(real_vectors: np.ndarray, dim: int, floor: float) -> None:
    # Measured here: 0.978 at 512 and 0.931 at 256 (fitted on the same 756 rows).
    reduced = PCAReducer(n_components=dim, normalize="none").fit_transform(real_vectors)
    recall = neighbour_recall(real_vectors, reduced, k=10)
    print(f"\nreal pool_3 2048 -> {dim}: recall@10 = {recall:.4f}")
    assert recall >= floor


def test_recall_on_held_out_real_vectors(real_vectors: np.ndarray) -> None:
    # Fitted on half, measured on the other half: what unseen products get.
    # Measured here: 0.78 at 256 (378 rows cap the fit at 378 components).
    order = np.random.default_rng(0).permutation(len(real_vectors))
    train, test = real_vectors[order[:378]], real_vectors[order[378:]]
    recall = neighbour_recall(test, PCAReducer(n_components=256, normalize="none").fit(train).transform(test), k=10)
    print(f"\nreal pool_3 held out 2048 -> 256: recall@10 = {recall:.4f}")
    assert recall >= 0.7


def test_real_vectors_zero_pad_to_1024(real_vectors: np.ndarray) -> None:
    # 756 rows cannot give 1024 components: 756 are fitted and the rest padded.
    reducer = PCAReducer(n_components=1024, normalize="none").fit(real_vectors)
    reduced = reducer.transform(real_vectors)
    assert reducer.n_fitted_components == len(real_vectors) == 756
    assert reduced.shape == (756, 1024) and not reduced[:, 756:].any()
    sample = slice(0, 200)
    np.testing.assert_allclose(
        pairwise_distances(reduced[sample]), pairwise_distances(real_vectors[sample]), rtol=1e-3, atol=1e-3
    )
    recall = neighbour_recall(real_vectors, reduced, k=10)
    print(f"\nreal pool_3 2048 -> 1024 (756 fitted, zero-padded): recall@10 = {recall:.4f}")
    assert recall >= 0.99
