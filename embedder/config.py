"""Settings, read in one place: command-line flags override environment variables,
which override the documented defaults (see docs/configuration.md). The Solr URL may be a
ZooKeeper address: it is resolved to a live SolrCloud node."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

import platformdirs

from embedder.errors import BadInput
from embedder.zookeeper import any_live_node, is_zookeeper_address


@dataclass(frozen=True)
class Settings:
    """Where Solr is, which collection, which model weights, where local state lives."""

    solr_url: str = "http://localhost:8983/solr"
    collection: str = "products"
    weights: str | None = None  # None: the collection's (imagenet for a new collection)
    home: Path = Path(platformdirs.user_data_dir("lookalike"))  # ~/.local/share/lookalike on Linux
    solr_port: int = 8983
    batch_size: int = 32
    api_token: str | None = None  # the sidecar's writes need it when set (never a flag: no secrets in ps)
    # Seconds Solr may take to answer one of the sidecar's reads (a search, a get, the schema): a Solr
    # that accepts and does not answer, as while it starts, is then a quick 503. Writes may take 30 s.
    solr_read_timeout: float = 1.5
    # The local Solr's JVM (`solr start`, the demo), replaced whole when set: the plugin's distance
    # kernel uses the JDK's SIMD module where it is added (a scalar fallback otherwise).
    solr_java_opts: str = "-Xmx2g --add-modules jdk.incubator.vector"

    @property
    def collection_url(self) -> str:
        return f"{self.solr_url.rstrip('/')}/{self.collection}"


# Environment variable for each setting.
ENVIRONMENT = {
    "solr_url": "LOOKALIKE_SOLR_URL",
    "collection": "LOOKALIKE_COLLECTION",
    "weights": "LOOKALIKE_WEIGHTS",
    "home": "LOOKALIKE_HOME",
    "solr_port": "LOOKALIKE_SOLR_PORT",
    "batch_size": "LOOKALIKE_BATCH_SIZE",
    "api_token": "LOOKALIKE_API_TOKEN",
    "solr_read_timeout": "LOOKALIKE_SOLR_READ_TIMEOUT",
    "solr_java_opts": "LOOKALIKE_SOLR_JAVA_OPTS",
}


def load_settings(environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Defaults, then environment variables, then explicit overrides (None means "not given")."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for field in fields(Settings):
        raw = environ.get(ENVIRONMENT[field.name])
        if raw is not None and raw != "":
            values[field.name] = _convert(field.name, raw)
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "solr_port" in values and "solr_url" not in values:
        values["solr_url"] = f"http://localhost:{values['solr_port']}/solr"
    settings = replace(Settings(), **values)
    solr_url = settings.solr_url
    if is_zookeeper_address(solr_url):
        solr_url = any_live_node(solr_url)  # a SolrCloud node routes requests for the collection
    return replace(settings, solr_url=solr_url, home=Path(settings.home).expanduser().resolve())


def _convert(name: str, raw: str) -> object:
    if name in ("solr_port", "batch_size"):
        try:
            return int(raw)
        except ValueError:
            raise BadInput(f"{ENVIRONMENT[name]} must be an integer, got {raw!r}") from None
    if name == "solr_read_timeout":
        try:
            seconds = float(raw)
        except ValueError:
            seconds = math.nan
        if not 0 < seconds < math.inf:
            raise BadInput(f"{ENVIRONMENT[name]} must be a positive number of seconds, got {raw!r}")
        return seconds
    if name == "home":
        return Path(raw)
    return raw
