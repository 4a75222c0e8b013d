"""Every API error body is ``{"error_code": ..., "message": ...}``; codes are stable, messages are for people.

Codes: ``not_found``, ``validation_error`` (422, names the field), ``payload_too_large`` (413),
``method_not_allowed`` (405), ``internal_error`` (500). The SDK maps codes to exceptions.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

STATUS_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 429: "rate_limited"}


def error_body(error_code: str, message: str, **extra: object) -> dict[str, object]:
    return {"error_code": error_code, "message": message, **extra}


class ApiProblem(Exception):
    """Raise from a route to answer with a given status and ``error_code``."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_code, self.message = status, error_code, message


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the same body shape."""

    @app.exception_handler(ApiProblem)
    async def _problem(_: Request, exc: ApiProblem) -> JSONResponse:
        return JSONResponse(error_body(exc.error_code, exc.message), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()) if p not in {"body", "query", "path", "header"})
        return JSONResponse(
            error_body("validation_error", f"{field}: {first.get('msg')}", field=field), status_code=422
        )

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body("internal_error", "internal error"), status_code=500)
