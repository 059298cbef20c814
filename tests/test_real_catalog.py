"""Real catalogue photos (../shared/datasets/fashion-products) through the indexing job, with
keyword + image + facet queries checked against a brute-force reference in PCA space."""

from __future__ import annotations

import csv

import numpy as np

from embedder import contract
from embedder.client import LookalikeClient
from embedder.pipeline import IndexOptions
from tests.helpers import indexer, shared_dataset

PRODUCTS = 150


def write_catalog(dataset, path) -> list[dict]:
    with open(dataset / "labels.csv", newline="") as handle:
        labels = [row for _, row in zip(range(PRODUCTS), csv.DictReader(handle))]
    rows = [
        {
            "id": f"M{row['id']}",
            "image": str(dataset / row["image"]),
            "title": row["productDisplayName"],
            "category": row["articleType"],
            "color": row["baseColour"],
            "gender": row["gender"],
            "season": row["season"],
        }
        for row in labels
    ]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def test_real_photos_index_and_search_like_brute_force(index, extractor, tmp_path):
    rows = write_catalog(shared_dataset("fashion-products"), tmp_path / "real.csv")
    options = IndexOptions(batch_size=32, progress=False, report_path=tmp_path / "report.jsonl")
    summary = indexer(index, extractor, options).run(tmp_path / "real.csv")
    assert (summary.counts["added"], summary.counts["failed"]) == (PRODUCTS, 0)

    ids = [r["id"] for r in rows]
    docs = index.get(ids, fl="id,image_vector,attr_gender")
    vectors = np.stack([contract.decode_vector(docs[i]["image_vector"]) for i in ids]).astype(np.float64)
    men = {i for i in ids if docs[i]["attr_gender"] == ["Men"]}
    client = LookalikeClient(index, extractor=extractor)
    for query_index in (0, 17, 99):
        distances = ((vectors - vectors[query_index]) ** 2).sum(axis=1)
        expected = [ids[j] for j in np.argsort(distances, kind="stable") if ids[j] in men][:5]
        hits = client.search(vector=vectors[query_index], fq=["attr_gender:Men"], k=5)
        assert [h.id for h in hits] == expected

    # Facets over a visual result set: counts of the matching documents by category.
    results = index.search(
        q="{!visual f=image_vector v=$qv maxDist=$md}",
        qv=contract.encode_vector(vectors[0]),
        md=float(np.median(((vectors - vectors[0]) ** 2).sum(axis=1))),
        rows=0,
        facet="true",
        **{"facet.field": "category", "facet.mincount": 1},
    )
    counts = results.facets["category"]
    assert sum(counts.values()) == results.hits and PRODUCTS // 3 < results.hits < PRODUCTS
