"""A real local Solr for development, demos and tests: Solr's Maven artifacts (embedder/artifacts.py)
started through the Java launcher in solr-plugin/launcher (Solr's own JettySolrRunner).

State lives under ``<home>/solr`` (the Solr home: index, configset copy, plugin jar) and survives
restarts; ``<home>/solr.log`` has Solr's log and ``<home>/solr.json`` the running process.
A second start re-uses the built (or fetched) jars.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import requests

from embedder import artifacts
from embedder.artifacts import LocalSolrError
from embedder.config import Settings
from embedder.errors import BadInput

log = logging.getLogger(__name__)

LAUNCHER_MAIN = "io.lookalike.solr.launcher.LocalSolr"


@dataclass(frozen=True)
class CloudLayout:
    """A local SolrCloud: ``nodes`` Solr nodes (ports ``port`` to ``port + nodes - 1``), an
    embedded ZooKeeper on ``port + 1000``, and the collection's shards and replicas."""

    nodes: int = 3
    shards: int = 2
    replicas: int = 2

    def __post_init__(self) -> None:
        if min(self.nodes, self.shards, self.replicas) < 1 or self.replicas > self.nodes:
            raise BadInput(f"need nodes, shards, replicas >= 1 and replicas <= nodes, got {self}")


@dataclass(frozen=True)
class LocalSolr:
    """One local Solr server: a Solr home under ``home``, listening on ``port``; or with
    ``cloud`` a local SolrCloud whose first node listens on ``port``."""

    home: Path
    port: int = 8983
    collection: str = "products"
    java_options: str = Settings.solr_java_opts
    cloud: CloudLayout | None = None

    @property
    def zk_host(self) -> str | None:
        return f"localhost:{self.port + 1000}/solr" if self.cloud else None

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}/solr"

    @property
    def state_file(self) -> Path:
        return self.home / "solr.json"

    @property
    def log_file(self) -> Path:
        return self.home / "solr.log"

    def start(self, timeout: float = 180.0) -> str:
        """Starts Solr unless this home's Solr is already running; returns the collection URL."""
        if self.pid() is not None and self.ping():
            return f"{self.url}/{self.collection}"
        busy = [port for port in self._ports() if _in_use(port)]
        if busy:
            raise LocalSolrError(f"port {busy[0]} is in use by another process; stop it or pass another --port")
        self.home.mkdir(parents=True, exist_ok=True)
        found = artifacts.locate(self.home)
        classpath = os.pathsep.join(str(jar) for jar in found.classpath)
        command = [
            "java",
            *self.java_options.split(),
            "-cp",
            classpath,
            LAUNCHER_MAIN,
            "--home",
            str(self.home / ("solrcloud" if self.cloud else "solr")),
            "--port",
            str(self.port),
            "--collection",
            self.collection,
            "--plugin-jar",
            str(found.plugin_jar),
            "--configset",
            str(found.configset),
        ]
        if self.cloud:
            command += [
                "--cloud",
                "--nodes",
                str(self.cloud.nodes),
                "--shards",
                str(self.cloud.shards),
                "--replicas",
                str(self.cloud.replicas),
            ]
        with open(self.log_file, "ab") as log_out:
            process = subprocess.Popen(command, stdout=log_out, stderr=subprocess.STDOUT, start_new_session=True)
        cloud = asdict(self.cloud) if self.cloud else None
        self.state_file.write_text(json.dumps({"pid": process.pid, "port": self.port, "cloud": cloud}))
        self._wait_until_up(process, timeout)
        return f"{self.url}/{self.collection}"

    def create_core(self, name: str, configset: Path) -> str:
        """Adds a core made from ``configset`` (a directory holding ``conf/``) to the running
        Solr unless it exists; returns its URL. The configset is copied into the Solr home, so
        core discovery finds the core again after a restart."""
        url = f"{self.url}/{name}"
        if (self.home / "solr" / name / "core.properties").exists():
            self._wait_for_core(name)  # discovered at start; a large core may still be loading
            return url
        target = self.home / "solr" / "configsets" / name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(configset, target)
        params = {"action": "CREATE", "name": name, "configSet": name, "wt": "json"}
        response = requests.get(f"{self.url}/admin/cores", params=params, timeout=120)
        if response.status_code != 200:
            raise LocalSolrError(f"creating core {name} failed: {response.text[-2000:]}")
        return url

    def _wait_for_core(self, name: str, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            params = {"action": "STATUS", "core": name, "wt": "json"}
            status = requests.get(f"{self.url}/admin/cores", params=params, timeout=30).json()
            if status["status"].get(name, {}).get("name") == name:
                return
            time.sleep(0.5)
        raise LocalSolrError(f"core {name} did not load within {timeout:.0f}s; see {self.log_file}")

    def _ports(self) -> list[int]:
        if self.cloud is None:
            return [self.port]
        return [*range(self.port, self.port + self.cloud.nodes), self.port + 1000]

    def _wait_until_up(self, process: subprocess.Popen, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.state_file.unlink(missing_ok=True)
                raise LocalSolrError(
                    f"Solr exited with code {process.returncode} while starting; "
                    f"last lines of {self.log_file}:\n{self._log_tail()}"
                )
            if self.ping():
                return
            time.sleep(0.5)
        self.stop()
        raise LocalSolrError(f"Solr did not answer within {timeout:.0f}s; see {self.log_file}")

    def stop(self, timeout: float = 60.0) -> bool:
        """Stops this home's Solr; returns False when it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        os.killpg(pid, signal.SIGTERM)  # the launcher's shutdown hook closes the index cleanly
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
        self.state_file.unlink(missing_ok=True)
        return True

    def pid(self) -> int | None:
        """The running Solr's process id, or None (a stale state file is removed)."""
        if not self.state_file.exists():
            return None
        pid = int(json.loads(self.state_file.read_text())["pid"])
        if _alive(pid):
            return pid
        self.state_file.unlink(missing_ok=True)
        return None

    def ping(self) -> bool:
        try:
            response = requests.get(f"{self.url}/{self.collection}/admin/ping", params={"wt": "json"}, timeout=5)
            return response.status_code == 200
        except requests.RequestException:
            return False

    def status(self) -> dict[str, object]:
        pid = self.pid()
        status: dict[str, object] = {"running": pid is not None, "pid": pid, "url": self.url}
        if pid is not None and self.ping():
            response = requests.get(
                f"{self.url}/{self.collection}/select",
                params={"q": "*:*", "rows": 0, "wt": "json"},
                timeout=10,
            )
            status["collection"] = self.collection
            status["documents"] = response.json()["response"]["numFound"]
        cloud = json.loads(self.state_file.read_text()).get("cloud") if pid is not None else None
        if cloud:  # as started, whatever flags this status call was given
            status["zk_host"] = f"localhost:{self.port + 1000}/solr"
            status["nodes"] = [f"http://localhost:{self.port + i}/solr" for i in range(cloud["nodes"])]
            status["layout"] = cloud
        status["home"] = str(self.home)
        return status

    def _log_tail(self, lines: int = 30) -> str:
        if not self.log_file.exists():
            return "(no log)"
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])


def _in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (started by this very process) counts as gone.
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True
