"""Filling attribute gaps from a few examples: tag all lookalikes of three "Hawaiian" shirts.

Two steps, so a merchandiser reviews before anything is written: ``preview`` lists the
lookalikes of the examples (ranked by a model learned from the examples and the review so far,
within an optional filter and distance threshold), and ``apply`` writes the attribute into
exactly the reviewed products with atomic updates, which keep every other field, the image
vector included.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from embedder import contract, learning, querysyntax
from embedder.client import Hit, LookalikeClient, Query
from embedder.errors import BadInput, NotFound
from embedder.solr import SolrIndex

_ATTRIBUTE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_TAGGED = 10_000  # products per apply call
MAX_REVIEWED = 1_000  # accepted or rejected products per preview: each is a row to learn from


@dataclass(frozen=True)
class Attribute:
    """An attribute and its value, stored in the multi-valued facetable field ``tag_<name>``
    (the merchandiser's: no catalog column writes it, see ``contract.TAG_PREFIX``)."""

    name: str
    value: str

    def __post_init__(self) -> None:
        if not _ATTRIBUTE.match(self.name):
            raise BadInput(f"attribute name {self.name!r}: use lowercase letters, digits and _")
        if not self.value.strip() or len(self.value) > 200:
            raise BadInput(f"attribute value {self.value!r}: 1 to 200 characters")

    @property
    def field(self) -> str:
        return f"{contract.TAG_PREFIX}{self.name}"

    @classmethod
    def parse(cls, text: str) -> Attribute:
        name, sep, value = text.partition("=")
        if not sep:
            raise BadInput(f"expected NAME=VALUE, e.g. style=hawaiian, got {text!r}")
        return cls(name.strip(), value.strip())


def preview(
    client: LookalikeClient,
    example_ids: Sequence[str] = (),
    example_images: Sequence[str | Path | bytes] = (),
    *,
    accepted: Sequence[str] = (),
    rejected: Sequence[str] = (),
    **values: object,
) -> Preview:
    """The example products, then the ``k`` candidates a merchandiser reviews before tagging,
    ranked by a model learned from the examples (products and/or images), the ``accepted`` and
    ``rejected`` candidates of earlier reviews and a background sample of the collection (see
    ``embedder.learning``); reviewed products are not candidates again. ``values`` are search
    options (``k``, ``fq``, and ``max_dist``, a distance to the examples' centroid)."""
    if not example_ids and not example_images:
        raise BadInput("give 1 or more example product ids or images")
    given = {"example": list(example_ids), "accepted": list(accepted), "rejected": list(rejected)}
    documents = _documents(client.index, given)
    vectors = {i: contract.decode_vector(doc[contract.VECTOR_FIELD]) for i, doc in documents.items()}
    positives = [vectors[i] for i in (*example_ids, *accepted)]
    model = None
    if example_images:
        embedded = [client.runtime.embed(image) for image in example_images]
        positives += [vector for vector, _ in embedded]
        model = embedded[0][1]
    reviewed = [*example_ids, *accepted, *rejected]
    background = _background(client, model, exclude=set(reviewed))
    ranker = learning.fit(np.array(positives), np.array([vectors[i] for i in rejected]), background)
    centroid = ranker.centroid.astype(np.float64)
    options = {**values, "exclude": [*values.get("exclude", ()), *reviewed]}
    if ranker.learned:
        max_dist = options.pop("max_dist", None)
        if max_dist is not None:  # the threshold stays a distance to the examples, as documented
            within = f"{{!visual f={contract.VECTOR_FIELD} maxDist={float(max_dist)!r} cache=false}}"
            options["fq"] = [*options.get("fq", ()), within + contract.encode_vector(ranker.centroid)]
        query = Query(weights=ranker.weights, bias=ranker.bias, model=model, **options)
    elif example_images or accepted:
        query = Query(vector=ranker.centroid, model=model or client.runtime.vector_version(), **options)
    else:
        query = Query(like=list(example_ids), **options)
    examples = [
        replace(Hit.of_document(i, documents[i]), distance=float(((vectors[i] - centroid) ** 2).sum()))
        for i in example_ids
    ]
    return Preview(examples, client.run(query).hits, ranker)


@dataclass(frozen=True)
class Preview:
    """What a review shows: the examples (with their distance to the centroid), the candidates
    in rank order, and the ranker that ranked them."""

    examples: list[Hit]
    candidates: list[Hit]
    ranker: learning.Ranker

    @property
    def hits(self) -> list[Hit]:
        return self.examples + self.candidates


def _documents(index: SolrIndex, given: dict[str, list[str]]) -> dict[str, dict]:
    """The products named in each role (example, accepted, rejected), each with a vector."""
    ids = _products_only(list(dict.fromkeys(i for group in given.values() for i in group)))
    documents = index.get(ids, fl="*")
    for role, group in given.items():
        missing = [i for i in group if i not in documents]
        if missing:
            raise NotFound(f"no {role} products with ids {missing[:10]}")
        without = [i for i in group if contract.VECTOR_FIELD not in documents[i]]
        if without:
            raise BadInput(f"{role} products without an image vector: {without[:10]}")
    return documents


# (collection, model version) -> ids and vectors of a sample of its products
_BACKGROUND: dict[tuple[str, str | None, int], tuple[list[str], np.ndarray]] = {}


def _background(client: LookalikeClient, model: str | None, exclude: set[str]) -> np.ndarray:
    """The vectors of ``learning.BACKGROUND_SIZE`` products first by ``contract.SAMPLE_FIELD``
    (a hash of the id: unrelated to how they look, the same on one node and in SolrCloud), read
    once per collection, model and product count (so that adding or deleting products samples
    again), less the reviewed products."""
    version = model or client.runtime.vector_version()
    fq = [f"{contract.VERSION_FIELD}:{querysyntax.phrase(version)}"] if version else []
    key = (client.index.url, version, client.index.count(fq))
    if key not in _BACKGROUND:
        results = client.index.search(
            q="*:*",
            fq=fq,
            sort=f"{contract.SAMPLE_FIELD} asc, {contract.ID_FIELD} asc",
            rows=learning.BACKGROUND_SIZE,
            fl=f"{contract.ID_FIELD},{contract.VECTOR_FIELD}",
        )
        docs = [d for d in results.docs if contract.VECTOR_FIELD in d]
        vectors = [contract.decode_vector(d[contract.VECTOR_FIELD]) for d in docs]
        _BACKGROUND[key] = ([d[contract.ID_FIELD] for d in docs], np.array(vectors, dtype=np.float32))
    ids, vectors = _BACKGROUND[key]
    return vectors[[i not in exclude for i in ids]] if ids else vectors


def apply(index: SolrIndex, attribute: Attribute, ids: Iterable[str]) -> int:
    """Adds the attribute value to each product (atomic ``add-distinct``: other values and
    fields, the vector included, are kept). Unknown ids are refused, not created."""
    ids = _products_only(list(dict.fromkeys(ids)))
    if not ids or len(ids) > MAX_TAGGED:
        raise BadInput(f"tag 1 to {MAX_TAGGED} products, got {len(ids)}")
    missing = sorted(set(ids) - set(index.get(ids, fl="id")))
    if missing:
        raise NotFound(f"no products with ids {missing[:10]}")
    # _version_ 1: the product must exist (an atomic update would otherwise create it).
    updates = [{"id": i, "_version_": 1, attribute.field: {"add-distinct": attribute.value}} for i in ids]
    index.add(updates)
    index.commit()
    return len(ids)


def remove(index: SolrIndex, attribute: Attribute, ids: Sequence[str] | None = None) -> int:
    """Removes the attribute value from these products, or with ``ids=None`` from every product
    that has it (atomic ``remove``: other values and fields are kept); returns how many had it."""
    having = [doc[contract.ID_FIELD] for doc in index.stream(contract.ID_FIELD, fq=[_has(attribute)])]
    if ids is not None:
        apply_to = set(ids)
        unknown = sorted(apply_to - set(index.get(list(apply_to), fl="id")))
        if unknown:
            raise NotFound(f"no products with ids {unknown[:10]}")
        having = [i for i in having if i in apply_to]
    for start in range(0, len(having), 1000):
        index.add({"id": i, attribute.field: {"remove": attribute.value}} for i in having[start : start + 1000])
    index.commit()
    return len(having)


def _products_only(ids: list[str]) -> list[str]:
    reserved = [i for i in ids if contract.is_reserved_id(i)]
    if reserved:
        raise BadInput(f"ids {reserved[:10]} belong to the collection's own documents, not products")
    return ids


def _has(attribute: Attribute) -> str:
    escaped = attribute.value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{attribute.field}:"{escaped}"'
