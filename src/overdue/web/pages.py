"""Server-rendered pages: sign-in, dashboard, collector workbench (queue, case), administration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from overdue.web import auth
from overdue.web.deps import DB, FormUser, PageUser, optional_user, settings_of
from overdue.web.labels import LOGIN_ERRORS
from overdue.web.render import render

router = APIRouter(include_in_schema=False)
HOME_BY_ROLE = {
    "admin": "/admin",
    "manager": "/dashboard",
    "analyst": "/dashboard",
    "auditor": "/dashboard",
}


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _login_page(
    request: Request, *, error: str | None = None, username: str = "", status: int = 200
) -> HTMLResponse:
    token = auth.new_login_csrf()
    response = render(
        request,
        "login.html",
        {"error": error, "username": username, "login_csrf": token},
        user=None,
        status=status,
    )
    response.set_cookie(
        auth.LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings_of(request).secure_cookies,
        max_age=3600,
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    request.state.user = None
    return _login_page(request)


@router.post("/login")
def login_submit(
    request: Request,
    session: DB,
    username: Annotated[str, Form(max_length=80)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    request.state.user = None
    settings = settings_of(request)
    if not auth.csrf_ok(request.cookies.get(auth.LOGIN_CSRF_COOKIE, ""), csrf_token):
        return _login_page(request, error=LOGIN_ERRORS[403], username=username, status=403)
    try:
        token, user = auth.login(
            session.connection(), settings, username, password, client_ip(request), auth.utc_now()
        )
    except auth.LoginRefused as refused:
        session.commit()  # keep the failed attempt: it counts towards the rate limit
        return _login_page(
            request, error=LOGIN_ERRORS[refused.status], username=username, status=refused.status
        )
    response = RedirectResponse(HOME_BY_ROLE.get(user.role, "/queue"), status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.session_absolute_hours * 3600,
    )
    response.delete_cookie(auth.LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, session: DB, user: FormUser) -> Response:
    auth.logout(session.connection(), request.cookies.get(auth.SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE)
    return response


@router.get("/")
def home(user: PageUser) -> Response:
    return RedirectResponse(HOME_BY_ROLE.get(user.role, "/queue"), status_code=303)


__all__ = ["optional_user", "router"]
