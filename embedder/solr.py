"""The Solr adapter: the only module that talks HTTP to Solr.

It reads (search, real-time get, cursor streams, the schema) and writes (batched, idempotent
adds keyed by product id, commits) one collection, and turns every answer that is not a success
into one of the package's errors (``embedder.errors``), decided by HTTP status, by Solr's JSON
error and by connection failures, never by message text:

- no connection, no answer within the time-out, a 503 (Solr starting, stopping or overloaded),
  or a 404 that is not Solr's own JSON (Jetty's page while a core is unloaded):
  ``SolrUnavailable``; unless Solr says it has no collection or core of that name: ``NotFound``;
- a 400 (Solr refused the request: a bad query or value): ``BadInput`` with Solr's message;
- a 409 (optimistic concurrency, or a query of another PCA model than the index's): ``Conflict``;
- anything else: ``SolrFailed``, carrying Solr's status and message.

Product writes never touch the collection's own documents (``contract.OWN_DOCUMENTS``); those
are written only by ``embedder.state`` through ``write_own``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import requests

from embedder import contract, escaping
from embedder.errors import BadInput, Conflict, LookalikeError, NotFound, SolrFailed, SolrUnavailable

log = logging.getLogger(__name__)

COMMIT_WITHIN_MS = 10_000  # documents become searchable within 10 s; the job commits at its end


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
            stem = pattern.strip("*")
            if len(name) > len(stem) and (
                (pattern.startswith("*") and name.endswith(stem)) or (pattern.endswith("*") and name.startswith(stem))
            ):
                return True
        return False


@dataclass(frozen=True)
class Results:
    """One page of a search: the documents, how many matched, and facet counts in Solr's
    order (highest count first)."""

    docs: list[dict]
    hits: int
    facets: dict[str, dict[str, int]]


class SolrIndex:
    """One Solr collection, addressed by its URL (``http://host:8983/solr/products``)."""

    def __init__(self, collection_url: str, timeout: float = 60.0, read_timeout: float | None = None) -> None:
        """``timeout`` bounds each connect and each read of a request, in seconds; ``read_timeout``
        (when given) those of a request that writes nothing: a Solr that accepts and does not
        answer (starting, stalled) is then unavailable that soon, while a commit may take longer."""
        self.url = collection_url.rstrip("/")
        self.timeout = timeout
        self.read_timeout = timeout if read_timeout is None else read_timeout
        self.session = requests.Session()

    # -- HTTP --------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The collection's (or core's, or alias's) name."""
        return self.url.rsplit("/", 1)[1]

    @property
    def solr_url(self) -> str:
        return self.url.rsplit("/", 1)[0]

    def request(self, path: str, params: dict | None = None, *, body: object = None, form: bool = False) -> dict:
        """One request to the collection; Solr's JSON answer, or one of the package's errors.
        ``form`` sends ``params`` as a POST body (query vectors and id lists are long)."""
        return self._call(f"{self.url}/{path}", path, params, body, form)

    def admin(self, api: str, **params: object) -> dict:
        """Solr's admin APIs beside the collection: ``cores``, ``collections``, ``info/system``."""
        return self._call(f"{self.solr_url}/admin/{api}", f"/admin/{api}", params, None, False)

    def _call(self, url: str, path: str, params: dict | None, body: object, form: bool) -> dict:
        params = {**(params or {}), "wt": "json"}
        timeout = self.read_timeout if body is None else self.timeout  # writes are the requests with a body
        try:
            if form:
                response = self.session.post(url, data=params, timeout=timeout)
            elif body is not None:
                response = self.session.post(url, params=params, json=body, timeout=timeout)
            else:
                response = self.session.get(url, params=params, timeout=timeout)
        except requests.Timeout as error:
            raise self._unavailable(f"no answer within {timeout:g} s") from error
        except requests.RequestException as error:
            raise self._unavailable(type(error).__name__) from error
        return self._answer(path, response)

    def _answer(self, path: str, response: requests.Response) -> dict:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        error = payload.get("error") if isinstance(payload, dict) else None
        status = response.status_code
        if status == 200 and isinstance(payload, dict) and error is None:
            return payload
        message = str(error.get("msg") or "") if isinstance(error, dict) else ""
        if status == 404 and not isinstance(error, dict) and not path.startswith("/admin/"):
            self._check_exists()  # Jetty's page: no such collection, or one being unloaded
            raise self._unavailable(f"HTTP {status}")
        if status == 503:
            raise self._unavailable(f"HTTP {status}")
        if status == 400:
            raise BadInput(f"Solr refused the request: {message or 'HTTP 400'}")
        if status == 409:
            raise Conflict(f"{path}: {message or 'version conflict'}")
        raise SolrFailed(f"Solr failed on {path}: HTTP {status}: {message or 'no error message'}", status, message)

    def _check_exists(self) -> None:
        """NotFound when Solr is up but has no collection, alias or core by this name."""
        try:
            if self.admin("info/system").get("mode") == "solrcloud":
                self.admin("collections", action="CLUSTERSTATUS", collection=self.name)
                return
            if self.admin("cores", action="STATUS", core=self.name)["status"].get(self.name):
                return
        except BadInput:  # CLUSTERSTATUS of a collection that does not exist
            pass
        except LookalikeError:  # Solr itself is not answering: unavailable, as before
            return
        raise NotFound(
            f"Solr at {self.solr_url} has no collection or core {self.name!r}: check --collection "
            "(LOOKALIKE_COLLECTION), or create it"
        )

    def _unavailable(self, reason: str) -> SolrUnavailable:
        return SolrUnavailable(
            f"Solr at {self.url} is not reachable ({reason}); re-run or retry when it is back: "
            "an interrupted job resumes where it stopped"
        )

    # -- reading -----------------------------------------------------------------------------
    def search(self, **params: object) -> Results:
        """``/select`` with these parameters (``q`` defaults to every product)."""
        body = self.request("select", {"q": "*:*", **params}, form=True)
        counts = body.get("facet_counts", {}).get("facet_fields", {})
        facets = {name: dict(zip(pairs[::2], pairs[1::2])) for name, pairs in counts.items()}
        return Results(body["response"]["docs"], int(body["response"]["numFound"]), facets)

    def pivots(
        self, parent: str, children: Sequence[str], limit: int, fq: Sequence[str] = ()
    ) -> dict[str, dict[str, list[tuple[str, int]]]]:
        """For each child field, and each value of ``parent``, the ``limit`` most frequent values
        of the child with their counts: Solr's pivot facets, all in one request."""
        params = {
            "rows": 0,
            "fq": list(fq),
            "facet": "true",
            "facet.pivot": [f"{parent},{child}" for child in children],
            "facet.pivot.mincount": 1,
            f"f.{parent}.facet.limit": -1,
            **{f"f.{child}.facet.limit": limit for child in children},
        }
        pivots = self.request("select", {"q": "*:*", **params}, form=True)["facet_counts"]["facet_pivot"]
        return {
            child: {
                str(entry["value"]): [(str(sub["value"]), int(sub["count"])) for sub in entry.get("pivot", [])]
                for entry in pivots.get(f"{parent},{child}", [])
            }
            for child in children
        }

    def count(self, fq: Sequence[str] = ()) -> int:
        return self.search(fq=list(fq), rows=0).hits

    def schema_info(self) -> SchemaInfo:
        fields = self.request("schema/fields")["fields"]
        dynamic = self.request("schema/dynamicfields")["dynamicFields"]
        vector = next((f for f in fields if f["name"] == contract.VECTOR_FIELD), None)
        if vector is None:
            raise SolrFailed(
                f"the collection at {self.url} has no {contract.VECTOR_FIELD} field: not a Lookalike schema"
            )
        field_type = self.request(f"schema/fieldtypes/{vector['type']}")["fieldType"]
        return SchemaInfo(
            fields=frozenset(f["name"] for f in fields),
            dynamic_fields=tuple(f["name"] for f in dynamic),
            dimension=int(field_type["dimension"]),
        )

    def attribute_fields(self) -> list[str]:
        """The attribute fields that hold values in the index: the catalog's ``attr_*`` and the
        merchandisers' ``tag_*``."""
        fields = self.request("admin/luke", {"numTerms": 0}).get("fields", {})
        return sorted(name for name in fields if name.startswith(contract.ATTRIBUTE_PREFIXES))

    def get(self, ids: Sequence[str], fl: str = "*") -> dict[str, dict]:
        """Real-time get: sees documents added but not yet committed, on every shard."""
        if not ids:
            return {}
        body = self.request("get", {"ids": escaping.for_get(ids), "fl": fl}, form=True)
        return {doc[contract.ID_FIELD]: doc for doc in body["response"]["docs"]}

    def stream(self, fl: str, fq: Sequence[str] = (), rows: int = 1000) -> Iterator[dict]:
        """Every matching product, paged with a cursor (stable under concurrent writes)."""
        cursor = "*"
        while True:
            params = {"q": "*:*", "fq": list(fq), "fl": fl, "rows": rows, "sort": "id asc", "cursorMark": cursor}
            body = self.request("select", params, form=True)
            yield from body["response"]["docs"]
            if body["nextCursorMark"] == cursor:
                return
            cursor = body["nextCursorMark"]

    # -- writing -----------------------------------------------------------------------------
    def add(self, docs: Iterable[dict], commit_within_ms: int = COMMIT_WITHIN_MS) -> None:
        """Adds or atomically updates products; refuses the collection's own documents."""
        docs = list(docs)
        for doc in docs:
            product_id = str(doc.get(contract.ID_FIELD, ""))
            if not product_id or product_id != product_id.strip() or len(product_id) > contract.MAX_ID_LENGTH:
                raise BadInput(
                    f"id {product_id[:100]!r}: a product id is 1 to {contract.MAX_ID_LENGTH} characters, "
                    "with no space at either end"
                )
            if contract.is_reserved_id(product_id) or contract.KIND_FIELD in doc:
                raise BadInput(
                    f"id {product_id!r}: ids starting {contract.RESERVED_ID_PREFIX!r} and the field "
                    f"{contract.KIND_FIELD!r} belong to the collection's own documents, not products"
                )
        if docs:
            self.request("update", {"commitWithin": commit_within_ms}, body=docs)

    def add_each(self, docs: Sequence[dict], commit_within_ms: int = COMMIT_WITHIN_MS) -> dict[str, str]:
        """Adds documents so that each lands whole or fails alone: returns the refused ones' ids
        and reasons. Solr applies a batch up to the document it refuses and drops the rest, so a
        refused batch is split in halves and retried (re-adding a document is idempotent): one
        bad document costs about 2 log2(batch) more requests, good ones are never lost."""
        try:
            self.add(docs, commit_within_ms=commit_within_ms)
            return {}
        except BadInput as error:
            if len(docs) == 1:
                return {str(docs[0].get(contract.ID_FIELD)): str(error)}
            middle = len(docs) // 2
            return self.add_each(docs[:middle], commit_within_ms) | self.add_each(docs[middle:], commit_within_ms)

    def write_own(self, doc: dict, *, only_if_absent: bool = False) -> None:
        """Writes one of the collection's own documents (for ``embedder.state`` only) and commits.
        ``only_if_absent``: a Conflict when it exists already (the first writer wins)."""
        if contract.OWN_DOCUMENTS.get(doc[contract.ID_FIELD]) != doc.get(contract.KIND_FIELD):
            raise ValueError(f"not one of the collection's own documents: {doc[contract.ID_FIELD]!r}")
        doc = {**doc, "_version_": -1} if only_if_absent else doc
        self.request("update", {"commit": "true"}, body=[doc])

    def delete(self, ids: Sequence[str]) -> None:
        """Deletes these products (not committed: see ``commit``); never the collection's own."""
        reserved = [i for i in ids if contract.is_reserved_id(i)]
        if reserved:
            raise BadInput(f"ids {reserved[:5]} belong to the collection's own documents, not products")
        if ids:
            self.request("update", {"commitWithin": COMMIT_WITHIN_MS}, body={"delete": list(ids)})

    def commit(self) -> None:
        self.request("update", {"commit": "true"}, body={})

    def delete_all(self) -> None:
        """Every document, the collection's own included (tests and --refit of a scratch copy)."""
        self.request("update", {"commit": "true"}, body={"delete": {"query": "*:*"}})
