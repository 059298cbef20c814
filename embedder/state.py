"""The collection's own state: its PCA model, its last clustering, and where its catalogs are.

Both are documents of the product collection itself, with the ids and kinds declared in
``contract.OWN_DOCUMENTS`` (docs/architecture.md says why they live there). This module is their
only reader and writer: product writes refuse their ids (``SolrIndex.add``), and Solr keeps them
out of every product search (the plugin's ``ReservedDocumentsComponent``).

A document that is missing, unreadable or not finite is the collection's problem, reported as a
``CollectionStateError`` that says how to repair it, never as the caller's bad input.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedder import contract
from embedder.errors import CollectionStateError, Conflict
from embedder.reduce import PCAReducer
from embedder.solr import SchemaInfo, SolrIndex

log = logging.getLogger(__name__)

REFIT_HINT = "re-create it with `lookalike index CATALOG --refit`"


class ModelMismatch(Conflict):
    """A PCA model does not fit this collection (dimension) or this extractor (weights)."""


class MixedModels(CollectionStateError):
    """The collection holds vectors of more than one PCA model."""


@dataclass(frozen=True)
class StoredModel:
    """The PCA model of a collection and the feature extractor whose vectors it was fitted on
    (vectors of another extractor, e.g. other weights, are not comparable with the index)."""

    reducer: PCAReducer
    extractor: str

    @property
    def version(self) -> str:
        return self.reducer.version


def model_version(index: SolrIndex) -> str | None:
    """The stored PCA model's version, without reading the model."""
    doc = index.get([contract.MODEL_DOC_ID], fl=f"{contract.ID_FIELD},{contract.VERSION_FIELD}")
    return doc.get(contract.MODEL_DOC_ID, {}).get(contract.VERSION_FIELD)


def model_extractor(index: SolrIndex) -> str | None:
    """The extractor the stored PCA model was fitted on, without reading the model."""
    doc = index.get([contract.MODEL_DOC_ID], fl=f"{contract.ID_FIELD},{contract.MODEL_META_FIELD}")
    meta = doc.get(contract.MODEL_DOC_ID, {}).get(contract.MODEL_META_FIELD)
    try:
        return None if meta is None else str(json.loads(meta)["extractor"])
    except (ValueError, KeyError, TypeError) as error:
        raise CollectionStateError(f"the PCA model of {index.url} is unreadable ({error}); {REFIT_HINT}") from None


def vector_versions(index: SolrIndex) -> dict[str, int]:
    """How many products hold vectors of each PCA version; two or more is a collection left
    mixed by an unfinished re-index, where distances across versions mean nothing."""
    # facet.sort=count: with no limit Solr would list them by name
    facet = {
        "facet": "true",
        "facet.field": contract.VERSION_FIELD,
        "facet.mincount": 1,
        "facet.limit": -1,
        "facet.sort": "count",
    }
    return index.search(rows=0, **facet).facets.get(contract.VERSION_FIELD, {})


def require_one_version(index: SolrIndex) -> str | None:
    """The one PCA version of the collection's vectors (None before any), or a Conflict naming
    every version present."""
    versions = vector_versions(index)
    if len(versions) > 1:
        counted = ", ".join(f"{version} ({count} products)" for version, count in versions.items())
        raise MixedModels(
            f"{index.url} holds vectors of {len(versions)} PCA models: {counted}; their distances are "
            "not comparable. Re-run the indexing job to finish the re-index, or "
            f"{REFIT_HINT.removeprefix('re-create it with ')}"
        )
    return next(iter(versions), None)


def load_model(index: SolrIndex) -> StoredModel | None:
    """The collection's PCA model, or None before the first indexing job."""
    doc = index.get([contract.MODEL_DOC_ID]).get(contract.MODEL_DOC_ID)
    if doc is None:
        return None
    try:
        reducer = PCAReducer.from_bytes(_blob(doc))
        meta = json.loads(doc.get(contract.MODEL_META_FIELD, "{}"))
    except (KeyError, ValueError, binascii.Error) as error:  # BadInput included
        raise CollectionStateError(f"the PCA model of {index.url} is unreadable ({error}); {REFIT_HINT}") from error
    return StoredModel(reducer, str(meta.get("extractor", "unknown")))


def require_model(index: SolrIndex) -> StoredModel:
    model = load_model(index)
    if model is None:
        raise CollectionStateError(
            f"{index.url} has no PCA model yet: index a catalog first (`lookalike index CATALOG`)"
        )
    return model


def store_model(index: SolrIndex, model: StoredModel, replace: bool = False) -> StoredModel:
    """Stores the model; without ``replace`` the first writer wins (several workers may fit
    concurrently) and the model already stored is returned instead."""
    doc = {
        contract.ID_FIELD: contract.MODEL_DOC_ID,
        contract.KIND_FIELD: contract.OWN_DOCUMENTS[contract.MODEL_DOC_ID],
        contract.VERSION_FIELD: model.reducer.version,
        contract.MODEL_BLOB_FIELD: base64.b64encode(model.reducer.to_bytes()).decode("ascii"),
        contract.MODEL_META_FIELD: json.dumps({**model.reducer.metadata, "extractor": model.extractor}),
    }
    try:
        index.write_own(doc, only_if_absent=not replace)
    except Conflict:
        log.info("another worker stored a PCA model first; using it")
        return require_model(index)
    return model


def check_model(model: StoredModel, schema: SchemaInfo, extractor: str) -> None:
    """Refuses a model that does not fit the schema's vector field or the extractor in use."""
    reducer = model.reducer
    if model.extractor != extractor:
        raise ModelMismatch(
            f"the collection's PCA model {model.version} was fitted on {model.extractor} vectors, "
            f"but this run embeds with {extractor}; use the same --weights, or --refit to re-index"
        )
    if reducer.n_components != schema.dimension:
        raise ModelMismatch(
            f"PCA model {reducer.version} outputs {reducer.n_components} dimensions but "
            f"the schema's {contract.VECTOR_FIELD} has {schema.dimension}"
        )


def load_clustering(index: SolrIndex) -> tuple[dict, np.ndarray] | None:
    """The last clustering's description and centroids, or None before the first."""
    doc = index.get([contract.CLUSTERS_DOC_ID]).get(contract.CLUSTERS_DOC_ID)
    if doc is None:
        return None
    try:
        meta = json.loads(doc[contract.MODEL_META_FIELD])
        centroids = np.load(io.BytesIO(_blob(doc)), allow_pickle=False)
        if centroids.ndim != 2 or not np.isfinite(centroids).all():
            raise ValueError("the centroids are not a finite matrix")
    except (KeyError, ValueError, OSError, binascii.Error) as error:
        raise CollectionStateError(
            f"the clustering of {index.url} is unreadable ({error}); re-run `lookalike cluster`"
        ) from error
    return meta, centroids


def store_clustering(index: SolrIndex, meta: dict, centroids: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, centroids, allow_pickle=False)
    index.write_own(
        {
            contract.ID_FIELD: contract.CLUSTERS_DOC_ID,
            contract.KIND_FIELD: contract.OWN_DOCUMENTS[contract.CLUSTERS_DOC_ID],
            contract.MODEL_BLOB_FIELD: base64.b64encode(buffer.getvalue()).decode("ascii"),
            contract.MODEL_META_FIELD: json.dumps(meta),
        }
    )


def _blob(doc: dict) -> bytes:
    blob = doc[contract.MODEL_BLOB_FIELD]
    return base64.b64decode(blob if isinstance(blob, str) else blob[0])


def catalog_directories(index: SolrIndex) -> list[Path]:
    """The directories of the catalogs indexed into the collection: where its local images are
    served from by default (embedder/service)."""
    doc = index.get([contract.CATALOGS_DOC_ID]).get(contract.CATALOGS_DOC_ID)
    try:
        return [Path(d) for d in json.loads(doc[contract.MODEL_META_FIELD])["directories"]] if doc else []
    except (KeyError, ValueError, TypeError) as error:
        raise CollectionStateError(
            f"the catalog list of {index.url} is unreadable ({error}); re-run `lookalike index CATALOG`"
        ) from None


def record_catalog_directory(index: SolrIndex, directory: Path) -> None:
    known = catalog_directories(index)
    if directory in known:
        return
    index.write_own(
        {
            contract.ID_FIELD: contract.CATALOGS_DOC_ID,
            contract.KIND_FIELD: contract.OWN_DOCUMENTS[contract.CATALOGS_DOC_ID],
            contract.MODEL_META_FIELD: json.dumps({"directories": [str(d) for d in [*known, directory]]}),
        }
    )
