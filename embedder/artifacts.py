"""The Solr side's files, wherever Lookalike runs from: the configset, the plugin and launcher jars,
and Solr's own jars that the launcher runs on.

- **A checkout** (``pip install -e .``, ``make``): Maven builds the jars from ``solr-plugin/``, and
  only when a jar is missing or older than its sources.
- **An installed wheel**: the configset, both jars and the Maven coordinates of Solr's jars were
  bundled into ``embedder/bundled/`` when the wheel was built (``setup.py`` calls ``bundle``). On the
  first start, each of Solr's jars is taken from the local Maven repository (``~/.m2/repository``)
  when it is there, else downloaded once from Maven Central into ``HOME/maven`` and checked
  against its published SHA-1. Maven artifacts are Solr's distribution channel here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from embedder.errors import LookalikeError

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent if (PACKAGE.parent / "solr-plugin" / "pom.xml").is_file() else None
BUNDLED = PACKAGE / "bundled"  # in a wheel: configset/, lib/*.jar, solr-artifacts.txt
_SOURCE = CHECKOUT or PACKAGE.parent
PLUGIN_PROJECT = _SOURCE / "solr-plugin"
PLUGIN_JAR = PLUGIN_PROJECT / "plugin" / "target" / "lookalike-solr-plugin-0.1.0.jar"
LAUNCHER_JAR = PLUGIN_PROJECT / "launcher" / "target" / "lookalike-solr-launcher-0.1.0.jar"
LAUNCHER_CLASSPATH = PLUGIN_PROJECT / "launcher" / "target" / "classpath.txt"
CONFIGSET = _SOURCE / "solr-config" if CHECKOUT else BUNDLED / "configset"
COORDINATES = "solr-artifacts.txt"
MAVEN_LOCAL = Path("~/.m2/repository").expanduser()
MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2"
JAVA_MINIMUM = 17


class LocalSolrError(LookalikeError):
    """The local Solr could not be built, started or stopped; the message says why."""


@dataclass(frozen=True)
class Artifacts:
    """What the launcher needs: its classpath (the launcher jar, then Solr's), the plugin jar it
    puts in the Solr home's ``lib/``, and the configset."""

    classpath: tuple[Path, ...]
    plugin_jar: Path
    configset: Path


def locate(home: Path) -> Artifacts:
    """The artifacts of this install, built or fetched first when needed."""
    check_java()
    if CHECKOUT is not None:
        build()
        jars = [Path(p) for p in LAUNCHER_CLASSPATH.read_text().strip().split(os.pathsep)]
        return Artifacts((LAUNCHER_JAR, *jars), PLUGIN_JAR, CONFIGSET)
    lib = BUNDLED / "lib"
    if not (lib / PLUGIN_JAR.name).is_file() or not (BUNDLED / COORDINATES).is_file():
        raise LocalSolrError(f"this install of Lookalike has no bundled Solr plugin in {BUNDLED}: reinstall the wheel")
    jars = [fetch(c, home / "maven") for c in (BUNDLED / COORDINATES).read_text().split()]
    return Artifacts((lib / LAUNCHER_JAR.name, *jars), lib / PLUGIN_JAR.name, CONFIGSET)


def check_java() -> None:
    java = shutil.which("java")
    if java is None:
        raise LocalSolrError(f"the local Solr needs a JDK {JAVA_MINIMUM} or newer: no `java` on PATH")
    banner = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)', banner)
    if match is None or int(match[1]) < JAVA_MINIMUM:
        found = banner.splitlines()[0] if banner else "no version"
        raise LocalSolrError(f"the local Solr needs a JDK {JAVA_MINIMUM} or newer, found {found}")


def build_needed() -> bool:
    """True when a jar is missing or older than any source file of the Maven project."""
    artifacts = [PLUGIN_JAR, LAUNCHER_JAR, LAUNCHER_CLASSPATH]
    if not all(a.exists() for a in artifacts):
        return True
    oldest = min(a.stat().st_mtime for a in artifacts)
    sources = [p for p in PLUGIN_PROJECT.rglob("*") if p.is_file() and "target" not in p.parts]
    return any(p.stat().st_mtime > oldest for p in sources)


def build(force: bool = False) -> None:
    """Builds the plugin and launcher jars with Maven (skipping tests: `make test` runs them)."""
    if not force and not build_needed():
        return
    if shutil.which("mvn") is None:
        raise LocalSolrError("building the Solr plugin from this checkout needs Maven: no `mvn` on PATH")
    log.info("building the Solr plugin and launcher with Maven (first time: downloads Solr)")
    command = ["mvn", "-B", "-q", "-f", str(PLUGIN_PROJECT / "pom.xml"), "-DskipTests", "package"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise LocalSolrError(f"Maven build failed ({' '.join(command)}):\n{result.stdout[-4000:]}")
    for artifact in (PLUGIN_JAR, LAUNCHER_JAR, LAUNCHER_CLASSPATH):
        artifact.touch()  # so build_needed() compares against this build


def bundle(target: Path) -> None:
    """Writes what a wheel carries into ``target``: the configset, both jars, and the Maven
    coordinates of the launcher's classpath (``group:artifact:version[:classifier]``)."""
    build()
    shutil.copytree(CONFIGSET, target / "configset", dirs_exist_ok=True)
    (target / "lib").mkdir(parents=True, exist_ok=True)
    for jar in (PLUGIN_JAR, LAUNCHER_JAR):
        shutil.copy2(jar, target / "lib" / jar.name)
    jars = [Path(p) for p in LAUNCHER_CLASSPATH.read_text().strip().split(os.pathsep)]
    repository = Path(os.path.commonpath(jars))  # every jar comes from one local Maven repository
    (target / COORDINATES).write_text("\n".join(coordinate(jar.relative_to(repository)) for jar in jars) + "\n")


def coordinate(relative: Path) -> str:
    """``org/apache/solr/solr-core/9.10.1/solr-core-9.10.1.jar`` -> ``org.apache.solr:solr-core:9.10.1``."""
    *group, artifact, version, name = relative.parts
    stem = f"{artifact}-{version}"
    if not group or not name.startswith(stem) or not name.endswith(".jar"):
        raise LocalSolrError(f"{relative}: not a jar of a Maven repository layout")
    classifier = name[len(stem) : -len(".jar")].lstrip("-")
    return ":".join([".".join(group), artifact, version] + ([classifier] if classifier else []))


def relative_path(coordinates: str) -> Path:
    group, artifact, version, *classifier = coordinates.split(":")
    name = f"{artifact}-{version}{''.join('-' + c for c in classifier)}.jar"
    return Path(*group.split("."), artifact, version, name)


def fetch(coordinates: str, cache: Path, repository: str = MAVEN_CENTRAL) -> Path:
    """One of Solr's jars: from the local Maven repository, the cache, or ``repository`` (Maven
    Central; another for the tests' loopback one)."""
    import requests  # not at import time: setup.py imports this module in a bare build environment

    relative = relative_path(coordinates)
    for place in (MAVEN_LOCAL / relative, cache / relative):
        if place.is_file():
            return place
    url = f"{repository.rstrip('/')}/{relative.as_posix()}"
    log.info("downloading %s", url)
    try:
        jar = requests.get(url, timeout=120)
        expected = requests.get(url + ".sha1", timeout=30)
        jar.raise_for_status()
        expected.raise_for_status()
    except requests.RequestException as error:
        raise LocalSolrError(f"cannot download Solr's jar {coordinates} from {repository}: {error}") from None
    published = (expected.text.split() or [""])[0].lower()  # "<hex>" or "<hex>  <file name>"
    if hashlib.sha1(jar.content).hexdigest() != published:
        raise LocalSolrError(f"{url}: the download does not match its published SHA-1; try again")
    (cache / relative).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=(cache / relative).parent, delete=False) as handle:
        handle.write(jar.content)
    os.replace(handle.name, cache / relative)
    return cache / relative
