"""Every error the package raises on purpose, decided once.

Each class says whose problem it is: the HTTP status the service answers with and the exit
status of the ``lookalike`` command. Anything else that escapes is our own bug: the service
answers 500 with a generic message and logs the traceback, the CLI exits 1.

The bad-input classes are also ``ValueError``s (and not-found a ``LookupError``), so code that
treats the package like a library keeps catching what it would expect from scikit-learn or a
mapping.
"""

from __future__ import annotations


class LookalikeError(Exception):
    """Base class: a failure the package raises on purpose, with a message for the user."""

    status = 500
    exit_code = 1


class BadInput(LookalikeError, ValueError):
    """The caller's input is wrong; the message names the field or value."""

    status = 400
    exit_code = 2


class TooLarge(BadInput):
    """The input is over a documented size limit."""

    status = 413


class Unauthorized(LookalikeError):
    """A write without the API token the service is configured with."""

    status = 401


class Forbidden(LookalikeError):
    """A write the service does not take: it is read-only, or the request comes from another site."""

    status = 403


class NotFound(LookalikeError, LookupError):
    """A product, cluster, session or file that does not exist."""

    status = 404
    exit_code = 4


class Conflict(LookalikeError):
    """The request cannot be done in the collection's present state (no PCA model yet, another
    model, a concurrent writer); the message says how to get out of it."""

    status = 409
    exit_code = 5


class CollectionStateError(Conflict):
    """The collection's own documents (its PCA model, its clustering) are missing, corrupt or
    inconsistent: the collection's problem, never the caller's."""


class SolrUnavailable(LookalikeError):
    """Solr did not answer, or answered that it is starting, stopping or overloaded. Retrying
    later is safe: writes are idempotent and jobs resume where they stopped."""

    status = 503
    exit_code = 6
    retry_after_seconds = 5


class SolrFailed(LookalikeError):
    """Solr answered with an error that is not the caller's: carries Solr's status and message."""

    status = 502
    exit_code = 7

    def __init__(self, message: str, solr_status: int | None = None, solr_message: str = "") -> None:
        super().__init__(message)
        self.solr_status = solr_status
        self.solr_message = solr_message


class NotInstalled(LookalikeError):
    """A feature needs an optional package that is not installed (TensorFlow: the ``embed``
    extra); everything else works without it."""

    status = 503
    exit_code = 8


INTERRUPTED_EXIT_CODE = 130  # 128 + SIGINT, as shells report it
BUG_EXIT_CODE = 1

# The exit statuses of ``lookalike``, for its --help and docs/configuration.md.
EXIT_CODES = {
    0: "success",
    BUG_EXIT_CODE: "failed: the message says why (an unexpected error says so; --verbose shows the traceback)",
    BadInput.exit_code: "bad input or usage",
    3: "`solr status`: Solr is not running",
    NotFound.exit_code: "not found",
    Conflict.exit_code: "the collection is not ready for this (e.g. no PCA model yet, or another one)",
    SolrUnavailable.exit_code: "Solr is unavailable: re-run later, the work resumes",
    SolrFailed.exit_code: "Solr failed",
    NotInstalled.exit_code: "needs an optional package: the message says which (e.g. the embed extra)",
    INTERRUPTED_EXIT_CODE: "interrupted (what was written is kept; re-run to resume)",
}
