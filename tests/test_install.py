"""Installed as users install it: a wheel built from the checkout, installed without the `embed`
extra into a fresh virtual environment, works outside the repository; the sdist can run the tests.

No network: the fresh environment borrows this environment's packages except TensorFlow and
Keras (a directory of links), and Solr's jars come from the local Maven repository that the
plugin build filled."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests

from embedder import __version__, artifacts
from tests.helpers import free_port, write_rows

REPO = Path(__file__).resolve().parent.parent
EMBED_ONLY = ("tensorflow", "tensorboard", "keras", "tf_keras", "lookalike", "__editable__")  # and this package


def tracked_copy(target: Path) -> Path:
    """The checkout's tracked files, as a fresh clone has them, and the built jars (so that no
    Maven runs here); modification times are kept, so the jars stay newer than their sources."""
    if not in_git_checkout():
        pytest.skip("builds from the checkout's tracked files (git ls-files): this tree is no git checkout (an sdist?)")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    built = [artifacts.PLUGIN_JAR, artifacts.LAUNCHER_JAR, artifacts.LAUNCHER_CLASSPATH]
    for path in [REPO / name for name in listed.decode().split("\0") if name] + built:
        if path.is_file():
            (target / path.relative_to(REPO)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / path.relative_to(REPO))
    return target


def in_git_checkout() -> bool:
    """True when this tree is the top of a git work tree (an sdist unpacked inside another
    repository is not)."""
    if shutil.which("git") is None:
        return False
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=REPO, capture_output=True, text=True)
    return top.returncode == 0 and Path(top.stdout.strip()).resolve() == REPO


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    tree = tracked_copy(tmp_path_factory.mktemp("clone"))
    out = tmp_path_factory.mktemp("dist")
    # PEP 517's hooks, as pip calls them (build_sdist leaves sys.argv changed: read it first).
    hooks = "import sys; from setuptools import build_meta as b; o = sys.argv[1]; b.build_sdist(o); b.build_wheel(o)"
    subprocess.run([sys.executable, "-c", hooks, str(out)], cwd=tree, check=True, capture_output=True, timeout=600)
    return next(out.glob("*.whl")), next(out.glob("*.tar.gz"))


@pytest.fixture(scope="module")
def fresh(built, tmp_path_factory) -> Path:
    """A new virtual environment with the wheel and every base dependency, but no TensorFlow."""
    root = tmp_path_factory.mktemp("fresh")
    venv.create(root / "venv", with_pip=True)
    borrowed = root / "borrowed"
    borrowed.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().startswith(EMBED_ONLY) and entry.suffix != ".pth":
            (borrowed / entry.name).symlink_to(entry)
    site = next((root / "venv" / "lib").glob("python3*/site-packages"))
    (site / "borrowed.pth").write_text(f"{borrowed}\n")
    pip = [str(root / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    subprocess.run([*pip, str(built[0])], check=True, capture_output=True, timeout=300)
    return root


def run(fresh: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    command = [str(fresh / "venv" / "bin" / "lookalike"), *args]
    return subprocess.run(command, cwd=fresh, capture_output=True, text=True, timeout=300, env=env)


def test_the_wheel_carries_the_solr_side_and_the_sdist_the_tests(built):
    wheel, sdist = built
    names = zipfile.ZipFile(wheel).namelist()
    assert "embedder/bundled/configset/conf/schema.xml" in names and "embedder/py.typed" in names
    assert f"embedder/bundled/lib/{artifacts.PLUGIN_JAR.name}" in names
    assert f"embedder/bundled/lib/{artifacts.LAUNCHER_JAR.name}" in names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License: Apache-2.0" in metadata and 'extra == "embed"' in metadata
    base = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert not any("tensorflow" in line or "keras" in line for line in base), base
    with tarfile.open(sdist) as archive:
        members = {Path(*Path(n).parts[1:]).as_posix() for n in archive.getnames()}
    assert {"tests/conftest.py", "tests/helpers.py", "LICENSE", "solr-plugin/pom.xml", "setup.py"} <= members
    assert "solr-config/conf/schema.xml" in members and not any("/target/" in m for m in members)
    # every tracked file but git's and CI's own: the tests read the bench, docker/ and compose files
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    tracked = {name for name in listed.decode().split("\0") if name and not name.startswith((".ci/", ".git"))}
    assert tracked - members == set(), "tracked files the sdist lacks (MANIFEST.in)"
    assert not any(m.startswith("bench/data/") for m in members)


def test_an_installed_wheel_without_tensorflow_runs_solr_and_all_but_embedding(fresh, tmp_path):
    assert run(fresh, "--version").stdout.strip() == f"lookalike {__version__}"
    python = str(fresh / "venv" / "bin" / "python")
    probe = subprocess.run([python, "-c", "import tensorflow"], capture_output=True, timeout=60)
    assert probe.returncode != 0, "the fresh environment must not have TensorFlow"

    mine = {k: v for k, v in os.environ.items() if not k.startswith("LOOKALIKE_")}
    env = {**mine, "XDG_DATA_HOME": str(tmp_path / "data")}  # where the default home is
    port = str(free_port())
    started = run(fresh, "solr", "start", "--port", port, env=env)
    try:
        assert started.returncode == 0, started.stderr
        home = tmp_path / "data" / "lookalike"
        assert (home / "solr" / "lib" / artifacts.PLUGIN_JAR.name).is_file(), "state in the per-user directory"
        site = next((fresh / "venv" / "lib").glob("python3*/site-packages"))
        assert not (site / "embedder" / ".lookalike").exists() and not (site / "solr-plugin").exists()

        rows = [{"id": f"W{i:02d}", "title": f"product {i}"} for i in range(30)]
        write_rows(tmp_path / "catalog.csv", rows)
        vectors = np.random.default_rng(5).gamma(0.5, 1.0, size=(30, 2048)).astype(np.float32)
        np.save(tmp_path / "vectors.npy", vectors)
        solr_url = f"http://localhost:{port}/solr"
        solr = ["--solr", solr_url]
        catalog, npy = str(tmp_path / "catalog.csv"), str(tmp_path / "vectors.npy")
        own = tmp_path / "own-home"  # LOOKALIKE_HOME over the per-user directory: the report lands there
        indexed = run(
            fresh, *solr, "index", catalog, "--vectors", npy, "--no-progress", env={**env, "LOOKALIKE_HOME": str(own)}
        )
        assert indexed.returncode == 0 and "added 30" in indexed.stdout, indexed.stderr
        assert len(list((own / "reports").glob("index-*.jsonl"))) == 1 and not (home / "reports").exists()
        found = run(fresh, *solr, "search", "--id", "W03", "-k", "4", "--json", env=env)
        assert found.returncode == 0, found.stderr
        hits = [hit["id"] for hit in json.loads(found.stdout)]
        # The default space: L2-normalized, then a PCA (which keeps every distance of 30 centred
        # points), then L2-normalized again.
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        space = unit - unit.mean(axis=0)
        space /= np.linalg.norm(space, axis=1, keepdims=True)
        distances = ((space - space[3]) ** 2).sum(axis=1)
        expected = [f"W{i:02d}" for i in np.argsort(distances, kind="stable") if i != 3][:4]
        assert hits == expected

        (tmp_path / "x.jpg").write_bytes(b"\xff\xd8")
        refused = run(fresh, *solr, "search", "--image", str(tmp_path / "x.jpg"), env=env)
        assert refused.returncode == 8 and "install the embed extra" in refused.stderr, refused.stderr
        assert refused.stderr.count("\n") == 1
        write_rows(tmp_path / "images.csv", [{"id": "V01", "title": "to embed", "image": str(tmp_path / "x.jpg")}])
        unembedded = run(fresh, *solr, "index", str(tmp_path / "images.csv"), "--no-progress", env=env)
        assert unembedded.returncode == 8 and unembedded.stderr.count("\n") == 1, unembedded.stderr
        assert "install the embed extra" in unembedded.stderr and "--vectors" in unembedded.stderr
        for command in (["tag", "style=plain", "--example", "W01", "-k", "2", "--yes"], ["cluster", "-k", "3"]):
            done = run(fresh, *solr, *command, env=env)
            assert done.returncode == 0, (command, done.stderr)  # no TensorFlow needed

        http = str(free_port())  # the service: embedding answers 503 with the reason, the rest works
        serve = [str(fresh / "venv" / "bin" / "lookalike"), *solr, "serve", "--port", http]
        log = tmp_path / "serve.log"
        with open(log, "wb") as out:
            service = subprocess.Popen(serve, cwd=fresh, env=env, stdout=subprocess.DEVNULL, stderr=out)
        try:
            url = f"http://127.0.0.1:{http}"
            wait_until_up(f"{url}/health/live", service, log)
            by_id = requests.post(f"{url}/search", json={"id": "W03", "k": 4}, timeout=60)
            assert [r["id"] for r in by_id.json()["results"]] == expected
            image = {"image": ("x.jpg", (tmp_path / "x.jpg").read_bytes(), "image/jpeg")}
            no_model = requests.post(f"{url}/search", files=image, timeout=60)
            assert no_model.status_code == 503 and "install the embed extra" in no_model.json()["error"]
            no_embedding = requests.post(f"{url}/embed", files=image, timeout=60)
            assert no_embedding.status_code == 503 and no_embedding.json() == no_model.json()
            assert "\n" not in no_embedding.json()["error"]

            stored = requests.get(f"{solr_url}/products/get", params={"id": "W03", "fl": "image_vector"}, timeout=30)
            vector = stored.json()["doc"]["image_vector"]  # base64, as the service also takes it
            by_vector = requests.post(f"{url}/search", json={"vector": vector, "k": 5}, timeout=60).json()
            assert [r["id"] for r in by_vector["results"]] == ["W03", *expected]
            keywords = requests.post(f"{url}/search", json={"text": "7"}, timeout=60).json()
            assert [r["id"] for r in keywords["results"]] == ["W07"] and keywords["total"] == 1
            liked = requests.post(f"{url}/recommend", json={"like": ["W03"], "k": 4}, timeout=60).json()
            assert [r["id"] for r in liked["results"]] == expected
            start = requests.post(f"{url}/navigate/start", json={"size": 3}, timeout=60).json()
            chosen = {"session": start["session"], "choose": start["gallery"][0]["id"]}
            step = requests.post(f"{url}/navigate/step", json=chosen, timeout=60).json()
            shown = [g["id"] for g in start["gallery"] + step["gallery"]]
            assert len(start["gallery"]) == 3 and step["gallery"] and len(shown) == len(set(shown))
        finally:
            service.terminate()
            service.wait(timeout=60)
    finally:
        run(fresh, "solr", "stop", "--port", port, env=env)


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    """Polls ``url`` until it answers (bounded: 120 s), unless the process ended first."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.3)
    raise AssertionError(
        f"the service did not come up: {process.stderr.read().decode()[-2000:] if process.stderr else ''}"
    )


def test_the_sdist_runs_its_own_tests(built, tmp_path):
    with tarfile.open(built[1]) as archive:
        archive.extractall(tmp_path, filter="data")
    tree = next(tmp_path.glob("lookalike-*"))
    # The contract suite reads the configset and the golden vector examples and starts a Solr built
    # from the sdist's own plugin sources; the bench set-up and the deployment files need no Solr;
    # the install suite needs a git checkout, which an sdist is not, and says so.
    suites = ["test_contract.py", "test_bench_setup.py", "test_deployment.py", "test_install.py"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *(f"tests/{s}" for s in suites)],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0 and " passed" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    assert "this tree is no git checkout" in done.stdout, done.stdout[-2000:]
    probe = [sys.executable, "-c", "import embedder; print(embedder.__file__)"]
    imported = subprocess.run(probe, cwd=tree, capture_output=True, text=True, timeout=60).stdout.strip()
    assert imported.startswith(str(tree)), imported  # the sdist's own package was tested, not the checkout's
