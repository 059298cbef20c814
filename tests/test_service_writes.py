"""Who may write through the sidecar: an API token when configured, a read-only mode, and no
cross-site form posts. A refused write changes nothing."""

from __future__ import annotations

import logging
import re

import pytest

from embedder import contract, tagging
from embedder.config import load_settings
from embedder.service import ServiceConfig, create_app
from tests.helpers import free_port, index_snapshot

TOKEN = "s3cret-token"
TAG = {"attribute": "style", "value": "guarded", "ids": ["SKU0001"]}
WRITES = [
    ("post", "/tag/apply", TAG),
    ("post", "/tag/remove", TAG),
    ("post", "/clusters", {"k": 2}),
    ("post", "/clusters/0/attribute", {"attribute": "style", "value": "guarded"}),
    ("post", "/products", {"products": [{"id": "NEWW", "image_url": "https://example.invalid/x.jpg"}]}),
    ("delete", "/products/SKU0002", None),
]


def client(local_solr, extractor, tmp_path, **config):
    settings = load_settings(environ={}, solr_url=local_solr.url, home=tmp_path, weights="none")
    return create_app(settings, ServiceConfig(**config), extractor=extractor).test_client()


@pytest.mark.parametrize("method, path, body", WRITES)
def test_a_write_without_the_token_is_refused_and_changes_nothing(
    demo_index, demo_snapshot, local_solr, extractor, tmp_path, method, path, body
):
    app = client(local_solr, extractor, tmp_path, api_token=TOKEN)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        answer = getattr(app, method)(path, json=body, headers=headers)
        assert answer.status_code == 401 and "LOOKALIKE_API_TOKEN" in answer.get_json()["error"], answer.get_json()
    assert index_snapshot(demo_index) == demo_snapshot
    assert app.post("/search", json={"id": "SKU0001", "k": 2}).status_code == 200  # reads need no token


def test_the_token_lets_a_write_through(demo_index, local_solr, extractor, tmp_path):
    app = client(local_solr, extractor, tmp_path, api_token=TOKEN)
    answer = app.post("/tag/apply", json=TAG, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and demo_index.get(["SKU0001"])["SKU0001"]["tag_style"] == ["guarded"]
    tagging.remove(demo_index, tagging.Attribute("style", "guarded"))


@pytest.mark.parametrize("method, path, body", WRITES)
def test_a_read_only_sidecar_takes_no_writes(
    demo_index, demo_snapshot, local_solr, extractor, tmp_path, method, path, body
):
    app = client(local_solr, extractor, tmp_path, read_only=True)
    answer = getattr(app, method)(path, json=body)
    assert answer.status_code == 403 and "read-only" in answer.get_json()["error"]
    assert index_snapshot(demo_index) == demo_snapshot
    assert app.post("/search", json={"text": "shirt", "k": 2}).status_code == 200


def test_a_cross_site_form_post_writes_nothing(demo_index, demo_snapshot, local_solr, extractor, tmp_path):
    app = client(local_solr, extractor, tmp_path)
    fields = {"attribute": "style", "value": "csrf", "ids": "SKU0001"}
    refused = [
        app.post("/tag/apply", data=fields, headers={"Origin": "https://evil.example"}),  # multipart from elsewhere
        app.post("/tag/apply", json=TAG, headers={"Sec-Fetch-Site": "cross-site"}),
        app.post("/tag/apply", data=fields, content_type="application/x-www-form-urlencoded"),  # a plain form
        app.post("/tag/apply", data="attribute=style", content_type="text/plain"),
    ]
    assert [r.status_code for r in refused] == [403, 403, 400, 400], [r.get_json() for r in refused]
    assert index_snapshot(demo_index) == demo_snapshot
    same_site = app.post(
        "/tag/apply", json=TAG, headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    )
    assert same_site.status_code == 200, same_site.get_json()
    tagging.remove(demo_index, tagging.Attribute("style", "guarded"))


def test_liveness_readiness_and_one_access_log_line_per_request(demo_index, local_solr, extractor, tmp_path, caplog):
    app = client(local_solr, extractor, tmp_path)
    with caplog.at_level(logging.INFO, logger="lookalike.access"):
        assert app.get("/health/live").get_json() == {"status": "ok"}
        assert app.get("/health/ready").status_code == 200
        assert app.post("/search", json={"id": "SKU0001", "k": 0}).status_code == 400
    lines = [r.getMessage() for r in caplog.records if r.name == "lookalike.access"]
    assert [line.rsplit(" ", 1)[0] for line in lines] == [
        "GET /health/live 200",
        "GET /health/ready 200",
        "POST /search 400",
    ]
    assert all(re.fullmatch(r"\d+\.\dms", line.rsplit(" ", 1)[1]) for line in lines)

    down = load_settings(environ={}, solr_url=f"http://127.0.0.1:{free_port()}/solr", home=tmp_path, weights="none")
    unready = create_app(down, ServiceConfig(), extractor=extractor).test_client()
    assert unready.get("/health/live").status_code == 200 and unready.get("/health/ready").status_code == 503


def test_images_are_served_from_the_indexed_catalogs_directory_and_nowhere_else(
    demo_index, local_solr, extractor, tmp_path
):
    app = client(local_solr, extractor, tmp_path / "home")  # no --image-root
    served = app.get("/products/SKU0001/image")
    assert served.status_code == 200 and served.data == (demo_index.catalog_dir / "images" / "SKU0001.jpg").read_bytes()
    outside = tmp_path / "elsewhere" / "SKU0001.jpg"
    outside.parent.mkdir()
    outside.write_bytes(served.data)
    demo_index.add([{"id": "SKU0001", contract.IMAGE_URL_FIELD: {"set": str(outside)}}])
    demo_index.commit()
    try:
        assert app.get("/products/SKU0001/image").status_code == 404
        added = client(local_solr, extractor, tmp_path / "home", image_roots=(outside.parent,))  # --image-root adds
        assert added.get("/products/SKU0001/image").status_code == 200
        assert added.get("/products/SKU0002/image").status_code == 200  # the catalog's still served
    finally:
        original = str(demo_index.catalog_dir / "images" / "SKU0001.jpg")
        demo_index.add([{"id": "SKU0001", contract.IMAGE_URL_FIELD: {"set": original}}])
        demo_index.commit()
