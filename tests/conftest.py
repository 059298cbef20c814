"""Shared fixtures: a real local Solr (started once per test session on a free port, in a
temporary Solr home), the seeded-random InceptionV3, the demo catalog indexed, the sidecar.
Helpers that are not fixtures live in tests/helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from embedder.localsolr import LocalSolr
from embedder.solr import SolrIndex
from tests.helpers import free_port, index_snapshot, indexer


@pytest.fixture(scope="session")
def local_solr(tmp_path_factory: pytest.TempPathFactory):
    solr = LocalSolr(tmp_path_factory.mktemp("lookalike-home"), port=free_port())
    solr.start()
    yield solr
    solr.stop()


@pytest.fixture
def index(local_solr: LocalSolr) -> SolrIndex:
    """The collection, emptied (products and its own documents) before each test."""
    solr_index = SolrIndex(f"{local_solr.url}/{local_solr.collection}")
    solr_index.delete_all()
    return solr_index


@pytest.fixture(scope="session")
def extractor():
    from embedder.model import FeatureExtractor

    return FeatureExtractor.load("none")


@pytest.fixture(scope="module")
def demo_index(local_solr: LocalSolr, extractor, tmp_path_factory: pytest.TempPathFactory) -> SolrIndex:
    """The collection holding just the generated demo catalog (60 products), indexed once per
    module; tests using it must not use the emptying ``index`` fixture."""
    from embedder.pipeline import IndexOptions
    from embedder.samples import generate_catalog

    solr_index = SolrIndex(f"{local_solr.url}/{local_solr.collection}")
    solr_index.delete_all()
    directory = tmp_path_factory.mktemp("demo")
    options = IndexOptions(batch_size=32, progress=False, report_path=directory / "report.jsonl")
    indexer(solr_index, extractor, options).run(generate_catalog(directory / "catalog"))
    solr_index.catalog_dir = directory / "catalog"  # for tests that need the image files
    return solr_index


@pytest.fixture(scope="module")
def service_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The home of ``service_url``'s sidecar: its uploads are under ``uploads/``."""
    return tmp_path_factory.mktemp("service-home")


@pytest.fixture(scope="module")
def service_url(demo_index: SolrIndex, local_solr: LocalSolr, extractor, service_home: Path) -> str:
    """The real sidecar (waitress, as in production) on a free port, over the demo catalog."""
    import threading

    from waitress.server import create_server

    from embedder.config import load_settings
    from embedder.service import ServiceConfig, create_app

    home = service_home
    settings = load_settings(environ={}, solr_url=local_solr.url, home=home, weights="none")
    config = ServiceConfig(max_upload_bytes=2 * 1024 * 1024, image_roots=(home, demo_index.catalog_dir))
    # poll(), not select(): a socket closed under the loop at teardown is then dropped, not an EBADF
    app = create_app(settings, config, extractor=extractor)
    server = create_server(app, host="127.0.0.1", port=free_port(), threads=4, asyncore_use_poll=True)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


@pytest.fixture(scope="module")
def demo_snapshot(demo_index: SolrIndex) -> dict[str, dict]:
    """The demo catalog as indexed (60 products, the PCA model, the catalog list), before a
    bad-input suite sends anything."""
    snapshot = index_snapshot(demo_index)
    assert len(snapshot) == 60 + 2 and all("image_vector" in d for k, d in snapshot.items() if k.startswith("SKU"))
    return snapshot
