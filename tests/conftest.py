"""Shared fixtures: a real local Solr (started once per test session on a free port, in a
temporary Solr home), the seeded-random InceptionV3, and the path to ../shared/ data."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from embedder.localsolr import LocalSolr
from embedder.solr import SolrIndex

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def local_solr(tmp_path_factory: pytest.TempPathFactory):
    solr = LocalSolr(tmp_path_factory.mktemp("lookalike-home"), port=free_port())
    solr.start()
    yield solr
    solr.stop()


@pytest.fixture
def index(local_solr: LocalSolr) -> SolrIndex:
    """The collection, emptied (products and the PCA model) before each test."""
    solr_index = SolrIndex(f"{local_solr.url}/{local_solr.collection}")
    solr_index.delete_all()
    return solr_index


@pytest.fixture(scope="session")
def extractor():
    from embedder.model import FeatureExtractor

    return FeatureExtractor.load("none")


def shared_dataset(name: str) -> Path:
    """A dataset under ../shared/datasets, or a skip saying it is absent."""
    path = SHARED / "datasets" / name
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/ is only beside the developers' and CI's checkouts)")
    return path


@pytest.fixture(scope="module")
def demo_index(local_solr: LocalSolr, extractor, tmp_path_factory: pytest.TempPathFactory) -> SolrIndex:
    """The collection holding just the generated demo catalog (60 products), indexed once per
    module; tests using it must not use the emptying ``index`` fixture."""
    from embedder.pipeline import IndexOptions, Indexer
    from embedder.samples import generate_catalog

    solr_index = SolrIndex(f"{local_solr.url}/{local_solr.collection}")
    solr_index.delete_all()
    directory = tmp_path_factory.mktemp("demo")
    options = IndexOptions(batch_size=32, progress=False, report_path=directory / "report.jsonl")
    Indexer(solr_index, extractor, options).run(generate_catalog(directory / "catalog"))
    solr_index.catalog_dir = directory / "catalog"  # for tests that need the image files
    return solr_index


def all_vectors(index: SolrIndex) -> dict:
    """Every product's vector, read back from Solr, as float64 for brute-force references."""
    from embedder import contract

    docs = index.stream(f"id,{contract.VECTOR_FIELD}", fq=[f"{contract.VECTOR_FIELD}:*"])
    return {d["id"]: contract.decode_vector(d[contract.VECTOR_FIELD]).astype("float64") for d in docs}


@pytest.fixture(scope="module")
def service_url(demo_index: SolrIndex, local_solr: LocalSolr, extractor, tmp_path_factory) -> str:
    """The real sidecar (waitress, as in production) on a free port, over the demo catalog."""
    import threading

    from waitress.server import create_server

    from embedder.config import load_settings
    from embedder.service import ServiceConfig, create_app

    home = tmp_path_factory.mktemp("service-home")
    settings = load_settings(environ={}, solr_url=local_solr.url, home=home, weights="none")
    config = ServiceConfig(max_upload_bytes=2 * 1024 * 1024, image_roots=(home, demo_index.catalog_dir))
    server = create_server(create_app(settings, config, extractor=extractor), host="127.0.0.1", port=free_port(), threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


# -- the bad-input suites (tests/test_fuzz_*.py) ----------------------------------------------


def fuzz_settings(max_examples: int = 60):
    """Hypothesis settings for the bad-input suites: bounded, reproducible (derandomized, no
    example database), with no per-example deadline (a request to a real server can be slow)."""
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=max_examples, deadline=None, derandomize=True, database=None, print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                               HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )  # fmt: skip


def index_snapshot(index: SolrIndex) -> dict[str, dict]:
    """Every committed document of the collection, products and the PCA model alike, with every
    field (the vector as base64) but ``_version_``, by id: to show that bad input changed nothing."""
    import requests

    from embedder.solr import MODEL_DOC_ID

    response = requests.post(f"{index.url}/select", data={"q": "*:*", "fl": "*", "rows": 100000, "wt": "json"}, timeout=60)
    response.raise_for_status()
    docs = response.json()["response"]["docs"]
    docs += [doc for doc in index.get([MODEL_DOC_ID], fl="*").values()]  # /select hides the model
    return {doc["id"]: {k: v for k, v in doc.items() if k != "_version_"} for doc in docs}


@pytest.fixture(scope="module")
def demo_snapshot(demo_index: SolrIndex) -> dict[str, dict]:
    """The demo catalog as indexed, before a bad-input suite sends anything."""
    snapshot = index_snapshot(demo_index)
    assert len(snapshot) == 61 and all("image_vector" in d for k, d in snapshot.items() if k.startswith("SKU"))
    return snapshot
