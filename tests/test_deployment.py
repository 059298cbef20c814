"""The production deployment (docker-compose.yml, Dockerfile, docker/, .dockerignore).

No Docker engine is needed: a compose validator checks the file offline
(`docker-compose -f docker-compose.yml config -q`, Debian's docker-compose package, installed by
scripts/setup-system.sh), and the structural promises of docs/deployment.md are checked by reading
the YAML and the Dockerfiles against the repository's build layout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from embedder import artifacts
from embedder.config import ENVIRONMENT
from embedder.service.openapi import SPEC

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
EMBEDDER_DOCKERFILE = REPO / "Dockerfile"
SOLR_DOCKERFILE = REPO / "docker" / "solr.Dockerfile"
INIT_SCRIPT = REPO / "docker" / "solr-init.sh"
LOCK = REPO / "docker" / "embedder-constraints.txt"
DEPLOYMENT_PAGE = REPO / "docs" / "deployment.md"
PROFILES = ("cloud", "single", "index")

SOLR_NODES = ("solr1", "solr2", "solr-single")
INIT_SERVICES = ("solr-init", "solr-single-init")
ZOOKEEPERS = ("zookeeper1", "zookeeper2", "zookeeper3")
ENSEMBLE = "zookeeper1:2181,zookeeper2:2181,zookeeper3:2181"
LONG_RUNNING = (*ZOOKEEPERS, *SOLR_NODES, "embedder")
ONE_OFF = (*INIT_SERVICES, "indexer")


# -- helpers ---------------------------------------------------------------------------------


def compose_cli() -> list[str] | None:
    """Debian's docker-compose (v1), else the compose plugin of the docker client (v2)."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    return None


def run_compose(cli: list[str], profiles: tuple[str, ...], *args: str) -> subprocess.CompletedProcess:
    # The file's own defaults, not whatever this shell exports.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "LOOKALIKE_", "SOLR_"))}
    flags = [flag for p in profiles for flag in ("--profile", p)]
    return subprocess.run(
        [*cli, *flags, "-f", str(COMPOSE_FILE), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def cli() -> list[str]:
    found = compose_cli()
    if found is None:
        pytest.skip(
            "docker-compose is not installed: scripts/setup-system.sh installs it "
            "(Debian package docker-compose; `make test` runs that script)"
        )
    return found


@pytest.fixture(scope="module")
def compose() -> dict:
    """docker-compose.yml as YAML (anchors and merge keys resolved; ${...} left as written)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def volume_mounts(service: dict) -> dict[str, str]:
    """Container path -> source of each short-syntax volume."""
    mounts = {}
    for entry in service.get("volumes", []):
        source, target = re.split(r":(?![^{]*\})", entry)[:2]  # no split inside ${VAR:-x}
        mounts[target] = source
    return mounts


def instructions(dockerfile: Path, name: str) -> list[str]:
    """Every instruction of one kind (COPY, RUN, ...), continuation lines joined."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    return [
        line.strip()[len(name) :].strip() for line in text.splitlines() if line.strip().upper().startswith(name + " ")
    ]


def final_stage(dockerfile: Path) -> str:
    return re.split(r"(?m)^FROM ", dockerfile.read_text())[-1]


def dockerignore_excludes(path: str) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or a parent decides."""
    excluded = False
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        regex = _glob_regex(pattern.lstrip("!").strip("/"))
        parts = path.split("/")
        if any(regex.fullmatch("/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


def _glob_regex(pattern: str) -> re.Pattern:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


# -- the validator ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "profiles",
    [(), ("cloud",), ("single",), ("index",), PROFILES],
    ids=["no-profile", "cloud", "single", "index", "all-profiles"],
)
def test_compose_validator_accepts_the_file(cli, profiles):
    result = run_compose(cli, profiles, "config", "-q")
    assert result.returncode == 0, f"{' '.join(cli)} config -q rejected docker-compose.yml:\n{result.stderr}"


def test_validator_resolves_every_service_with_its_defaults(cli, services):
    result = run_compose(cli, PROFILES, "config")
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    assert set(resolved) == set(services)
    assert "/catalog/catalog.csv" in resolved["indexer"]["command"]
    assert resolved["embedder"]["environment"]["LOOKALIKE_SOLR_URL"] == "http://solr:8983/solr"
    for name in SOLR_NODES:
        assert "--add-modules jdk.incubator.vector" in resolved[name]["environment"]["SOLR_OPTS"]


# -- services and profiles -------------------------------------------------------------------


def test_every_service_is_present(services):
    assert set(services) == {*LONG_RUNNING, *ONE_OFF}


def test_cloud_is_a_zookeeper_ensemble_and_two_solr_nodes_and_single_is_one_node(compose, services):
    servers = []
    for number, name in enumerate(ZOOKEEPERS, start=1):
        zookeeper = services[name]
        assert zookeeper["image"].startswith("zookeeper:") and zookeeper["profiles"] == ["cloud"]
        env = environment(zookeeper)
        assert env["ZOO_MY_ID"] == str(number)
        servers.append(env["ZOO_SERVERS"].split())
        # each its own data, so the three are three copies, not one
        assert volume_mounts(zookeeper) == {"/data": f"{name}-data", "/datalog": f"{name}-datalog"}
        assert {f"{name}-data", f"{name}-datalog"} <= set(compose["volumes"])
        assert "zookeeper" in zookeeper["networks"]["default"]["aliases"]  # LOOKALIKE_SOLR_URL=zookeeper:2181
    # every server knows the same ensemble: server.N=host:peer-port:election-port;client-port
    assert servers == [[f"server.{i}={name}:2888:3888;2181" for i, name in enumerate(ZOOKEEPERS, start=1)]] * 3
    for name in ("solr1", "solr2", "solr-init"):
        assert services[name]["profiles"] == ["cloud"], name
        assert environment(services[name])["ZK_HOST"] == ENSEMBLE, name
    for name in ("solr-single", "solr-single-init"):
        assert services[name]["profiles"] == ["single"], name
    for name in ("solr1", "solr2"):
        assert environment(services[name])["SOLR_HOST"] == name  # what other nodes and clients resolve
        assert {z: c["condition"] for z, c in services[name]["depends_on"].items()} == dict.fromkeys(
            ZOOKEEPERS, "service_healthy"
        )
    # The single node runs SolrCloud with its embedded ZooKeeper, so aliases (model upgrades) work.
    assert "-c" in services["solr-single"]["command"]
    assert environment(services["solr-single-init"])["ZK_HOST"] == "solr-single:9983"


def test_every_profile_gives_the_clients_a_solr_named_solr(services):
    for name in SOLR_NODES:
        assert "solr" in services[name]["networks"]["default"]["aliases"], name
    for name in ("embedder", "indexer"):
        assert "://solr:8983/solr" in environment(services[name])["LOOKALIKE_SOLR_URL"]


def test_long_running_services_have_health_checks(services):
    for name in LONG_RUNNING:
        service = services[name]
        assert service.get("restart") == "unless-stopped", name
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"
    for name in ZOOKEEPERS:
        command = " ".join(services[name]["healthcheck"]["test"])
        # healthy once in a quorum, which `srvr` shows and `ruok` does not
        assert "echo srvr" in command and "Mode: (leader|follower)" in command, name
        assert "srvr" in environment(services[name])["ZOO_4LW_COMMANDS_WHITELIST"].split(",")
    for name in SOLR_NODES:
        command = " ".join(services[name]["healthcheck"]["test"])
        assert re.search(r"localhost:8983/solr/admin/(info/(health|system)|ping)", command), name
    # The sidecar's is readiness (Solr and the collection up), an endpoint the service declares,
    # and the page's table says the same.
    command = " ".join(services["embedder"]["healthcheck"]["test"])
    probed = re.findall(r"http://127\.0\.0\.1:8000(/[\w/]*)", command)
    assert probed == ["/health/ready"] and probed[0] in SPEC["paths"], command
    assert services["embedder"]["command"][services["embedder"]["command"].index("--port") + 1] == "8000"
    row = next(line for line in DEPLOYMENT_PAGE.read_text().splitlines() if line.startswith("| `embedder` |"))
    assert row.split("|")[-2].strip().startswith("`GET /health/ready`"), row


def test_one_off_services_do_not_restart(services):
    for name in ONE_OFF:
        assert services[name]["restart"] == "no", name
        assert "healthcheck" not in services[name], name


def test_solr_admin_is_published_on_loopback_only(services):
    for name in SOLR_NODES:
        for port in services[name].get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes Solr beyond this host: {port}"


# -- Solr: the official image, the plugin through sharedLib, the Vector API ------------------


def test_solr_image_is_built_from_the_official_image_and_maven(services):
    for name in (*SOLR_NODES, *INIT_SERVICES):
        build = services[name]["build"]
        assert build["dockerfile"] == "docker/solr.Dockerfile" and build["context"] == "."
        assert build["args"]["SOLR_IMAGE"] == "solr:9.10"
    text = SOLR_DOCKERFILE.read_text()
    assert re.search(r"(?m)^ARG SOLR_IMAGE=solr:9\.10$", text)
    assert re.search(r"(?m)^ARG MAVEN_IMAGE=maven:3-eclipse-temurin-17$", text)
    assert re.search(r"(?m)^FROM \$\{MAVEN_IMAGE\} AS plugin$", text)
    assert re.search(r"(?m)^FROM \$\{SOLR_IMAGE\}$", text)


def test_the_jar_is_in_the_install_dirs_lib_and_solr_opts_only_add_the_vector_module(services):
    jar = artifacts.PLUGIN_JAR.name
    copies = [c for c in instructions(SOLR_DOCKERFILE, "COPY") if c.startswith("--from=plugin") and jar in c]
    # <solr_install>/lib, which Solr loads by itself (docs/install-solr.md): nothing to configure
    assert [c.split()[-1] for c in copies] == ["/opt/solr/lib/"]
    for name in SOLR_NODES:
        opts = environment(services[name])["SOLR_OPTS"].split()
        assert opts == ["--add-modules", "jdk.incubator.vector", "${SOLR_EXTRA_OPTS:-}"], name
    # The image's own default (plain `docker run`) says the same.
    env_line = next(i for i in instructions(SOLR_DOCKERFILE, "ENV") if i.startswith("SOLR_OPTS="))
    assert env_line == 'SOLR_OPTS="--add-modules jdk.incubator.vector"'
    assert "sharedLib" not in SOLR_DOCKERFILE.read_text() + COMPOSE_FILE.read_text()


def test_configset_does_not_rely_on_lib_directives():
    solrconfig = ET.parse(REPO / "solr-config" / "conf" / "solrconfig.xml").getroot()
    assert solrconfig.findall(".//lib") == [], "solrconfig.xml must not load jars with <lib>"


def test_plugin_jar_path_is_the_maven_build_output():
    pom = ET.parse(REPO / "solr-plugin" / "plugin" / "pom.xml").getroot()
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    artifact = pom.find("m:artifactId", ns).text
    version = (pom.find("m:version", ns) or pom.find("m:parent/m:version", ns)).text
    built = f"solr-plugin/plugin/target/{artifact}-{version}.jar"
    assert REPO / built == artifacts.PLUGIN_JAR  # the local Solr uses the same jar
    assert any(built in c for c in instructions(SOLR_DOCKERFILE, "COPY")), built
    assert any(f"{built}" in r for r in instructions(SOLR_DOCKERFILE, "RUN")), "the build checks its jar"
    assert any("-pl plugin" in r and "package" in r for r in instructions(SOLR_DOCKERFILE, "RUN"))


def test_configset_and_init_script_are_copied_from_the_repository():
    for copy in instructions(SOLR_DOCKERFILE, "COPY"):
        if copy.startswith("--from="):
            continue
        *sources, _target = [word for word in copy.split() if not word.startswith("--")]
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: not in the repository"
            assert not dockerignore_excludes(source), f"COPY {source}: excluded by .dockerignore"
    assert (REPO / "solr-config" / "conf" / "schema.xml").is_file()
    assert any(
        c.split()[-2:] == ["solr-config/conf", "${LOOKALIKE_SOLR_DIR}/configset/conf"]
        for c in instructions(SOLR_DOCKERFILE, "COPY")
    )


def test_init_services_create_the_collection_if_missing(services):
    assert os.access(INIT_SCRIPT, os.X_OK)
    script = INIT_SCRIPT.read_text()
    assert "zk upconfig" in script and "action=CREATE" in script
    assert "action=CLUSTERSTATUS&collection=" in script and "action=LISTALIASES" in script
    assert "action=CREATEALIAS" in script
    for name, shards, replicas in (("solr-init", "2", "2"), ("solr-single-init", "1", "1")):
        service = services[name]
        assert service["command"] == ["/opt/solr/lookalike/bin/solr-init.sh"]
        env = environment(service)
        # A versioned collection behind the alias that every client uses.
        assert env["COLLECTION"] == "${LOOKALIKE_COLLECTION:-products}_v1"
        assert env["ALIAS"] == "${LOOKALIKE_COLLECTION:-products}"
        assert env["ALIAS"] == environment(services["embedder"])["LOOKALIKE_COLLECTION"]
        assert env["NUM_SHARDS"] in (shards, f"${{SOLR_SHARDS:-{shards}}}")
        assert env["REPLICATION_FACTOR"] in (replicas, f"${{SOLR_REPLICAS:-{replicas}}}")
        for node, condition in service["depends_on"].items():
            assert node in SOLR_NODES and condition["condition"] == "service_healthy"
    assert any(
        c.endswith("${LOOKALIKE_SOLR_DIR}/bin/solr-init.sh") and "docker/solr-init.sh" in c
        for c in instructions(SOLR_DOCKERFILE, "COPY")
    )
    assert "LOOKALIKE_SOLR_DIR=/opt/solr/lookalike" in instructions(SOLR_DOCKERFILE, "ENV")


# -- the embedder: sidecar and indexing job --------------------------------------------------


def test_sidecar_is_built_from_the_dockerfile_and_serves_on_all_interfaces(services):
    embedder = services["embedder"]
    assert embedder["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert EMBEDDER_DOCKERFILE.is_file()
    command = embedder["command"]
    assert command[0] == "serve" and command[command.index("--host") + 1] == "0.0.0.0"
    assert instructions(EMBEDDER_DOCKERFILE, "ENTRYPOINT") == ['["lookalike"]']
    assert set(embedder["profiles"]) == {"cloud", "single"}


def test_dockerfile_installs_the_locked_dependencies_then_the_package_as_pyproject_declares_it():
    stages = re.findall(r"(?m)^FROM (.+)$", EMBEDDER_DOCKERFILE.read_text())
    assert stages == ["python:3.11-slim AS build", "python:3.11-slim"]
    runs = instructions(EMBEDDER_DOCKERFILE, "RUN")
    installs = [r for r in runs if "pip install" in r]
    assert all("--no-cache-dir" in r for r in installs), installs
    # the lock, as binary wheels only (no compiler needed), then the project with no index at all,
    # so a requirement the lock lacks fails the build rather than installing unpinned
    assert installs[0] == "pip install --no-cache-dir --only-binary=:all: -r /tmp/embedder-constraints.txt"
    assert 'pip install --no-cache-dir --no-index "$(ls /tmp/wheels/lookalike-*.whl)[embed]"' in installs[1]
    assert "pip check" in installs[1]
    copied = " ".join(instructions(EMBEDDER_DOCKERFILE, "COPY"))
    for needed in ("docker/embedder-constraints.txt", "pyproject.toml", "setup.py", "README.md", "embedder"):
        assert needed in copied and not dockerignore_excludes(needed), needed
    # The last stage holds the interpreter and the virtual environment only: no compiler, no
    # sources, no wheels.
    final = final_stage(EMBEDDER_DOCKERFILE)
    assert re.findall(r"(?m)^COPY (.+)$", final) == ["--from=build /opt/lookalike /opt/lookalike"]
    assert not re.search(r"apt-get|build-essential|gcc|pip install", final)
    # CPU TensorFlow comes from pyproject's own `embed` extra, which the sidecar installs.
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert any(d.startswith("tensorflow-cpu") for d in project["project"]["optional-dependencies"]["embed"])
    assert not any("tensorflow" in d for d in project["project"]["dependencies"])
    # A plain install must carry every subpackage and the web page (package data).
    setuptools = project["tool"]["setuptools"]
    assert setuptools["packages"]["find"]["include"] == ["embedder", "embedder.*"]
    web = REPO / "embedder" / "web"
    patterns = setuptools["package-data"]["embedder.web"]
    shipped = {p for pattern in patterns for p in web.glob(pattern) if p.is_file()}
    assert shipped == {p for p in web.rglob("*") if p.is_file()}


def test_the_lock_pins_every_runtime_requirement_and_what_they_need():
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lines = [line for line in LOCK.read_text().splitlines() if line and not line.startswith("#")]
    pins = dict(line.split("==") for line in lines)
    assert all(re.fullmatch(r"[a-z0-9-]+==[\w.]+", line) for line in lines), "name==version lines only"
    assert list(pins) == sorted(pins) and all(canonicalize_name(n) == n for n in pins)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    # the image's platform: linux/amd64, Python 3.11 (pyproject picks tensorflow-cpu there)
    image = {"platform_system": "Linux", "platform_machine": "x86_64", "python_version": "3.11", "extra": ""}
    runtime = project["dependencies"] + project.get("optional-dependencies", {}).get("embed", [])
    for requirement in map(Requirement, runtime):
        if requirement.marker is None or requirement.marker.evaluate(image):
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{name} is required but not locked: run scripts/pin-embedder-dependencies.py"
            assert requirement.specifier.contains(pins[name], prereleases=True), (name, pins[name])
    # What the locked packages need is locked too, checked where this environment has the same version.
    for name, version in pins.items():
        try:
            installed = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if installed.version != version:
            continue
        for text in installed.requires or []:
            needed = Requirement(text)
            if needed.marker is None or needed.marker.evaluate(image):
                assert canonicalize_name(needed.name) in pins, f"{name} needs {needed.name}, which is not locked"


def test_keras_weights_are_cached_in_a_named_volume(compose, services):
    text = EMBEDDER_DOCKERFILE.read_text()
    user = re.search(r"(?m)^USER (\S+)$", text).group(1)
    assert re.search(rf"useradd [^\n]*--create-home[^\n]* {user}\b", text)
    assert "KERAS_HOME" not in text  # so Keras uses ~/.keras
    keras_dir = f"/home/{user}/.keras"
    assert keras_dir in text  # created in the image, so a new volume gets the user's ownership
    for name in ("embedder", "indexer"):
        source = volume_mounts(services[name]).get(keras_dir)
        assert source == "keras-cache", f"{name} must mount the keras-cache volume at {keras_dir}"
    assert "keras-cache" in compose["volumes"]


def test_indexing_job_runs_only_when_asked(services):
    indexer = services["indexer"]
    assert indexer["profiles"] == ["index"]
    assert indexer["build"] == services["embedder"]["build"]
    assert indexer["image"] == services["embedder"]["image"]
    assert indexer["command"][:2] == ["index", "/catalog/${LOOKALIKE_CATALOG_FILE:-catalog.csv}"]
    catalog = volume_mounts(indexer)["/catalog"]
    assert catalog.startswith("${LOOKALIKE_CATALOG_DIR:-./")  # a bind mount of a host directory
    assert "--report" not in indexer["command"]  # a fixed file would be overwritten by every run


def test_the_home_outlives_the_containers_in_a_named_volume(compose, services):
    text = EMBEDDER_DOCKERFILE.read_text()
    home = re.search(r"LOOKALIKE_HOME=(\S+)", text).group(1)
    assert re.search(rf"mkdir -p [^\n]*{re.escape(home)}\b", text)  # so a new volume gets the user's ownership
    for name in ("embedder", "indexer"):  # uploads; a report per run and the embeddings
        assert "LOOKALIKE_HOME" not in environment(services[name]), f"{name}: the image's home is the volume's"
        assert volume_mounts(services[name]).get(home) == "lookalike-home", f"{name} must keep {home} in a volume"
    assert "lookalike-home" in compose["volumes"]


def test_embedder_environment_uses_the_documented_settings(services):
    known = set(ENVIRONMENT.values())
    for name in ("embedder", "indexer"):
        env = environment(services[name])
        assert {"LOOKALIKE_SOLR_URL", "LOOKALIKE_COLLECTION", "LOOKALIKE_WEIGHTS"} <= set(env)
        unknown = {k for k in env if k.startswith("LOOKALIKE_")} - known
        assert not unknown, f"{name}: {unknown} are not settings of embedder/config.py"


def test_build_context_leaves_out_local_state():
    for path in (
        ".venv",
        ".lookalike",
        ".git",
        "catalog",
        "solr-plugin/plugin/target",
        "embedder/__pycache__",
        "tests",
        "bench/data",
    ):
        assert dockerignore_excludes(path), f"{path} would be sent to the Docker build"
    for path in (
        "embedder/cli.py",
        "embedder/web/index.html",
        "solr-plugin/plugin/src/main",
        "solr-config/conf/solrconfig.xml",
        "docker/solr-init.sh",
    ):
        assert not dockerignore_excludes(path), path
