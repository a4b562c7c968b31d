"""The administration page: users, teams, queues and capacities (admin only)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from overdue.cases.access import Conflict, NotFound
from overdue.web import admin, labels
from overdue.web.auth import utc_now
from overdue.web.deps import DB, FormUser, PageUser, actor_of
from overdue.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/admin", response_class=HTMLResponse)
def admin_page(
    request: Request,
    session: DB,
    user: PageUser,
    done: Annotated[str | None, Query(max_length=20)] = None,
    error: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    actor = actor_of(user)
    return render(
        request,
        "admin.html",
        {
            "users": admin.users(session, actor),
            "teams": admin.teams(session, actor),
            "agencies": admin.agencies(session, actor),
            "queues": admin.queues(session, actor),
            "team_kinds": labels.TEAM_KINDS,
            "flash": labels.FLASH.get(done or ""),
            "form_error": error,
        },
        user=user,
    )


def _back(**params: str) -> RedirectResponse:
    return RedirectResponse(f"/admin?{urlencode(params)}", status_code=303)


def _optional_id(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"{text!r} is not an id")
    return int(text)


@router.post("/admin/users")
def create_user(
    session: DB,
    user: FormUser,
    username: Annotated[str, Form(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")],
    display_name: Annotated[str, Form(min_length=1, max_length=200)],
    role: Annotated[str, Form(max_length=20)],
    password: Annotated[str, Form(min_length=8, max_length=1024)],
    team_id: Annotated[str, Form(max_length=20)] = "",
    agency_id: Annotated[str, Form(max_length=20)] = "",
) -> RedirectResponse:
    try:
        with session.begin_nested():
            admin.create_user(
                session, actor_of(user), username=username, display_name=display_name.strip(),
                role=role, password=password, team_id=_optional_id(team_id),
                agency_id=_optional_id(agency_id), language="zh-CN", capacity=80,
                max_open_cases=500, at=utc_now(),
            )  # fmt: skip
    except (ValueError, Conflict, NotFound) as exc:
        return _back(error=str(exc)[:400])
    return _back(done="user")


@router.post("/admin/users/{user_id}")
def update_user(
    session: DB,
    user: FormUser,
    user_id: int,
    capacity: Annotated[int, Form(ge=0, le=10_000)],
    max_open_cases: Annotated[int, Form(ge=0, le=100_000)],
    active: Annotated[bool, Form()] = True,
) -> RedirectResponse:
    changes = {"capacity": capacity, "max_open_cases": max_open_cases, "active": active}
    try:
        with session.begin_nested():
            admin.update_user(session, actor_of(user), user_id, changes, at=utc_now())
    except (ValueError, Conflict, NotFound) as exc:
        return _back(error=str(exc)[:400])
    return _back(done="user")


@router.post("/admin/queues/{queue_id}")
def update_queue(
    session: DB,
    user: FormUser,
    queue_id: int,
    capacity: Annotated[int, Form(ge=0, le=10_000_000)],
    sla_days: Annotated[int, Form(ge=0, le=365)],
) -> RedirectResponse:
    try:
        with session.begin_nested():
            admin.update_queue(
                session, actor_of(user), queue_id, capacity=capacity, sla_days=sla_days,
                at=utc_now(),
            )  # fmt: skip
    except (ValueError, Conflict, NotFound) as exc:
        return _back(error=str(exc)[:400])
    return _back(done="queue")
