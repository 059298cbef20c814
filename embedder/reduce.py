"""PCA from the 2048-d pool_3 space to the indexed dimension, and its persistence.

The fitted state is just arrays (mean, components, variances), so a model is
stored as a plain ``.npz`` with a JSON metadata entry (no pickle) and
identified by a hash of the arrays that define the transform.

Rows can be L2-normalized around the projection: before it, so that a pool_3 vector's norm (14
to 32 on real product images) stops weighing in every distance, and after it, so that stored
vectors are unit length and a squared distance is ``2 - 2 cos`` of their angle about the
catalog's mean. docs/attribute-filling.md measures each choice: ``both`` finds a style's
lookalikes best (0.46 P@10 from 3 examples by their centroid, against 0.36 raw), hence the default.
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

from embedder.errors import BadInput

FORMAT = "lookalike-pca/2"  # /2 added `normalize`; a /1 model (without it) reads as "none"
_READABLE = ("lookalike-pca/1", FORMAT)
NORMALIZATIONS = ("none", "input", "both")  # L2: never, before the PCA, before and after it
DEFAULT_NORMALIZE = "both"
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

    def __init__(self, n_components: int = 1024, whiten: bool = False, normalize: str = DEFAULT_NORMALIZE) -> None:
        if n_components < 1:
            raise BadInput(f"n_components must be >= 1, got {n_components}")
        if normalize not in NORMALIZATIONS:
            raise BadInput(f"normalize must be one of {', '.join(NORMALIZATIONS)}, got {normalize!r}")
        self.n_components = int(n_components)
        self.whiten = bool(whiten)
        self.normalize = normalize
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
        """Fit an exact PCA on all of ``X`` (n_samples >= 2), normalized as ``transform`` does."""
        X = self._normalized_input(_as_matrix(X, "fit"))
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
        X = self._normalized_input(_as_matrix(X, "partial_fit"))
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
        X = self._normalized_input(_as_matrix(X, "transform", expected_dim=self.input_dim))
        projected = (X - self.mean_) @ self.components_.T
        if self.whiten:
            projected /= np.sqrt(np.maximum(self.explained_variance_, _MIN_VARIANCE))
        if self.normalize == "both":
            projected = _unit_rows(projected)
        out = np.zeros((X.shape[0], self.n_components), dtype=np.float32)
        out[:, : projected.shape[1]] = projected
        return out

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        return self.fit(X).transform(X)

    def _normalized_input(self, X: np.ndarray) -> np.ndarray:
        return X if self.normalize == "none" else _unit_rows(X)

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
        return _content_hash(
            self.n_components, self.whiten, self.normalize, self.mean_, self.components_, self.explained_variance_
        )

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
            "normalize": self.normalize,
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
            normalize = meta.get("normalize", "none")  # a /1 model, fitted on raw vectors
            reducer = cls(n_components=int(meta["output_dim"]), whiten=bool(meta["whiten"]), normalize=normalize)
        except Exception as exc:  # noqa: BLE001 - zip, npy and JSON errors all mean "corrupt"
            raise BadInput(f"{source} is not a readable PCA model ({exc})") from exc
        if meta.get("format") not in _READABLE:
            raise BadInput(f"{source} has format {meta.get('format')!r}, expected one of {', '.join(_READABLE)}")
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
        return (
            f"PCAReducer(n_components={self.n_components}, whiten={self.whiten}, normalize={self.normalize!r}, {state})"
        )


_ARRAYS = ("mean", "components", "explained_variance", "explained_variance_ratio")


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


def _unit_rows(X: np.ndarray) -> np.ndarray:
    # A zero row (a blank image's pool_3, or a row equal to the mean) stays zero, not NaN.
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1)


def _content_hash(n_components: int, whiten: bool, normalize: str, *arrays: np.ndarray) -> str:
    params: dict[str, Any] = {"n_components": n_components, "whiten": whiten}
    if normalize != "none":  # so a model from before normalization keeps its version
        params["normalize"] = normalize
    digest = hashlib.sha256(json.dumps(params).encode())
    for array in arrays:
        # Fixed dtype, byte order and layout so equal models hash equally anywhere.
        canonical = np.ascontiguousarray(array, dtype="<f4")
        digest.update(str(canonical.shape).encode())
        digest.update(canonical.tobytes())
    return digest.hexdigest()[:16]
