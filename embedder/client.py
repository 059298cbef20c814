"""The Python client: visual search by image, product id, examples or vector, with keywords,
filters, facets and k.

It builds the ``{!visual}`` query so users never hand-write local parameters::

    client = LookalikeClient.connect()            # settings from LOOKALIKE_* variables
    for hit in client.search(image="shirt.jpg", text="cotton", fq=["category:shirts"], k=5):
        print(hit.id, hit.distance, hit.fields["title"])
"""
from __future__ import annotations

import time
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
MODEL_RECHECK_SECONDS = 5.0
DISTANCE_FIELD = "distance"


@dataclass(frozen=True)
class Hit:
    """One result: product id, Solr score, squared Euclidean distance to the query point."""

    id: str
    score: float
    distance: float | None
    fields: dict[str, object] = field(default_factory=dict)

    @classmethod
    def of_document(cls, product_id: str, doc: dict) -> "Hit":
        """A product shown without a query (a gallery): no score, no distance."""
        return cls(product_id, 0.0, None, _fields(doc))


@dataclass(frozen=True)
class Page:
    """A page of results with the facet counts of the whole result set."""

    hits: list[Hit]
    facets: dict[str, dict[str, int]]
    total: int


@dataclass(frozen=True)
class Query:
    """A search: a visual source (a base64 ``vector``, or ``like``/``unlike`` product ids), and
    keywords, filters, a distance threshold, excluded ids and facet fields around it.

    Keywords filter the visual ranking (an ``fq``), or with ``hybrid`` their relevance adds to
    the visual score. Without a visual source it is a keyword search (or all products).
    """

    vector: str | None = None
    like: Sequence[str] = ()
    unlike: Sequence[str] = ()
    text: str | None = None
    fq: Sequence[str] = ()
    k: int = 10
    max_dist: float | None = None
    hybrid: bool = False
    model: str | None = None
    exclude: Sequence[str] = ()
    facets: Sequence[str] = ()
    unlike_weight: float | None = None
    visual_filter: bool = False  # the visual part filters (needs max_dist); keywords rank
    probe: int | None = None  # opt-in approximate search: only the nearest `probe` coarse cells

    def __post_init__(self) -> None:
        if not 1 <= self.k <= 1000:
            raise ValueError(f"k must be between 1 and 1000, got {self.k}")
        for name in ("max_dist", "unlike_weight"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if self.vector is not None and self.like:
            raise ValueError("search by a vector or by liked products, not both")
        if self.unlike and self.vector is None and not self.like:
            raise ValueError("unlike needs liked products or a vector to move away from")
        if self.probe is not None and self.probe < 1:
            raise ValueError(f"probe must be at least 1 cell, got {self.probe}")
        if self.visual_filter and (self.max_dist is None or not self.visual):
            raise ValueError("a visual filter needs liked products or a vector, and max_dist")

    @property
    def visual(self) -> bool:
        return self.vector is not None or bool(self.like)

    def to_params(self) -> dict[str, object]:
        """Solr request parameters (see docs/query-syntax.md)."""
        params: dict[str, object] = {"rows": self.k, "fq": list(self.fq), "fl": "*,score"}
        if self.text:
            params.update(kw=self.text, qf=TEXT_FIELDS)
        if self.exclude:
            params["excluded"] = ",".join(i.replace(",", "\\,") for i in self.exclude)
            params["fq"].append("{!bool filter=*:* must_not=$excludedq}")
            params["excludedq"] = "{!terms f=id v=$excluded}"
        if self.facets:
            params.update({"facet": "true", "facet.field": list(self.facets), "facet.mincount": 1})
        keywords = "{!edismax qf=$qf mm=100% v=$kw}"
        if not self.visual:
            params["q"] = keywords if self.text else "*:*"
            return params
        visual = self._visual_query(params)
        if self.visual_filter:
            params["fq"].append(visual)
            params["q"] = keywords if self.text else "*:*"
            return params
        params["minExactCount"] = self.k  # lets the scorer skip what cannot enter the top k
        if self.text and self.hybrid:
            params.update(q="{!bool should=$vis should=$kwq}", vis=visual, kwq="{!edismax qf=$qf v=$kw}")
            if self.max_dist is not None:
                params["fq"].append(visual)  # the threshold still filters
        else:
            params["q"] = visual
            if self.text:
                params["fq"].append(keywords)
        return params

    def _visual_query(self, params: dict[str, object]) -> str:
        local = [f"f={contract.VECTOR_FIELD}"]
        if self.vector is not None:
            local.append("v=$qv")
            params["qv"] = self.vector
            params["fl"] = f"*,score,{DISTANCE_FIELD}:sqdist({contract.VECTOR_FIELD},$qv)"
        else:
            local.append("like=$like")
            params["like"] = ",".join(self.like)
        if self.unlike:
            local.append("unlike=$unlike")
            params["unlike"] = ",".join(self.unlike)
        if self.unlike_weight is not None:
            local.append(f"unlikeWeight={float(self.unlike_weight)!r}")
        if self.max_dist is not None:
            local.append(f"maxDist={float(self.max_dist)!r}")
        if self.probe is not None:
            local.append(f"probe={int(self.probe)}")
        if self.model:
            local.append(f"model={self.model}")
        return "{!visual " + " ".join(local) + "}"


class LookalikeClient:
    """Searches one collection; embeds query images with the collection's own PCA model."""

    def __init__(self, index: SolrIndex, weights: str = "imagenet", extractor=None) -> None:
        self.index = index
        self.weights = weights
        self._extractor = extractor  # a FeatureExtractor, built on first use when not given
        self._model: StoredModel | None = None
        self._model_checked = 0.0

    @classmethod
    def connect(cls, settings: Settings | None = None) -> "LookalikeClient":
        settings = settings or load_settings()
        return cls(SolrIndex(settings.collection_url), weights=settings.weights)

    @property
    def model(self) -> StoredModel:
        """The collection's PCA model, checked against this client's weights; reloaded when the
        collection's model changes (a re-index behind an alias switch), looked up at most every
        few seconds."""
        from embedder.model import FeatureExtractor  # lazy: TensorFlow loads only when needed

        if self._model is not None and time.monotonic() - self._model_checked > MODEL_RECHECK_SECONDS:
            self._model_checked = time.monotonic()
            if self.index.model_version() != self._model.version:
                self._model = None
        if self._model is None:
            model = self.index.load_model()
            if model is None:
                raise LookupError(f"{self.index.url} has no PCA model yet: index a catalog first")
            if self._extractor is None:
                self._extractor = FeatureExtractor.load(self.weights)
            check_model(model, self.index.schema_info(), self._extractor.name)
            self._model, self._model_checked = model, time.monotonic()
        return self._model

    @property
    def extractor_loaded(self) -> bool:
        return self._extractor is not None

    @property
    def extractor(self):
        self.model  # noqa: B018 - loads the extractor and checks it against the collection
        return self._extractor

    def embed(self, image: str | Path | bytes) -> np.ndarray:
        """The query vector of an image: the same model and PCA as the indexing job."""
        if isinstance(image, str) and image.startswith(("http://", "https://")):
            image = fetch_image(image)
        return self.model.reducer.transform(self.extractor.embed_one(image)[None, :])[0]

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
        probe: int | None = None,
    ) -> list[Hit]:
        """Top-k products by visual similarity to one of ``image``, ``id`` or ``vector``
        (or a keyword search with only ``text``). A product searched by id is left out.
        ``probe`` opts in to approximate search over that many coarse cells."""
        return self.run(self.query(image=image, id=id, vector=vector, text=text, fq=fq, k=k,
                                   max_dist=max_dist, hybrid=hybrid, probe=probe)).hits  # fmt: skip

    def query(
        self,
        *,
        image: str | Path | bytes | None = None,
        id: str | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
        **options: object,
    ) -> Query:
        """A Query for one visual source: an image (embedded here), a product id or a vector."""
        given = [name for name, value in (("image", image), ("id", id), ("vector", vector)) if value is not None]
        if len(given) > 1:
            raise ValueError(f"search by one of image, id or vector, not {' and '.join(given)}")
        if image is not None:
            return Query(vector=contract.encode_vector(self.embed(image)), model=self.model.version, **options)
        if id is not None:
            exclude = [*options.pop("exclude", ()), id]
            return Query(vector=contract.encode_vector(self.index.vector_of(id)), exclude=exclude, **options)
        if vector is not None:
            return Query(vector=contract.encode_vector(np.asarray(vector, dtype=np.float32)), **options)
        return Query(**options)

    def recommend(self, like: Sequence[str], unlike: Sequence[str] = (), **options: object) -> Page:
        """Products closer to the ``like``d ones and away from the ``unlike``d ones (which are
        left out), within any keywords, filters and facets (see docs/features.md)."""
        exclude = [*options.pop("exclude", ()), *like, *unlike]
        return self.run(Query(like=list(like), unlike=list(unlike), exclude=exclude, **options))

    def run(self, query: Query) -> Page:
        params = query.to_params()
        results = self.index.solr.search(params.pop("q"), **params)
        facets = {name: dict(zip(counts[::2], counts[1::2]))
                  for name, counts in (results.facets or {}).get("facet_fields", {}).items()}  # fmt: skip
        pure_visual = query.visual and not query.visual_filter and not (query.text and query.hybrid)
        return Page([_hit(doc, pure_visual) for doc in results.docs], facets, results.hits)


def _hit(doc: dict, pure_visual: bool) -> Hit:
    score = float(doc.get("score", 0.0))
    distance = doc.get(DISTANCE_FIELD)
    if distance is None and pure_visual:
        distance = 1.0 / score - 1.0  # the score is 1 / (1 + squared distance)
    return Hit(doc[contract.ID_FIELD], score, None if distance is None else float(distance), _fields(doc))


def _fields(doc: dict) -> dict:
    hidden = (contract.ID_FIELD, contract.VECTOR_FIELD, "_version_", "score", DISTANCE_FIELD)
    return {name: value for name, value in doc.items() if name not in hidden}
