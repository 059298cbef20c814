"""The Flask app factory: configuration, shared objects, JSON errors, health, the web page."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pysolr
import requests
from flask import Flask, jsonify, send_from_directory
from werkzeug.exceptions import HTTPException

from embedder.client import LookalikeClient
from embedder.config import Settings, load_settings
from embedder.navigation import Navigator
from embedder.service import api, merchandising, openapi
from embedder.solr import ModelMismatch, SolrIndex, SolrUnavailable

log = logging.getLogger(__name__)
WEB = Path(__file__).resolve().parent.parent / "web"
ATTRIBUTES_TTL = 10.0  # seconds: an attribute written elsewhere shows up as a facet this soon


@dataclass(frozen=True)
class ServiceConfig:
    """Limits and policies of the HTTP service (see docs/service.md)."""

    max_upload_bytes: int = 10 * 1024 * 1024
    allow_private_urls: bool = False  # image URLs inside the network are refused by default
    fetch_timeout: float = 10.0
    image_roots: tuple[Path, ...] = field(default_factory=tuple)  # local product images served


class Services:
    """What the routes share: the client (Solr + model), navigation sessions, a model lock."""

    def __init__(self, settings: Settings, config: ServiceConfig, extractor=None) -> None:
        self.settings = settings
        self.config = config
        self.index = SolrIndex(settings.collection_url, timeout=30)
        self.client = LookalikeClient(self.index, weights=settings.weights, extractor=extractor)
        self.navigator = Navigator(self.client)
        self.model_lock = threading.Lock()  # one embedding at a time: TensorFlow uses both cores
        self._attributes: tuple[float, list[str]] = (0.0, [])

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
        return self.config.image_roots or (self.settings.home, Path.cwd())


def create_app(settings: Settings | None = None, config: ServiceConfig | None = None, extractor=None) -> Flask:
    """The sidecar app. ``extractor`` is a loaded FeatureExtractor (else built on first use)."""
    app = Flask(__name__, static_folder=None)
    config = config or ServiceConfig()
    app.config["MAX_CONTENT_LENGTH"] = config.max_upload_bytes
    app.extensions["lookalike"] = Services(settings or load_settings(), config, extractor)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(merchandising.blueprint)
    _register_pages(app)
    _register_errors(app)
    return app


def _register_pages(app: Flask) -> None:
    @app.get("/")
    def index():
        return send_from_directory(WEB, "index.html")

    @app.get("/static/<path:name>")
    def static_file(name: str):
        return send_from_directory(WEB / "static", name)

    @app.get("/openapi.json")
    def openapi_spec():
        return jsonify(openapi.SPEC)

    @app.get("/health")
    def health():
        services: Services = app.extensions["lookalike"]
        status = {"solr": False, "model_loaded": services.client.extractor_loaded,
                  "pca_version": None, "documents": None, "weights": services.settings.weights}  # fmt: skip
        try:
            status["documents"] = services.index.solr.search("*:*", rows=0).hits
            model = services.index.load_model()
            status["solr"] = True
            status["pca_version"] = model.version if model else None
        except (SolrUnavailable, pysolr.SolrError, requests.RequestException) as error:
            status["error"] = str(error)
        status["status"] = "ok" if status["solr"] else "degraded"
        return jsonify(status), 200 if status["solr"] else 503


def _register_errors(app: Flask) -> None:
    """Every error is JSON {"error": message} with a status that says whose fault it is."""

    def error(status: int, message: str):
        return jsonify({"error": message}), status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            limit = app.config["MAX_CONTENT_LENGTH"]
            return error(413, f"the request is over the {limit}-byte upload limit")
        return error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(ModelMismatch)
    def mismatch(exc: ModelMismatch):
        return error(409, str(exc))

    @app.errorhandler(ValueError)
    def bad_input(exc: ValueError):  # ImageError, FetchError and CatalogError included
        return error(400, str(exc))

    @app.errorhandler(KeyError)
    def not_found(exc: KeyError):
        return error(404, exc.args[0] if exc.args else "not found")

    @app.errorhandler(LookupError)
    def not_ready(exc: LookupError):
        return error(409, str(exc))

    @app.errorhandler(pysolr.SolrError)
    def solr_error(exc: pysolr.SolrError):
        message = str(exc)
        if "Failed to connect" in message or "Connection to server" in message:
            return error(503, f"Solr is unavailable, retry later: {message}")
        if "(HTTP 400)" in message:
            return error(400, message.split("[Reason: ", 1)[-1].rstrip("]"))
        log.error("Solr failed: %s", message)
        return error(502, f"Solr failed: {message}")

    @app.errorhandler(SolrUnavailable)
    @app.errorhandler(requests.RequestException)
    def unavailable(exc: Exception):
        return error(503, f"Solr is unavailable, retry later: {exc}")
