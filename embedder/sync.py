"""Catalog sync: what a catalog row changes in the collection, and the write that does it.

A product remembers what the catalog last said of it: a hash of its catalog fields, the names
of those fields, and the identity of its vector's source (embedder/sources.py: the bytes of a
local image, the URL and HTTP validators of a remote one, or the row of a vectors file).
A re-run compares each row with that, in one batched real-time get per batch, and:

- a new id is **added** (embedded, then written whole);
- a changed image, or a vector of another PCA model, is **re-embedded**;
- changed catalog fields are **updated** in place, without re-embedding;
- anything else is **unchanged** and costs nothing more.

Every write to an existing product is an atomic update that sets exactly the catalog's fields
(and removes the catalog fields the row no longer has), so what merchandisers wrote (tags,
cluster ids) is kept. A partial row (``POST /products``) sets only the fields it has and removes
none; the product then keeps no catalog hash, so the next sync, for which the catalog is the whole
truth, rewrites its catalog fields.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np

from embedder import contract
from embedder.catalog import CatalogRow
from embedder.errors import BadInput

# What a product remembers of the catalog (and the id and model version), as an `fl`.
REMEMBERED = ",".join(
    (
        contract.ID_FIELD,
        contract.VERSION_FIELD,
        contract.IMAGE_HASH_FIELD,
        contract.CATALOG_HASH_FIELD,
        contract.CATALOG_FIELDS_FIELD,
    )
)


class Change(Enum):
    ADDED = "added"
    REEMBEDDED = "re-embedded"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Plan:
    """What one row changes: ``change``, and the image hash and catalog hash it was judged by."""

    row: CatalogRow
    change: Change
    image_hash: str
    catalog_hash: str
    previous_fields: tuple[str, ...] = ()
    partial: bool = False  # the row holds only the fields to change: the product keeps the others

    @property
    def needs_vector(self) -> bool:
        return self.change in (Change.ADDED, Change.REEMBEDDED)

    def document(self, version: str, vector: np.ndarray | None = None) -> dict:
        """The Solr document (a new product) or atomic update (an existing one) for this row."""
        merged = self.partial and self.change is not Change.ADDED  # the row's fields over the stored ones
        others = [name for name in self.previous_fields if name not in self.row.fields]
        owned = {
            contract.IMAGE_HASH_FIELD: self.image_hash,
            # Merged fields are no catalog row's: no hash, so the next sync rewrites them all.
            contract.CATALOG_HASH_FIELD: None if merged else self.catalog_hash,
            contract.CATALOG_FIELDS_FIELD: sorted([*self.row.fields, *others] if merged else self.row.fields),
            contract.SAMPLE_FIELD: contract.sample_key(self.row.id),
        }
        if vector is not None:
            owned |= {contract.VECTOR_FIELD: contract.encode_vector(vector), contract.VERSION_FIELD: version}
        if self.change is Change.ADDED:
            return {contract.ID_FIELD: self.row.id, **self.row.fields, **owned}
        removed = {} if merged else {name: {"set": None} for name in others}
        fields = {name: {"set": value} for name, value in {**self.row.fields, **owned}.items()}
        return {contract.ID_FIELD: self.row.id, **fields, **removed}


def plan(
    rows: list[CatalogRow],
    stored: dict[str, dict],
    version: str,
    identity: Callable[[CatalogRow], str],
    partial: bool = False,
) -> tuple[list[Plan], dict[str, str]]:
    """The change of each row against the stored products (``SolrIndex.get(ids, fl=REMEMBERED)``)
    given the ``identity`` of its vector's source, and the reasons of the rows that cannot be
    judged (an unreadable image). ``partial``: the rows hold only the fields to change."""
    plans, failures = [], {}
    for row in rows:
        try:
            image_hash, catalog_hash = identity(row), catalog_hash_of(row)
        except BadInput as error:
            failures[row.id] = str(error)
            continue
        doc = stored.get(row.id)
        if doc is None:
            change = Change.ADDED
        elif doc.get(contract.VERSION_FIELD) != version or doc.get(contract.IMAGE_HASH_FIELD) != image_hash:
            change = Change.REEMBEDDED
        elif doc.get(contract.CATALOG_HASH_FIELD) != catalog_hash:
            change = Change.UPDATED
        else:
            change = Change.UNCHANGED
        previous = tuple((doc or {}).get(contract.CATALOG_FIELDS_FIELD, ()))
        plans.append(Plan(row, change, image_hash, catalog_hash, previous, partial))
    return plans, failures


def catalog_hash_of(row: CatalogRow) -> str:
    canonical = json.dumps(row.fields, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
