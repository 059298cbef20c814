"""The indexing job against the real local Solr, with the real InceptionV3 (seeded weights)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedder import contract, state, upgrade
from embedder.client import LookalikeClient
from embedder.errors import Conflict
from embedder.pipeline import IndexOptions, new_report
from embedder.reduce import PCAReducer
from embedder.runtime import EmbeddingRuntime
from embedder.samples import generate_catalog
from embedder.solr import SolrIndex
from embedder.state import ModelMismatch
from tests.helpers import indexer


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """60 generated products, plus one corrupt image and one missing image."""
    directory = tmp_path_factory.mktemp("catalog")
    path = generate_catalog(directory)
    (directory / "images" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with open(path, "a") as handle:
        handle.write("BROKEN1,images/corrupt.jpg,Broken photo,,,tshirt,red,1.0,\n")
        handle.write("MISSING1,images/missing.jpg,Missing photo,,,tshirt,red,1.0,\n")
    return path


def options(tmp_path, **kwargs) -> IndexOptions:
    return IndexOptions(batch_size=16, progress=False, report_path=tmp_path / "report.jsonl", **kwargs)


def stored_vectors(index: SolrIndex, ids: list[str]) -> np.ndarray:
    docs = index.get(ids, fl="id,image_vector")
    return np.stack([contract.decode_vector(docs[i]["image_vector"]) for i in ids])


def test_index_then_search_returns_the_brute_force_neighbours(index, extractor, catalog, tmp_path):
    summary = indexer(index, extractor, options(tmp_path)).run(catalog)
    assert (summary.counts["added"], summary.counts["unchanged"], summary.counts["failed"]) == (60, 0, 2)
    report = [json.loads(line) for line in (tmp_path / "report.jsonl").read_text().splitlines()]
    assert {r["id"] for r in report} == {"BROKEN1", "MISSING1"}
    assert all(r["reason"] for r in report)
    assert any("zero-padded" in note for note in summary.notes)  # 60 images < 1024 dimensions

    # The stored vectors are the pool_3 vectors through the stored PCA: one embed path.
    model = state.load_model(index)
    ids = [f"SKU{i:04d}" for i in range(1, 61)]
    raw = extractor.embed([str(catalog.parent / "images" / f"{i}.jpg") for i in ids]).vectors
    vectors = stored_vectors(index, ids)
    np.testing.assert_allclose(vectors, model.reducer.transform(raw), rtol=1e-4, atol=1e-4)

    client = LookalikeClient(index, extractor=extractor)
    category = {i: index.get([i])[i]["category"] for i in ids}
    for query_id in ("SKU0002", "SKU0031"):
        query = vectors[ids.index(query_id)]
        distances = ((vectors.astype(np.float64) - query) ** 2).sum(axis=1)
        for fq, allowed in (([], ids), (["category:bag"], [i for i in ids if category[i] == "bag"])):
            hits = client.search(vector=query, fq=fq, k=6)
            expected = sorted(allowed, key=lambda i: (distances[ids.index(i)], i))[:6]
            assert [h.id for h in hits] == expected
            np.testing.assert_allclose(
                [h.distance for h in hits], [distances[ids.index(i)] for i in expected], rtol=1e-4, atol=1e-3
            )


def test_search_by_image_uses_the_collections_model(index, extractor, catalog, tmp_path):
    indexer(index, extractor, options(tmp_path)).run(catalog)
    client = LookalikeClient(index, extractor=extractor)
    image = catalog.parent / "images" / "SKU0007.jpg"
    hits = client.search(image=image, k=3)
    assert hits[0].id == "SKU0007" and hits[0].distance == pytest.approx(0.0, abs=1e-3)
    filtered = client.search(image=image.read_bytes(), text="linen", fq=["color:green"], k=3)
    assert filtered and all(h.fields["color"] == "green" and "linen" in h.fields["title"].lower() for h in filtered)


def test_a_client_follows_a_new_model_of_its_collection(index, extractor, catalog, tmp_path, monkeypatch):
    import embedder.runtime

    indexer(index, extractor, options(tmp_path)).run(catalog)
    client = LookalikeClient(index, extractor=extractor)
    image = catalog.parent / "images" / "SKU0011.jpg"
    assert client.search(image=image, k=1)[0].id == "SKU0011"
    first = client.runtime.model().version
    refit = options(tmp_path, refit=True, fit_sample=30)
    upgrade.index_catalog(index, EmbeddingRuntime(index, extractor=extractor), refit, catalog)
    monkeypatch.setattr(embedder.runtime, "MODEL_RECHECK_SECONDS", 0.0)
    hits = client.search(image=image, k=1)  # embedded with the new model, accepted by Solr
    assert client.runtime.model().version != first and hits[0].id == "SKU0011"


def test_rerun_skips_everything_and_refit_reindexes(index, extractor, catalog, tmp_path):
    first = indexer(index, extractor, options(tmp_path)).run(catalog)
    again = indexer(index, extractor, options(tmp_path)).run(catalog)
    assert (again.counts["added"], again.counts["unchanged"]) == (0, 60) and again.pca_version == first.pca_version
    with pytest.raises(Conflict, match="two models"):  # never in place
        indexer(index, extractor, options(tmp_path, refit=True, fit_sample=30)).run(catalog)
    runtime = EmbeddingRuntime(index, extractor=extractor)
    refit = upgrade.index_catalog(index, runtime, options(tmp_path, refit=True, fit_sample=30), catalog)
    assert refit.pca_version != first.pca_version and refit.counts["added"] == 60
    assert state.vector_versions(index) == {refit.pca_version: 60}


def test_resume_after_a_crash_loses_and_duplicates_nothing(index, extractor, catalog, tmp_path, monkeypatch):
    calls = {"n": 0}
    real_add = SolrIndex.add

    def crash_on_third_batch(self, docs, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real_add(self, docs, **kwargs)

    monkeypatch.setattr(SolrIndex, "add", crash_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        indexer(index, extractor, options(tmp_path)).run(catalog)
    monkeypatch.setattr(SolrIndex, "add", real_add)
    resumed = indexer(index, extractor, options(tmp_path)).run(catalog)
    assert resumed.counts["unchanged"] == 32 and resumed.counts["added"] == 28  # two batches of 16 landed before
    results = index.search(rows=0, facet="true", **{"facet.field": "id", "facet.mincount": 2})
    assert results.hits == 60 and results.facets["id"] == {}


def test_a_pca_model_of_the_wrong_dimension_is_refused(index, extractor, catalog, tmp_path):
    small = PCAReducer(n_components=16).fit(np.random.default_rng(0).random((40, 2048)))
    small.save(tmp_path / "small.npz")
    with pytest.raises(ModelMismatch, match="16 dimensions"):
        indexer(index, extractor, options(tmp_path, pca_path=tmp_path / "small.npz")).run(catalog)


def test_a_query_vector_of_another_model_version_is_refused(index, extractor, catalog, tmp_path):
    indexer(index, extractor, options(tmp_path)).run(catalog)
    with pytest.raises(Conflict, match="model: query made with PCA model 'someothermodel'"):  # the index's state
        index.search(
            q="{!visual f=image_vector v=$qv model=someothermodel}",
            qv=contract.encode_vector(np.zeros(contract.DEFAULT_DIMENSION)),
        )


def test_other_weights_than_the_collections_are_refused(index, extractor, catalog, tmp_path):
    from embedder.model import FeatureExtractor

    indexer(index, extractor, options(tmp_path)).run(catalog)
    other = FeatureExtractor.load("none", seed=1)
    with pytest.raises(ModelMismatch, match="--refit"):
        indexer(index, other, options(tmp_path)).run(catalog)


def test_two_runs_in_one_second_get_a_report_each(tmp_path):
    first, second, third = (new_report(tmp_path / "reports", "20250102-030405") for _ in range(3))
    assert [p.name for p in (first, second, third)] == [
        "index-20250102-030405.jsonl",
        "index-20250102-030405-2.jsonl",
        "index-20250102-030405-3.jsonl",
    ]
    assert set((tmp_path / "reports").iterdir()) == {first, second, third}
