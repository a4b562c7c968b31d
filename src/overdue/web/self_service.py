"""The customer's self-service page, opened from the link in a reminder: ``/self/<token>``.

No sign-in: the signed token (``cases.self_service_links``) is the credential, so every route
checks it first, answers one neutral 404 page for a bad or expired link (the reason goes to the
log, not to the visitor), and never caches the page. Forms post back to the same token; each
action is a service call in ``cases.self_service`` (own cases only, audited, capped per day)
followed by a redirect that shows a translated confirmation or reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, time
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from overdue.cases import self_service
from overdue.cases.access import Conflict, NotAllowed, NotFound
from overdue.cases.self_service_links import Link, LinkInvalid, read_token
from overdue.web import labels
from overdue.web.auth import utc_now
from overdue.web.deps import DB, business_date, profile_of, settings_of
from overdue.web.problems import Problem
from overdue.web.render import render
from overdue.web.workbench import yuan_to_fen

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
TOKEN = r"{token}"


def _link(request: Request, session: DB, token: str) -> Link:
    """The customer the link belongs to; a 404 page for a malformed, forged or expired link
    (a dependency: checked before the form is read, so a bad link learns nothing more)."""
    try:
        return read_token(
            settings_of(request).link_secret, token, as_of=business_date(request, session)
        )
    except LinkInvalid as exc:
        log.info("self-service link refused: %s", exc.reason)
        raise Problem(404, "this link is not valid or has expired") from None


ValidLink = Annotated[Link, Depends(_link)]


def _back(token: str, *, done: str | None = None, failed: str | None = None) -> RedirectResponse:
    key, value = ("done", done) if done else ("failed", failed or "other")
    return RedirectResponse(f"/self/{token}?{key}={value}#result", status_code=303)


def _failure(exc: Exception) -> str:
    """A failure's key in ``labels.SELF_SERVICE_FAILED`` (the visitor sees a translated text)."""
    if isinstance(exc, self_service.TooManyActions):
        return "limit"
    if isinstance(exc, Conflict):
        return "closed"
    text = str(exc)
    for key in ("promised_date", "amount", "contact hours", "text"):
        if text.startswith(key):
            return key.split()[-1].split("_")[0]
    return "other"


@router.get("/self/{token}", response_class=HTMLResponse)
def page(
    request: Request, session: DB, link: ValidLink, token: str, done: str = "", failed: str = ""
) -> HTMLResponse:
    as_of = business_date(request, session)
    view = self_service.view(session, link.customer_id, as_of=as_of, at=utc_now())
    profile = profile_of(request)
    context = {
        "view": view,
        "token": token,
        "as_of": as_of,
        "valid_until": link.valid_until,
        "first_amount": str(Decimal(view.cases[0].overdue_fen).scaleb(-2)) if view.cases else "",
        "market": profile.name,
        "quiet_from": f"{profile.quiet_end_minute // 60:02d}:{profile.quiet_end_minute % 60:02d}",
        "quiet_to": f"{profile.quiet_start_minute // 60:02d}:{profile.quiet_start_minute % 60:02d}",
        "flash": labels.SELF_SERVICE_DONE.get(done),
        "failure": labels.SELF_SERVICE_FAILED.get(failed) if failed else None,
        "stoppable": self_service.STOPPABLE_CHANNELS,
        "help_kinds": labels.SELF_SERVICE_HELP,
        "complaint_categories": labels.COMPLAINT_CATEGORIES,
    }
    return render(request, "self_service.html", context, default_language=view.language)


def _act(session: Session, token: str, done: str, action: Callable[[], object]) -> RedirectResponse:
    """Run one self-service action in a savepoint; back to the page with its outcome."""
    try:
        with session.begin_nested():
            action()
    except (ValueError, Conflict, NotFound, NotAllowed) as exc:
        return _back(token, failed=_failure(exc))
    return _back(token, done=done)


@router.post("/self/{token}/promise")
def post_promise(
    request: Request,
    session: DB,
    link: ValidLink,
    token: str,
    case_id: Annotated[int, Form()],
    amount: Annotated[str, Form(max_length=30)],
    promised_date: Annotated[date, Form()],
) -> RedirectResponse:
    as_of = business_date(request, session)
    return _act(session, token, "promise", lambda: self_service.promise(
        session, link.customer_id, case_id, amount_fen=yuan_to_fen(amount),
        promised_date=promised_date, as_of=as_of, at=utc_now(),
    ))  # fmt: skip


@router.post("/self/{token}/help")
def post_help(
    request: Request,
    session: DB,
    link: ValidLink,
    token: str,
    case_id: Annotated[int, Form()],
    kind: Annotated[str, Form(max_length=20)],
    text: Annotated[str, Form(max_length=self_service.MAX_TEXT_CHARS)] = "",
) -> RedirectResponse:
    as_of = business_date(request, session)
    return _act(session, token, "help", lambda: self_service.ask_for_help(
        session, link.customer_id, case_id, kind=kind, text=text, as_of=as_of, at=utc_now(),
    ))  # fmt: skip


@router.post("/self/{token}/stop")
def post_stop(
    session: DB, link: ValidLink, token: str, channel: Annotated[str, Form(max_length=20)]
) -> RedirectResponse:
    return _act(session, token, "stop", lambda: self_service.stop_channel(
        session, link.customer_id, channel, at=utc_now(),
    ))  # fmt: skip


@router.post("/self/{token}/hours")
def post_hours(
    request: Request,
    session: DB,
    link: ValidLink,
    token: str,
    start: Annotated[time, Form()],
    end: Annotated[time, Form()],
) -> RedirectResponse:
    profile = profile_of(request)
    return _act(session, token, "hours", lambda: self_service.set_contact_hours(
        session, link.customer_id, start, end, profile=profile, at=utc_now(),
    ))  # fmt: skip


@router.post("/self/{token}/complaint")
def post_complaint(
    session: DB,
    link: ValidLink,
    token: str,
    category: Annotated[str, Form(max_length=40)],
    text: Annotated[str, Form(max_length=self_service.MAX_TEXT_CHARS)] = "",
) -> RedirectResponse:
    return _act(session, token, "complaint", lambda: self_service.complain(
        session, link.customer_id, category=category, text=text, at=utc_now(),
    ))  # fmt: skip
