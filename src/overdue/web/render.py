"""Jinja2 rendering (autoescape on) with the request's language and signed-in user."""

from __future__ import annotations

from importlib import resources
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from overdue.web import labels
from overdue.web.auth import SessionUser
from overdue.web.i18n import LANGUAGE_NAMES, LANGUAGES, Lang

_TEMPLATES = resources.files("overdue.web") / "templates"
ENV = Environment(
    loader=FileSystemLoader(str(_TEMPLATES)),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.globals.update(
    role_names=labels.ROLE_NAMES,
    error_titles=labels.ERROR_TITLES,
    error_texts=labels.ERROR_TEXTS,
    case_status=labels.CASE_STATUS,
    promise_status=labels.PROMISE_STATUS,
    channel_names=labels.CHANNEL_NAMES,
    transfer_reasons=labels.TRANSFER_REASONS,
    sort_names=labels.SORT_NAMES,
)


def switch_url(request: Request, code: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    params.append(("lang", code))
    return f"{request.url.path}?{urlencode(params)}"


def current_lang(
    request: Request, user: SessionUser | None, default_language: str | None = None
) -> Lang:
    from overdue.web.deps import lang_of

    return lang_of(request, user, default_language)


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    user: SessionUser | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    default_language: str | None = None,
) -> HTMLResponse:
    """The page in the request's language: ``?lang=``, the cookie, the user's, then
    ``default_language`` (e.g. the customer's on the self-service page), then the settings'."""
    if user is None:
        user = getattr(request.state, "user", None)
    lang = current_lang(request, user, default_language)
    others = [(code, LANGUAGE_NAMES[code], switch_url(request, code)) for code in LANGUAGES]
    page = ENV.get_template(template).render(
        _=lang.gettext,
        lang=lang,
        user=user,
        csrf_token=user.csrf_token if user else "",
        languages=others,
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(page, status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def render_error(request: Request, status: int, detail: str) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "detail": detail}, status=status)
