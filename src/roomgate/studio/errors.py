"""The studio's one error type: what went wrong, for the user, with the HTTP status it answers as.

The session raises it (a change it refuses is a 400, a render without a take a 409) and the
HTTP layer turns it into a JSON answer."""

from __future__ import annotations

__all__ = ["HTTPError"]


class HTTPError(Exception):
    """An error with an HTTP status and a message for the user."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message

