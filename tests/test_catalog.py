"""Catalog reading: required and refused columns, field mapping, sharding."""

from __future__ import annotations

import json

import pytest

from embedder.catalog import CatalogError, Shard, column_mapping, read_catalog
from embedder.solr import SchemaInfo

SCHEMA = SchemaInfo(
    fields=frozenset(
        {
            "id",
            "title",
            "description",
            "brand",
            "category",
            "color",
            "price",
            "attributes",
            "image_url",
            "image_vector",
            "pca_version",
            "cluster_id",
        }
    ),
    dynamic_fields=("attr_*", "*_s", "*_ss"),
    dimension=1024,
)


def test_known_columns_map_to_fields_and_others_to_dynamic_attributes():
    mapping = column_mapping(["id", "image", "title", "color", "season", "fit_s"], SCHEMA)
    assert mapping == {"title": "title", "color": "color", "season": "attr_season", "fit_s": "fit_s"}


@pytest.mark.parametrize(
    "columns, problem",
    [
        (["image", "title"], "no id"),
        (["id", "title"], "no image"),
        (["id", "image", "image_vector"], "written by the indexing job"),
        (["id", "image", "Bad Name"], "not a field name"),
    ],
)
def test_refused_columns_are_named(columns, problem):
    with pytest.raises(CatalogError, match=problem):
        column_mapping(columns, SCHEMA)


def test_csv_rows_become_fields_with_paths_resolved(tmp_path):
    (tmp_path / "cat.csv").write_text(
        "id,image,title,price,attributes,season\n"
        "A1,img/a.jpg,Red shirt,19.5,cotton|summer,spring\n"
        "A2,img/b.jpg,Blue shirt,cheap,,\n"
        ",img/c.jpg,No id,1,,\n"
    )
    rows = list(read_catalog(tmp_path / "cat.csv", SCHEMA))
    first = rows[0]
    assert first.id == "A1" and first.error is None
    assert first.image == str(tmp_path / "img" / "a.jpg")
    assert first.fields == {
        "title": "Red shirt",
        "price": 19.5,
        "attributes": ["cotton", "summer"],
        "attr_season": ["spring"],
        "image_url": str(tmp_path / "img" / "a.jpg"),
    }
    assert "price" in rows[1].error and "'cheap'" in rows[1].error
    assert len(rows) == 3 and rows[2].error == "line 4: id and image are required"  # it fails alone, reported


def test_jsonl_rows_and_urls(tmp_path):
    lines = [
        {"id": "J1", "image": "https://cdn.example.com/j1.jpg", "color": "red"},
        {"id": "J2", "image": "j2.png", "text": "refused"},
    ]
    (tmp_path / "cat.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    rows = list(read_catalog(tmp_path / "cat.jsonl", SCHEMA))
    assert rows[0].image == "https://cdn.example.com/j1.jpg" and rows[0].fields["color"] == "red"
    assert "written by the indexing job" in rows[1].error


def test_unknown_format_is_refused(tmp_path):
    (tmp_path / "cat.xlsx").write_text("x")
    with pytest.raises(CatalogError, match="csv or .jsonl"):
        list(read_catalog(tmp_path / "cat.xlsx", SCHEMA))


def test_shards_split_ids_completely_and_disjointly():
    ids = [f"P{i}" for i in range(1000)]
    shards = [Shard(i, 3) for i in range(3)]
    owners = [[s for s in shards if s.owns(i)] for i in ids]
    assert all(len(o) == 1 for o in owners)
    assert all(100 < sum(1 for o in owners if o[0] == s) < 500 for s in shards)


@pytest.mark.parametrize("text", ["3/3", "a/b", "1", "-1/2"])
def test_bad_shard_spec(text):
    with pytest.raises(ValueError, match="I/N"):
        Shard.parse(text)


def test_a_catalog_with_its_own_column_names_is_read_through_renames(tmp_path):
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(
        "sku,photo,productDisplayName,articleType,season\n"
        "A1,a.jpg,Red Shirt,Shirts,Summer\n"
        "A2,b.jpg,Blue Heels,,Winter\n",  # an empty cell: that row has no such column
        encoding="utf-8",
    )
    renames = {"sku": "id", "photo": "image", "productDisplayName": "title", "articleType": "category"}
    rows = list(read_catalog(catalog, SCHEMA, renames=renames))
    assert [(r.id, r.error) for r in rows] == [("A1", None), ("A2", None)]
    assert rows[0].fields["title"] == "Red Shirt" and rows[0].fields["category"] == "Shirts"
    assert rows[1].image == str(tmp_path / "b.jpg") and rows[1].fields["attr_season"] == ["Winter"]
    assert "category" not in rows[1].fields


@pytest.mark.parametrize(
    "renames, problem",
    [
        ({"sku": "id", "photo": "image", "nope": "title"}, "no column 'nope'"),
        ({"sku": "id", "photo": "id"}, "two columns renamed to 'id'"),
        ({"sku": "id", "photo": "image", "season": "image_vector"}, "written by the indexing job"),
    ],
)
def test_renames_that_cannot_hold_are_refused(tmp_path, renames, problem):
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("sku,photo,season\nA1,a.jpg,Summer\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=problem):
        list(read_catalog(catalog, SCHEMA, renames=renames))
