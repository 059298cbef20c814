"""Model upgrades without mixing: a refit builds beside the live collection, carries the
merchandisers' work over and switches; a collection left mixed is reported and refused."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from embedder import contract, state, tagging, upgrade
from embedder.client import LookalikeClient
from embedder.config import load_settings
from embedder.errors import BadInput
from embedder.pipeline import IndexOptions
from embedder.runtime import EmbeddingRuntime
from embedder.samples import generate_catalog
from embedder.service import ServiceConfig, create_app
from tests.helpers import index_snapshot, indexer, read_rows, write_rows

HAWAIIAN = tagging.Attribute("style", "hawaiian")


def options(tmp_path, **values) -> IndexOptions:
    report = tmp_path / f"report-{len(list(tmp_path.glob('report-*')))}.jsonl"
    return IndexOptions(batch_size=16, progress=False, report_path=report, cache_dir=tmp_path / "cache", **values)


@pytest.fixture
def indexed(index, extractor, tmp_path):
    """The demo catalog indexed, four products tagged and two given a cluster id."""
    catalog = generate_catalog(tmp_path / "catalog")
    indexer(index, extractor, options(tmp_path)).run(catalog)
    tagging.apply(index, HAWAIIAN, ["SKU0001", "SKU0002", "SKU0003", "SKU0004"])
    index.add([{"id": i, contract.CLUSTER_FIELD: {"set": 3}} for i in ("SKU0003", "SKU0009")])
    index.commit()
    return catalog


def rebuild(index, extractor, catalog, tmp_path, **values):
    runtime = EmbeddingRuntime(index, extractor=extractor)
    job = options(tmp_path, refit=True, **values)
    assert upgrade.needs_rebuild(index, job)
    return upgrade.rebuild(index, runtime, job, catalog, contract.CONFIGSET_NAME), job


def cores(index) -> set[str]:
    return set(index.admin("cores", action="STATUS")["status"])


def test_a_refit_builds_beside_the_live_core_and_swaps_keeping_merchandiser_work(index, extractor, indexed, tmp_path):
    old = state.model_version(index)
    rows = read_rows(indexed)
    broken = indexed.parent / "images" / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    rows[3]["image"] = "images/broken.jpg"  # SKU0004 (tagged) fails this time
    write_rows(indexed, [r for r in rows if r["id"] not in ("SKU0050", "SKU0051")])  # dropped

    summary, job = rebuild(index, extractor, indexed, tmp_path, fit_sample=40)

    new = state.model_version(index)
    assert new != old and new == summary.pca_version
    assert state.vector_versions(index) == {new: 57}, "one model only"
    assert summary.counts["deleted"] == 2 and summary.counts["failed"] == 1
    docs = {d["id"]: d for d in index.stream("*")}
    assert "SKU0050" not in docs and "SKU0051" not in docs and len(docs) == 58
    for product_id in ("SKU0001", "SKU0002", "SKU0003", "SKU0004"):
        assert docs[product_id][HAWAIIAN.field] == ["hawaiian"], product_id
    assert docs["SKU0003"][contract.CLUSTER_FIELD] == 3 and docs["SKU0009"][contract.CLUSTER_FIELD] == 3
    assert contract.VECTOR_FIELD not in docs["SKU0004"] and docs["SKU0004"]["title"], "kept without a vector"
    assert index.name + upgrade.REBUILD_SUFFIX not in cores(index), "the old core is gone"
    report = [json.loads(line) for line in job.report_path.read_text().splitlines()]
    assert {(r["id"], r["status"]) for r in report} == {
        ("SKU0004", "failed"),
        ("SKU0050", "deleted"),
        ("SKU0051", "deleted"),
    }
    client = LookalikeClient(index, EmbeddingRuntime(index, extractor=extractor))
    assert len(client.search(id="SKU0001", k=5)) == 5

    rows[3]["image"] = "images/SKU0004.jpg"  # fixed: the next sync embeds it
    write_rows(indexed, rows)
    again = indexer(index, extractor, options(tmp_path)).run(indexed)
    assert again.counts["re-embedded"] == 1 and again.counts["added"] == 2
    assert state.vector_versions(index) == {new: 60}


def test_a_refit_that_fails_before_the_switch_changes_nothing(index, extractor, indexed, tmp_path):
    before = index_snapshot(index)
    write_rows(indexed, read_rows(indexed)[:30])  # a truncated catalog: half of the products
    with pytest.raises(BadInput, match="would drop 30 of 60"):
        rebuild(index, extractor, indexed, tmp_path)
    assert index_snapshot(index) == before and index.name + upgrade.REBUILD_SUFFIX not in cores(index)


def test_a_mixed_collection_is_degraded_and_refuses_queries_by_stored_vectors(
    index, extractor, indexed, tmp_path, local_solr
):
    version = state.model_version(index)
    index.add([{"id": i, contract.VERSION_FIELD: {"set": "0ther"}} for i in ("SKU0001", "SKU0002")])
    index.commit()
    assert state.vector_versions(index) == {version: 58, "0ther": 2}

    client = LookalikeClient(index, EmbeddingRuntime(index, extractor=extractor))
    for query in ({"id": "SKU0005"}, {"like": ["SKU0005"]}):
        with pytest.raises(state.MixedModels, match=f"{version} \\(58 products\\), 0ther \\(2 products\\)"):
            client.search(**query)

    settings = load_settings(environ={}, solr_url=local_solr.url, home=tmp_path, weights="none")
    app = create_app(settings, ServiceConfig(), extractor=extractor).test_client()
    health = app.get("/health").get_json()
    assert health["status"] == "degraded" and health["pca_versions"] == {version: 58, "0ther": 2}
    answer = app.post("/search", json={"id": "SKU0005"})
    assert answer.status_code == 409 and "0ther" in answer.get_json()["error"]

    command = [sys.executable, "-m", "embedder.cli", "--home", str(local_solr.home), "solr", "status"]
    done = subprocess.run([*command, "--port", str(local_solr.port)], capture_output=True, text=True, timeout=120)
    status = json.loads(done.stdout)
    assert status["status"] == "degraded" and status["pca_versions"] == {version: 58, "0ther": 2}, done.stderr
