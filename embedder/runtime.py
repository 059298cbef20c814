"""The embedding runtime: the one home of the feature extractor, the lock around it, and the
collection's PCA model as query time sees it.

TensorFlow already uses every core for one forward pass, so embeddings run one at a time: the
lock is taken here, inside ``embed_raw``, and no caller has to remember it. It covers the forward
pass only: images are decoded before, in worker processes (``embedder.decoding``), so a file
that is slow to decode delays nobody else's query. The collection's
model is read when first needed and re-read when the collection's model version changes (a
re-index behind an alias switch), at most every ``MODEL_RECHECK_SECONDS``. Nothing here is a
property that does I/O: reading Solr or loading TensorFlow is always a method call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np

from embedder import decoding, state
from embedder import model as extractors
from embedder.errors import BadInput
from embedder.fetch import fetch_image
from embedder.images import ImageError
from embedder.solr import SolrIndex

MODEL_RECHECK_SECONDS = 5.0


class EmbeddingRuntime:
    """Embeds images for one collection: InceptionV3 ``pool_3``, then the collection's PCA."""

    def __init__(
        self, index: SolrIndex, weights: str | None = None, extractor=None, decoder: decoding.DecodePool | None = None
    ) -> None:
        self.index = index
        self._weights = weights  # None: the weights the collection's model was fitted with
        self._extractor = extractor  # a FeatureExtractor, loaded on first use when not given
        self.decoder = decoder or decoding.shared()  # its workers start on the first image
        self._model: state.StoredModel | None = None
        self._checked_at = 0.0
        self._version: tuple[float, str | None] = (-MODEL_RECHECK_SECONDS, None)
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the extractor is loaded (no I/O)."""
        return self._extractor is not None

    def weights(self) -> str:
        """The weights in use: as given, else those the collection's model was fitted with (read
        once), else ImageNet for a collection with no model yet."""
        if self._weights is None:
            recorded = state.model_extractor(self.index)
            weights = "imagenet" if recorded is None else extractors.weights_of(recorded)
            if weights is None:
                raise BadInput(
                    f"the collection's PCA model was fitted on {recorded}, a weights file: "
                    "pass --weights PATH to that file (or set LOOKALIKE_WEIGHTS)"
                )
            self._weights = weights
        return self._weights

    def extractor_name(self) -> str:
        """The extractor's stable id, without loading TensorFlow."""
        return self._extractor.name if self._extractor is not None else extractors.extractor_name(self.weights())

    def extractor(self):
        """The feature extractor, loading TensorFlow and the weights on first use."""
        if self._extractor is None:
            weights = self.weights()
            with self._lock:
                if self._extractor is None:
                    self._extractor = extractors.FeatureExtractor.load(weights)
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
            state.check_model(model, self.index.schema_info(), self.extractor_name())
            self._model, self._checked_at = model, time.monotonic()
        return self._model

    def vector_version(self) -> str | None:
        """The one PCA version of the collection's product vectors, re-asked at most every
        ``MODEL_RECHECK_SECONDS``; a ``MixedModels`` conflict while the collection holds two."""
        checked_at, version = self._version
        if time.monotonic() - checked_at > MODEL_RECHECK_SECONDS:
            version = state.require_one_version(self.index)
            self._version = (time.monotonic(), version)
        return version

    def embed_raw(self, images: Sequence[object], batch_size: int = 32):
        """``pool_3`` vectors of a batch (an ``EmbedBatch``: a bad image fails alone)."""
        extractor = self.extractor()
        decoded = self.decoder.decode_all(images, extractor.input_size)  # not under the lock
        with self._lock:
            return extractor.embed_decoded(decoded, batch_size=batch_size)

    def embed(self, image: object) -> tuple[np.ndarray, str]:
        """The query vector of one image (a path, bytes, or an http(s) URL fetched safely) and
        the PCA version that made it: the same model and PCA as the indexing job."""
        if isinstance(image, str) and image.startswith(("http://", "https://")):
            image = fetch_image(image)
        model = self.model()
        self.vector_version()  # a mixed collection is refused before any work
        batch = self.embed_raw([image], batch_size=1)
        if batch.errors:
            raise ImageError(batch.errors[0])
        return model.reducer.transform(batch.vectors)[0], model.version
