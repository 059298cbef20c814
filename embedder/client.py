"""The Python client: visual search by image, product id, examples or vector, with keywords,
filters, facets, paging and k; and reading, deleting and untagging products.

It builds the ``{!visual}`` query so users never hand-write local parameters::

    client = LookalikeClient.connect()            # settings from LOOKALIKE_* variables
    for hit in client.search(image="shirt.jpg", text="cotton", fq=["category:shirts"], k=5):
        print(hit.id, hit.distance, hit.fields["title"])
    client.get("SKU0001")                         # a Hit with its fields, or None
    client.untag("style", "hawaiian", ["SKU0001"])  # ids=None: from every product that has it
    client.delete(["SKU0002"])

The options of a search are declared once, in ``embedder.options.SEARCH``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embedder import contract, escaping, options, querysyntax
from embedder.config import Settings, load_settings
from embedder.errors import BadInput, NotFound
from embedder.runtime import EmbeddingRuntime
from embedder.solr import SolrIndex

# Keyword search fields and boosts (edismax `qf`), shared by every keyword + image form.
TEXT_FIELDS = " ".join(f"{name}^{boost}" if boost != 1 else name for name, boost in contract.KEYWORD_BOOSTS.items())
DISTANCE_FIELD = "distance"
_MAX_FLOAT32_BITS = 0x7F7FFFFF
_LINEAR_OFFSET = 0x3FC00000  # a weights ranking's score of the value 0's neighbourhood


@dataclass(frozen=True)
class Hit:
    """One result: product id, score, squared Euclidean distance to the query point. The score is
    Solr's, except for a visual ranking, where it is the similarity ``1 / (1 + distance)``."""

    id: str
    score: float
    distance: float | None
    fields: dict[str, object] = field(default_factory=dict)

    @classmethod
    def of_document(cls, product_id: str, doc: dict) -> Hit:
        """A product shown without a query (a gallery): no score, no distance."""
        return cls(product_id, 0.0, None, _fields(doc))


@dataclass(frozen=True)
class Page:
    """A page of results with the facet counts of the whole result set (highest count first)."""

    hits: list[Hit]
    facets: dict[str, dict[str, int]]
    total: int


class Query:
    """A validated search request: one visual source at most (a ``vector``, a product ``id``,
    or ``like``d product ids, optionally ``unlike``d ones), and keywords, filters, a distance
    threshold, excluded ids, facets and paging around it. Every option, its default and its
    bounds are declared in ``embedder.options.SEARCH``.

    Keywords filter the visual ranking (an ``fq``), or with ``hybrid`` their relevance adds to
    the visual score; ``mode="filter"`` turns it around: keywords rank, the visual part only
    filters to ``max_dist``. Without a visual source it is a keyword search (or all products).
    """

    def __init__(self, **values: object) -> None:
        for name in ("vector", "weights"):
            if isinstance(values.get(name), np.ndarray):
                values[name] = values[name].tolist()
        self._values = options.resolve(values)
        sources = [name for name in ("vector", "id", "like", "weights") if self._values[name]]
        if len(sources) > 1:
            raise BadInput(f"search by one of vector, id, like or weights, not {' and '.join(sources)}")
        if self._values["bias"] is not None and not self.weights:
            raise BadInput("bias: needs weights")
        if self.weights:  # a learned score: no distance to threshold or move, no similarity to add
            given = [n for n in ("unlike", "unlike_weight", "max_dist", "probe") if self._values[n]]
            if given or self.hybrid or self.mode == "filter":
                raise BadInput(f"weights: ranks alone, without {(given or ['hybrid', 'mode filter'])[0]}")
        for name in ("max_dist", "probe", "unlike_weight"):
            if self._values[name] is not None and not self.visual:
                raise BadInput(f"{name}: needs a visual source (an image, a product id, liked products or a vector)")
        if self.unlike and not self.visual:
            raise BadInput("unlike needs liked products, a product id or a vector to move away from")
        if self.mode == "filter" and (self.max_dist is None or not self.visual):
            raise BadInput("mode filter needs a visual source (liked products, an id or a vector) and max_dist")

    def __getattr__(self, name: str) -> object:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Query) and other._values == self._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self._values.items() if v != options.SEARCH[k].default)
        return f"Query({given})"

    @property
    def visual(self) -> bool:
        return bool(self.vector or self.id or self.like or self.weights)

    def to_params(self) -> dict[str, object]:
        """Solr request parameters (see docs/query-syntax.md)."""
        params: dict[str, object] = {"rows": self.k, "start": self.start, "fq": list(self.fq), "fl": "*,score"}
        if self.text:
            params.update(kw=self.text, qf=TEXT_FIELDS, uf=" ".join(contract.KEYWORD_FIELDS))
        excluded = [*self.exclude, *([self.id] if self.id else [])]
        if excluded:
            params["excludedsep"], params["excluded"] = escaping.for_terms(excluded)
            params["fq"].append("{!bool filter=*:* must_not=$excludedq}")
            params["excludedq"] = "{!terms f=id separator=$excludedsep v=$excluded}"
        selected = {name for name, _ in self.filters}
        for name, values in self.filters:  # OR within a field; its own facet ignores its selection
            params["fq"].append(f"{{!tag=sel_{name}}}{name}:({' OR '.join(map(querysyntax.phrase, values))})")
        if self.facets:
            fields = [f"{{!ex=sel_{f}}}{f}" if f in selected else f for f in self.facets]
            params.update({"facet": "true", "facet.field": fields, "facet.mincount": 1})
        keywords = "{!edismax qf=$qf uf=$uf mm=100% v=$kw}"
        if not self.visual:
            params["q"] = keywords if self.text else "*:*"
            return params
        visual = self._visual_query(params)
        as_filter = self._visual_query(params, post_filter=True)
        if self.mode == "filter":
            params["fq"].append(as_filter)
            params["q"] = keywords if self.text else "*:*"
            return params
        params["minExactCount"] = self.start + self.k  # lets the scorer skip what cannot enter the page
        if self.text and self.hybrid:
            params.update(q="{!bool should=$vis should=$kwq}", vis=visual, kwq="{!edismax qf=$qf uf=$uf v=$kw}")
            if self.max_dist is not None:
                params["fq"].append(as_filter)  # the threshold still filters
        else:
            params["q"] = visual
            if self.text:
                params["fq"].append(keywords)
        return params

    def _visual_query(self, params: dict[str, object], *, post_filter: bool = False) -> str:
        local = [f"f={contract.VECTOR_FIELD}"]
        if post_filter:  # as an fq: distances only for what the keywords and other filters let through
            local.append("cache=false")
        if self.text and self.hybrid:
            local.append("score=similarity")  # a score to add to BM25, not score=rank's order key
        if self.vector:
            local.append("v=$qv")
            params["qv"] = contract.encode_vector(np.asarray(self.vector))
            params["fl"] = f"*,score,{DISTANCE_FIELD}:sqdist({contract.VECTOR_FIELD},$qv)"
        elif self.weights:
            local.append("weights=$qw")
            params["qw"] = contract.encode_vector(np.asarray(self.weights))
            if self.bias is not None:
                local.append(f"bias={float(self.bias)!r}")
        elif self.id:
            local.append("id=$qid")
            params["qid"] = self.id
        else:
            local.append("like=$like")
            params["like"] = escaping.for_visual(self.like)
        if self.unlike:
            local.append("unlike=$unlike")
            params["unlike"] = escaping.for_visual(self.unlike)
        for name, local_name in (("unlike_weight", "unlikeWeight"), ("max_dist", "maxDist")):
            if getattr(self, name) is not None:
                local.append(f"{local_name}={float(getattr(self, name))!r}")
        if self.probe is not None:
            local.append(f"probe={int(self.probe)}")
        if self.model:
            local.append("model=$qmodel")
            params["qmodel"] = self.model
        return "{!visual " + " ".join(local) + "}"


class LookalikeClient:
    """Searches one collection; embeds query images with the collection's own PCA model."""

    def __init__(
        self, index: SolrIndex, runtime: EmbeddingRuntime | None = None, *, weights: str | None = None, extractor=None
    ) -> None:
        self.index = index
        self.runtime = runtime or EmbeddingRuntime(index, weights, extractor)

    @classmethod
    def connect(cls, settings: Settings | None = None) -> LookalikeClient:
        settings = settings or load_settings()
        return cls(SolrIndex(settings.collection_url), weights=settings.weights)

    def embed(self, image: str | Path | bytes) -> np.ndarray:
        """The query vector of an image: the same model and PCA as the indexing job."""
        return self.runtime.embed(image)[0]

    def search(self, *, image: str | Path | bytes | None = None, **values: object) -> list[Hit]:
        """Top-k products by visual similarity to ``image``, a product ``id`` or a ``vector``
        (or a keyword search with only ``text``), with any option of ``options.SEARCH``
        (``text``, ``fq``, ``k``, ``start``, ``max_dist``, ``hybrid``, ``probe``, ...)."""
        return self.run(self.query(image=image, **values)).hits

    def query(self, *, image: str | Path | bytes | None = None, **values: object) -> Query:
        """A Query; an ``image`` is embedded here into its ``vector``."""
        if image is None:
            return Query(**values)
        refuse_other_sources(values)
        vector, version = self.runtime.embed(image)
        return Query(vector=vector, model=version, **values)

    def recommend(self, like: list[str], unlike: list[str] = (), **values: object) -> Page:
        """Products closer to the ``like``d ones and away from the ``unlike``d ones (which are
        left out), within any keywords, filters and facets (see docs/features.md)."""
        exclude = [*values.pop("exclude", ()), *like, *unlike]
        return self.run(Query(like=list(like), unlike=list(unlike), exclude=exclude, **values))

    def get(self, product_id: str) -> Hit | None:
        """The product with this id (its fields as a search shows them), or None."""
        doc = None if contract.is_reserved_id(product_id) else self.index.get([product_id]).get(product_id)
        return None if doc is None else Hit.of_document(product_id, doc)

    def delete(self, ids: Sequence[str]) -> int:
        """Deletes these products and commits; deletes nothing when an id is unknown (NotFound)
        or names one of the collection's own documents (BadInput)."""
        ids = list(dict.fromkeys(ids))
        found = self.index.get(ids, fl=contract.ID_FIELD)
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"no products with ids {missing[:10]}; nothing was deleted")
        self.index.delete(ids)
        self.index.commit()
        return len(ids)

    def untag(self, name: str, value: str, ids: Sequence[str] | None = None) -> int:
        """Removes the tag ``name=value`` from these products, or with ``ids=None`` from every
        product that has it; returns how many had it (``tagging.remove``)."""
        from embedder import tagging  # tagging builds on this module

        return tagging.remove(self.index, tagging.Attribute(name, value), ids)

    def run(self, query: Query) -> Page:
        if (query.id or query.like or query.weights) and not query.model:
            # Stored vectors are the query point: Solr refuses them too if the index is mixed.
            query = Query(**{**query._values, "model": self.runtime.vector_version()})
        results = self.index.search(**query.to_params())
        if query.weights:
            return Page([_linear_hit(doc) for doc in results.docs], results.facets, results.hits)
        pure_visual = query.visual and query.mode == "rank" and not (query.text and query.hybrid)
        return Page([_hit(doc, pure_visual) for doc in results.docs], results.facets, results.hits)


def refuse_other_sources(values: dict) -> None:
    """An image is a query's one visual source: BadInput when ``values`` give another, before
    the image is fetched or embedded."""
    given = [name for name in ("id", "vector", "like", "weights") if values.get(name) not in (None, "", (), [])]
    if given:
        raise BadInput(f"search by one of image, id, vector, like or weights, not image and {given[0]}")


def _linear_hit(doc: dict) -> Hit:
    """A hit of a weights ranking: its score is the value ``w·x + b`` (no distance)."""
    return Hit(doc[contract.ID_FIELD], _rank_value(float(doc["score"])), None, _fields(doc))


def _hit(doc: dict, pure_visual: bool) -> Hit:
    score = float(doc.get("score", 0.0))
    distance = doc.get(DISTANCE_FIELD)
    if pure_visual:
        # Solr ranked by score=rank, an exact order key of the distance (docs/query-syntax.md);
        # the hit shows the distance and the similarity 1 / (1 + distance) instead.
        distance = _rank_distance(score) if distance is None else distance
        score = 1.0 / (1.0 + float(distance))
    return Hit(doc[contract.ID_FIELD], score, None if distance is None else float(distance), _fields(doc))


def _rank_distance(score: float) -> float:
    """The squared distance a ``score=rank`` score stands for: its float32 bits are those of
    ``Float.MAX_VALUE`` minus the distance's."""
    (bits,) = struct.unpack("<i", struct.pack("<f", score))
    (distance,) = struct.unpack("<f", struct.pack("<i", _MAX_FLOAT32_BITS - bits))
    return distance


def _rank_value(score: float) -> float:
    """The value ``w·x + b`` a weights ranking's score stands for (docs/query-syntax.md): the
    score's float32 bits less ``0x3FC00000``, doubled, are the value's sortable bits (Lucene's
    ``NumericUtils.sortableFloatBits``, its own inverse), so the value is exact to one ulp."""
    (bits,) = struct.unpack("<i", struct.pack("<f", score))
    sortable = ((bits - _LINEAR_OFFSET) << 1) & 0xFFFFFFFF
    sortable -= (sortable >> 31) << 32  # back to a signed 32-bit integer
    (value,) = struct.unpack("<f", struct.pack("<i", sortable ^ ((sortable >> 31) & 0x7FFFFFFF)))
    return value


def _fields(doc: dict) -> dict:
    # No server paths (image_url: the hit's served `image` stands for it), no bookkeeping.
    hidden = (contract.ID_FIELD, contract.VECTOR_FIELD, contract.IMAGE_URL_FIELD, "_version_", "score", DISTANCE_FIELD)
    hidden += contract.SYNC_FIELDS
    return {name: value for name, value in doc.items() if name not in hidden}
