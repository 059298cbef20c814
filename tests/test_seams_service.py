"""Seams of the sidecar over real HTTP: Solr's refusals and outages as the client sees them, our
own bugs as a generic 500, the approximate mode's probe against its declared bounds, and the
collection's own documents, which no write may name and no search may show."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import logging
import re
import shutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
import requests
from waitress.server import create_server

from embedder import cells, contract
from embedder.artifacts import CONFIGSET
from embedder.config import load_settings
from embedder.errors import BadInput
from embedder.samples import query_image
from embedder.service import ServiceConfig, create_app
from embedder.solr import SolrIndex
from tests.helpers import all_vectors, free_port, index_snapshot

PRODUCTS = 60  # the demo catalog


def post(url: str, path: str, **kwargs) -> requests.Response:
    return call("POST", url, path, **kwargs)


def call(method: str, url: str, path: str, **kwargs) -> requests.Response:
    # Connection: close, so that a sidecar of a test's own can stop once the answer is read
    return requests.request(method, f"{url}{path}", timeout=120, headers={"Connection": "close"}, **kwargs)


def jpeg_base64(category: str = "bag", color: str = "red", pattern: str = "solid") -> str:
    buffer = io.BytesIO()
    query_image(category, color, pattern).save(buffer, format="JPEG")
    return base64.b64encode(buffer.getvalue()).decode()


@contextlib.contextmanager
def sidecar(
    solr_url: str, home, extractor, collection: str | None = None, weights: str = "none", threads: int = 2, **config
):
    """A sidecar of this test's own (waitress on a free loopback port, with ``threads`` threads)
    with these ``ServiceConfig`` settings: (app, base URL)."""
    settings = load_settings(environ={}, solr_url=solr_url, collection=collection, home=home, weights=weights)
    app = create_app(settings, ServiceConfig(**config), extractor=extractor)
    # poll(), not select(): a socket closed under the loop is then skipped, not an EBADF; the
    # loop ends when the last connection is closed (see call)
    server = create_server(app, host="127.0.0.1", port=free_port(), threads=threads, asyncore_use_poll=True)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=30)


# -- errors through the service ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body, reason",
    [
        ({"fq": ["price:[x TO *]"]}, ""),  # Solr's own wording for a bad number is Solr's to change
        ({"fq": ["price:[10 TO cheap]"]}, ""),
        ({"id": "NOPE"}, "NOPE"),
        ({"like": ["SKU0001", "NOPE"]}, "NOPE"),
        ({"vector": [0.5] * 1023}, "1024"),
    ],
)
def test_a_read_solr_refuses_is_a_400_with_solrs_reason(service_url, body, reason):
    response = post(service_url, "/search", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error.startswith("Solr refused the request") and reason in error, error  # reasons: the plugin's words


@pytest.mark.parametrize("fq, quoted", [("price:[x TO", "price:[x TO"), ("no_such_field:x", "no_such_field")])
def test_a_malformed_filter_is_a_400_quoting_it_whoever_refuses_it(service_url, fq, quoted):
    # Solr refuses these, or the service's own query syntax does before Solr sees them
    response = post(service_url, "/search", json={"fq": [fq]})
    assert response.status_code == 400 and quoted in response.json()["error"], response.text


@pytest.mark.parametrize(
    "body, field",
    [
        ({"k": True}, "k"),
        ({"k": 2.5}, "k"),
        ({"k": [3]}, "k"),
        ({"start": {"n": 1}}, "start"),
        ({"id": 5}, "id"),
        ({"text": ["cotton"]}, "text"),
        ({"fq": [1]}, "fq"),
        ({"fq": {"color": "red"}}, "fq"),
        ({"hybrid": "maybe"}, "hybrid"),
        ({"hybrid": 1}, "hybrid"),
        ({"max_dist": [1.0]}, "max_dist"),
        ({"max_dist": "far"}, "max_dist"),
        ({"probe": "many"}, "probe"),
        ({"probe": 1.5}, "probe"),
        ({"like": [None]}, "like"),
        ({"unlike_weight": "NaN"}, "unlike_weight"),
        ({"mode": ["rank"]}, "mode"),
        ({"facets": [["color"]]}, "facets"),
        ({"exclude": 7}, "exclude"),
        ({"vector": "0.1,0.2"}, "vector"),
        ({"vector": [True] * 3}, "vector"),
    ],
)
def test_a_search_option_of_the_wrong_json_type_is_a_400_naming_it(service_url, body, field):
    response = post(service_url, "/search", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(f"{field}:"), response.text


def test_probe_without_cells_is_solrs_400_naming_probe(service_url):
    response = post(service_url, "/search", json={"id": "SKU0001", "probe": 4})
    assert response.status_code == 400, response.text
    assert "probe" in response.json()["error"] and "cells" in response.json()["error"]


@pytest.fixture(scope="module")
def cells_core(demo_index, local_solr, tmp_path_factory) -> tuple[np.ndarray, dict]:
    """A core "seams_cells" whose vector type declares 4 coarse cells, holding the demo vectors:
    (the cells' centroids, the vectors)."""
    vectors = all_vectors(demo_index)
    configset = tmp_path_factory.mktemp("seams-cells") / "configset"
    shutil.copytree(CONFIGSET, configset)
    schema = configset / "conf" / "schema.xml"
    declaration = r'(name="image_vector" class="[^"]+" dimension="1024")'
    text, count = re.subn(declaration, r'\1 cells="cells.bin"', schema.read_text())
    assert count == 1
    schema.write_text(text)
    centroids = cells.train(cells.sample_index(demo_index), 4)
    cells.write(centroids, configset / "conf" / "cells.bin")
    core = SolrIndex(local_solr.create_core("seams_cells", configset))
    core.add([{"id": i, contract.VECTOR_FIELD: contract.encode_vector(v)} for i, v in vectors.items()])
    core.commit()
    return centroids.astype(np.float64), vectors


def test_probe_bounds_in_openapi_are_the_bounds_the_service_accepts(service_url, cells_core, local_solr, tmp_path):
    spec = call("GET", service_url, "/openapi.json").json()
    probe = spec["components"]["schemas"]["SearchRequest"]["properties"]["probe"]
    assert probe["type"] == "integer" and probe["x-page"]
    low, high = probe["minimum"], probe["maximum"]
    centroids, vectors = cells_core
    with sidecar(local_solr.url, tmp_path, None, collection="seams_cells") as (_, url):
        exact = post(url, "/search", json={"id": "SKU0002", "k": PRODUCTS})
        assert exact.status_code == 200, exact.text
        exact_ids = [r["id"] for r in exact.json()["results"]]
        assert len(exact_ids) == PRODUCTS - 1
        for value in (4, high):  # every cell probed: the exact answer
            every = post(url, "/search", json={"id": "SKU0002", "k": PRODUCTS, "probe": value})
            assert every.status_code == 200 and [r["id"] for r in every.json()["results"]] == exact_ids
        one = post(url, "/search", json={"id": "SKU0002", "k": PRODUCTS, "probe": low}).json()["results"]
        cell = {i: np.argmin(((centroids - v[: cells.CELL_DIMS]) ** 2).sum(axis=1)) for i, v in vectors.items()}
        assert [r["id"] for r in one] == [i for i in exact_ids if cell[i] == cell["SKU0002"]]  # one cell
        for value in (low - 1, high + 1):
            outside = post(url, "/search", json={"id": "SKU0002", "probe": value})
            assert outside.status_code == 400 and outside.json()["error"].startswith("probe:"), outside.text


ANY_SOLR_ROUTE = [
    ("POST", "/search", {"id": "SKU0001"}),
    ("POST", "/search", {"image_base64": jpeg_base64()}),
    ("POST", "/recommend", {"like": ["SKU0001"]}),
    ("POST", "/tag/apply", {"attribute": "look", "value": "x", "ids": ["SKU0001"]}),
    ("POST", "/products", {"products": [{"id": "N1", "image_base64": jpeg_base64()}]}),
    ("POST", "/navigate/start", {"size": 3}),
    ("GET", "/clusters", None),
    ("GET", "/health", None),
]


@contextlib.contextmanager
def solr_stand_in(kind: str):
    """The URL of a Solr that is not listening, or of one that accepts connections and never
    answers, as a Solr does while it starts (the kernel completes the handshakes: nothing reads)."""
    if kind == "not listening":
        yield f"http://127.0.0.1:{free_port()}/solr"
        return
    with socket.create_server(("127.0.0.1", 0), backlog=16) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/solr"


@pytest.mark.parametrize("solr", ["not listening", "silent"])
@pytest.mark.parametrize("method, path, body", ANY_SOLR_ROUTE)
def test_solr_down_or_starting_is_a_quick_503_with_retry_after(extractor, tmp_path, method, path, body, solr):
    with solr_stand_in(solr) as solr_url, sidecar(solr_url, tmp_path, extractor) as (_, url):
        started = time.monotonic()
        response = call(method, url, path, json=body)
        took = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert "not reachable" in response.json()["error"]
    # The read time-out is 1.5 s; the bound leaves room for a slow machine, far below the 30 s of a write.
    assert took < 10, f"{took:.1f} s"
    if path != "/health":  # /health reports, it is not an error answer
        assert int(response.headers["Retry-After"]) > 0


def test_the_read_timeout_is_a_setting_of_positive_seconds(tmp_path):
    environ = {"LOOKALIKE_SOLR_READ_TIMEOUT": "4", "LOOKALIKE_HOME": str(tmp_path)}
    app = create_app(load_settings(environ=environ), ServiceConfig(), extractor=None)
    assert app.extensions["lookalike"].index.read_timeout == 4.0
    for bad in ("0", "-1", "soon", "inf", "nan"):
        with pytest.raises(BadInput, match="LOOKALIKE_SOLR_READ_TIMEOUT must be a positive number"):
            load_settings(environ={"LOOKALIKE_SOLR_READ_TIMEOUT": bad})


@pytest.mark.parametrize("solr", ["up", "not listening"])
def test_health_names_a_weights_file_by_its_hash_and_shows_no_server_path(
    demo_index, local_solr, extractor, tmp_path, solr
):
    weights = tmp_path / "weights" / "tuned.weights.h5"  # never loaded: the sidecar is given its extractor
    weights.parent.mkdir()
    weights.write_bytes(b"stand-in weights")
    solr_url = local_solr.url if solr == "up" else f"http://127.0.0.1:{free_port()}/solr"
    with sidecar(solr_url, tmp_path / "home", extractor, weights=str(weights)) as (_, url):
        answers = {path: call("GET", url, path) for path in ("/health", "/health/ready", "/health/live")}
    assert answers["/health"].status_code == (200 if solr == "up" else 503)
    assert answers["/health"].json()["weights"] == "file:" + hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    for path, answer in answers.items():
        for secret in (str(tmp_path), "tuned.weights"):
            assert secret not in answer.text, (path, answer.text)


def test_a_collection_that_does_not_exist_is_not_found(local_solr, extractor, tmp_path):
    # solr.py: Jetty's page for an absent core is told from a core being unloaded by Solr's admin API
    with sidecar(local_solr.url, tmp_path, extractor, collection="no_such_collection") as (_, url):
        response = post(url, "/search", json={"id": "SKU0001"})
    assert response.status_code == 404 and "Retry-After" not in response.headers, response.text
    assert "'no_such_collection'" in response.json()["error"] and "<html" not in response.text.lower()


def test_our_own_bug_is_a_generic_500_and_the_traceback_is_logged(local_solr, extractor, tmp_path, caplog):
    def broken(query):
        raise KeyError("secret-internal-detail")

    with sidecar(local_solr.url, tmp_path, extractor) as (app, url):
        app.extensions["lookalike"].client.run = broken
        with caplog.at_level(logging.ERROR, logger="embedder.service.app"):
            response = post(url, "/search", json={"text": "cotton"})
    assert response.status_code == 500
    assert "internal error" in response.json()["error"] and "secret-internal-detail" not in response.text
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is KeyError]
    assert logged and "secret-internal-detail" in caplog.text and "Traceback" in caplog.text


@contextlib.contextmanager
def image_host():
    """A loopback image host: (the URL of its one image, the paths it was asked for)."""
    image = base64.b64decode(jpeg_base64("shoe", "blue"))
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(image)))
            self.end_headers()
            self.wfile.write(image)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/query.jpg", asked
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("other", [{"id": "SKU0001"}, {"vector": [0.1] * 1024}, {"like": ["SKU0001"]}])
def test_an_image_with_another_visual_source_is_a_400_and_no_url_is_fetched(
    demo_index, local_solr, extractor, tmp_path, other
):
    with (
        image_host() as (image_url, asked),
        sidecar(local_solr.url, tmp_path, extractor, allow_private_urls=True) as (_, url),
    ):
        refused = post(url, "/search", json={"url": image_url, **other})
        assert asked == [] and refused.status_code == 400, refused.text
        assert f"not image and {next(iter(other))}" in refused.json()["error"], refused.text
        upload = base64.b64decode(jpeg_base64())
        form = {name: value if isinstance(value, str) else value[0] for name, value in other.items()}
        if "vector" in other:
            form["vector"] = contract.encode_vector(np.array(other["vector"]))
        uploaded = post(url, "/search", files={"image": ("q.jpg", upload, "image/jpeg")}, data=form)
        assert uploaded.status_code == 400 and f"not image and {next(iter(other))}" in uploaded.text, uploaded.text
        alone = post(url, "/search", json={"url": image_url, "k": 3})  # the same URL, alone, is fetched
        assert alone.status_code == 200 and asked == ["/query.jpg"], alone.text


# -- the collection's own documents -----------------------------------------------------------


@pytest.fixture(scope="module")
def clustering(service_url) -> dict:
    response = post(service_url, "/clusters", json={"k": 3})
    assert response.status_code == 200, response.text
    return response.json()


def summary(clustering: dict) -> tuple:
    """A clustering without its representatives' fields (tagging a cluster changes those)."""
    clusters = [
        (c["id"], c["size"], c["representative"]["id"], c["representative_distance"]) for c in clustering["clusters"]
    ]
    return clusters, clustering["created_at"], clustering["pca_version"]


def assert_clustering_intact(service_url: str, clustering: dict) -> None:
    assert summary(call("GET", service_url, "/clusters").json()) == summary(clustering)
    start = post(service_url, "/navigate/start", json={"size": 3})
    largest = sorted(clustering["clusters"], key=lambda c: (-c["size"], c["id"]))
    assert start.status_code == 200 and [g["id"] for g in start.json()["gallery"]] == [
        c["representative"]["id"] for c in largest
    ]


ATTRIBUTE = {"attribute": "seam", "value": "x"}


@pytest.mark.parametrize(
    "path, body",
    [
        ("/products", {"products": [{"id": contract.CLUSTERS_DOC_ID, "image_base64": jpeg_base64(), "title": "x"}]}),
        ("/products", {"products": [{"id": "_lookalike_anything", "image_base64": jpeg_base64()}]}),
        ("/products", {"products": [{"id": "NEWKIND", "kind": "clusters", "image_base64": jpeg_base64()}]}),
        ("/tag/apply", {**ATTRIBUTE, "ids": [contract.CLUSTERS_DOC_ID]}),
        ("/tag/apply", {**ATTRIBUTE, "ids": [contract.MODEL_DOC_ID]}),
        ("/tag/apply", {**ATTRIBUTE, "ids": ["SKU0001", contract.CLUSTERS_DOC_ID]}),
    ],
)
def test_a_write_naming_a_reserved_id_is_refused_and_changes_nothing(service_url, demo_index, clustering, path, body):
    before = index_snapshot(demo_index)
    response = post(service_url, path, json=body)
    assert 400 <= response.status_code < 500, response.text
    assert re.search(r"_lookalike_|kind", response.json()["error"]), response.text
    assert index_snapshot(demo_index) == before
    assert_clustering_intact(service_url, clustering)


def test_naming_a_cluster_tags_its_members_and_never_the_reserved_documents(service_url, demo_index, clustering):
    cluster = clustering["clusters"][0]
    named = post(service_url, f"/clusters/{cluster['id']}/attribute", json={"attribute": "seam_look", "value": "a"})
    assert named.status_code == 200 and named.json()["tagged"] == cluster["size"]
    members = {d["id"] for d in demo_index.stream("id", fq=[f"cluster_id:{cluster['id']}"])}
    assert {d["id"] for d in demo_index.stream("id", fq=["tag_seam_look:a"])} == members
    own = demo_index.get(list(contract.OWN_DOCUMENTS), fl="*")
    assert set(own) == set(contract.OWN_DOCUMENTS) and not any("tag_seam_look" in d for d in own.values())
    assert_clustering_intact(service_url, clustering)


def assert_no_reserved_documents(found: dict) -> None:
    ids = [r["id"] for r in found["results"]]
    assert not any(contract.is_reserved_id(i) for i in ids) and found["total"] == len(ids)
    assert found["facets"].get("kind", []) == []
    if "category" in found["facets"]:
        assert sum(count for _, count in found["facets"]["category"]) == found["total"]


@pytest.mark.parametrize(
    "body, total",
    [
        ({}, PRODUCTS),
        ({"id": "SKU0001"}, PRODUCTS - 1),
        ({"fq": ["id:_lookalike_*"]}, 0),
        ({"fq": ["*:* -id:SKU*"]}, 0),
        ({"text": "linen"}, None),
        ({"text": "_lookalike_clusters"}, 0),
    ],
)
def test_reserved_documents_never_show_in_searches_counts_or_facets(service_url, clustering, body, total):
    response = post(service_url, "/search", json={"k": 1000, "facets": ["category"], **body})
    assert response.status_code == 200, response.text
    assert_no_reserved_documents(response.json())
    assert total is None or response.json()["total"] == total


@pytest.mark.parametrize(
    "body, field, total",
    [
        ({"facets": ["kind", "category"]}, "kind", PRODUCTS),
        ({"fq": ["-kind:*"]}, "kind", PRODUCTS),
        ({"fq": ["kind:*"]}, "kind", 0),
        ({"fq": ["kind:model"]}, "kind", 0),
        ({"text": "model_meta:*"}, "model_meta", None),
        ({"text": "kind:model"}, "kind", None),
    ],
)
def test_a_search_naming_the_collections_own_fields_shows_none_of_its_documents(
    service_url, clustering, body, field, total
):
    # Refused (400 naming the field) by the service's query syntax, or answered by Solr without them
    response = post(service_url, "/search", json={"k": 1000, **body})
    if response.status_code == 400:
        assert field in response.json()["error"], response.text
        return
    assert response.status_code == 200, response.text
    assert_no_reserved_documents(response.json())
    assert total is None or response.json()["total"] == total


def test_solr_itself_hides_the_reserved_documents_from_filters_and_facets(demo_index, clustering):
    assert set(demo_index.get(list(contract.OWN_DOCUMENTS), fl="id")) == set(contract.OWN_DOCUMENTS)
    for fq in ("kind:*", "kind:model", "kind:clusters", "id:_lookalike_*", "-id:SKU*"):
        assert demo_index.count([fq]) == 0, fq
    facets = demo_index.search(rows=0, facet="true", **{"facet.field": ["kind", "category"], "facet.mincount": 1})
    assert facets.facets["kind"] == {} and sum(facets.facets["category"].values()) == facets.hits == PRODUCTS


def test_a_facet_excluding_a_tagged_visual_query_still_hides_the_reserved_documents(demo_index, clustering):
    # A tagged main query may be excluded by a facet, which then counts every document.
    results = demo_index.search(
        q="{!visual tag=v f=image_vector id=SKU0001}",
        rows=0,
        facet="true",
        **{"facet.field": ["{!ex=v}kind", "{!ex=v}category"], "facet.mincount": 1},
    )
    assert results.facets["kind"] == {} and sum(results.facets["category"].values()) == PRODUCTS
