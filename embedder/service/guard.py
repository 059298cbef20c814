"""Who may write. Routes that change the collection are marked with ``writes``; before each of
them the service checks, in order:

- ``read_only``: the sidecar takes no writes at all (403);
- a cross-site request (a browser's ``Origin`` of another host, or ``Sec-Fetch-Site:
  cross-site``): refused (403), so a page elsewhere cannot make a shopper's browser post a form
  here;
- the body: JSON or multipart only, the two a browser cannot send cross-site without asking;
- with an API token configured, ``Authorization: Bearer <token>`` (401 without it).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from urllib.parse import urlparse

from flask import Flask, request

from embedder.errors import BadInput, Forbidden, Unauthorized

WRITE_BODIES = ("application/json", "multipart/form-data")


def writes(view: Callable) -> Callable:
    """Marks a route as one that changes the collection."""
    view.writes = True
    return view


def install(app: Flask, token: str | None, read_only: bool) -> None:
    @app.before_request
    def check_writes() -> None:
        view = app.view_functions.get(request.endpoint or "")
        if not getattr(view, "writes", False):
            return
        if read_only:
            raise Forbidden("this sidecar is read-only (serve --read-only): it takes no writes")
        origin = request.headers.get("Origin")
        if request.headers.get("Sec-Fetch-Site") == "cross-site" or (
            origin and urlparse(origin).netloc != request.host
        ):
            raise Forbidden(f"writes from another site are refused (Origin {origin or 'unknown'})")
        if request.method != "DELETE" and request.mimetype not in WRITE_BODIES:
            raise BadInput(f"writes take JSON or multipart/form-data, not {request.mimetype or 'no content type'}")
        if token is not None:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
                raise Unauthorized("this write needs Authorization: Bearer <the LOOKALIKE_API_TOKEN>")
