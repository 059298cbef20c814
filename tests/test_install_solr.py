"""docs/install-solr.md, run on a local SolrCloud whose nodes load the plugin through sharedLib:
Solr's own CLI uploads the project's configset, and the page's Schema API and Config API calls add
visual search to a collection made from a configset that knows nothing of Lookalike."""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests

from embedder import artifacts
from embedder.localsolr import CloudLayout, LocalSolr
from tests.helpers import REPO, local_cloud

PAGE = (REPO / "docs" / "install-solr.md").read_text()
SHOP_CONFIGSET = REPO / "tests" / "solr" / "shop" / "conf"
SUPPORTED = ("9.8.1", "9.9.0", "9.10.1")
DIMENSION = 1024
# Each `curl ... 'http://localhost:8983/solr/shop/<api>' --data-binary @- <<'EOF'` block: (api, body).
API_CALLS = [
    (api, json.loads(body))
    for api, body in re.findall(
        r"curl -X POST [^\n]*'http://localhost:8983/solr/shop/(schema|config)' --data-binary @- <<'EOF'\n(.*?)\nEOF\n",
        PAGE,
        re.DOTALL,
    )
]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with local_cloud(tmp_path_factory.mktemp("install-home"), CloudLayout(2, 1, 1)) as solr:
        yield solr


def solr_cli(install_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """Solr's own CLI, from the Maven jars the launcher runs Solr from, as bin/solr runs it: with
    the install directory, where the CLI would look for a configset given by name."""
    classpath = artifacts.LAUNCHER_CLASSPATH.read_text().strip()
    command = ["java", f"-Dsolr.install.dir={install_dir}", "-cp", classpath, "org.apache.solr.cli.SolrCLI", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def upconfig(cloud: LocalSolr, name: str, directory: Path) -> None:
    """The page's `bin/solr zk upconfig` line, with this name, directory and ZooKeeper."""
    line = next(line for line in PAGE.splitlines() if line.startswith("bin/solr zk upconfig "))
    words = shlex.split(line)[1:]
    values = {"--conf-name": name, "--conf-dir": str(directory), "--zk-host": cloud.zk_host}
    args = [values.get(words[i - 1], word) for i, word in enumerate(words)]
    assert args.count(name) == args.count(str(directory)) == args.count(cloud.zk_host) == 1, line
    install_dir = cloud.home / "solr-install"  # empty: the page's --conf-dir is a path
    install_dir.mkdir(exist_ok=True)
    result = solr_cli(install_dir, *args)
    assert result.returncode == 0, result.stdout + result.stderr


def admin(cloud: LocalSolr, **params) -> dict:
    response = requests.get(f"{cloud.url}/admin/collections", params={**params, "wt": "json"}, timeout=300)
    assert response.status_code == 200, response.text
    return response.json()


def create_collection(cloud: LocalSolr, name: str, configset: str) -> str:
    admin(cloud, action="CREATE", name=name, numShards=2, replicationFactor=1, **{"collection.configName": configset})
    return f"{cloud.url}/{name}"


def base64_vector(vector: np.ndarray) -> str:
    return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")


def post(url: str, body, **params) -> dict:
    response = requests.post(url, json=body, params={**params, "wt": "json"}, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def visual_search(collection_url: str, query: np.ndarray, rows: int) -> list[dict]:
    params = {
        "q": "{!visual f=image_vector v=$qv}",
        "qv": base64_vector(query),
        "fl": "id,score,d:sqdist(image_vector,$qv)",
        "rows": rows,
        "wt": "json",
    }
    response = requests.post(f"{collection_url}/select", data=params, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["response"]["docs"]


def assert_nearest_first(hits: list[dict], vectors: dict[str, np.ndarray], query: np.ndarray) -> None:
    """Hits in the order of a brute-force squared distance, with the same distances."""
    exact = {key: float(np.sum((vector.astype(np.float64) - query) ** 2)) for key, vector in vectors.items()}
    expected = sorted(exact, key=exact.get)[: len(hits)]
    assert [h["id"] for h in hits] == expected
    for hit in hits:
        assert hit["d"] == pytest.approx(exact[hit["id"]], rel=1e-5)
        # score=rank, the default: Float.MAX_VALUE's bits minus the distance's (docs/query-syntax.md)
        rank = np.int32(0x7F7FFFFF) - np.float32(hit["d"]).view(np.int32)
        assert np.float32(hit["score"]).view(np.int32) == rank, hit


def test_the_page_states_the_versions_the_jar_declares(cloud):
    with zipfile.ZipFile(artifacts.PLUGIN_JAR) as jar:
        manifest = dict(
            line.split(": ", 1) for line in jar.read("META-INF/MANIFEST.MF").decode().splitlines() if ": " in line
        )
    assert tuple(manifest["Solr-Versions"].split(", ")) == SUPPORTED
    assert manifest["Built-Against-Solr"] in SUPPORTED
    assert "**Solr 9.8.1, 9.9.0 and 9.10.1**" in PAGE
    assert "Solr 9.8.1 to 9.10.1" in (REPO / "README.md").read_text()


def test_the_nodes_load_the_jar_only_through_shared_lib(cloud):
    home = cloud.home / "solrcloud"
    properties = requests.get(f"{cloud.url}/admin/info/properties", params={"wt": "json"}, timeout=30).json()
    shared_lib = properties["system.properties"]["solr.sharedLib"]  # read by the nodes' solr.xml
    assert shared_lib == str(home / "lib") and (home / "lib" / artifacts.PLUGIN_JAR.name).is_file()
    assert "solr.install.dir" not in properties["system.properties"]  # so no <solr_install>/lib
    for node in ("node0", "node1"):  # nor a <solr_home>/lib of a node's own
        assert (home / node).is_dir() and not (home / node / "lib").exists(), node
    loaded = re.findall(r"Added (\d+) libs to classloader, from paths: \[(.*)\]", cloud.log_file.read_text())
    assert len(loaded) >= 2 and set(loaded) == {("1", shared_lib)}, loaded  # each node: the jar, from there


def test_the_warning_the_page_explains_is_logged_on_java_before_20(cloud):
    properties = requests.get(f"{cloud.url}/admin/info/properties", params={"wt": "json"}, timeout=30).json()
    java = int(properties["system.properties"]["java.specification.version"])
    if java >= 20:
        pytest.skip(f"Java {java}: Lucene's own vectorization may run here, so it does not warn")
    assert "--add-modules jdk.incubator.vector" in cloud.java_options
    warning = next(line for line in PAGE.splitlines() if line.startswith("WARNING: Java vector incubator module"))
    assert warning.replace("too old: 17", f"too old: {java}") in cloud.log_file.read_text()


def test_the_projects_configset_uploaded_with_solrs_cli_serves_visual_search(cloud):
    upconfig(cloud, "lookalike-uploaded", REPO / "solr-config" / "conf")
    url = create_collection(cloud, "uploaded", "lookalike-uploaded")
    rng = np.random.default_rng(7)
    vectors = {f"P{i:02d}": rng.standard_normal(DIMENSION).astype(np.float32) for i in range(20)}
    docs = [{"id": key, "image_vector": base64_vector(v)} for key, v in vectors.items()]
    post(f"{url}/update", docs, commit="true")
    query = rng.standard_normal(DIMENSION).astype(np.float32)
    assert_nearest_first(visual_search(url, query, rows=20), vectors, query)


def test_the_pages_api_calls_add_visual_search_to_a_collection_of_your_own(cloud):
    assert [api for api, _ in API_CALLS] == ["schema", "config", "config", "schema", "config"]
    upconfig(cloud, "shop", SHOP_CONFIGSET)
    url = create_collection(cloud, "shop", "shop")
    for api, body in API_CALLS:
        answer = post(f"{url}/{api}", body)
        assert not answer.get("errorMessages") and not answer.get("error"), answer

    rng = np.random.default_rng(11)
    vectors = {f"SKU{i:02d}": rng.standard_normal(DIMENSION).astype(np.float32) for i in range(30)}
    keys = list(vectors)
    as_base64 = [{"id": key, "title_t": "shirt", "image_vector": base64_vector(vectors[key])} for key in keys[:15]]
    post(f"{url}/update", as_base64)
    as_arrays = [{"id": key, "title_t": "shirt", "image_vector": vectors[key].tolist()} for key in keys[15:]]
    processor = re.search(r"/update\?processor=([\w-]+)", PAGE).group(1)
    post(f"{url}/update", as_arrays, processor=processor)
    sidecar_model = {"id": "_lookalike_pca_model", "kind": "model"}  # no vector, like the sidecar's
    post(f"{url}/update", [sidecar_model], commit="true")

    for seed in range(3):
        query = np.random.default_rng([11, seed]).standard_normal(DIMENSION).astype(np.float32)
        assert_nearest_first(visual_search(url, query, rows=10), vectors, query)

    everything = requests.get(f"{url}/select", params={"q": "*:*", "rows": 100, "wt": "json"}, timeout=60).json()
    assert everything["response"]["numFound"] == 30  # the kind=model document is hidden
    got = requests.get(f"{url}/get", params={"id": sidecar_model["id"], "wt": "json"}, timeout=60).json()
    assert got["doc"]["kind"] == "model"
    fields = requests.get(f"{url}/schema/fields/image_vector", params={"wt": "json"}, timeout=60).json()
    assert fields["field"]["type"] == "image_vector"  # declared, not guessed by the update chain
