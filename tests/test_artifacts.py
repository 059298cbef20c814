"""The Solr side's files outside a checkout: Solr's jars downloaded from a Maven repository and
checked against their published SHA-1 (a loopback HTTP server plays the repository), and the one
line said when a JDK, Maven or the wheel's bundle is missing."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import pytest

from embedder import artifacts
from embedder.artifacts import LocalSolrError
from tests.helpers import REPO, free_port

COORDINATES = "org.example.lookalike-test:tiny:1.0"  # in no real Maven repository
JAR = b"PK\x05\x06" + b"\0" * 18  # an empty zip: a jar is one


@pytest.fixture
def repository(tmp_path):
    """A Maven repository over HTTP on 127.0.0.1 serving ``tiny-1.0.jar`` and its ``.sha1``;
    yields its URL, the jar's directory (to change the files) and the paths it was asked for."""
    root = tmp_path / "repository"
    directory = root / artifacts.relative_path(COORDINATES).parent
    directory.mkdir(parents=True)
    (directory / "tiny-1.0.jar").write_bytes(JAR)
    (directory / "tiny-1.0.jar.sha1").write_text(hashlib.sha1(JAR).hexdigest() + "\n")
    asked: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            asked.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", directory, asked
    server.shutdown()
    server.server_close()


def files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


def test_a_jar_is_downloaded_once_checked_and_then_taken_from_the_cache(repository, tmp_path):
    url, _, asked = repository
    cache = tmp_path / "maven"
    jar = artifacts.fetch(COORDINATES, cache, url)
    assert jar == cache / "org/example/lookalike-test/tiny/1.0/tiny-1.0.jar" and jar.read_bytes() == JAR
    assert sorted(asked) == ["/" + str(artifacts.relative_path(COORDINATES)) + s for s in ("", ".sha1")]
    assert artifacts.fetch(COORDINATES, cache, url) == jar and len(asked) == 2  # no second download
    assert files_under(cache) == [jar]


@pytest.mark.parametrize("published", [hashlib.sha1(b"another jar").hexdigest(), ""], ids=["wrong", "empty"])
def test_a_jar_that_does_not_match_its_sha1_is_refused_in_one_line_and_not_kept(repository, tmp_path, published):
    url, directory, _ = repository
    (directory / "tiny-1.0.jar.sha1").write_text(published)
    with pytest.raises(LocalSolrError) as refused:
        artifacts.fetch(COORDINATES, tmp_path / "maven", url)
    message = str(refused.value)
    assert "does not match its published SHA-1" in message and "tiny-1.0.jar" in message and "\n" not in message
    assert files_under(tmp_path / "maven") == []  # no partial or temporary file left behind


def test_a_jar_the_repository_lacks_is_named_in_one_line(repository, tmp_path):
    url, directory, _ = repository
    (directory / "tiny-1.0.jar").unlink()
    with pytest.raises(LocalSolrError) as missing:
        artifacts.fetch(COORDINATES, tmp_path / "maven", url)
    message = str(missing.value)
    assert message.startswith(f"cannot download Solr's jar {COORDINATES} from {url}") and "404" in message
    assert "\n" not in message and not (tmp_path / "maven").exists()


def fake_java(directory: Path, banner: str) -> None:
    """A `java` that prints ``banner`` on stderr, as `java -version` does."""
    directory.mkdir(exist_ok=True)
    (directory / "java").write_text(f"#!/bin/sh\necho '{banner}' >&2\n")
    (directory / "java").chmod(0o755)


def test_a_missing_or_old_jdk_is_named_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    (tmp_path / "bin").mkdir()
    with pytest.raises(LocalSolrError, match=r"^the local Solr needs a JDK 17 or newer: no `java` on PATH$"):
        artifacts.check_java()
    fake_java(tmp_path / "bin", 'openjdk version "11.0.22" 2024-01-16')
    with pytest.raises(LocalSolrError) as old:
        artifacts.check_java()
    assert str(old.value) == 'the local Solr needs a JDK 17 or newer, found openjdk version "11.0.22" 2024-01-16'
    fake_java(tmp_path / "bin", 'openjdk version "21.0.2" 2024-01-16')
    artifacts.check_java()  # new enough


def test_a_missing_maven_is_named_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LocalSolrError) as missing:
        artifacts.build(force=True)
    assert str(missing.value) == "building the Solr plugin from this checkout needs Maven: no `mvn` on PATH"


def lookalike_from(tree: Path, *args: str, path: str) -> subprocess.CompletedProcess:
    """The CLI of the package copied into ``tree`` (so not a checkout), with PATH ``path``."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LOOKALIKE_")}, "PATH": path}
    command = [sys.executable, "-m", "embedder.cli", *args]
    return subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=120)


def test_the_cli_says_in_one_line_that_the_jdk_or_the_wheels_bundle_is_missing(tmp_path):
    tree = tmp_path / "installed"  # the package alone, as a wheel without its bundle would hold it
    shutil.copytree(REPO / "embedder", tree / "embedder", ignore=shutil.ignore_patterns("__pycache__", "bundled"))
    start = ["--home", str(tmp_path / "home"), "solr", "start", "--port", str(free_port())]
    (tmp_path / "bin").mkdir()
    no_java = lookalike_from(tree, *start, path=str(tmp_path / "bin"))
    assert no_java.returncode == LocalSolrError.exit_code
    assert no_java.stderr == "lookalike: error: the local Solr needs a JDK 17 or newer: no `java` on PATH\n"
    java = shutil.which("java")
    if java is None:
        pytest.skip("the rest needs a JDK on PATH (scripts/setup-system.sh installs one)")
    (tmp_path / "bin" / "java").symlink_to(java)
    no_bundle = lookalike_from(tree, *start, path=str(tmp_path / "bin"))
    bundled = tree / "embedder" / "bundled"
    assert no_bundle.returncode == LocalSolrError.exit_code
    assert no_bundle.stderr == (
        f"lookalike: error: this install of Lookalike has no bundled Solr plugin in {bundled}: reinstall the wheel\n"
    )
