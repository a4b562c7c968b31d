"""Request dependencies: the database session, the signed-in user, the language, CSRF checks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.orm import Session

from overdue.cases.access import Actor
from overdue.compliance.profile import Profile
from overdue.web import auth
from overdue.web.i18n import Lang, normalise
from overdue.web.problems import Problem
from overdue.web.settings import WebSettings

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoginRedirect(Exception):
    """A page route without a session: answered by a redirect to /login."""


def settings_of(request: Request) -> WebSettings:
    return request.app.state.settings


def profile_of(request: Request) -> Profile:
    """The compliance profile people's contacts pass (loaded once at start)."""
    profile: Profile = request.app.state.profile
    return profile


def db(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": commit before the response is sent, so a redirect that follows a write (a
# new session after sign-in, a promise) always finds it committed
DB = Annotated[Session, Depends(db, scope="function")]


def optional_user(request: Request, session: DB) -> auth.SessionUser | None:
    if "user" in request.state._state:
        return request.state.user
    token = request.cookies.get(auth.SESSION_COOKIE)
    user = auth.lookup(session.connection(), settings_of(request), token, auth.utc_now())
    request.state.user = user
    return user


def api_user(
    request: Request, user: Annotated[auth.SessionUser | None, Depends(optional_user)]
) -> auth.SessionUser:
    """API routes: 401 without a valid session; writes also need header X-CSRF-Token."""
    if user is None:
        raise Problem(401, "sign in first: this route needs a session cookie (POST /login)")
    if request.method in WRITE_METHODS and not auth.csrf_ok(
        user.csrf_token, request.headers.get("X-CSRF-Token")
    ):
        raise Problem(403, "missing or wrong X-CSRF-Token header", slug="csrf")
    return user


def page_user(user: Annotated[auth.SessionUser | None, Depends(optional_user)]) -> auth.SessionUser:
    """Page routes: redirect to /login without a valid session."""
    if user is None:
        raise LoginRedirect()
    return user


async def page_form_user(
    request: Request, user: Annotated[auth.SessionUser, Depends(page_user)]
) -> auth.SessionUser:
    """Form posts: the session's CSRF token must come back in the form field ``csrf_token``."""
    form = await request.form()
    if not auth.csrf_ok(user.csrf_token, str(form.get("csrf_token") or "")):
        raise Problem(
            403, "the form's CSRF token is missing or wrong; reload the page", slug="csrf"
        )
    return user


def lang_of(
    request: Request, user: auth.SessionUser | None = None, default_language: str | None = None
) -> Lang:
    chosen = (
        normalise(request.query_params.get("lang"))
        or normalise(request.cookies.get("lang"))
        or (normalise(user.language) if user else None)
        or normalise(default_language)
        or settings_of(request).default_language
    )
    return Lang(chosen)


def require_role(user: auth.SessionUser, *roles: str) -> None:
    if user.role not in roles:
        raise Problem(403, f"role {user.role!r} may not do this (needs one of {', '.join(roles)})")


ApiUser = Annotated[auth.SessionUser, Depends(api_user)]
PageUser = Annotated[auth.SessionUser, Depends(page_user)]
FormUser = Annotated[auth.SessionUser, Depends(page_form_user)]


def actor_of(user: auth.SessionUser) -> Actor:
    """The case services' Actor for the signed-in user."""
    return Actor(user.id, user.role, user.team_id, user.agency_id, user.username)


BUSINESS_DATE_TTL = timedelta(minutes=10)


def business_date(request: Request, session: Session) -> date:
    """The business date of web actions: the settings' date, else the store's latest case update
    (the last end-of-day load), else today's UTC date. Cached for ten minutes."""
    settings = settings_of(request)
    if settings.business_date is not None:
        return settings.business_date
    cache = request.app.state.business_date
    now = auth.utc_now()
    if cache and now - cache[1] < BUSINESS_DATE_TTL:
        return cache[0]
    from overdue.store.tables import Case

    latest = session.scalar(sa.select(sa.func.max(Case.updated_on)))
    chosen = latest or now.date()
    request.app.state.business_date = (chosen, now)
    return chosen
