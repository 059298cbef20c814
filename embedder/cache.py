"""Embeddings kept on disk, so that no embedding work is lost: an interrupted first run (whose
PCA fit embeds up to ``--fit-sample`` images before anything can be written) resumes without
re-embedding, and a ``--refit`` re-uses every vector it already has.

A vector is keyed by the SHA-256 of the image's bytes and by the feature extractor (other weights
give other vectors), one file of 2048 little-endian float32 (8 KiB) per image under
``HOME/embeddings/<extractor key>/``: about 8 GB per million images, removable at any time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from embedder import contract

log = logging.getLogger(__name__)

_WIRE = np.dtype("<f4")
_KEY = re.compile(r"^[0-9a-f]{16,64}$")


class EmbeddingCache:
    """Raw ``pool_3`` vectors of one extractor, by image content hash (hex)."""

    def __init__(self, root: Path, extractor: str) -> None:
        self.directory = Path(root) / hashlib.sha256(extractor.encode("utf-8")).hexdigest()[:16]
        self.extractor = extractor

    def get(self, key: str) -> np.ndarray | None:
        """The vector, or None when absent or unreadable (then it is simply embedded again)."""
        try:
            raw = self._path(key).read_bytes()
        except OSError:
            return None
        if len(raw) != contract.RAW_DIMENSION * _WIRE.itemsize:
            return None
        vector = np.frombuffer(raw, dtype=_WIRE).astype(np.float32)
        return vector if np.isfinite(vector).all() else None

    def put(self, key: str, vector: np.ndarray) -> None:
        """Stores a vector; a full or read-only disk costs only the cache, never the run."""
        path = self._path(key)
        try:
            if not self.directory.exists():
                self.directory.mkdir(parents=True, exist_ok=True)
                (self.directory / "extractor.txt").write_text(self.extractor + "\n", encoding="utf-8")
            path.parent.mkdir(exist_ok=True)
            # Written beside, then renamed: a reader never sees half a vector.
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
                handle.write(np.asarray(vector, dtype=_WIRE).tobytes())
            os.replace(handle.name, path)
        except OSError as error:
            log.warning("embedding cache %s: %s; continuing without it", self.directory, error)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a content hash: {key!r}")
        return self.directory / key[:2] / f"{key}.f32"
