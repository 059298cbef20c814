"""Every item of a batch lands whole or fails alone with its reason, and hostile bodies are refused
with a 400: catalog rows, /products items, Solr update batches, deep JSON, long id lists.
(Tests on the emptied ``index`` come first: the demo catalog is indexed once, after them.)"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
import requests
from PIL import Image

from embedder import contract, tagging
from embedder.pipeline import IndexOptions
from embedder.samples import generate_catalog
from tests.helpers import free_port, index_snapshot, indexer
from tests.test_seams_service import post, sidecar

SOLR_REFUSED = "Solr refused the request"  # our adapter's words for Solr's 400 (Solr's own wording may change)


def jpeg(color: str) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(buffer, "JPEG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_catalog_cell_solr_refuses_fails_its_row_alone(index, extractor, tmp_path):
    catalog = generate_catalog(tmp_path / "catalog")
    with open(catalog, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for number, row in enumerate(rows):
        row["weight_f"] = "abc" if number == 20 else str(number)  # *_f is a float field: Solr refuses "abc"
    with open(catalog, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = tmp_path / "report.jsonl"
    summary = indexer(index, extractor, IndexOptions(batch_size=16, progress=False, report_path=report)).run(catalog)
    assert summary.counts["added"] == 59 and summary.counts["failed"] == 1
    [failure] = [json.loads(line) for line in report.read_text().splitlines()]
    assert failure["id"] == rows[20]["id"] and failure["status"] == "failed" and SOLR_REFUSED in failure["reason"]
    stored = {doc["id"] for doc in index.stream("id")}
    assert stored == {row["id"] for row in rows} - {rows[20]["id"]}


def test_a_solr_batch_broken_by_one_document_keeps_all_the_others(index):
    docs = [{"id": f"B{i}", "title": "t", "weight_f": "abc" if i in (3, 7) else i} for i in range(10)]
    refused = index.add_each(docs)
    index.commit()
    assert set(refused) == {"B3", "B7"} and all(reason.startswith(SOLR_REFUSED) for reason in refused.values())
    assert {doc["id"] for doc in index.stream("id")} == {f"B{i}" for i in range(10)} - {"B3", "B7"}


def test_a_thousand_ids_travel_in_post_bodies(index):
    index.add([{"id": f"T{i:04d}-" + "x" * 300, "title": "t"} for i in range(1000)])
    index.commit()
    ids = [f"T{i:04d}-" + "x" * 300 for i in range(1000)]  # 300 KB of ids: far over any URL limit
    assert len(index.get(ids, fl="id")) == 1000
    big = tagging.Attribute("batch", "big")
    assert tagging.apply(index, big, ids) == 1000
    assert index.count([f'{big.field}:"big"']) == 1000  # tags have a field of their own: tag_batch


@pytest.mark.parametrize("solr", ["without a PCA model", "not listening"])
def test_a_products_request_that_fails_as_a_whole_leaves_no_upload(index, local_solr, extractor, tmp_path, solr):
    # The emptied collection has no PCA model: the pipeline refuses (409) after the uploads are written.
    solr_url = local_solr.url if solr == "without a PCA model" else f"http://127.0.0.1:{free_port()}/solr"
    products = [{"id": f"W{i}", "image_base64": jpeg(color)} for i, color in enumerate(("red", "blue"))]
    with sidecar(solr_url, tmp_path, extractor) as (_, url):
        answer = post(url, "/products", json={"products": products})
    assert answer.status_code == (409 if solr == "without a PCA model" else 503), answer.text
    uploads = tmp_path / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_each_product_of_a_request_lands_or_fails_alone(service_url, demo_index, local_solr):
    good = {"title": "fine", "image_base64": jpeg("red")}
    products = [
        {"id": "P1", **good},
        {"id": "P2", "image_url": "ftp://example.invalid/x.jpg"},  # refused before any work
        {"id": "P3", **good, "price": "NaN"},
        {"id": "P4", **good, "title": {"set": "an atomic update"}},
        {"id": "P5", **good, "weight_f": "abc"},  # refused by Solr itself
        {"id": "P6", "title": "undecodable", "image_base64": base64.b64encode(b"not an image").decode()},
        {"id": "P7", **good},
    ]
    body = requests.post(f"{service_url}/products", json={"products": products}, timeout=120).json()
    assert body["indexed"] == ["P1", "P7"] and set(body["failed"]) == {"P2", "P3", "P4", "P5", "P6"}, body
    assert "only http" in body["failed"]["P2"] and "finite" in body["failed"]["P3"]
    assert "object" in body["failed"]["P4"] and SOLR_REFUSED in body["failed"]["P5"]
    home = local_solr.home.parent  # no reason shows where the sidecar keeps files
    assert not any("/" in reason and str(home) in reason for reason in body["failed"].values())
    assert set(demo_index.get(["P1", "P7", "P3", "P5"])) == {"P1", "P7"}
    demo_index.delete(["P1", "P7"])
    demo_index.commit()


def uploaded(home: Path) -> set[str]:
    return {path.name for path in (home / "uploads").glob("*")}


def test_a_refused_upload_leaves_no_file_behind(service_url, service_home, demo_index, demo_snapshot):
    before = uploaded(service_home)
    bad = {"products": [{"id": "U1", "image_base64": base64.b64encode(b"GIF89a broken").decode()}]}
    answer = requests.post(f"{service_url}/products", json=bad, timeout=60)
    assert answer.status_code == 400 and "uploaded image" in answer.json()["failed"]["U1"]
    assert "/uploads/" not in answer.text
    assert uploaded(service_home) == before
    health = requests.get(f"{service_url}/health", timeout=30).json()
    assert health["documents"] == 60 and index_snapshot(demo_index) == demo_snapshot


def test_a_failing_product_never_removes_the_image_another_product_shows(service_url, service_home, demo_index):
    shared, fresh, lost = jpeg("teal"), jpeg("olive"), jpeg("navy")
    first = requests.post(
        f"{service_url}/products", json={"products": [{"id": "S1", "image_base64": shared}]}, timeout=120
    )
    assert first.json()["indexed"] == ["S1"], first.text
    before = uploaded(service_home)
    products = [
        {"id": "S2", "image_base64": shared, "weight_f": "abc"},  # S1's bytes, refused by Solr
        {"id": "S3", "image_base64": fresh},
        {"id": "S4", "image_base64": lost, "weight_f": "abc"},
    ]
    second = requests.post(f"{service_url}/products", json={"products": products}, timeout=120).json()
    assert second["indexed"] == ["S3"] and set(second["failed"]) == {"S2", "S4"}, second
    image = requests.get(f"{service_url}/products/S1/image", timeout=30)
    assert image.status_code == 200 and image.content == base64.b64decode(shared)
    assert uploaded(service_home) - before == {hashlib.sha256(base64.b64decode(fresh)).hexdigest()[:32]}
    demo_index.delete(["S1", "S3"])
    demo_index.commit()


def test_tag_apply_takes_a_thousand_ids_of_300_characters_over_http(service_url, demo_index):
    ids = [f"H{i:04d}-".ljust(300, "x") for i in range(1000)]  # 300 KB of ids in the body
    demo_index.add([{"id": i, "title": "t"} for i in ids])
    demo_index.commit()
    try:
        body = {"attribute": "bulk", "value": "yes", "ids": ids}
        answer = requests.post(f"{service_url}/tag/apply", json=body, timeout=120)
        assert answer.status_code == 200 and answer.json() == {"field": "tag_bulk", "tagged": 1000}, answer.text
        assert demo_index.count(['tag_bulk:"yes"']) == 1000
    finally:
        demo_index.delete(ids)
        demo_index.commit()


def test_deep_json_is_a_400_not_a_crash(service_url):
    for depth in (9, 3000):
        body = '{"k": ' + "[" * depth + "]" * depth + "}"
        answer = requests.post(
            f"{service_url}/search", data=body, headers={"Content-Type": "application/json"}, timeout=30
        )
        assert answer.status_code == 400 and "nests deeper" in answer.json()["error"], (depth, answer.text)


def test_a_navigation_session_survives_a_bad_step(service_url, demo_index):
    start = requests.post(f"{service_url}/navigate/start", json={"size": 4}, timeout=60).json()
    step = {"session": start["session"], "choose": start["gallery"][0]["id"], "k": 4}
    bad = requests.post(f"{service_url}/navigate/step", json={**step, "reject": ["NO-SUCH-PRODUCT"]}, timeout=60)
    assert bad.status_code == 400
    good = requests.post(f"{service_url}/navigate/step", json=step, timeout=60)
    assert good.status_code == 200 and len(good.json()["gallery"]) == 4
    assert contract.MODEL_DOC_ID not in {h["id"] for h in good.json()["gallery"]}


LONGEST = "L" * contract.MAX_ID_LENGTH
TAG = {"attribute": "idlimit", "value": "x"}
ID = "<id>"  # where each route's body takes the id
ID_ROUTES = [
    ("/search", {"id": ID}, "id:"),
    ("/search", {"like": [ID]}, "like:"),
    ("/search", {"like": ["SKU0002"], "unlike": [ID]}, "unlike:"),
    ("/search", {"exclude": [ID]}, "exclude:"),
    ("/recommend", {"like": [ID]}, "like:"),
    ("/navigate/start", {"size": 3, "choose": ID}, "choose:"),
    ("/navigate/start", {"size": 3, "choose": "SKU0002", "reject": [ID]}, "reject:"),
    ("/navigate/step", {"choose": ID}, "choose:"),  # in a session of its own
    ("/tag/preview", {**TAG, "example_ids": [ID]}, "example_ids:"),
    ("/tag/preview", {**TAG, "example_ids": ["SKU0002"], "accepted_ids": [ID]}, "accepted_ids:"),
    ("/tag/preview", {**TAG, "example_ids": ["SKU0002"], "rejected_ids": [ID]}, "rejected_ids:"),
    ("/tag/apply", {**TAG, "ids": [ID]}, "ids:"),
    ("/tag/remove", {**TAG, "ids": [ID]}, "ids:"),
    ("/products", {"products": [{"id": ID, "image_base64": jpeg("maroon")}]}, "id: over 512 characters"),  # its reason
]


def with_id(template: object, product_id: str) -> object:
    if isinstance(template, dict):
        return {key: with_id(value, product_id) for key, value in template.items()}
    if isinstance(template, list):
        return [with_id(value, product_id) for value in template]
    return product_id if template == ID else template


@pytest.fixture
def longest_id(demo_index):
    """A product whose id is as long as ids may be: SKU0001 under another id."""
    copy = {k: v for k, v in demo_index.get(["SKU0001"], fl="*")["SKU0001"].items() if k != "_version_"}
    demo_index.add([{**copy, "id": LONGEST}])
    demo_index.commit()
    yield LONGEST
    demo_index.delete([LONGEST])
    demo_index.commit()


@pytest.mark.parametrize("path, template, named", ID_ROUTES, ids=[f"{p} {n}" for p, _, n in ID_ROUTES])
def test_one_id_length_limit_holds_wherever_ids_are_taken(service_url, longest_id, path, template, named):
    for product_id, status in ((longest_id, 200), (longest_id + "L", 400)):
        body = with_id(template, product_id)
        if path == "/navigate/step":
            start = requests.post(f"{service_url}/navigate/start", json={"size": 3}, timeout=60)
            body["session"] = start.json()["session"]
        answer = requests.post(f"{service_url}{path}", json=body, timeout=120)
        assert answer.status_code == status, (len(product_id), answer.text[:500])
        if status == 400:
            error = answer.json()["error"]
            assert error.startswith(named) or error.endswith(named), error[:300]
