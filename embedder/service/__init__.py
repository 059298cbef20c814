"""The HTTP sidecar: ``create_app`` builds the Flask app (see docs/service.md)."""

from embedder.service.app import ServiceConfig, create_app

__all__ = ["ServiceConfig", "create_app"]
