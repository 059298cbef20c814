"""The local Solr: loads the plugin from its home's lib/, keeps data across restarts, and does
not rebuild on a second start."""

from __future__ import annotations

import base64
import os
import subprocess
import sys

import numpy as np
import pytest
import requests

from embedder import artifacts, contract
from tests.helpers import free_port


def test_status_reports_the_running_collection(local_solr, index):
    status = local_solr.status()
    assert status["running"] and status["collection"] == "products" and status["documents"] == 0


def test_the_plugin_is_loaded_from_the_solr_home_lib(local_solr):
    jars = list((local_solr.home / "solr" / "lib").glob("lookalike-solr-plugin-*.jar"))
    assert [j.name for j in jars] == [artifacts.PLUGIN_JAR.name]
    assert not (local_solr.home / "solr" / "configsets" / "lookalike" / "conf" / "lib").exists()


def test_vectors_arrive_as_json_arrays_or_base64_and_read_back_as_base64(local_solr, index):
    vector = np.linspace(-1, 1, contract.DEFAULT_DIMENSION).astype(np.float32)
    docs = [
        {"id": "ARRAY", "image_vector": vector.tolist()},
        {"id": "B64", "image_vector": contract.encode_vector(vector)},
    ]
    response = requests.post(f"{index.url}/update?commit=true", json=docs, timeout=30)
    assert response.status_code == 200, response.text
    stored = index.get(["ARRAY", "B64"], fl="id,image_vector")
    assert stored["ARRAY"]["image_vector"] == stored["B64"]["image_vector"] == contract.encode_vector(vector)


def test_bad_vectors_get_a_400_naming_the_field_and_problem(local_solr, index):
    dim = contract.DEFAULT_DIMENSION
    with_nan = np.zeros(dim, dtype="<f4")
    with_nan[7] = np.nan
    cases = {
        "wrong length": [0.5] * (dim - 1),
        "NaN": base64.b64encode(with_nan.tobytes()).decode(),
        "not a number": ["x"] * dim,
        "malformed base64": "not*base64!",
    }
    for value in cases.values():
        response = requests.post(f"{index.url}/update", json=[{"id": "BAD", "image_vector": value}], timeout=30)
        assert response.status_code == 400, response.text
        message = response.json()["error"]["msg"]
        assert "image_vector" in message, message
    assert index.get(["BAD"]) == {}


def test_data_survives_a_restart_and_nothing_is_rebuilt(local_solr, index):
    index.add([{"id": "KEEP", "title": "kept across restarts"}])
    index.commit()
    assert not artifacts.build_needed()
    jar_time = artifacts.PLUGIN_JAR.stat().st_mtime
    local_solr.stop()
    assert local_solr.status()["running"] is False
    local_solr.start()
    assert artifacts.PLUGIN_JAR.stat().st_mtime == jar_time
    assert index.get(["KEEP"])["KEEP"]["title"] == "kept across restarts"


def test_a_port_taken_by_another_process_is_refused_not_pinged(local_solr, tmp_path):
    from embedder.localsolr import LocalSolr, LocalSolrError

    with pytest.raises(LocalSolrError, match=f"port {local_solr.port} is in use"):
        LocalSolr(tmp_path / "other-home", port=local_solr.port).start()


def test_solr_start_runs_the_jvm_with_the_options_of_the_environment(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKALIKE_")}
    env.update(
        LOOKALIKE_HOME=str(tmp_path),
        LOOKALIKE_SOLR_PORT=str(free_port()),
        LOOKALIKE_SOLR_JAVA_OPTS="-Xmx512m --add-modules jdk.incubator.vector -Dlookalike.probe=given",
    )
    cli = [sys.executable, "-m", "embedder.cli", "solr"]
    started = subprocess.run([*cli, "start"], env=env, capture_output=True, text=True, timeout=600)
    try:
        assert started.returncode == 0, started.stderr
        url = f"http://localhost:{env['LOOKALIKE_SOLR_PORT']}/solr/admin/info/properties"
        properties = requests.get(url, params={"wt": "json"}, timeout=30).json()["system.properties"]
        assert properties["lookalike.probe"] == "given"
    finally:
        subprocess.run([*cli, "stop"], env=env, capture_output=True, text=True, timeout=120)
