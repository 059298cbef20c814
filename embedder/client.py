"""The Python client: visual search by image, product id or vector, with keywords, filters and k.

It builds the ``{!visual}`` query so users never hand-write local parameters::

    client = LookalikeClient.connect()            # settings from LOOKALIKE_* variables
    for hit in client.search(image="shirt.jpg", text="cotton", fq=["category:shirts"], k=5):
        print(hit.id, hit.distance, hit.fields["title"])
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embedder import contract
from embedder.config import Settings, load_settings
from embedder.fetch import fetch_image
from embedder.solr import SolrIndex, StoredModel, check_model

# Keyword search fields and boosts, shared by every keyword + image form.
TEXT_FIELDS = "title^3 description brand category color attributes"
DISTANCE_FIELD = "distance"


@dataclass(frozen=True)
class Hit:
    """One result: product id, Solr score, squared Euclidean distance to the query vector."""

    id: str
    score: float
    distance: float | None
    fields: dict[str, object] = field(default_factory=dict)


def build_params(
    vector: str | None = None,
    *,
    text: str | None = None,
    fq: Sequence[str] = (),
    k: int = 10,
    max_dist: float | None = None,
    hybrid: bool = False,
    model: str | None = None,
    fl: str = "*",
) -> dict[str, object]:
    """Solr parameters for a visual query on a base64 ``vector`` (see docs/query-syntax.md).

    Keywords filter the visual ranking (``fq``), or with ``hybrid`` their relevance adds to the
    visual score. ``minExactCount=k`` lets the scorer skip documents that cannot enter the top k.
    Without a vector this is a plain keyword search.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if max_dist is not None and not max_dist >= 0:
        raise ValueError(f"max_dist must be a non-negative number, got {max_dist}")
    params: dict[str, object] = {"rows": k, "fq": list(fq), "fl": f"{fl},score"}
    if text:
        params.update(kw=text, qf=TEXT_FIELDS)
    if vector is None:
        if not text:
            raise ValueError("a search needs an image, a product id, a vector or keywords")
        params["q"] = "{!edismax qf=$qf mm=100% v=$kw}"
        return params
    local = [f"f={contract.VECTOR_FIELD}", "v=$qv"]
    if max_dist is not None:
        local.append(f"maxDist={float(max_dist)!r}")
    if model:
        local.append(f"model={model}")
    visual = "{!visual " + " ".join(local) + "}"
    params.update(
        qv=vector,
        minExactCount=k,
        fl=f"{fl},score,{DISTANCE_FIELD}:sqdist({contract.VECTOR_FIELD},$qv)",
    )
    if text and hybrid:
        # Text relevance and visual similarity add up; a threshold still filters.
        params.update(q="{!bool should=$vis should=$kwq}", vis=visual, kwq="{!edismax qf=$qf v=$kw}")
        if max_dist is not None:
            params["fq"] = [*fq, visual]
    else:
        params["q"] = visual
        if text:
            params["fq"] = [*fq, "{!edismax qf=$qf mm=100% v=$kw}"]
    return params


class LookalikeClient:
    """Searches one collection; embeds query images with the collection's own PCA model."""

    def __init__(self, index: SolrIndex, weights: str = "imagenet", extractor=None) -> None:
        self.index = index
        self.weights = weights
        self._extractor = extractor  # a FeatureExtractor, built on first use when not given
        self._model: StoredModel | None = None

    @classmethod
    def connect(cls, settings: Settings | None = None) -> "LookalikeClient":
        settings = settings or load_settings()
        return cls(SolrIndex(settings.collection_url), weights=settings.weights)

    def embed(self, image: str | Path | bytes) -> np.ndarray:
        """The query vector of an image: the same model and PCA as the indexing job."""
        from embedder.model import FeatureExtractor  # lazy: TensorFlow loads only when needed

        if self._model is None:
            model = self.index.load_model()
            if model is None:
                raise LookupError(f"{self.index.url} has no PCA model yet: index a catalog first")
            if self._extractor is None:
                self._extractor = FeatureExtractor.load(self.weights)
            check_model(model, self.index.schema_info(), self._extractor.name)
            self._model = model
        if isinstance(image, str) and image.startswith(("http://", "https://")):
            image = fetch_image(image)
        return self._model.reducer.transform(self._extractor.embed_one(image)[None, :])[0]

    def search(
        self,
        *,
        image: str | Path | bytes | None = None,
        id: str | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
        text: str | None = None,
        fq: Sequence[str] = (),
        k: int = 10,
        max_dist: float | None = None,
        hybrid: bool = False,
    ) -> list[Hit]:
        """Top-k products by visual similarity to one of ``image``, ``id`` or ``vector``
        (or a keyword search with only ``text``). A product searched by id is left out."""
        given = [name for name, value in (("image", image), ("id", id), ("vector", vector)) if value is not None]
        if len(given) > 1:
            raise ValueError(f"search by one of image, id or vector, not {' and '.join(given)}")
        model = None
        query_vector = None
        if image is not None:
            query_vector = self.embed(image)
            model = self._model.version
        elif id is not None:
            query_vector = self.index.vector_of(id)
            fq = [*fq, f"-{contract.ID_FIELD}:{_quote(id)}"]
        elif vector is not None:
            query_vector = np.asarray(vector, dtype=np.float32)
        encoded = None if query_vector is None else contract.encode_vector(query_vector)
        params = build_params(encoded, text=text, fq=fq, k=k, max_dist=max_dist, hybrid=hybrid, model=model)
        results = self.index.solr.search(params.pop("q"), **params)
        return [_hit(doc) for doc in results.docs]


def _hit(doc: dict) -> Hit:
    doc = dict(doc)
    product_id = doc.pop(contract.ID_FIELD)
    score = float(doc.pop("score", 0.0))
    distance = doc.pop(DISTANCE_FIELD, None)
    doc.pop(contract.VECTOR_FIELD, None)
    return Hit(product_id, score, None if distance is None else float(distance), doc)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

