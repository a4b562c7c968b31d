"""The FastAPI app: REST API under /api/v1, server-rendered pages, auth, i18n, offline Plotly.

``create_app(settings)`` builds everything from one WebSettings; ``run_server`` serves it with
uvicorn. Every route needs a session except /healthz, the login page, static assets, the
payments webhook (which checks an HMAC signature instead) and the customers' self-service pages
under /self/ (which check a signed link instead).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import sessionmaker
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from overdue.compliance.profile import Profile, load_profile
from overdue.web.deps import LoginRedirect
from overdue.web.i18n import normalise
from overdue.web.problems import (
    Problem,
    http_detail,
    is_api,
    problem_response,
    validation_detail,
)
from overdue.web.render import render_error
from overdue.web.settings import WebSettings

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
    ),
}
LANG_COOKIE_SECONDS = 365 * 24 * 3600
# PostgreSQL pool: uvicorn's threadpool runs up to 40 requests at once; connections are recycled
# hourly instead of pinged before every request (a round trip saved per request).
POOL = {
    "pool_size": 20,
    "max_overflow": 20,
    "pool_timeout": 10,
    "pool_pre_ping": False,
    "pool_recycle": 3600,
}


def plotly_js_path() -> Path:
    """plotly.min.js from the installed plotly package (so pages work offline)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def create_app(settings: WebSettings) -> FastAPI:
    from overdue.store.db import make_engine

    app = FastAPI(
        title="overdue",
        version="1",
        description="Overdue (逾期) collection operation: cases, contacts, promises, payments.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    from overdue.store.db import database_url

    pool = {} if database_url(settings.database_url).startswith("sqlite") else POOL
    engine = make_engine(settings.database_url, **pool)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker(engine, expire_on_commit=False)
    app.state.dashboard_cache = {}
    chosen = settings.compliance_profile
    app.state.profile = chosen if isinstance(chosen, Profile) else load_profile(chosen)
    app.state.business_date = None
    _add_handlers(app)
    _add_middleware(app, settings)
    _add_routes(app)
    return app


def _add_routes(app: FastAPI) -> None:
    from overdue.web import admin_pages, api, dashboard, pages, self_service, workbench

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            plotly_js_path(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    static_dir = resources.files("overdue.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static_dir)), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(dashboard.router)
    app.include_router(workbench.router)
    app.include_router(admin_pages.router)
    app.include_router(self_service.router)


def _add_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    def on_problem(request: Request, exc: Problem) -> Response:
        if is_api(request):
            return problem_response(exc.status, exc.detail, exc.slug)
        return render_error(request, exc.status, exc.detail)

    from overdue.cases.access import Conflict, NotAllowed, NotFound

    for kind, status in ((NotAllowed, 403), (NotFound, 404), (Conflict, 409), (ValueError, 422)):
        app.add_exception_handler(kind, _service_handler(status))

    @app.exception_handler(LoginRedirect)
    def on_login_redirect(request: Request, exc: LoginRedirect) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(RequestValidationError)
    def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        if is_api(request):
            return problem_response(422, validation_detail(exc))
        return render_error(request, 400, validation_detail(exc))

    @app.exception_handler(StarletteHTTPException)
    def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if is_api(request) or request.url.path.startswith("/static/"):
            return problem_response(exc.status_code, http_detail(exc))
        return render_error(request, exc.status_code, http_detail(exc))

    @app.exception_handler(Exception)
    def on_crash(request: Request, exc: Exception) -> Response:
        if is_api(request):
            return problem_response(500, "unexpected server error; it has been logged")
        return render_error(request, 500, "unexpected server error")


def _service_handler(status: int):
    """Case-service errors: NotAllowed 403, NotFound 404, Conflict 409, ValueError 422."""

    def handle(request: Request, exc: Exception) -> Response:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        if is_api(request):
            return problem_response(status, detail)
        return render_error(request, status, detail)

    return handle


def _add_middleware(app: FastAPI, settings: WebSettings) -> None:
    app.add_middleware(LanguageAndHeaders, secure_cookies=settings.secure_cookies)


class LanguageAndHeaders:
    """Plain ASGI middleware (cheaper than BaseHTTPMiddleware): remembers ``?lang=`` in a cookie
    and adds the security headers to every HTTP answer."""

    def __init__(self, app: ASGIApp, secure_cookies: bool) -> None:
        self.app = app
        self.secure = "; Secure" if secure_cookies else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        chosen = normalise(request.query_params.get("lang"))
        remember = chosen if chosen and request.cookies.get("lang") != chosen else None

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if remember:
                    headers.append(
                        "set-cookie",
                        f"lang={remember}; Max-Age={LANG_COOKIE_SECONDS}; Path=/; HttpOnly; "
                        f"SameSite=lax{self.secure}",
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)


def api_json(data: object, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)
