"""Where the vectors come from: embeddings kept on disk survive an interrupted run, a remote
image is judged by its URL and validators, and a vectors file made elsewhere is indexed through
the same sync, without TensorFlow."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from embedder import contract, pipeline, state
from embedder.cache import EmbeddingCache
from embedder.errors import BadInput
from embedder.pipeline import IndexOptions
from embedder.runtime import EmbeddingRuntime
from embedder.samples import generate_catalog
from tests.helpers import index_snapshot, indexer, read_rows, serving_photos, write_rows


class CountingCache(EmbeddingCache):
    """The real cache, counting what it is asked; ``interrupt_after`` puts, it stops the run
    as Ctrl-C would."""

    interrupt_after: int | None = None
    hits = puts = 0

    def get(self, key):
        vector = super().get(key)
        CountingCache.hits += vector is not None
        return vector

    def put(self, key, vector):
        super().put(key, vector)
        CountingCache.puts += 1
        if CountingCache.puts == CountingCache.interrupt_after:
            raise KeyboardInterrupt


@pytest.fixture
def counting(monkeypatch):
    monkeypatch.setattr(pipeline, "EmbeddingCache", CountingCache)
    CountingCache.hits = CountingCache.puts = 0
    return CountingCache


def test_an_interrupted_first_run_resumes_without_re_embedding(index, extractor, tmp_path, counting):
    catalog = generate_catalog(tmp_path / "catalog")
    options = IndexOptions(batch_size=8, progress=False, report_path=tmp_path / "r.jsonl", cache_dir=tmp_path / "e")
    counting.interrupt_after = 24  # inside the PCA fit, before any product can be written
    with pytest.raises(KeyboardInterrupt):
        indexer(index, extractor, options).run(catalog)
    assert index.count() == 0 and state.load_model(index) is None

    counting.interrupt_after, counting.hits, counting.puts = None, 0, 0
    summary = indexer(index, extractor, options).run(catalog)
    assert summary.counts["added"] == 60 and index.count() == 60
    assert (counting.hits, counting.puts) == (24, 36), "the 24 images embedded before the interrupt were re-embedded"
    cache = EmbeddingCache(tmp_path / "e", extractor.name)
    assert len(list(cache.directory.glob("*/*.f32"))) == 60
    assert (cache.directory / "extractor.txt").read_text().strip() == extractor.name


def test_a_damaged_cache_entry_is_embedded_again(tmp_path):
    cache = EmbeddingCache(tmp_path, "none")
    key = "ab" * 32
    cache.put(key, np.arange(contract.RAW_DIMENSION, dtype=np.float32))
    assert cache.get(key)[7] == 7.0
    cache._path(key).write_bytes(b"\0" * 100)  # torn by a disk error
    assert cache.get(key) is None and cache.get("cd" * 32) is None
    with pytest.raises(ValueError):
        cache.get("../../etc/passwd")


@pytest.fixture
def photo_host():
    with serving_photos() as host:
        yield host


def test_a_remote_image_is_re_embedded_when_its_validators_change(index, extractor, tmp_path, photo_host):
    catalog = generate_catalog(tmp_path / "catalog")
    rows = read_rows(catalog)[:6]
    photo = {r["id"]: (catalog.parent / r["image"]).read_bytes() for r in read_rows(catalog)}
    for r in rows:  # SKU0006's host gives no validator: it is judged by its URL alone
        photo_host.photos[f"/{r['id']}.jpg"] = (None if r["id"] == "SKU0006" else f'"{r["id"]}-v1"', photo[r["id"]])
    write_rows(catalog, [{**r, "image": f"{photo_host.url}/{r['id']}.jpg"} for r in rows])
    options = IndexOptions(batch_size=4, progress=False, report_path=tmp_path / "r.jsonl")
    assert indexer(index, extractor, options).run(catalog).counts["added"] == 6
    before = index.get([r["id"] for r in rows])

    photo_host.photos["/SKU0001.jpg"] = ('"SKU0001-v2"', photo["SKU0010"])  # a new photo at the same URL
    photo_host.photos["/SKU0006.jpg"] = (None, photo["SKU0011"])  # unseen: nothing says it changed
    photo_host.fetched.clear()
    summary = indexer(index, extractor, options).run(catalog)
    assert (summary.counts["re-embedded"], summary.counts["unchanged"]) == (1, 5)
    assert photo_host.fetched == ["/SKU0001.jpg"], "only the changed photo is downloaded"
    after = index.get([r["id"] for r in rows])
    expected, _ = EmbeddingRuntime(index, extractor=extractor).embed(photo["SKU0010"])
    got = contract.decode_vector(after["SKU0001"][contract.VECTOR_FIELD])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)
    assert all(after[i]["_version_"] == before[i]["_version_"] for i in before if i != "SKU0001")

    photo_host.fetched.clear()
    summary = indexer(index, extractor, options).run(catalog)  # the same validators: nothing to do
    assert summary.counts["unchanged"] == 6 and photo_host.fetched == []
    assert index.get(["SKU0001"])["SKU0001"]["_version_"] == after["SKU0001"]["_version_"]


SUMMARY = re.compile(r"added \d+, re-embedded \d+, updated \d+, unchanged \d+, deleted \d+, failed \d+")


def cli(local_solr, home, *args: str) -> subprocess.CompletedProcess:
    probe = (
        "import sys; from embedder.cli import main; status = main(sys.argv[1:]); "
        "print('tensorflow loaded' if 'tensorflow' in sys.modules else 'no tensorflow'); sys.exit(status)"
    )
    command = [sys.executable, "-c", probe, "--solr", local_solr.url, "--home", str(home), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_a_vectors_file_is_indexed_and_synced_without_tensorflow(index, local_solr, tmp_path):
    rng = np.random.default_rng(3)
    vectors = rng.gamma(0.5, 1.0, size=(40, contract.RAW_DIMENSION)).astype(np.float32)  # ReLU-like
    vectors[7, 100] = np.nan  # this row fails alone
    rows = [{"id": f"V{i:03d}", "title": f"product {i}"} for i in range(40)]
    catalog, npy = tmp_path / "catalog.csv", tmp_path / "vectors.npy"
    write_rows(catalog, rows)
    np.save(npy, vectors)

    done = cli(local_solr, tmp_path, "index", str(catalog), "--vectors", str(npy), "--no-progress")
    assert done.returncode == 0 and done.stdout.strip().endswith("no tensorflow"), done.stderr
    assert "added 39" in done.stdout and "failed 1" in done.stdout
    assert len(SUMMARY.findall(done.stdout + done.stderr)) == 1, "the summary is printed once"
    model = state.require_model(index)
    stored = index.get([r["id"] for r in rows], fl="id,image_vector,image_url")
    assert "V007" not in stored and len(stored) == 39 and not any("image_url" in d for d in stored.values())
    expected = model.reducer.transform(np.delete(vectors, 7, axis=0))
    got = np.stack([contract.decode_vector(stored[r["id"]]["image_vector"]) for r in rows if r["id"] != "V007"])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)
    (first,) = (tmp_path / "reports").glob("*.jsonl")
    report = [json.loads(line) for line in first.read_text().splitlines()]
    assert [(r["id"], r["status"]) for r in report] == [("V007", "failed")] and "component 100" in report[0]["reason"]

    vectors[7, 100], vectors[3] = 0.0, vectors[4]  # V007 fixed, V003 re-embedded elsewhere
    np.save(npy, vectors)
    done = cli(local_solr, tmp_path, "index", str(catalog), "--vectors", str(npy), "--no-progress")
    assert done.returncode == 0 and "added 1, re-embedded 1, updated 0, unchanged 38" in done.stdout, done.stdout
    (second,) = set((tmp_path / "reports").glob("*.jsonl")) - {first}  # each run keeps a report of its own
    assert [json.loads(line)["id"] for line in second.read_text().splitlines()] == ["V003"]
    assert [json.loads(line)["id"] for line in first.read_text().splitlines()] == ["V007"]


def test_with_vectors_an_image_column_is_kept_for_display(index, extractor, local_solr, tmp_path):
    from embedder.config import load_settings
    from embedder.service import ServiceConfig, create_app

    catalog = generate_catalog(tmp_path / "catalog")
    rows = read_rows(catalog)[:20]
    write_rows(catalog, rows)
    npy = tmp_path / "vectors.npy"
    np.save(npy, np.random.default_rng(5).gamma(0.5, 1.0, size=(20, contract.RAW_DIMENSION)).astype(np.float32))
    options = IndexOptions(progress=False, report_path=tmp_path / "r.jsonl", vectors=npy)
    assert indexer(index, extractor, options).run(catalog).counts["added"] == 20
    stored = index.get([r["id"] for r in rows], fl="id,image_url,image_hash")
    for r in rows:
        assert stored[r["id"]]["image_url"] == str((catalog.parent / r["image"]).resolve())
        assert stored[r["id"]]["image_hash"].startswith("vector:")  # judged by the vector, not the image
    settings = load_settings(environ={}, solr_url=local_solr.url, home=tmp_path / "home", weights="none")
    page = create_app(settings, ServiceConfig(), extractor=extractor).test_client()
    shown = page.get("/products/SKU0003/image")  # served from the catalog's directory, as for images
    assert shown.status_code == 200 and shown.data == (catalog.parent / rows[2]["image"]).read_bytes()


@pytest.mark.parametrize(
    "array, problem",
    [
        (np.zeros((39, contract.RAW_DIMENSION), np.float32), r"expected \(40, 2048\) float32"),
        (np.zeros((40, 1024), np.float32), r"got \(40, 1024\)"),
        (np.zeros((40, contract.RAW_DIMENSION), np.float64), "float64"),
        (np.array([{"a": 1}] * 40, dtype=object), "not a readable .npy array"),
    ],
)
def test_a_vectors_file_that_does_not_fit_the_catalog_changes_nothing(index, extractor, tmp_path, array, problem):
    catalog, npy = tmp_path / "catalog.csv", tmp_path / "vectors.npy"
    write_rows(catalog, [{"id": f"V{i:03d}", "title": "t"} for i in range(40)])
    np.save(npy, array, allow_pickle=True)
    before = index_snapshot(index)
    options = IndexOptions(progress=False, report_path=tmp_path / "r.jsonl", vectors=npy)
    with pytest.raises(BadInput, match=problem):
        indexer(index, extractor, options).run(catalog)
    assert index_snapshot(index) == before
