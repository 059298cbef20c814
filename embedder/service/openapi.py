"""The OpenAPI 3.1 description of the sidecar's HTTP API, served at /openapi.json. The search
options come from their one declaration (``embedder.options``); the web page builds its search
form from the ``SearchRequest`` schema here."""

from __future__ import annotations

import re

from embedder import contract, options
from embedder.errors import (
    BadInput,
    Conflict,
    Forbidden,
    LookalikeError,
    NotFound,
    NotInstalled,
    SolrFailed,
    SolrUnavailable,
    TooLarge,
    Unauthorized,
)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _obj(required: list[str] | None = None, **properties: dict) -> dict:
    return {"type": "object", "properties": properties, "required": required or []}


STR, INT, NUM, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
STRS = {"type": "array", "items": STR}
ID = {"type": "string", "minLength": 1, "maxLength": contract.MAX_ID_LENGTH}  # a product id, wherever one is taken
IDS = {"type": "array", "items": ID}


def _errors(*classes: type[LookalikeError]) -> dict:
    """The error answers by status, each described by its classes' docstrings (first paragraph)."""
    answers: dict[str, dict] = {}
    for error in classes:
        summary = " ".join((error.__doc__ or "").split("\n\n")[0].split())
        if str(error.status) in answers:
            answers[str(error.status)]["description"] += f" Or: {summary}"
        else:
            answers[str(error.status)] = {"description": summary, **_json(_ref("Error"))}
    return answers


ERRORS = _errors(
    BadInput,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    TooLarge,
    SolrFailed,
    SolrUnavailable,
    NotInstalled,  # 503 too: embedding without the `embed` extra
    LookalikeError,
)
ERRORS["500"]["description"] = "our own bug: a generic message, the details are in the sidecar's log"


def _post(summary: str, request: dict, response: dict, multipart: dict | None = None) -> dict:
    body = _json(request)
    if multipart:
        body["content"]["multipart/form-data"] = {"schema": multipart}
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, **body},
            "responses": {"200": {"description": "OK", **_json(response)}, **ERRORS},
        }
    }


def _get(summary: str, response: dict) -> dict:
    return {"get": {"summary": summary, "responses": {"200": {"description": "OK", **_json(response)}, **ERRORS}}}


IMAGE = {
    "url": {**STR, "description": "an http(s) image URL (never inside the network by default)"},
    "image_base64": {**STR, "description": "the image file, base64"},
}
UPLOAD = {"image": {"type": "string", "format": "binary"}}
NULLABLE_STR = {"type": ["string", "null"]}
SEARCH = {**IMAGE, **options.json_schema(options.SEARCH_REQUEST)}
RECOMMEND = options.json_schema(options.RECOMMEND_REQUEST)
ATTRIBUTE = {"attribute": {**STR, "pattern": "^[a-z][a-z0-9_]{0,63}$"}, "value": STR}
RESULTS = _obj(results={"type": "array", "items": _ref("Hit")}, facets=_ref("Facets"), total=INT)
CLUSTERS = _obj(clusters={"type": "array", "items": _ref("Cluster")}, created_at=NULLABLE_STR, pca_version=NULLABLE_STR)
GALLERY = _obj(
    session=STR,
    current={**NULLABLE_STR, "description": "the chosen product; null in a gallery before any choice"},
    gallery={"type": "array", "items": _ref("Hit")},
)
TAGGED = _obj(field=STR, tagged=INT)
ID_PATH = {"name": "id", "in": "path", "required": True, "schema": STR}

SPEC = {
    "openapi": "3.1.0",
    # Writes need the token when the sidecar has one (embedder/service/guard.py); reads never do.
    "security": [{}, {"token": []}],
    "info": {
        "title": "Lookalike sidecar",
        "version": "0.1.0",
        "description": "Visual search inside Apache Solr: embedding, search, merchandising.",
    },
    "paths": {
        "/health": _get(
            "Solr reachable, model loaded, PCA version; products per PCA version (two: degraded)",
            _obj(
                status={"type": "string", "enum": ["ok", "degraded"]},
                solr=BOOL,
                model_loaded=BOOL,
                pca_version=NULLABLE_STR,
                pca_versions={"type": "object", "additionalProperties": {"type": "integer"}},
                documents={"type": ["integer", "null"]},
                weights=STR,
                error=STR,
            ),
        ),
        "/labels": _get(
            "What the page calls fields (serve --label FIELD=LABEL)",
            {"type": "object", "additionalProperties": STR},
        ),
        "/health/live": _get("The process answers (liveness): never asks Solr", _obj(status=STR)),
        "/health/ready": _get(
            "Ready for traffic (readiness): Solr answers and the collection holds one PCA model (503 otherwise)",
            _obj(status=STR, error=STR),
        ),
        "/embed": _post(
            "The query vector of an image",
            _obj(**IMAGE),
            _obj(vector={"type": "array", "items": NUM}, dimension=INT, model=STR, pca_version=STR),
            _obj(**UPLOAD),
        ),
        "/search": _post(
            "Visual, keyword and hybrid search with filters and facets",
            _ref("SearchRequest"),
            RESULTS,
            _obj(**UPLOAD, **{k: v for k, v in SEARCH.items() if k != "vector"}),
        ),
        "/products": _post(
            "Index a few products now, or update the fields sent of existing ones (the others are kept)",
            _obj(
                ["products"],
                products={
                    "type": "array",
                    "maxItems": 100,
                    "items": _obj(
                        ["id"], id=ID, image_url=STR, image_base64=STR, title=STR, description=STR, category=STR
                    ),
                },
            ),
            _obj(indexed=STRS, failed={"type": "object", "additionalProperties": STR}),
        ),
        "/products/{id}": {
            "parameters": [ID_PATH],
            **_get("A product: its fields and its served image", _ref("Hit")),
            "delete": {
                "summary": "Delete a product",
                "responses": {"200": {"description": "OK", **_json(_obj(deleted=STR))}, **ERRORS},
            },
        },
        "/products/{id}/image": {
            "get": {
                "summary": "A product's image",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": STR}],
                "responses": {"200": {"description": "the image"}, "302": {"description": "its URL"}, **ERRORS},
            }
        },
        "/tag/preview": _post(
            "The examples, then the candidates for review before tagging, ranked by a model learned from "
            "the examples, the accepted and rejected candidates so far and a sample of the collection",
            _obj(
                ["attribute", "value"],
                **ATTRIBUTE,
                **IMAGE,
                example_ids=IDS,
                accepted_ids=IDS,
                rejected_ids=IDS,
                **options.json_schema(options.TAG_PREVIEW_REQUEST),
            ),
            _obj(
                field=STR,
                candidates={"type": "array", "items": _ref("Hit")},
                ranker=_obj(learned=BOOL, positives=INT, rejected=INT),
            ),
        ),
        "/tag/remove": _post(
            "Remove an attribute value from these products, or from every product that has it",
            _obj(["attribute", "value"], **ATTRIBUTE, ids=IDS, all=BOOL),
            _obj(field=STR, removed=INT),
        ),
        "/tag/apply": _post(
            "Write an attribute into exactly these products",
            _obj(["attribute", "value", "ids"], **ATTRIBUTE, ids=IDS),
            TAGGED,
        ),
        "/clusters": {
            **_post("Cluster the catalog (MiniBatchKMeans)", _obj(k=INT), CLUSTERS),
            **_get("The last clustering (an empty list before any)", CLUSTERS),
        },
        "/clusters/{id}/members": {
            "get": {
                "summary": "A page of a cluster's members, nearest its centroid first, within facet filters "
                "(total: how many match)",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": INT},
                    {"name": "start", "in": "query", "schema": options.SEARCH["start"].schema()},
                    {"name": "k", "in": "query", "schema": options.SEARCH["k"].schema()},
                    {
                        "name": "filters",
                        "in": "query",
                        "description": "field=value, repeatable: values of a field are OR-ed, fields AND-ed",
                        "schema": STRS,
                        "explode": True,
                    },
                ],
                "responses": {"200": {"description": "OK", **_json(RESULTS)}, **ERRORS},
            }
        },
        "/clusters/{id}/attribute": {
            "post": {
                **_post(
                    "Write an attribute into every member of a cluster",
                    _obj(["attribute", "value"], **ATTRIBUTE),
                    TAGGED,
                )["post"],
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": INT}],
            }
        },
        "/navigate/start": _post(
            "A gallery of diverse products, or with `choose` the first step from it",
            _obj(size=INT, fq=STRS, choose=ID, reject=IDS),
            GALLERY,
        ),
        "/navigate/step": _post(
            "The next gallery from a chosen product",
            _obj(["session", "choose"], session=STR, choose=ID, reject=IDS, k=INT),
            GALLERY,
        ),
        "/recommend": _post("Closer to liked products, away from disliked ones", _obj(["like"], **RECOMMEND), RESULTS),
    },
    "components": {
        "securitySchemes": {"token": {"type": "http", "scheme": "bearer", "description": "LOOKALIKE_API_TOKEN"}},
        "schemas": {
            "Error": _obj(["error"], error=STR),
            "SearchRequest": _obj(**SEARCH),
            "Hit": _obj(
                ["id"], id=STR, score=NUM, distance={"type": ["number", "null"]}, fields={"type": "object"}, image=STR
            ),
            "Facets": {
                "type": "object",
                "description": "by field: [value, count] pairs, highest count first",
                "additionalProperties": {
                    "type": "array",
                    "items": {"type": "array", "prefixItems": [STR, INT], "minItems": 2, "maxItems": 2},
                },
            },
            "Cluster": _obj(
                id=INT,
                size=INT,
                representative=_ref("Hit"),
                representative_distance=NUM,
                composition={
                    "type": "object",
                    "description": "by field: its most frequent [value, count] pairs among the members",
                    "additionalProperties": {"type": "array", "items": {"type": "array"}},
                },
            ),
        },
    },
}


def _name_operations(paths: dict) -> None:
    """operationIds from method and path (``post_clusters_id_attribute``): unique and stable."""
    for path, item in paths.items():
        words = [word for word in re.split(r"[/{}]+", path) if word]
        for method in ("get", "post", "delete"):
            if method in item:
                item[method]["operationId"] = "_".join([method, *words])


_name_operations(SPEC["paths"])
