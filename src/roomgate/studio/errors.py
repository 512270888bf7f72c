"""The studio's errors: :class:`HTTPError`, what went wrong for the user with the HTTP status it
answers as, and :func:`error_response`, the JSON answer the page reads.

The session raises HTTPError (a change it refuses is a 400, a render without a take a 409); the
HTTP layer turns it into the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.responses import JSONResponse

__all__ = ["HTTPError", "error_response"]


class HTTPError(Exception):
    """An error with an HTTP status and a message for the user."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str) -> JSONResponse:
    """An error as the page reads it: ``{"error": message, "status": status}``."""
    from starlette.responses import JSONResponse  # (the session, which raises HTTPError, needs no web server)

    return JSONResponse({"error": message, "status": status}, status_code=status)
