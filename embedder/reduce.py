"""PCA from the 2048-d pool_3 space to the indexed dimension, and its persistence.

The fitted state is just arrays (mean, components, variances), so a model is
stored as a plain ``.npz`` with a JSON metadata entry (no pickle) and
identified by a hash of the arrays that define the transform.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import sklearn
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import NearestNeighbors

from embedder.errors import BadInput

FORMAT = "lookalike-pca/1"
# scikit-learn added the covariance_eigh solver in 1.5.
_HAS_COVARIANCE_EIGH = tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 5)
# Below this variance a whitened component would blow up noise; treat as flat.
_MIN_VARIANCE = 1e-12


class PCAReducer:
    """Projects vectors onto their top principal components, highest variance first.

    When fitted on fewer samples than ``n_components``, only
    ``min(n_samples, n_features)`` components can be estimated; outputs are
    zero-padded to ``n_components``, which leaves all distances unchanged.
    """

    def __init__(self, n_components: int = 1024, whiten: bool = False) -> None:
        if n_components < 1:
            raise BadInput(f"n_components must be >= 1, got {n_components}")
        self.n_components = int(n_components)
        self.whiten = bool(whiten)
        self._incremental: IncrementalPCA | None = None
        self._clear()

    def _clear(self) -> None:
        self.mean_: np.ndarray | None = None
        self.components_: np.ndarray | None = None  # (n_fitted, input_dim), float32
        self.explained_variance_: np.ndarray | None = None
        self.explained_variance_ratio_: np.ndarray | None = None
        self.fit_size = 0
        self.created_at: str | None = None
        self._version: str | None = None

    # -- fitting ---------------------------------------------------------------

    def fit(self, X: np.ndarray) -> PCAReducer:
        """Fit an exact PCA on all of ``X`` (n_samples >= 2)."""
        X = _as_matrix(X, "fit")
        n_samples, n_features = X.shape
        if n_samples < 2:
            raise BadInput(f"fit needs at least 2 rows, got X of shape {X.shape}")
        k = min(self.n_components, n_samples, n_features)
        pca = PCA(n_components=k, svd_solver=_solver(n_samples, n_features))
        # Fit in float64: float32 covariance loses the small trailing variances.
        pca.fit(X.astype(np.float64))
        self._incremental = None
        self._adopt(pca, n_samples)
        return self

    def partial_fit(self, X: np.ndarray) -> PCAReducer:
        """Update an IncrementalPCA with one batch (for data that does not fit in memory).

        Every batch needs at least ``min(n_components, n_features)`` rows.
        """
        X = _as_matrix(X, "partial_fit")
        if self._incremental is None:
            if self.components_ is not None:
                raise BadInput(
                    "partial_fit cannot continue a reducer fitted with fit() or loaded "
                    "from a file; start a new PCAReducer"
                )
            k = min(self.n_components, X.shape[1])
            self._incremental = IncrementalPCA(n_components=k)
        k = self._incremental.n_components
        if X.shape[0] < k:
            raise BadInput(
                f"partial_fit batch has {X.shape[0]} rows but incremental PCA with {k} "
                f"components needs at least {k} rows per batch; use larger batches or fit()"
            )
        self._incremental.partial_fit(X.astype(np.float64))
        self._adopt(self._incremental, self._incremental.n_samples_seen_)
        return self

    def _adopt(self, pca: PCA | IncrementalPCA, fit_size: int) -> None:
        self.mean_ = pca.mean_.astype(np.float32)
        self.components_ = pca.components_.astype(np.float32)
        self.explained_variance_ = pca.explained_variance_.astype(np.float32)
        self.explained_variance_ratio_ = pca.explained_variance_ratio_.astype(np.float32)
        self.fit_size = int(fit_size)
        self.created_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._version = self._hash()

    # -- transforming ----------------------------------------------------------

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Project ``X`` (n, input_dim) to float32 (n, n_components)."""
        self._check_fitted()
        X = _as_matrix(X, "transform", expected_dim=self.input_dim)
        projected = (X - self.mean_) @ self.components_.T
        if self.whiten:
            projected /= np.sqrt(np.maximum(self.explained_variance_, _MIN_VARIANCE))
        out = np.zeros((X.shape[0], self.n_components), dtype=np.float32)
        out[:, : projected.shape[1]] = projected
        return out

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    # -- identity and metadata -------------------------------------------------

    @property
    def input_dim(self) -> int:
        self._check_fitted()
        return int(self.components_.shape[1])

    @property
    def n_fitted_components(self) -> int:
        self._check_fitted()
        return int(self.components_.shape[0])

    @property
    def version(self) -> str:
        """Content hash of everything the transform depends on (16 hex chars), computed once
        when the model is fitted or read: hashing 8 MB takes ~40 ms, too long per product."""
        self._check_fitted()
        return self._version

    def _hash(self) -> str:
        return _content_hash(self.n_components, self.whiten, self.mean_, self.components_, self.explained_variance_)

    @property
    def metadata(self) -> dict[str, Any]:
        """JSON-serialisable description of the fitted model."""
        self._check_fitted()
        return {
            "format": FORMAT,
            "version": self.version,
            "input_dim": self.input_dim,
            "output_dim": self.n_components,
            "n_fitted_components": self.n_fitted_components,
            "whiten": self.whiten,
            "explained_variance_ratio_sum": float(np.sum(self.explained_variance_ratio_, dtype=np.float64)),
            "fit_size": self.fit_size,
            "created_at": self.created_at,
            "sklearn_version": sklearn.__version__,
        }

    def _check_fitted(self) -> None:
        if self.components_ is None:
            raise NotFittedError("this PCAReducer is not fitted yet; call fit() or load()")

    # -- persistence -------------------------------------------------------------

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self._write(buffer)
        return buffer.getvalue()

    def save(self, path: str | Path) -> None:
        with Path(path).open("wb") as handle:
            self._write(handle)

    @classmethod
    def from_bytes(cls, data: bytes) -> PCAReducer:
        return cls._read(io.BytesIO(data), f"<{len(data)} bytes of PCA model>")

    @classmethod
    def load(cls, path: str | Path) -> PCAReducer:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise BadInput(f"cannot read PCA model file {str(path)!r}: {exc}") from exc
        return cls._read(io.BytesIO(data), f"PCA model file {str(path)!r}")

    def _write(self, handle: BinaryIO) -> None:
        np.savez(
            handle,
            metadata=np.array(json.dumps(self.metadata)),
            mean=self.mean_,
            components=self.components_,
            explained_variance=self.explained_variance_,
            explained_variance_ratio=self.explained_variance_ratio_,
        )

    @classmethod
    def _read(cls, handle: BinaryIO, source: str) -> PCAReducer:
        try:
            with np.load(handle, allow_pickle=False) as npz:
                meta = json.loads(str(npz["metadata"]))
                arrays = {name: npz[name] for name in _ARRAYS}
            reducer = cls(n_components=int(meta["output_dim"]), whiten=bool(meta["whiten"]))
        except Exception as exc:  # noqa: BLE001 - zip, npy and JSON errors all mean "corrupt"
            raise BadInput(f"{source} is not a readable PCA model ({exc})") from exc
        if meta.get("format") != FORMAT:
            raise BadInput(f"{source} has format {meta.get('format')!r}, expected {FORMAT!r}")
        k, d = arrays["components"].shape if arrays["components"].ndim == 2 else (0, 0)
        shapes = {"mean": (d,), "explained_variance": (k,), "explained_variance_ratio": (k,)}
        if not k or any(arrays[name].shape != shape for name, shape in shapes.items()):
            raise BadInput(f"{source} is corrupt: inconsistent array shapes")
        bad = [name for name in _ARRAYS if not np.isfinite(arrays[name]).all()]
        if bad:
            raise BadInput(f"{source} is corrupt: {', '.join(bad)} hold NaN or infinite values")
        reducer._restore(arrays, meta)
        if reducer.version != meta.get("version"):
            raise BadInput(
                f"{source} is corrupt: its content hashes to {reducer.version} "
                f"but it claims version {meta.get('version')!r}"
            )
        return reducer

    def _restore(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.mean_ = arrays["mean"].astype(np.float32)
        self.components_ = arrays["components"].astype(np.float32)
        self.explained_variance_ = arrays["explained_variance"].astype(np.float32)
        self.explained_variance_ratio_ = arrays["explained_variance_ratio"].astype(np.float32)
        self.fit_size = int(meta.get("fit_size", 0))
        self.created_at = meta.get("created_at")
        self._version = self._hash()

    def __repr__(self) -> str:
        state = f"version={self.version}" if self.components_ is not None else "unfitted"
        return f"PCAReducer(n_components={self.n_components}, whiten={self.whiten}, {state})"


_ARRAYS = ("mean", "components", "explained_variance", "explained_variance_ratio")


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


def _solver(n_samples: int, n_features: int) -> str:
    # Both choices are exact and deterministic (randomized SVD is neither and is
    # barely faster at 1024 of 2048 components). With many more rows than
    # features, eigen-decomposing the d x d covariance is far cheaper than an
    # SVD of the whole n x d matrix and needs no copy of it.
    tall = n_samples >= 10 * n_features
    return "covariance_eigh" if tall and _HAS_COVARIANCE_EIGH else "full"


def _as_matrix(X: np.ndarray, what: str, expected_dim: int | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2:
        raise BadInput(f"{what} expects a 2-D array (n_samples, n_features), got shape {X.shape}")
    if expected_dim is not None and X.shape[1] != expected_dim:
        raise BadInput(f"{what} expects {expected_dim} features per row, got shape {X.shape}")
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise BadInput(
            f"{what} input of shape {X.shape} contains NaN or infinite values "
            f"in {rows.size} row(s), first {rows[:5].tolist()}"
        )
    return X


def _content_hash(n_components: int, whiten: bool, *arrays: np.ndarray) -> str:
    digest = hashlib.sha256(json.dumps({"n_components": n_components, "whiten": whiten}).encode())
    for array in arrays:
        # Fixed dtype, byte order and layout so equal models hash equally anywhere.
        canonical = np.ascontiguousarray(array, dtype="<f4")
        digest.update(str(canonical.shape).encode())
        digest.update(canonical.tobytes())
    return digest.hexdigest()[:16]
