"""Errors as RFC 9457 problem details (application/problem+json) with a clear message."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_TYPE = "https://overdue.example/problems/"
TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    422: "Invalid input",
    429: "Too many attempts",
    500: "Server error",
}


class Problem(Exception):
    """Raise from any route: becomes a problem+json answer (API) or an error page (pages)."""

    def __init__(self, status: int, detail: str, *, slug: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or TITLES.get(status, "error").lower().replace(" ", "-")


def problem_body(status: int, detail: str, slug: str | None = None) -> dict[str, Any]:
    title = TITLES.get(status, "Error")
    return {
        "type": PROBLEM_TYPE + (slug or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
    }


def problem_response(status: int, detail: str, slug: str | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Cookie realm="overdue"'} if status == 401 else None
    return JSONResponse(
        problem_body(status, detail, slug),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def validation_detail(exc: RequestValidationError) -> str:
    """One line naming every bad field and why, e.g. ``body.amount_fen: must be > 0``."""
    parts = []
    for error in exc.errors()[:20]:
        where = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid input"


def http_detail(exc: StarletteHTTPException) -> str:
    return str(exc.detail) if exc.detail else TITLES.get(exc.status_code, "error")


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")
