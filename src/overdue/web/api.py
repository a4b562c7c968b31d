"""The REST API under /api/v1 (OpenAPI at /openapi.json); errors are problem+json."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from overdue.web.deps import ApiUser, api_user

router = APIRouter(prefix="/api/v1", tags=["api"])
authed = APIRouter(dependencies=[Depends(api_user)])


@authed.get("/me")
def me(user: ApiUser) -> dict[str, object]:
    """The signed-in user and the CSRF token to send as X-CSRF-Token on writes."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "csrf_token": user.csrf_token,
    }


router.include_router(authed)
