"""The embedding runtime: the one home of the feature extractor, the lock around it, and the
collection's PCA model as query time sees it.

TensorFlow already uses every core for one forward pass, so embeddings run one at a time: the
lock is taken here, inside ``embed_raw``, and no caller has to remember it. The collection's
model is read when first needed and re-read when the collection's model version changes (a
re-index behind an alias switch), at most every ``MODEL_RECHECK_SECONDS``. Nothing here is a
property that does I/O: reading Solr or loading TensorFlow is always a method call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np

from embedder import state
from embedder.fetch import fetch_image
from embedder.solr import SolrIndex

MODEL_RECHECK_SECONDS = 5.0


class EmbeddingRuntime:
    """Embeds images for one collection: InceptionV3 ``pool_3``, then the collection's PCA."""

    def __init__(self, index: SolrIndex, weights: str = "imagenet", extractor=None) -> None:
        self.index = index
        self.weights = weights
        self._extractor = extractor  # a FeatureExtractor, loaded on first use when not given
        self._model: state.StoredModel | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the extractor is loaded (no I/O)."""
        return self._extractor is not None

    def extractor(self):
        """The feature extractor, loading TensorFlow and the weights on first use."""
        if self._extractor is None:
            from embedder.model import FeatureExtractor  # lazy: TensorFlow loads only when needed

            with self._lock:
                if self._extractor is None:
                    self._extractor = FeatureExtractor.load(self.weights)
        return self._extractor

    def model(self) -> state.StoredModel:
        """The collection's PCA model, checked against this runtime's extractor."""
        now = time.monotonic()
        if self._model is not None and now - self._checked_at > MODEL_RECHECK_SECONDS:
            self._checked_at = now
            if state.model_version(self.index) != self._model.version:
                self._model = None
        if self._model is None:
            model = state.require_model(self.index)
            state.check_model(model, self.index.schema_info(), self.extractor().name)
            self._model, self._checked_at = model, time.monotonic()
        return self._model

    def embed_raw(self, images: Sequence[object], batch_size: int = 32):
        """``pool_3`` vectors of a batch (an ``EmbedBatch``: a bad image fails alone)."""
        extractor = self.extractor()
        with self._lock:
            return extractor.embed(images, batch_size=batch_size)

    def embed(self, image: object) -> tuple[np.ndarray, str]:
        """The query vector of one image (a path, bytes, or an http(s) URL fetched safely) and
        the PCA version that made it: the same model and PCA as the indexing job."""
        if isinstance(image, str) and image.startswith(("http://", "https://")):
            image = fetch_image(image)
        model = self.model()
        batch = self.embed_raw([image], batch_size=1)
        if batch.errors:
            from embedder.images import ImageError

            raise ImageError(batch.errors[0])
        return model.reducer.transform(batch.vectors)[0], model.version
