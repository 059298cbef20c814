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
