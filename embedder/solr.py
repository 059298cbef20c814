"""Solr I/O: batched, idempotent writes of product documents, reads by id, the schema's
contract, and the PCA model kept in the collection itself (one document of kind=model).

Writes go through pysolr. The few calls pysolr lacks (real-time get, the schema API) use the
same HTTP session. Documents are keyed by product id, so re-sending one replaces it: re-running
a job never duplicates.
"""
from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pysolr
import requests

from embedder import contract
from embedder.reduce import PCAReducer

log = logging.getLogger(__name__)

MODEL_DOC_ID = "_lookalike_pca_model"
COMMIT_WITHIN_MS = 10_000  # documents become searchable within 10 s; the job commits at its end


class SolrUnavailable(RuntimeError):
    """Solr did not answer; the job can be re-run and resumes where it stopped."""


class ModelMismatch(ValueError):
    """A PCA model does not fit this collection (dimension or version)."""


@dataclass(frozen=True)
class SchemaInfo:
    """What the collection's schema says about the contract and its fields."""

    fields: frozenset[str]
    dynamic_fields: tuple[str, ...]
    dimension: int

    def accepts(self, name: str) -> bool:
        """True when the schema has this field, explicitly or through a dynamic field."""
        if name in self.fields:
            return True
        for pattern in self.dynamic_fields:
            if pattern.startswith("*") and name.endswith(pattern[1:]) and len(name) > len(pattern) - 1:
                return True
            if pattern.endswith("*") and name.startswith(pattern[:-1]) and len(name) > len(pattern) - 1:
                return True
        return False


class SolrIndex:
    """One Solr collection of products, addressed by its URL (``http://host:8983/solr/products``)."""

    def __init__(self, collection_url: str, timeout: float = 60.0) -> None:
        self.url = collection_url.rstrip("/")
        self.session = requests.Session()
        self.solr = pysolr.Solr(self.url, timeout=timeout, session=self.session)
        self.timeout = timeout

    # -- reading ---------------------------------------------------------------------------
    def _get_json(self, path: str, params: dict[str, object] | None = None) -> dict:
        try:
            response = self.session.get(
                f"{self.url}/{path}", params={**(params or {}), "wt": "json"}, timeout=self.timeout
            )
        except requests.RequestException as error:
            raise SolrUnavailable(f"Solr at {self.url} is not reachable: {error}") from error
        if response.status_code != 200:
            raise pysolr.SolrError(f"{path}: HTTP {response.status_code}: {_error_message(response)}")
        return response.json()

    def schema_info(self) -> SchemaInfo:
        fields = self._get_json("schema/fields")["fields"]
        dynamic = self._get_json("schema/dynamicfields")["dynamicFields"]
        vector = next((f for f in fields if f["name"] == contract.VECTOR_FIELD), None)
        if vector is None:
            raise ModelMismatch(f"the collection at {self.url} has no {contract.VECTOR_FIELD} field")
        field_type = self._get_json(f"schema/fieldtypes/{vector['type']}")["fieldType"]
        return SchemaInfo(
            fields=frozenset(f["name"] for f in fields),
            dynamic_fields=tuple(f["name"] for f in dynamic),
            dimension=int(field_type["dimension"]),
        )

    def attribute_fields(self) -> list[str]:
        """The ``attr_*`` fields that hold values in the index (tagged or from the catalog)."""
        fields = self._get_json("admin/luke", {"numTerms": 0}).get("fields", {})
        return sorted(name for name in fields if name.startswith("attr_"))

    def get(self, ids: Sequence[str], fl: str = "*") -> dict[str, dict]:
        """Real-time get: sees documents added but not yet committed, on every shard."""
        if not ids:
            return {}
        body = self._get_json("get", {"ids": ",".join(_escape_id(i) for i in ids), "fl": fl})
        return {doc[contract.ID_FIELD]: doc for doc in body["response"]["docs"]}

    def ids_indexed_with(self, ids: Sequence[str], version: str) -> set[str]:
        """The ids among ``ids`` already indexed with a vector of PCA model ``version``."""
        docs = self.get(ids, fl=f"{contract.ID_FIELD},{contract.VERSION_FIELD}")
        return {i for i, doc in docs.items() if doc.get(contract.VERSION_FIELD) == version}

    def vector_of(self, product_id: str) -> np.ndarray:
        doc = self.get([product_id], fl=f"{contract.ID_FIELD},{contract.VECTOR_FIELD}").get(product_id)
        if doc is None:
            raise KeyError(f"no product with id {product_id!r} in {self.url}")
        if contract.VECTOR_FIELD not in doc:
            raise KeyError(f"product {product_id!r} has no {contract.VECTOR_FIELD}")
        return contract.decode_vector(doc[contract.VECTOR_FIELD])

    def stream(self, fl: str, fq: Sequence[str] = (), rows: int = 1000) -> Iterator[dict]:
        """Every matching document, paged with a cursor (stable under concurrent writes)."""
        cursor = "*"
        while True:
            body = self._get_json(
                "select",
                {"q": "*:*", "fq": list(fq), "fl": fl, "rows": rows, "sort": "id asc",
                 "cursorMark": cursor},
            )  # fmt: skip
            yield from body["response"]["docs"]
            if body["nextCursorMark"] == cursor:
                return
            cursor = body["nextCursorMark"]

    # -- writing ---------------------------------------------------------------------------
    def add(self, docs: Iterable[dict], commit_within_ms: int = COMMIT_WITHIN_MS) -> None:
        docs = list(docs)
        if docs:
            self._update(lambda: self.solr.add(docs, commitWithin=str(commit_within_ms)))

    def commit(self) -> None:
        self._update(self.solr.commit)

    def _update(self, call) -> None:
        try:
            call()
        except (requests.RequestException, pysolr.SolrError) as error:
            # pysolr reports a refused connection, and Jetty a Solr shutting down, this way
            if isinstance(error, pysolr.SolrError) and not _unavailable(str(error)):
                raise
            raise SolrUnavailable(
                f"Solr at {self.url} is not reachable; re-run the job when it is back, it resumes "
                f"where it stopped ({str(error).splitlines()[0][:200]})"
            ) from error

    def delete_all(self) -> None:
        self.solr.delete(q="*:*", commit=True)

    # -- the PCA model ---------------------------------------------------------------------
    def model_version(self) -> str | None:
        """The stored PCA model's version, without loading the model."""
        doc = self.get([MODEL_DOC_ID], fl=f"{contract.ID_FIELD},{contract.VERSION_FIELD}").get(MODEL_DOC_ID)
        return None if doc is None else doc.get(contract.VERSION_FIELD)

    def load_model(self) -> StoredModel | None:
        doc = self.get([MODEL_DOC_ID]).get(MODEL_DOC_ID)
        if doc is None:
            return None
        blob = doc[contract.MODEL_BLOB_FIELD]
        reducer = PCAReducer.from_bytes(base64.b64decode(blob if isinstance(blob, str) else blob[0]))
        meta = json.loads(doc.get(contract.MODEL_META_FIELD, "{}"))
        return StoredModel(reducer, meta.get("extractor", "unknown"))

    def store_model(self, model: StoredModel, replace: bool = False) -> StoredModel:
        """Stores the model; without ``replace`` the first writer wins (several workers may fit
        concurrently) and the model already stored is returned instead."""
        doc = {
            contract.ID_FIELD: MODEL_DOC_ID,
            contract.KIND_FIELD: contract.MODEL_KIND,
            contract.VERSION_FIELD: model.reducer.version,
            contract.MODEL_BLOB_FIELD: base64.b64encode(model.reducer.to_bytes()).decode("ascii"),
            contract.MODEL_META_FIELD: json.dumps({**model.reducer.metadata, "extractor": model.extractor}),
        }
        if not replace:
            doc["_version_"] = -1  # optimistic concurrency: only if no model exists yet
        try:
            self.solr.add([doc], commit=True)
        except pysolr.SolrError as error:
            if "409" in str(error) or "version conflict" in str(error).lower():
                stored = self.load_model()
                if stored is not None:
                    log.info("another worker stored PCA model %s first; using it", stored.version)
                    return stored
            raise
        return model


@dataclass(frozen=True)
class StoredModel:
    """The PCA model of a collection and the feature extractor whose vectors it was fitted on
    (vectors of another extractor, e.g. other weights, are not comparable with the index)."""

    reducer: PCAReducer
    extractor: str

    @property
    def version(self) -> str:
        return self.reducer.version


def check_model(model: StoredModel, schema: SchemaInfo, extractor: str) -> None:
    """Refuses a model that does not fit the schema's vector field or the extractor in use."""
    reducer = model.reducer
    if model.extractor != extractor:
        raise ModelMismatch(
            f"the collection's PCA model {model.version} was fitted on {model.extractor} vectors, "
            f"but this run embeds with {extractor}; use the same --weights, or --refit to re-index"
        )
    if reducer.metadata["output_dim"] != schema.dimension:
        raise ModelMismatch(
            f"PCA model {reducer.version} outputs {reducer.metadata['output_dim']} dimensions but "
            f"the schema's {contract.VECTOR_FIELD} has {schema.dimension}"
        )


def _unavailable(message: str) -> bool:
    """pysolr's message for a refused connection, or for Jetty's own page while Solr stops or
    starts: a 503, or a 404 once the core is unloaded (an HTML page; Solr itself answers JSON)."""
    return (
        "Failed to connect" in message
        or "(HTTP 503)" in message
        or ("(HTTP 404)" in message and "<html" in message.lower())
    )


def _escape_id(product_id: str) -> str:
    # /get splits ids on commas; a comma inside an id is escaped with a backslash.
    return product_id.replace("\\", "\\\\").replace(",", "\\,")


def _error_message(response: requests.Response) -> str:
    try:
        return response.json()["error"]["msg"]
    except (ValueError, KeyError, TypeError):
        return response.text[:500]
