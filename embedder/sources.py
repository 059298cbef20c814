"""Where a catalog row's raw ``pool_3`` vector comes from.

- ``ImageSource``: its image (a local file, or an http(s) URL fetched safely), embedded by the
  runtime, through the on-disk ``EmbeddingCache`` when one is given.
- ``VectorFile``: row *i* of a float32 ``.npy`` array made elsewhere, e.g. on a GPU machine
  (``lookalike index --vectors FILE.npy``); no TensorFlow is loaded.

Each also says what a product remembers of its source (``identity``, stored as ``image_hash``):
a change of identity is what re-embeds a product on the next sync (embedder/sync.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from embedder import contract
from embedder.cache import EmbeddingCache
from embedder.catalog import CatalogRow
from embedder.errors import BadInput
from embedder.fetch import TIMEOUT, FetchError, fetch_image, fetch_validators
from embedder.runtime import EmbeddingRuntime

Vectors = tuple[list[np.ndarray | None], dict[str, str]]  # in row order (None: failed), reasons by id


def _is_url(image: str) -> bool:
    return image.startswith(("http://", "https://"))


class ImageSource:
    """Embeds the rows' images, one batch at a time."""

    def __init__(
        self,
        runtime: EmbeddingRuntime,
        cache: EmbeddingCache | None = None,
        batch_size: int = 32,
        allow_private_urls: bool = True,
        fetch_timeout: float = TIMEOUT,
    ) -> None:
        self.runtime = runtime
        self.cache = cache
        self.batch_size = batch_size
        self.allow_private_urls = allow_private_urls  # a merchant's catalog may use internal hosts
        self.fetch_timeout = fetch_timeout  # one deadline for each URL's whole fetch

    def identity(self, row: CatalogRow) -> str:
        """The bytes of a local image; the URL of a remote one and its HTTP validators (ETag, else
        Last-Modified, from a HEAD: its bytes are fetched only to embed), or the URL alone when
        the host gives none."""
        if _is_url(row.image):
            validators = fetch_validators(row.image, allow_private=self.allow_private_urls, timeout=self.fetch_timeout)
            named = f"{row.image} {validators}" if validators else row.image
            return "url:" + hashlib.sha256(named.encode("utf-8")).hexdigest()[:16]
        return "sha256:" + _file_digest(row.image)[:16]

    def vectors(self, rows: list[CatalogRow]) -> Vectors:
        """Each row's vector: from the cache when its bytes were embedded before, else embedded
        now (and cached). A remote image is fetched first, so its bytes key the cache too."""
        vectors: list[np.ndarray | None] = [None] * len(rows)
        errors: dict[str, str] = {}
        pending: list[tuple[int, object, str]] = []  # (position, image, content key)
        for i, row in enumerate(rows):
            try:
                image: object = row.image
                if _is_url(row.image):
                    image = fetch_image(row.image, allow_private=self.allow_private_urls, timeout=self.fetch_timeout)
                    key = hashlib.sha256(image).hexdigest()
                else:
                    key = _file_digest(row.image) if self.cache else ""
            except (FetchError, BadInput) as error:
                errors[row.id] = str(error)
                continue
            vectors[i] = self.cache.get(key) if self.cache else None
            if vectors[i] is None:
                pending.append((i, image, key))
        if not pending:  # nothing to embed: TensorFlow need not even load
            return vectors, errors
        batch = self.runtime.embed_raw([image for _, image, _ in pending], batch_size=self.batch_size)
        for position, vector in zip(batch.ok, batch.vectors):
            i, _, key = pending[position]
            vectors[i] = vector
            if self.cache:
                self.cache.put(key, vector)
        for position, reason in batch.errors.items():
            errors[rows[pending[position][0]].id] = reason
        return vectors, errors


def _file_digest(path: str) -> str:
    try:
        with open(Path(path), "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as error:
        raise BadInput(f"cannot read image {path}: {error.strerror}") from None


class VectorFile:
    """The ``pool_3`` vectors of a catalog's rows, row *i* for the catalog's data row *i*. The
    file is memory-mapped: a million rows (8 GB) is read a batch at a time."""

    def __init__(self, path: Path, rows: int) -> None:
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as error:
            raise BadInput(f"--vectors {path}: not a readable .npy array ({error})") from None
        expected = f"({rows}, {contract.RAW_DIMENSION}) float32"
        if array.dtype != np.float32 or array.shape != (rows, contract.RAW_DIMENSION):
            raise BadInput(
                f"--vectors {path}: expected {expected} (row i is the pool_3 vector of catalog row i), "
                f"got {array.shape} {array.dtype}"
            )
        self.array = array

    def identity(self, row: CatalogRow) -> str:
        return "vector:" + hashlib.sha256(self.array[row.ordinal].tobytes()).hexdigest()[:16]

    def vectors(self, rows: list[CatalogRow]) -> Vectors:
        vectors: list[np.ndarray | None] = []
        errors: dict[str, str] = {}
        for row in rows:
            vector = np.array(self.array[row.ordinal], dtype=np.float32)
            if np.isfinite(vector).all():
                vectors.append(vector)
            else:
                bad = int(np.flatnonzero(~np.isfinite(vector))[0])
                errors[row.id] = f"--vectors row {row.ordinal}: component {bad} is {vector[bad]}, not a finite number"
                vectors.append(None)
        return vectors, errors
