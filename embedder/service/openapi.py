"""The OpenAPI 3.1 description of the sidecar's HTTP API, served at /openapi.json."""
from __future__ import annotations


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _obj(required: list[str] | None = None, **properties: dict) -> dict:
    return {"type": "object", "properties": properties, "required": required or []}


STR, INT, NUM, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
STRS = {"type": "array", "items": STR}
ERRORS = {code: {"description": text, **_json(_ref("Error"))} for code, text in {
    "400": "bad input (the message names the field)", "404": "unknown product, cluster or session",
    "409": "the collection has no PCA model yet, or another one", "413": "over the upload limit",
    "503": "Solr is unavailable: retry later",
}.items()}  # fmt: skip


def _post(summary: str, request: dict, response: dict, multipart: dict | None = None) -> dict:
    body = _json(request)
    if multipart:
        body["content"]["multipart/form-data"] = {"schema": multipart}
    return {"post": {"summary": summary, "requestBody": {"required": True, **body},
                     "responses": {"200": {"description": "OK", **_json(response)}, **ERRORS}}}  # fmt: skip


def _get(summary: str, response: dict) -> dict:
    return {"get": {"summary": summary, "responses": {"200": {"description": "OK", **_json(response)}, **ERRORS}}}


IMAGE = {"url": {**STR, "description": "an http(s) image URL (never inside the network by default)"},
         "image_base64": {**STR, "description": "the image file, base64"}}  # fmt: skip
UPLOAD = {"image": {"type": "string", "format": "binary"}}
SEARCH = {**IMAGE, "id": STR, "vector": {"type": "array", "items": NUM}, "text": STR, "fq": STRS,
          "k": {**INT, "minimum": 1, "maximum": 1000}, "max_dist": {**NUM, "minimum": 0}, "hybrid": BOOL,
          "facets": STRS}  # fmt: skip
ATTRIBUTE = {"attribute": {**STR, "pattern": "^[a-z][a-z0-9_]{0,63}$"}, "value": STR}
RESULTS = _obj(results={"type": "array", "items": _ref("Hit")}, facets=_ref("Facets"), total=INT)
CLUSTERS = _obj(clusters={"type": "array", "items": _ref("Cluster")}, created_at=STR, pca_version=STR)
GALLERY = _obj(session=STR, current=STR, gallery={"type": "array", "items": _ref("Hit")})
TAGGED = _obj(field=STR, tagged=INT)

SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "Lookalike sidecar", "version": "0.1.0",
             "description": "Visual search inside Apache Solr: embedding, search, merchandising."},
    "paths": {
        "/health": _get("Solr reachable, model loaded, PCA version", _obj(
            status=STR, solr=BOOL, model_loaded=BOOL, pca_version=STR, documents=INT, weights=STR)),
        "/embed": _post("The query vector of an image", _obj(**IMAGE),
                        _obj(vector={"type": "array", "items": NUM}, dimension=INT, model=STR, pca_version=STR),
                        _obj(**UPLOAD)),
        "/search": _post("Visual, keyword and hybrid search with filters and facets", _obj(**SEARCH), RESULTS,
                         _obj(**UPLOAD, **{k: v for k, v in SEARCH.items() if k != "vector"})),
        "/products": _post("Index or update a few products now", _obj(
            ["products"], products={"type": "array", "maxItems": 100, "items": _obj(
                ["id"], id=STR, image_url=STR, image_base64=STR, title=STR, description=STR, category=STR)}),
            _obj(indexed=STRS, failed={"type": "object", "additionalProperties": STR})),
        "/products/{id}/image": {"get": {"summary": "A product's image", "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": STR}],
            "responses": {"200": {"description": "the image"}, "302": {"description": "its URL"}, **ERRORS}}},
        "/tag/preview": _post("Lookalikes of examples, for review before tagging", _obj(
            ["attribute", "value"], **ATTRIBUTE, **IMAGE, example_ids=STRS, k=INT, max_dist=NUM, fq=STRS),
            _obj(field=STR, candidates={"type": "array", "items": _ref("Hit")})),
        "/tag/apply": _post("Write an attribute into exactly these products", _obj(
            ["attribute", "value", "ids"], **ATTRIBUTE, ids=STRS), TAGGED),
        "/clusters": {**_post("Cluster the catalog (MiniBatchKMeans)", _obj(k=INT), CLUSTERS),
                      **_get("The last clustering (an empty list before any)", CLUSTERS)},
        "/clusters/{id}/attribute": _post("Write an attribute into every member of a cluster",
                                          _obj(["attribute", "value"], **ATTRIBUTE), TAGGED),
        "/navigate/start": _post("A gallery of diverse products, or with `choose` the first step from it",
                                 _obj(size=INT, fq=STRS, choose=STR, reject=STRS), GALLERY),
        "/navigate/step": _post("The next gallery from a chosen product", _obj(
            ["session", "choose"], session=STR, choose=STR, reject=STRS, k=INT), GALLERY),
        "/recommend": _post("Closer to liked products, away from disliked ones", _obj(
            ["like"], like=STRS, unlike=STRS, text=STR, fq=STRS, k=INT,
            mode={"enum": ["rank", "filter"]}, max_dist=NUM, facets=STRS), RESULTS),
    },
    "components": {"schemas": {
        "Error": _obj(["error"], error=STR),
        "Hit": _obj(["id"], id=STR, score=NUM, distance={"type": ["number", "null"]},
                    fields={"type": "object"}, image=STR),
        "Facets": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": INT}},
        "Cluster": _obj(id=INT, size=INT, representative=_ref("Hit"), representative_distance=NUM),
    }},
}
