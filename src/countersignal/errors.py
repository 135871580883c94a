"""One exception family for the whole product.

Shells map it once: the API to RFC 9457 problem responses (``http_status``), the CLI to exit
codes (``exit_code``). Messages are for people: say what was wrong and what to do.
"""

from __future__ import annotations


class CountersignalError(Exception):
    """Base of every error the product raises on purpose."""

    http_status = 500
    exit_code = 1
    title = "Internal error"

    def __init__(self, message: str, *, detail: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or {}


class InvalidInput(CountersignalError):
    """The caller sent something malformed: wrong type, bad value, unparsable content."""

    http_status = 422
    exit_code = 2
    title = "Invalid input"


class InvalidSignal(InvalidInput):
    """A signal value that is not valid for its signal type."""

    title = "Invalid signal"


class UnsupportedContent(InvalidInput):
    """Content that no hasher accepts (wrong type, corrupt, truncated, empty)."""

    http_status = 415
    title = "Unsupported or corrupt content"


class ContentTooLarge(InvalidInput):
    """Content over a configured size or pixel limit (e.g. a decompression bomb)."""

    http_status = 413
    title = "Content too large"


class NotFound(CountersignalError):
    http_status = 404
    exit_code = 3
    title = "Not found"


class Conflict(CountersignalError):
    http_status = 409
    exit_code = 4
    title = "Conflict"


class Unauthorized(CountersignalError):
    http_status = 401
    exit_code = 5
    title = "Unauthorized"


class Forbidden(CountersignalError):
    http_status = 403
    exit_code = 5
    title = "Forbidden"


class RateLimited(CountersignalError):
    http_status = 429
    exit_code = 6
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int, detail: dict | None = None) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = retry_after


class Unavailable(CountersignalError):
    """A dependency (database, peer) is away; retry later."""

    http_status = 503
    exit_code = 7
    title = "Service unavailable"
