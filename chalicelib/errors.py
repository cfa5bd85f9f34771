"""Domain errors and their one mapping to HTTP.

Every error a user can cause is an `AppError` with a stable code, a Chinese
message and, where one field is to blame, that field's name. They subclass
Chalice's `ChaliceUnhandledError` so that they reach the error middleware
(`app.py`) instead of Chalice's generic 500.
"""

from __future__ import annotations

from chalice.app import ChaliceUnhandledError


class AppError(ChaliceUnhandledError):
    """An error to show to the caller as `{"error": {"code", "message", "field"}}`."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class BadRequest(AppError):
    status = 400
    code = "bad_request"


class InvalidField(AppError):
    status = 422
    code = "invalid_field"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"


class ServiceUnavailable(AppError):
    status = 503
    code = "service_unavailable"
