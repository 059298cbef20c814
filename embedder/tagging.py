"""Filling attribute gaps from a few examples: tag all lookalikes of three "Hawaiian" shirts.

Two steps, so a merchandiser reviews before anything is written: ``preview`` lists the
lookalikes of the examples (closest to their centroid, within an optional filter, top-k or a
distance threshold), and ``apply`` writes the attribute into exactly the reviewed products with
atomic updates, which keep every other field, the image vector included.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from embedder import contract
from embedder.client import Hit, LookalikeClient, Query
from embedder.errors import BadInput, NotFound
from embedder.solr import SolrIndex

_ATTRIBUTE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_TAGGED = 10_000  # products per apply call


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
    **values: object,
) -> list[Hit]:
    """The example products, then the ``k`` lookalikes of the examples (products and/or
    images) nearest to their centroid: what a merchandiser reviews before tagging. ``values``
    are search options (``k``, ``max_dist``, ``fq``, ...)."""
    if not example_ids and not example_images:
        raise BadInput("give 1 or more example product ids or images")
    options = {**values, "exclude": [*values.get("exclude", ()), *example_ids]}
    examples = client.index.get(list(example_ids), fl="*")
    missing = [i for i in example_ids if i not in examples]
    if missing:
        raise NotFound(f"no example products with ids {missing}")
    without = [i for i in example_ids if contract.VECTOR_FIELD not in examples[i]]
    if without:
        raise BadInput(f"example products without an image vector: {without}")
    vectors = {i: contract.decode_vector(examples[i][contract.VECTOR_FIELD]) for i in example_ids}
    if example_images:
        embedded = [client.runtime.embed(image) for image in example_images]
        centroid = np.mean([vector for vector, _ in embedded] + list(vectors.values()), axis=0)
        query = Query(vector=centroid, model=embedded[0][1], **options)
    else:
        centroid = np.mean(list(vectors.values()), axis=0, dtype=np.float64)
        query = Query(like=list(example_ids), **options)
    shown = [
        replace(Hit.of_document(i, examples[i]), distance=float(((vectors[i] - centroid) ** 2).sum()))
        for i in example_ids
    ]
    return shown + client.run(query).hits


def apply(index: SolrIndex, attribute: Attribute, ids: Iterable[str]) -> int:
    """Adds the attribute value to each product (atomic ``add-distinct``: other values and
    fields, the vector included, are kept). Unknown ids are refused, not created."""
    ids = list(dict.fromkeys(ids))
    if not ids or len(ids) > MAX_TAGGED:
        raise BadInput(f"tag 1 to {MAX_TAGGED} products, got {len(ids)}")
    reserved = [i for i in ids if contract.is_reserved_id(i)]
    if reserved:
        raise BadInput(f"ids {reserved[:10]} belong to the collection's own documents, not products")
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


def _has(attribute: Attribute) -> str:
    escaped = attribute.value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{attribute.field}:"{escaped}"'
