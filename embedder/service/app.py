"""The Flask app factory: configuration, shared objects, JSON errors, health, the web page."""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, g, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException

from embedder import fetch, state
from embedder import model as extractors
from embedder.client import LookalikeClient
from embedder.config import Settings, load_settings
from embedder.errors import LookalikeError, SolrUnavailable
from embedder.navigation import Navigator
from embedder.runtime import EmbeddingRuntime
from embedder.service import api, guard, merchandising, openapi
from embedder.solr import SolrIndex

log = logging.getLogger(__name__)
access = logging.getLogger("lookalike.access")
WEB = Path(__file__).resolve().parent.parent / "web"
ATTRIBUTES_TTL = 10.0  # seconds: an attribute written elsewhere shows up as a facet this soon


@dataclass(frozen=True)
class ServiceConfig:
    """Limits and policies of the HTTP service (see docs/service.md)."""

    max_upload_bytes: int = 10 * 1024 * 1024
    allow_private_urls: bool = False  # image URLs inside the network are refused by default
    fetch_timeout: float = fetch.TIMEOUT
    image_roots: tuple[Path, ...] = field(default_factory=tuple)  # more roots of local product images
    api_token: str | None = None  # writes need "Authorization: Bearer <token>" when set
    read_only: bool = False  # no writes at all
    labels: dict[str, str] = field(default_factory=dict)  # field -> its name on the page


class Services:
    """What the routes share: the Solr index, the embedding runtime, the client over both, and
    navigation sessions."""

    def __init__(self, settings: Settings, config: ServiceConfig, extractor=None) -> None:
        self.settings = settings
        self.config = config
        self.index = SolrIndex(settings.collection_url, timeout=30, read_timeout=settings.solr_read_timeout)
        self.runtime = EmbeddingRuntime(self.index, settings.weights, extractor)
        self.client = LookalikeClient(self.index, self.runtime)
        self.navigator = Navigator(self.client)
        self._attributes: tuple[float, list[str]] = (0.0, [])
        self._catalogs: tuple[float, tuple[Path, ...]] = (-ATTRIBUTES_TTL, ())

    @functools.cached_property
    def weights(self) -> str:
        """The weights as answers name them (a weights file is hashed once)."""
        given = self.settings.weights
        return "the collection's" if given is None else extractors.weights_label(given)

    def attribute_fields(self) -> list[str]:
        """The index's ``attr_*`` fields, the default facets; asked of Solr at most every
        ATTRIBUTES_TTL seconds rather than on every search (Luke reads per-field statistics)."""
        fetched_at, fields = self._attributes
        if time.monotonic() - fetched_at > ATTRIBUTES_TTL:
            fields = self.index.attribute_fields()
            self._attributes = (time.monotonic(), fields)
        return fields

    def attributes_changed(self) -> None:
        """After this service writes an attribute, the next search lists it as a facet."""
        self._attributes = (0.0, [])

    def image_roots(self) -> tuple[Path, ...]:
        """Where local product images may be served from: the home (uploads), the directories of
        the catalogs indexed (recorded in the collection; asked at most every ATTRIBUTES_TTL
        seconds), and every --image-root."""
        fetched_at, directories = self._catalogs
        if time.monotonic() - fetched_at > ATTRIBUTES_TTL:
            directories = tuple(state.catalog_directories(self.index))
            self._catalogs = (time.monotonic(), directories)
        return (self.settings.home, *directories, *self.config.image_roots)


def create_app(settings: Settings | None = None, config: ServiceConfig | None = None, extractor=None) -> Flask:
    """The sidecar app. ``extractor`` is a loaded FeatureExtractor (else built on first use)."""
    app = Flask(__name__, static_folder=None)
    config = config or ServiceConfig()
    app.config["MAX_CONTENT_LENGTH"] = config.max_upload_bytes
    app.extensions["lookalike"] = Services(settings or load_settings(), config, extractor)
    guard.install(app, config.api_token, config.read_only)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(merchandising.blueprint)
    _register_pages(app)
    _register_errors(app)
    _register_access_log(app)
    return app


def _register_pages(app: Flask) -> None:
    @app.get("/")
    def index():
        return send_from_directory(WEB, "index.html")

    @app.get("/static/<path:name>")
    def static_file(name: str):
        return send_from_directory(WEB / "static", name)

    @app.get("/labels")
    def labels():
        """What the page calls fields (``serve --label FIELD=LABEL``); others by their own name."""
        return jsonify(app.extensions["lookalike"].config.labels)

    @app.get("/openapi.json")
    def openapi_spec():
        return jsonify(openapi.SPEC)

    @app.get("/health/live")
    def live():
        """The process answers (restart it when not): never asks Solr."""
        return jsonify({"status": "ok"})

    @app.get("/health/ready")
    def ready():
        """Ready for traffic: Solr answers and the collection holds one PCA model's vectors."""
        services: Services = app.extensions["lookalike"]
        try:
            versions = state.vector_versions(services.index)
        except LookalikeError as error:
            return jsonify({"status": "unavailable", "error": str(error)}), 503
        if len(versions) > 1:
            problem = f"vectors of PCA versions {sorted(versions)}: finish the re-index"
            return jsonify({"status": "degraded", "error": problem}), 503
        return jsonify({"status": "ok"})

    @app.get("/health")
    def health():
        services: Services = app.extensions["lookalike"]
        status = {
            "solr": False,
            "model_loaded": services.runtime.loaded,
            "pca_version": None,
            "pca_versions": {},
            "documents": None,
            "weights": services.weights,
        }
        try:
            status["documents"] = services.index.count()
            status["pca_version"] = state.model_version(services.index)
            status["pca_versions"] = state.vector_versions(services.index)  # products per model
            status["solr"] = True
        except LookalikeError as error:
            status["error"] = str(error)
        mixed = len(status.get("pca_versions", {})) > 1
        if mixed:
            status["error"] = "the collection holds vectors of several PCA models: finish the re-index"
        status["status"] = "ok" if status["solr"] and not mixed else "degraded"
        return jsonify(status), 200 if status["solr"] else 503


def _register_access_log(app: Flask) -> None:
    """One line per request: method, path, status, milliseconds (never bodies or query strings,
    which carry vectors and ids)."""

    @app.before_request
    def started() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def logged(response):
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        access.info("%s %s %d %.1fms", request.method, request.path, response.status_code, elapsed)
        return response


def _register_errors(app: Flask) -> None:
    """Every error is JSON {"error": message}. The package's errors carry their own status
    (``embedder.errors``); anything else is our bug: a 500 with a generic message, logged."""

    def answer(status: int, message: str, headers: dict | None = None):
        return jsonify({"error": message}), status, headers or {}

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            limit = app.config["MAX_CONTENT_LENGTH"]
            return answer(413, f"the request is over the {limit}-byte upload limit")
        return answer(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(LookalikeError)
    def expected(exc: LookalikeError):
        if exc.status >= 500:
            log.warning("%s: %s", type(exc).__name__, exc)
        retry = {"Retry-After": str(exc.retry_after_seconds)} if isinstance(exc, SolrUnavailable) else None
        return answer(exc.status, str(exc), retry)

    @app.errorhandler(Exception)
    def bug(exc: Exception):
        log.exception("unexpected error")
        return answer(500, "internal error: the sidecar failed unexpectedly (logged); please report it")
