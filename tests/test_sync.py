"""A living catalog: re-running the indexing job is a sync that keeps merchandiser work, and
products can be read, deleted and untagged from the CLI and the service."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests

from embedder import contract, state, tagging
from embedder.errors import BadInput
from embedder.pipeline import IndexOptions
from embedder.samples import generate_catalog
from embedder.solr import SolrIndex
from tests.helpers import indexer, read_rows, write_rows

HAWAIIAN = tagging.Attribute("style", "hawaiian")


def run(index, extractor, catalog, tmp_path, **kwargs):
    report = tmp_path / f"report-{len(list(tmp_path.glob('report-*')))}.jsonl"
    options = IndexOptions(batch_size=16, progress=False, report_path=report, **kwargs)
    summary = indexer(index, extractor, options).run(catalog)
    return summary, [json.loads(line) for line in report.read_text().splitlines()]


def same_vector(a: dict, b: dict) -> bool:
    # A photo embedded alone or in another batch runs other kernels: equal to float rounding.
    decoded = [contract.decode_vector(d[contract.VECTOR_FIELD]) for d in (a, b)]
    return bool(np.allclose(*decoded, rtol=1e-4, atol=1e-3))


def snapshot(index) -> dict[str, dict]:
    return {doc["id"]: doc for doc in index.stream("*")}


@pytest.fixture
def catalog(tmp_path):
    return generate_catalog(tmp_path / "catalog")


def test_an_edited_catalog_is_synced_and_every_tag_survives(index, extractor, catalog, tmp_path):
    run(index, extractor, catalog, tmp_path)
    tagged = ["SKU0001", "SKU0002", "SKU0003", "SKU0004"]
    tagging.apply(index, HAWAIIAN, tagged)
    before = snapshot(index)

    rows = read_rows(catalog)
    rows[0]["title"] = "Renamed shirt"  # a field change: updated in place
    shutil.copy(catalog.parent / rows[9]["image"], catalog.parent / "images" / "new-2.jpg")
    rows[1]["image"] = "images/new-2.jpg"  # another photo: re-embedded
    del rows[2]["color"]  # a column the row no longer has is removed from the product
    removed = [rows.pop(5)["id"], rows.pop(5)["id"]]  # SKU0006, SKU0007: deleted
    rows.append({**next(r for r in rows if r["id"] == "SKU0011"), "id": "NEW0001", "title": "A new product"})
    write_rows(catalog, rows)
    summary, report = run(index, extractor, catalog, tmp_path, delete_missing=True, yes=True)

    assert summary.counts == {"added": 1, "re-embedded": 1, "updated": 2, "unchanged": 55, "deleted": 2, "failed": 0}
    statuses = {r["id"]: r["status"] for r in report}
    assert statuses == {"SKU0001": "updated", "SKU0003": "updated", "SKU0002": "re-embedded"} | dict.fromkeys(
        removed, "deleted"
    )
    after = snapshot(index)
    assert set(after) == set(before) - set(removed) | {"NEW0001"}
    assert after["SKU0001"]["title"] == "Renamed shirt" and "color" not in after["SKU0003"]
    assert same_vector(after["SKU0002"], before["SKU0010"])  # now the same photo
    assert after["SKU0001"][contract.VECTOR_FIELD] == before["SKU0001"][contract.VECTOR_FIELD]  # not re-embedded
    assert same_vector(after["NEW0001"], before["SKU0011"])
    for product_id in tagged:
        assert after[product_id][HAWAIIAN.field] == ["hawaiian"], product_id
    unchanged = set(after) - {"SKU0001", "SKU0002", "SKU0003", "NEW0001"}
    assert all(after[i]["_version_"] == before[i]["_version_"] for i in unchanged), "an unchanged row was written"


def test_a_photo_is_judged_by_its_bytes_not_by_its_path(index, extractor, catalog, tmp_path):
    run(index, extractor, catalog, tmp_path)
    before = snapshot(index)
    images = catalog.parent / "images"
    (images / "SKU0001.jpg").write_bytes((images / "SKU0010.jpg").read_bytes())  # new bytes, same path
    (images / "SKU0002.jpg").rename(images / "moved-2.jpg")  # same bytes, new path
    rows = read_rows(catalog)
    rows[1]["image"] = "images/moved-2.jpg"
    write_rows(catalog, rows)
    summary, report = run(index, extractor, catalog, tmp_path)

    assert summary.counts == {"added": 0, "re-embedded": 1, "updated": 1, "unchanged": 58, "deleted": 0, "failed": 0}
    assert {r["id"]: r["status"] for r in report} == {"SKU0001": "re-embedded", "SKU0002": "updated"}
    after = snapshot(index)
    assert same_vector(after["SKU0001"], before["SKU0010"]) and not same_vector(after["SKU0001"], before["SKU0001"])
    changed = {
        k for k in {*before["SKU0002"], *after["SKU0002"]} if before["SKU0002"].get(k) != after["SKU0002"].get(k)
    }
    assert changed == {contract.IMAGE_URL_FIELD, contract.CATALOG_HASH_FIELD, "_version_"}  # the vector is kept
    assert after["SKU0002"][contract.IMAGE_URL_FIELD] == str((images / "moved-2.jpg").resolve())


class CountingIndex(SolrIndex):
    """The real Solr adapter, recording every request it sends: (path, the ids of a real-time get)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.sent: list[tuple[str, list[str]]] = []

    def request(self, path, params=None, *, body=None, form=False):
        ids = (params or {}).get("ids", "")
        self.sent.append((path, ids.split(",") if ids else []))
        return super().request(path, params, body=body, form=form)


def test_a_rerun_of_the_same_catalog_writes_nothing_and_looks_up_once_per_batch(index, extractor, catalog, tmp_path):
    run(index, extractor, catalog, tmp_path)
    before = snapshot(index)
    counting = CountingIndex(index.url)
    summary, report = run(counting, extractor, catalog, tmp_path)  # batches of 16
    assert summary.counts["unchanged"] == 60 and sum(summary.counts.values()) == 60 and report == []
    assert {i: d["_version_"] for i, d in snapshot(index).items()} == {i: d["_version_"] for i, d in before.items()}
    products = [(path, ids) for path, ids in counting.sent if path == "get" and not contract.is_reserved_id(ids[0])]
    assert [len(ids) for _, ids in products] == [16, 16, 16, 12], "one batched lookup per batch of rows, none per row"
    others = [path for path, ids in counting.sent if (path, ids) not in products]
    assert len(others) <= 8 and others.count("update") == 1, others  # the schema, the model, the commit


def test_a_row_without_an_id_fails_alone_with_a_report_line(index, extractor, catalog, tmp_path):
    rows = read_rows(catalog)
    rows.insert(3, {**rows[3], "id": ""})  # CSV line 5, after the header and three rows
    write_rows(catalog, rows)
    summary, report = run(index, extractor, catalog, tmp_path)
    assert summary.counts == {"added": 60, "re-embedded": 0, "updated": 0, "unchanged": 0, "deleted": 0, "failed": 1}
    assert report == [{"id": "", "line": 5, "status": "failed", "reason": "line 5: id and image are required"}]
    assert index.count() == 60


def test_deleting_more_than_a_fifth_needs_yes_and_refusing_changes_nothing(index, extractor, catalog, tmp_path):
    run(index, extractor, catalog, tmp_path)
    before, directories = snapshot(index), state.catalog_directories(index)
    moved = tmp_path / "elsewhere" / catalog.name  # a new directory, which a run would record
    moved.parent.mkdir()
    write_rows(moved, read_rows(catalog)[:40])  # a truncated catalog: 20 of 60 missing
    with pytest.raises(BadInput, match="would delete 20 of 60"):
        run(index, extractor, moved, tmp_path, delete_missing=True)
    assert snapshot(index) == before and state.catalog_directories(index) == directories
    write_rows(catalog, read_rows(catalog)[:40])
    summary, _ = run(index, extractor, catalog, tmp_path, delete_missing=True, yes=True)
    assert summary.counts["deleted"] == 20 and index.count() == 40
    assert index.get([contract.MODEL_DOC_ID]), "the collection's own documents are never deleted"


def cli(local_solr, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "embedder.cli", "--solr", local_solr.url, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_delete_and_untag_from_the_command_line(index, extractor, catalog, tmp_path, local_solr):
    run(index, extractor, catalog, tmp_path)
    tagging.apply(index, HAWAIIAN, ["SKU0001", "SKU0002", "SKU0003"])
    done = cli(local_solr, "untag", "style=hawaiian", "--id", "SKU0001")
    assert done.returncode == 0 and "from 1 products" in done.stdout, done.stderr
    assert [d["id"] for d in index.stream("id", fq=['tag_style:"hawaiian"'])] == ["SKU0002", "SKU0003"]
    assert cli(local_solr, "untag", "style=hawaiian", "--all").returncode == 0
    assert index.count(['tag_style:"hawaiian"']) == 0 and index.get(["SKU0002"])["SKU0002"]["title"]

    refused = cli(local_solr, "delete", "SKU0004", "NOPE")
    assert refused.returncode == 4 and "NOPE" in refused.stderr and index.get(["SKU0004"])
    assert cli(local_solr, "delete", "SKU0004", "SKU0005").returncode == 0
    assert index.get(["SKU0004", "SKU0005"]) == {} and index.count() == 58
    own = cli(local_solr, "delete", contract.MODEL_DOC_ID)
    assert own.returncode == 2 and "own documents" in own.stderr and index.get([contract.MODEL_DOC_ID])


def test_read_delete_and_untag_a_product_through_the_service(service_url, demo_index):
    product = requests.get(f"{service_url}/products/SKU0010", timeout=30)
    assert product.status_code == 200 and product.json()["id"] == "SKU0010"
    fields = product.json()["fields"]
    assert fields["title"] and contract.IMAGE_URL_FIELD not in fields and contract.IMAGE_HASH_FIELD not in fields
    assert requests.get(f"{service_url}/products/{contract.MODEL_DOC_ID}", timeout=30).status_code == 404

    tagging.apply(demo_index, HAWAIIAN, ["SKU0010", "SKU0011"])
    body = {"attribute": "style", "value": "hawaiian", "ids": ["SKU0010"]}
    removed = requests.post(f"{service_url}/tag/remove", json=body, timeout=30)
    assert removed.json() == {"field": HAWAIIAN.field, "removed": 1}
    assert HAWAIIAN.field not in demo_index.get(["SKU0010"])["SKU0010"]
    both = requests.post(f"{service_url}/tag/remove", json={**body, "all": True}, timeout=30)
    assert both.status_code == 400  # ids or all, not both
    assert requests.post(f"{service_url}/tag/remove", json={**body, "ids": [], "all": True}, timeout=30).ok
    assert demo_index.count(['tag_style:"hawaiian"']) == 0

    assert requests.delete(f"{service_url}/products/SKU0060", timeout=30).json() == {"deleted": "SKU0060"}
    assert requests.get(f"{service_url}/products/SKU0060", timeout=30).status_code == 404
    assert requests.delete(f"{service_url}/products/SKU0060", timeout=30).status_code == 404


def test_a_products_update_changes_the_fields_it_sends_and_keeps_the_others(
    index, extractor, catalog, tmp_path, local_solr
):
    from embedder.config import load_settings
    from embedder.service import ServiceConfig, create_app

    run(index, extractor, catalog, tmp_path)
    tagging.apply(index, HAWAIIAN, ["SKU0001"])
    before = index.get(["SKU0001"])["SKU0001"]
    settings = load_settings(environ={}, solr_url=local_solr.url, home=tmp_path / "home", weights="none")
    app = create_app(settings, ServiceConfig(), extractor=extractor).test_client()
    photo = base64.b64encode(Path(before[contract.IMAGE_URL_FIELD]).read_bytes()).decode()
    sent = {"id": "SKU0001", "image_base64": photo, "title": "Renamed shirt", "season": "summer"}
    assert app.post("/products", json={"products": [sent]}).get_json() == {"indexed": ["SKU0001"], "failed": {}}
    after = index.get(["SKU0001"])["SKU0001"]
    assert after["title"] == "Renamed shirt" and after["attr_season"] == ["summer"]
    for name in ("description", "brand", "category", "color", "price", "attributes", HAWAIIAN.field):
        assert after[name] == before[name], f"{name} was not sent, and must be kept"
    assert after[contract.VECTOR_FIELD] == before[contract.VECTOR_FIELD]  # the same photo: not re-embedded

    summary, _ = run(index, extractor, catalog, tmp_path)  # for a sync, the catalog is the whole truth
    assert (summary.counts["updated"], summary.counts["unchanged"]) == (1, 59)
    synced = index.get(["SKU0001"])["SKU0001"]
    assert {k: v for k, v in synced.items() if k != "_version_"} == {
        k: v for k, v in before.items() if k != "_version_"
    }
    assert run(index, extractor, catalog, tmp_path)[0].counts["unchanged"] == 60


def test_commands_default_to_the_collections_weights_and_refuse_others(index, extractor, catalog, tmp_path):
    from embedder.runtime import EmbeddingRuntime
    from embedder.state import ModelMismatch

    run(index, extractor, catalog, tmp_path)  # fitted on the seeded random weights ("none")
    runtime = EmbeddingRuntime(index)
    assert runtime.weights() == "none" and runtime.extractor_name() == extractor.name and not runtime.loaded
    with pytest.raises(ModelMismatch, match="--weights"):
        EmbeddingRuntime(index, "imagenet").model()
    index.delete_all()
    assert EmbeddingRuntime(index).weights() == "imagenet"  # a new collection


def test_commands_that_embed_nothing_never_load_tensorflow(index, extractor, catalog, tmp_path, local_solr):
    run(index, extractor, catalog, tmp_path)
    probe = (
        "import sys; from embedder.cli import main; status = main(sys.argv[1:]); "
        "print('tensorflow loaded' if 'tensorflow' in sys.modules else 'no tensorflow'); sys.exit(status)"
    )
    for args in (["index", str(catalog), "--no-progress"], ["search", "--id", "SKU0001", "-k", "3"]):
        done = subprocess.run(
            [sys.executable, "-c", probe, "--solr", local_solr.url, "--home", str(tmp_path), *args],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0 and done.stdout.strip().endswith("no tensorflow"), (args, done.stdout, done.stderr)


def test_renamed_columns_are_indexed_and_only_text_fields_are_keywords(index, extractor, catalog, tmp_path):
    from embedder.client import LookalikeClient

    rows = read_rows(catalog)
    own = [
        {"sku": r["id"], "photo": r["image"], "name": r["title"], "season": f"season{i % 2}"}
        for i, r in enumerate(rows)
    ]
    write_rows(catalog, own)
    renames = (("sku", "id"), ("photo", "image"), ("name", "title"))
    summary, _ = run(index, extractor, catalog, tmp_path, renames=renames)
    assert summary.counts["added"] == 60 and index.get(["SKU0001"])["SKU0001"]["title"] == rows[0]["title"]
    client = LookalikeClient(index)
    assert client.run(client.query(text="season1", k=100)).total == 0  # a column of its own is no keyword ...
    assert client.run(client.query(fq=["attr_season:season1"], k=100)).total == 30  # ... but a filter
    write_rows(catalog, [{**r, "description": r.pop("season")} for r in own])
    run(index, extractor, catalog, tmp_path, renames=renames)  # mapped onto a text field: now keywords
    assert client.run(client.query(text="season1", k=100)).total == 30


def test_a_tag_and_a_catalog_column_of_one_name_never_touch_each_other(index, extractor, catalog, tmp_path):
    rows = [{**r, "style": "plain"} for r in read_rows(catalog)]
    write_rows(catalog, rows)
    run(index, extractor, catalog, tmp_path)
    tagging.apply(index, HAWAIIAN, ["SKU0001", "SKU0002"])
    write_rows(catalog, [{**r, "style": "striped"} if r["id"] in ("SKU0001", "SKU0005") else r for r in rows])
    summary, _ = run(index, extractor, catalog, tmp_path)
    assert summary.counts["updated"] == 2
    after = index.get(["SKU0001", "SKU0002", "SKU0005"], fl="id,attr_style,tag_style")
    assert after["SKU0001"] == {"id": "SKU0001", "attr_style": ["striped"], "tag_style": ["hawaiian"]}
    assert after["SKU0002"] == {"id": "SKU0002", "attr_style": ["plain"], "tag_style": ["hawaiian"]}
    assert after["SKU0005"] == {"id": "SKU0005", "attr_style": ["striped"]}

    before = snapshot(index)
    write_rows(catalog, [{**r, "tag_style": "sneaky"} for r in rows])
    with pytest.raises(BadInput, match="'tag_style' is written by merchandisers"):
        run(index, extractor, catalog, tmp_path)
    assert snapshot(index) == before
