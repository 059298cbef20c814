"""The benchmark's set-up, without Solr: which data it runs on, the cells it writes into the
shipped configset, the settings it names as its own, and FAISS's contenders on a tiny catalog."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from bench import cells, linear
from bench.contenders import SHIPPED_SKETCH, TWIN_SKETCH, Case
from bench.dataset import Catalog, MissingRealVectors, calibrate
from bench.exact import K
from bench.faiss_contenders import FaissIndexes
from bench.solr_bench import CONFIGSET, CORES, SHIPPED_CONFIGSET
from embedder import cells as product_cells


def test_without_the_real_vectors_a_run_stops_naming_the_file_and_the_flag(tmp_path):
    absent = tmp_path / "vectors.npy"
    with pytest.raises(MissingRealVectors) as raised:
        calibrate(64, synthetic=False, real_path=absent)
    assert str(absent) in str(raised.value) and "--synthetic-spectrum" in str(raised.value)


def test_the_synthetic_spectrum_is_only_used_when_asked_and_says_so(tmp_path):
    real = tmp_path / "vectors.npy"
    np.save(real, np.random.default_rng(0).standard_normal((50, 64)).astype(np.float32))
    assert not calibrate(64, synthetic=False, real_path=real).synthetic
    synthetic = calibrate(64, synthetic=True, real_path=real)
    assert synthetic.synthetic and synthetic.source.startswith("SYNTHETIC")


def test_cells_go_on_the_shipped_schemas_1024_d_type_only(tmp_path):
    sample = np.random.default_rng(0).standard_normal((300, product_cells.CELL_DIMS)).astype(np.float32)
    trained = cells.Cells(product_cells.train(sample, 64), 0.0)
    target = cells.configset(SHIPPED_CONFIGSET, tmp_path / "visual", trained)
    types = {t.get("name"): t for t in ET.parse(target / "conf" / "schema.xml").getroot().iter("fieldType")}
    assert types["image_vector"].get("cells") == cells.CELLS_FILE
    assert types["image_vector_2048"].get("cells") is None
    assert product_cells.read(target / "conf" / cells.CELLS_FILE).shape == (64, product_cells.CELL_DIMS)
    assert types["image_vector"].get("sketchDimensions") is None  # the type's default
    twin = cells.configset(SHIPPED_CONFIGSET, tmp_path / "sketchtwin", trained, sketch_dimensions=TWIN_SKETCH)
    twin_types = {t.get("name"): t for t in ET.parse(twin / "conf" / "schema.xml").getroot().iter("fieldType")}
    assert twin_types["image_vector"].get("sketchDimensions") == str(TWIN_SKETCH)
    assert twin_types["image_vector"].get("cells") == cells.CELLS_FILE


def test_the_largest_default_cells_file_fits_a_zookeeper_node():
    assert product_cells.file_size(product_cells.cell_count(10**9)) < cells.ZOOKEEPER_NODE_LIMIT


def _query(config):
    return config.find("query")


def _select_defaults(config) -> dict[str, str]:
    handler = next(h for h in config.iter("requestHandler") if h.get("name") == "/select")
    return {e.get("name"): e.text for e in handler.find("lst")}


def test_the_settings_the_report_names_as_the_bench_configsets_own_are_so():
    shipped = ET.parse(SHIPPED_CONFIGSET / "conf" / "solrconfig.xml").getroot()
    bench = ET.parse(CONFIGSET / "conf" / "solrconfig.xml").getroot()
    assert _query(shipped).findtext("queryResultWindowSize") == "20"
    assert _query(shipped).find("queryResultCache") is not None
    assert _query(bench).find("queryResultWindowSize") is None and _query(bench).find("queryResultCache") is None
    assert {"sort", "echoParams", "q.op"} <= set(_select_defaults(shipped)) - set(_select_defaults(bench))
    assert shipped.find(".//searchComponent[@name='reservedDocuments']") is not None
    assert bench.find(".//searchComponent") is None
    assert "NRTCaching" in shipped.find("directoryFactory").get("class")
    assert bench.find("directoryFactory").get("class") == "solr.MMapDirectoryFactory"


def test_faiss_contenders_answer_exactly_and_within_the_filter(tmp_path):
    stored = Catalog(calibrate(64, synthetic=True), seed=3).write(3000, tmp_path / "catalog.npy")
    indexes = FaissIndexes(64)
    builds = indexes.grow(stored, 3000, hnsw_budget_s=600)
    assert {b["index"] for b in builds} == {"hnsw", "ivf"}
    assert next(b for b in builds if b["index"] == "ivf")["cells"] == 3000 // 39
    vectors = np.asarray(stored.vectors)
    query = vectors[7] + 0.01
    rows = np.flatnonzero(stored.facets["f10"] == 3)
    exact = np.argsort(((vectors - query) ** 2).sum(1))[:K].tolist()
    in_filter = rows[np.argsort(((vectors[rows] - query) ** 2).sum(1))[:K]].tolist()
    plain = Case(0, "unfiltered", query, None, math.inf, None)
    filtered = Case(0, "filter10", query, ("f10", "3"), math.inf, rows)
    by_name = {c.name: c for c in indexes.contenders()}
    assert set(by_name) >= {"faiss-flat-1t", "faiss-ivf-p5", "faiss-hnsw-ef64"}
    assert by_name["faiss-flat-1t"].search(plain) == exact
    assert by_name["faiss-flat-1t"].search(filtered) == in_filter
    for contender in by_name.values():
        assert set(contender.search(filtered)) <= set(rows.tolist())


def test_the_linear_modes_exact_answers_and_its_numpy_floor_agree_with_a_brute_force(tmp_path):
    stored = Catalog(calibrate(64, synthetic=True), seed=5).write(2000, tmp_path / "catalog.npy")
    queries = Catalog(calibrate(64, synthetic=True), seed=5).queries(4, within=2000)
    fitted = linear.models(stored, 2000, 4)
    todo = linear.cases(stored, 2000, queries, fitted)
    scan = next(
        c
        for c in linear.contenders("http://127.0.0.1:9/solr/none", CORES["visual"], stored, 2000)
        if c.name == "numpy-linear"
    )
    vectors = np.asarray(stored.vectors, dtype=np.float64)
    for case in todo["unfiltered"] + todo["filter10"]:
        values = vectors @ case.weights + case.bias
        if case.f10 is not None:
            values[stored.facets["f10"] != case.f10] = -np.inf
        expected = np.argsort(-values, kind="stable")[:K]
        np.testing.assert_allclose(case.top, values[expected])
        assert linear._recall(stored)(case, scan.search(case)) == 1.0
        assert linear._recall(stored)(case, expected[K // 2 :].tolist()) == 0.5


def test_the_bench_names_the_plugins_default_sketch():
    """The report's sketch figures say SHIPPED_SKETCH: ImageVectorField's default for the shipped
    1024-d type, which the shipped schema leaves to the type."""
    source = (
        Path(__file__).resolve().parents[1] / "solr-plugin/plugin/src/main/java/io/lookalike/solr/ImageVectorField.java"
    )
    divisor = int(re.search(r"DEFAULT_SKETCH_DIVISOR = (\d+);", source.read_text()).group(1))
    assert 1024 // divisor == SHIPPED_SKETCH
    assert TWIN_SKETCH != SHIPPED_SKETCH
