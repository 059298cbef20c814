"""Seams between the pieces, on the emptied collection: product ids with awkward characters
through every id list (real-time get, {!visual id/like/unlike}, {!terms} exclusion), the
reserved ids at the adapter and in the indexing job, the collection's own state when broken,
and the exit statuses of ``lookalike``. The sidecar's seams are in test_seams_service.py."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

from embedder import contract, state
from embedder.client import LookalikeClient, Query
from embedder.config import load_settings
from embedder.errors import BadInput, CollectionStateError
from embedder.pipeline import IndexOptions
from embedder.samples import generate_catalog, query_image
from tests.helpers import free_port, indexer, read_rows, serving_photos, wait_for_progress, write_rows

DIM = contract.DEFAULT_DIMENSION
AWKWARD = [
    "a,b",
    "back\\slash",
    "two words",
    "it's",
    'say "hi"',
    "sku:1",
    "Ünïcode✓",
    "trailing\\",
    "a\\,b",
    "'quoted",
    "x*?",
]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("LOOKALIKE_")}


@pytest.fixture
def awkward_products(index) -> dict[str, np.ndarray]:
    """40 plain products and one per awkward id, with random vectors (float64 for references)."""
    ids = [f"P{i:03d}" for i in range(40)] + AWKWARD
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(len(ids), DIM)).astype(np.float32) * np.linspace(3, 0.1, DIM, dtype=np.float32)
    index.add(
        [
            {
                "id": i,
                "title": f"product {n}",
                contract.VECTOR_FIELD: contract.encode_vector(v),
                contract.VERSION_FIELD: "test",
            }
            for n, (i, v) in enumerate(zip(ids, vectors))
        ]
    )
    index.commit()
    return {i: v.astype(np.float64) for i, v in zip(ids, vectors)}


def nearest(vectors: dict[str, np.ndarray], query: np.ndarray, leave_out=()) -> list[str]:
    """Brute force: every id but ``leave_out``, nearest first."""
    distances = {i: float(((v - query) ** 2).sum()) for i, v in vectors.items() if i not in leave_out}
    return sorted(distances, key=distances.get)


def test_real_time_get_finds_every_awkward_id(index, awkward_products):
    assert set(index.get(AWKWARD, fl="id")) == set(AWKWARD)
    for product_id in AWKWARD:
        assert set(index.get([product_id, "P001"], fl="id")) == {product_id, "P001"}, product_id


@pytest.mark.parametrize("product_id", AWKWARD)
def test_search_by_an_awkward_id_leaves_it_out_and_equals_brute_force(index, awkward_products, product_id):
    hits = LookalikeClient(index).search(id=product_id, k=10)
    expected = nearest(awkward_products, awkward_products[product_id], leave_out={product_id})
    assert [h.id for h in hits] == expected[:10]


@pytest.mark.parametrize("product_id", AWKWARD)
def test_excluding_an_awkward_id_leaves_out_exactly_it(index, awkward_products, product_id):
    query = awkward_products[product_id]
    hits = LookalikeClient(index).search(vector=query, exclude=[product_id, "P000"], k=100)
    assert [h.id for h in hits] == nearest(awkward_products, query, leave_out={product_id, "P000"})


def test_excluding_every_awkward_id_at_once_leaves_the_plain_ones(index, awkward_products):
    query = awkward_products["P005"]
    hits = LookalikeClient(index).search(vector=query, exclude=AWKWARD, k=100)
    assert [h.id for h in hits] == nearest(awkward_products, query, leave_out=set(AWKWARD))


def test_like_and_unlike_awkward_ids_move_the_query_as_documented(index, awkward_products):
    like, unlike = ["a,b", "back\\slash", "trailing\\", "'quoted"], ['say "hi"', "it's", "a\\,b"]
    positive = np.mean([awkward_products[i] for i in like], axis=0)
    negative = np.mean([awkward_products[i] for i in unlike], axis=0)
    target = positive + 0.5 * (positive - negative)  # the plugin's default unlikeWeight
    page = LookalikeClient(index).run(Query(like=like, unlike=unlike, k=20))
    assert [h.id for h in page.hits] == nearest(awkward_products, target)[:20]


def test_recommend_leaves_the_liked_and_disliked_awkward_ids_out(index, awkward_products):
    like, unlike = ["Ünïcode✓", "sku:1", "a,b"], ["two words", "trailing\\", "x*?"]
    positive = np.mean([awkward_products[i] for i in like], axis=0)
    negative = np.mean([awkward_products[i] for i in unlike], axis=0)
    page = LookalikeClient(index).recommend(like=like, unlike=unlike, k=100)
    expected = nearest(awkward_products, positive + 0.5 * (positive - negative), leave_out={*like, *unlike})
    assert [h.id for h in page.hits] == expected and page.total == len(expected)


def test_the_image_link_of_every_hit_leads_to_its_image(index, local_solr, tmp_path):
    # The web page puts each hit's `image` link in an <img src> as it is.
    ids = [*AWKWARD, "a?b", "a#b", "100%", "50%41"]
    picture = tmp_path / "picture.jpg"
    query_image("shoe", "blue", "dotted").save(picture, format="JPEG")
    vectors = np.random.default_rng(5).normal(size=(len(ids), DIM))
    index.add(
        [
            {"id": i, contract.VECTOR_FIELD: contract.encode_vector(v), contract.IMAGE_URL_FIELD: str(picture)}
            for i, v in zip(ids, vectors)
        ]
    )
    index.commit()
    client = app_client(local_solr, tmp_path, None)
    results = client.post("/search", json={"vector": vectors[0].tolist(), "k": 100}).get_json()["results"]
    assert sorted(r["id"] for r in results) == sorted(ids)
    served = {r["id"]: client.get(r["image"]).status_code for r in results}
    assert served == dict.fromkeys(ids, 200)


# -- reserved ids at the adapter and in the indexing job ------------------------------------------


@pytest.mark.parametrize(
    "doc",
    [
        {"id": contract.CLUSTERS_DOC_ID, "title": "x"},
        {"id": contract.MODEL_DOC_ID, "kind": "model"},
        {"id": "_lookalike_anything"},
        {"id": "PLAIN", "kind": "clusters"},
    ],
)
def test_the_adapter_refuses_reserved_ids_and_kind_before_writing_anything(index, doc):
    with pytest.raises(BadInput, match="_lookalike_"):
        index.add([{"id": "GOOD", "title": "fine"}, doc])
    index.commit()
    assert index.get(["GOOD", doc["id"]]) == {}


def small_catalog(directory, keep: int, extra: list[dict] = ()) -> tuple:
    """The generated catalog cut to its first ``keep`` rows, then ``extra`` rows."""
    catalog = generate_catalog(directory)
    with open(catalog, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    kept = rows[:keep] + [{**rows[keep], **row} for row in extra]
    with open(catalog, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    return catalog, [r["id"] for r in rows[:keep]]


def test_a_reserved_id_in_the_catalog_fails_alone_and_the_other_rows_land(index, extractor, tmp_path):
    reserved = [contract.MODEL_DOC_ID, contract.CLUSTERS_DOC_ID, "_lookalike_x"]
    catalog, good = small_catalog(tmp_path / "catalog", 5, [{"id": i} for i in reserved])
    report = tmp_path / "report.jsonl"
    options = IndexOptions(batch_size=4, progress=False, report_path=report)
    summary = indexer(index, extractor, options).run(catalog)
    assert summary.counts == {**dict.fromkeys(summary.counts, 0), "added": 5, "failed": 3}
    failures = {r["id"]: r for r in map(json.loads, report.read_text().splitlines()) if r["status"] == "failed"}
    assert set(failures) == set(reserved) and all("reserved" in r["reason"] for r in failures.values())
    docs = index.get(good, fl="id,pca_version")
    assert {i: d["pca_version"] for i, d in docs.items()} == dict.fromkeys(good, summary.pca_version)
    assert index.get(reserved[1:]) == {}
    assert state.load_model(index).version == summary.pca_version  # the model was not replaced


# -- the collection's own state when broken -------------------------------------------------------


def corrupt(reducer, how: str) -> bytes:
    if how == "garbage":
        return b"not a PCA model at all"
    if how == "nan":
        reducer.mean_[0] = np.nan
    else:  # finite, but no longer what its version hashes
        reducer.components_[0, 0] += 1.0
    return reducer.to_bytes()


@pytest.mark.parametrize("how", ["garbage", "nan", "tampered"])
def test_a_corrupt_model_document_is_the_collections_problem_naming_refit(index, local_solr, extractor, tmp_path, how):
    catalog, _ = small_catalog(tmp_path / "catalog", 4)
    options = IndexOptions(batch_size=4, progress=False, report_path=tmp_path / "report.jsonl")
    indexer(index, extractor, options).run(catalog)
    model = state.load_model(index)
    index.write_own(
        {
            contract.ID_FIELD: contract.MODEL_DOC_ID,
            contract.KIND_FIELD: "model",
            contract.VERSION_FIELD: model.version,
            contract.MODEL_BLOB_FIELD: base64.b64encode(corrupt(model.reducer, how)).decode("ascii"),
            contract.MODEL_META_FIELD: json.dumps({"extractor": model.extractor}),
        }
    )
    with pytest.raises(CollectionStateError, match="--refit"):
        state.load_model(index)

    image = io.BytesIO()
    query_image("bag", "red", "solid").save(image, format="JPEG")
    image.seek(0)
    response = app_client(local_solr, tmp_path, extractor).post("/search", data={"image": (image, "q.jpg")})
    assert response.status_code == 409, response.get_data(as_text=True)
    assert "--refit" in response.get_json()["error"]


@pytest.mark.parametrize("how", ["garbage", "nan"])
def test_a_corrupt_clustering_is_the_collections_problem_naming_lookalike_cluster(
    index, awkward_products, local_solr, tmp_path, how
):
    centroids = io.BytesIO()
    np.save(centroids, np.full((3, DIM), np.nan, dtype=np.float32), allow_pickle=False)
    blob = b"not an npy file" if how == "garbage" else centroids.getvalue()
    index.write_own(
        {
            contract.ID_FIELD: contract.CLUSTERS_DOC_ID,
            contract.KIND_FIELD: "clusters",
            contract.MODEL_BLOB_FIELD: base64.b64encode(blob).decode("ascii"),
            contract.MODEL_META_FIELD: json.dumps({"clusters": [], "pca_version": "", "created_at": ""}),
        }
    )
    with pytest.raises(CollectionStateError, match="lookalike cluster"):
        state.load_clustering(index)
    client = app_client(local_solr, tmp_path, None)
    for response in (client.get("/clusters"), client.post("/navigate/start", json={"size": 3})):
        assert response.status_code == 409, response.get_data(as_text=True)
        assert "lookalike cluster" in response.get_json()["error"]


def app_client(local_solr, home, extractor):
    """The sidecar's app over the session's collection, through Flask's test client."""
    from embedder.service import ServiceConfig, create_app

    settings = load_settings(
        environ={}, solr_url=local_solr.url, collection=local_solr.collection, home=home, weights="none"
    )
    return create_app(settings, ServiceConfig(), extractor=extractor).test_client()


# -- exit statuses of `lookalike` -----------------------------------------------------------------


def lookalike(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "embedder.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=ENV)


def test_cli_with_nothing_listening_exits_6_in_one_line():
    done = lookalike("--solr", f"http://127.0.0.1:{free_port()}/solr", "search", "--id", "X")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 6, done.stderr
    assert len(lines) == 1 and lines[0].startswith("lookalike: error:") and "re-run" in lines[0]


def test_cli_with_no_zookeeper_listening_exits_6_in_one_line():
    done = lookalike("--solr", f"127.0.0.1:{free_port()}/solr", "search", "--id", "X")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 6, done.stderr
    assert len(lines) == 1 and lines[0].startswith("lookalike: error: ZooKeeper at 127.0.0.1:") and "re-run" in lines[0]


def test_cli_bad_option_value_exits_2():
    done = lookalike("--solr", f"http://127.0.0.1:{free_port()}/solr", "search", "--id", "X", "-k", "0")
    assert done.returncode == 2 and "-k" in done.stderr and "Traceback" not in done.stderr


def test_cli_unknown_id_exits_2_in_one_line_and_an_awkward_one_works(index, awkward_products, local_solr):
    solr = ("--solr", local_solr.url, "--collection", local_solr.collection)
    done = lookalike(*solr, "search", "--id", "NOPE")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("lookalike: error:") and "NOPE" in lines[0]
    found = lookalike(*solr, "search", "--id", "a,b", "-k", "5", "--json")
    assert found.returncode == 0, found.stderr
    expected = nearest(awkward_products, awkward_products["a,b"], leave_out={"a,b"})[:5]
    assert [hit["id"] for hit in json.loads(found.stdout)] == expected


def _default_sigint() -> None:
    """SIGINT at its default in a child: a shell without job control starts background commands
    (a CI runner's, ``make test &``) with it ignored, and Python then installs no handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_exits_130_in_one_line_and_a_rerun_indexes_the_rest(index, local_solr, tmp_path):
    total, at_least = 120, 16
    catalog = generate_catalog(tmp_path / "catalog", variants=total // 60)
    rows = read_rows(catalog)
    command = [
        sys.executable, "-m", "embedder.cli", "--solr", local_solr.url, "--collection", local_solr.collection,
        "index", str(catalog), "--weights", "none", "--fit-sample", str(at_least), "--batch-size", "8",
        "--report", str(tmp_path / "report.jsonl"),
    ]  # fmt: skip
    with serving_photos() as host:
        host.photos.update({f"/{r['id']}.jpg": (None, (catalog.parent / r["image"]).read_bytes()) for r in rows})
        # The first rows' photos (the PCA's sample, the first two batches) come at once, the others
        # only once the job is interrupted: however fast it runs, it cannot finish before the signal.
        host.held.update(f"/{r['id']}.jpg" for r in rows[at_least:])
        write_rows(catalog, [{**r, "image": f"{host.url}/{r['id']}.jpg"} for r in rows])
        job = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, preexec_fn=_default_sigint
        )
        try:
            seen = wait_for_progress(job, at_least, total)
            job.send_signal(signal.SIGINT)
            host.release.set()  # the held fetches end, so the job's threads can
            _, rest = job.communicate(timeout=300)
        finally:
            if job.poll() is None:
                job.kill()
                job.wait()
        stderr = seen + rest.decode(errors="replace")
        assert job.returncode == 130, stderr[-3000:]
        last = stderr.strip().splitlines()[-1]
        assert "interrupted" in last and "re-run" in last and "Traceback" not in stderr, stderr[-3000:]

        done = subprocess.run(command + ["--no-progress"], capture_output=True, text=True, timeout=600, env=ENV)
    assert done.returncode == 0, done.stderr
    added, unchanged = map(int, re.search(r"added (\d+), .*unchanged (\d+)", done.stdout).groups())
    assert added + unchanged == total and unchanged >= at_least, done.stdout
    ids = [d["id"] for d in index.stream("id", fq=[f"{contract.VECTOR_FIELD}:*"])]
    assert len(ids) == len(set(ids)) == total
