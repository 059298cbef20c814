"""Search routes: /embed, /search, /products, /products/<id>/image."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import asdict
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, current_app, jsonify, redirect, send_file

from embedder import contract, options
from embedder.catalog import parse_record
from embedder.client import Hit, Page, refuse_other_sources
from embedder.errors import BadInput, NotFound
from embedder.pipeline import Indexer, IndexOptions
from embedder.service.guard import writes
from embedder.service.inputs import Payload

blueprint = Blueprint("api", __name__)
DEFAULT_FACETS = ("category", "color", "brand")
IMAGE_FIELDS = ("image", "url", "image_base64")
MAX_PRODUCTS = 100  # per /products request: real-time updates, not a batch job


def services():
    return current_app.extensions["lookalike"]


def hit_json(hit: Hit) -> dict:
    return {**asdict(hit), "image": f"/products/{quote(hit.id, safe='')}/image"}  # ids may hold ?, # and %


def page_json(page: Page) -> dict:
    """Results, the total, and facet values as [value, count] lists in Solr's count order (a JSON
    object would be re-ordered by key on the way)."""
    facets = {field: [[value, count] for value, count in counts.items()] for field, counts in page.facets.items()}
    return {"results": [hit_json(h) for h in page.hits], "facets": facets, "total": page.total}


@blueprint.post("/embed")
def embed():
    payload = Payload()
    s = services()
    image = payload.image(allow_private=s.config.allow_private_urls, timeout=s.config.fetch_timeout)
    if image is None:
        raise BadInput("send an image: a multipart field 'image', or JSON {\"url\": ...}")
    vector, version = s.runtime.embed(image)
    return jsonify(
        {
            "vector": vector.tolist(),
            "dimension": int(vector.shape[0]),
            "model": s.runtime.extractor().name,
            "pca_version": version,
        }
    )


@blueprint.post("/search")
def search():
    payload = Payload()
    s = services()
    payload.refuse_unknown({*options.SEARCH_REQUEST, *IMAGE_FIELDS})
    values = payload.search(options.SEARCH_REQUEST)
    if payload.image_fields():  # a contradiction is refused before any URL is fetched
        refuse_other_sources(values)
    image = payload.image(allow_private=s.config.allow_private_urls, timeout=s.config.fetch_timeout)
    values.setdefault("facets", [*DEFAULT_FACETS, *s.attribute_fields()])
    page = s.client.run(s.client.query(image=image, **values))
    return jsonify(page_json(page))


@blueprint.post("/products")
@writes
def products():
    """Indexes or updates a few products now, through the batch job's pipeline."""
    payload = Payload()
    records = payload.fields.get("products")
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_PRODUCTS:
        raise BadInput(f"products: expected a list of 1 to {MAX_PRODUCTS} product objects")
    s = services()
    schema = s.index.schema_info()
    rows, failed, uploads, created = [], {}, {}, set()
    indexed: list[str] = []
    try:
        for number, record in enumerate(records, 1):  # each product lands whole or fails alone
            try:
                with_image, upload = _with_image(record, s, created)
            except BadInput as error:
                key = str(record.get("id") or f"#{number}") if isinstance(record, dict) else f"#{number}"
                failed[key] = str(error)
                continue
            rows.append(parse_record(number, with_image, schema, Path.cwd()))
            if upload is not None:
                uploads[rows[-1].id] = upload
        settings = IndexOptions(
            batch_size=s.settings.batch_size,
            progress=False,
            allow_private_urls=s.config.allow_private_urls,
            fetch_timeout=s.config.fetch_timeout,
        )
        indexed, refused = Indexer(s.index, s.runtime, settings).index_rows(rows) if rows else ([], {})
    finally:  # also when Solr or the model fails the whole request
        # Only files this request wrote: an existing one is the image of a product indexed before.
        for path in created - {uploads[i] for i in indexed if i in uploads}:
            path.unlink(missing_ok=True)
    # Reasons name the upload, never where the sidecar keeps it.
    failed |= {i: reason.replace(str(uploads.get(i, "\0")), "the uploaded image") for i, reason in refused.items()}
    if failed and not indexed:  # an error like any other, with the reasons beside it
        first = next(iter(failed))
        error = f"no product was indexed; {first}: {failed[first]}"
        return jsonify({"error": error, "indexed": indexed, "failed": failed}), 400
    return jsonify({"indexed": indexed, "failed": failed})


def _with_image(record: object, s, created: set[Path]) -> tuple[dict, Path | None]:
    """A product object with its image as the catalog's ``image``: a URL, or an upload saved
    under the service's home (so the gallery can show it), and that upload's path. Uploads are
    named by their bytes, so ``created`` gets the path only when this call wrote the file."""
    if not isinstance(record, dict):
        raise BadInput("products: each product is a JSON object")
    record = dict(record)
    url, data = record.pop("image_url", None), record.pop("image_base64", None)
    if (url is None) == (data is None):
        raise BadInput(f"product {record.get('id')!r}: give one of image_url or image_base64")
    if url is not None:
        # Only a URL: anything else would be read as a path on the sidecar's own disk.
        if not str(url).startswith(("http://", "https://")):
            raise BadInput(f"product {record.get('id')!r}: image_url: only http and https URLs are fetched")
        return {**record, "image": str(url)}, None
    image = Payload.decode_base64(str(data), f"product {record.get('id')!r}: image_base64")
    uploads = s.settings.home / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    path = uploads / hashlib.sha256(image).hexdigest()[:32]
    try:
        with open(path, "xb") as handle:
            created.add(path)
            handle.write(image)
    except FileExistsError:  # the same bytes as an earlier product's image: its file, not this request's
        pass
    return {**record, "image": str(path)}, path


@blueprint.get("/products/<path:product_id>")
def get_product(product_id: str):
    hit = services().client.get(product_id)
    if hit is None:
        raise NotFound(f"no product with id {product_id!r}")
    return jsonify(hit_json(hit))


@blueprint.delete("/products/<path:product_id>")
@writes
def delete_product(product_id: str):
    if contract.is_reserved_id(product_id):  # no product: a 404 like any other unknown id
        raise NotFound(f"no product with id {product_id!r}")
    services().client.delete([product_id])
    return jsonify({"deleted": product_id})


@blueprint.get("/products/<path:product_id>/image")
def product_image(product_id: str):
    s = services()
    doc = s.index.get([product_id], fl=f"id,{contract.IMAGE_URL_FIELD}").get(product_id)
    if doc is None or contract.IMAGE_URL_FIELD not in doc:
        raise NotFound(f"no image for product {product_id!r}")
    location = doc[contract.IMAGE_URL_FIELD]
    if location.startswith(("http://", "https://")):
        return redirect(location)
    path = Path(location)
    path = path if path.is_absolute() else Path.cwd() / path
    path = path.resolve()
    if not any(path.is_relative_to(root.resolve()) for root in s.image_roots()) or not path.is_file():
        raise NotFound(f"the image of product {product_id!r} is not served from here")
    mimetype = mimetypes.guess_type(path.name)[0] or "image/jpeg"
    return send_file(path, mimetype=mimetype, max_age=3600)
