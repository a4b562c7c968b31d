"""The REST API under /api/v1 (OpenAPI at /openapi.json); errors are problem+json.

Every route but the payments webhook needs a session (401 otherwise); writes made with the session
cookie also need header X-CSRF-Token (403 otherwise). Row scoping, masking and audit come from the
case services (overdue.cases); this layer only parses, calls and answers.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from overdue.cases import actions, contact_gate, customer_view, views
from overdue.store.tables import CASE_STATUSES, CHANNELS, TRANSFER_REASONS
from overdue.web import admin, payments, webhook
from overdue.web.auth import utc_now
from overdue.web.deps import (
    DB,
    ApiUser,
    actor_of,
    api_user,
    business_date,
    profile_of,
    settings_of,
)
from overdue.web.problems import Problem, problem_response

router = APIRouter(prefix="/api/v1", tags=["api"])
authed = APIRouter(dependencies=[Depends(api_user)])

Channel = Literal[CHANNELS]  # type: ignore[valid-type]
Outcome = Literal[actions.OUTCOMES]  # type: ignore[valid-type]
TransferReason = Literal[TRANSFER_REASONS]  # type: ignore[valid-type]
StatusFilter = Literal[(*CASE_STATUSES, "all")]  # type: ignore[valid-type]
Sort = Literal[views.SORTS]  # type: ignore[valid-type]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OutcomeIn(_In):
    """A contact attempt and its outcome."""

    channel: Channel = "voice_agent"
    outcome: Outcome
    connected: bool
    right_party: bool = False
    conversation: bool | None = None
    recording_ref: str | None = Field(default=None, max_length=400)
    note: str | None = Field(default=None, max_length=actions.MAX_NOTE_CHARS)


class PromiseIn(_In):
    """A promise to pay ``amount_fen`` (integer fen) by ``promised_date``."""

    amount_fen: int = Field(gt=0, le=actions.MAX_PROMISE_FEN)
    promised_date: date
    contact_attempt_id: int | None = Field(default=None, gt=0)


class NoteIn(_In):
    body: str = Field(min_length=1, max_length=actions.MAX_NOTE_CHARS)


class TransferIn(_In):
    reason: TransferReason
    to_team_id: int | None = Field(default=None, gt=0)
    note: str | None = Field(default=None, max_length=actions.MAX_NOTE_CHARS)


class UserIn(_In):
    username: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    role: admin.Role
    password: str = Field(min_length=8, max_length=1024)
    team_id: int | None = Field(default=None, gt=0)
    agency_id: int | None = Field(default=None, gt=0)
    language: Literal["zh-CN", "en"] = "zh-CN"
    capacity: int = Field(default=80, ge=0, le=10_000)
    max_open_cases: int = Field(default=500, ge=0, le=100_000)


class UserPatch(_In):
    team_id: int | None = Field(default=None, gt=0)
    capacity: int | None = Field(default=None, ge=0, le=10_000)
    max_open_cases: int | None = Field(default=None, ge=0, le=100_000)
    active: bool | None = None


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(jsonable_encoder(data), status_code=status)


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


@authed.get("/cases")
def list_cases(
    request: Request,
    session: DB,
    user: ApiUser,
    queue: Annotated[str | None, Query(max_length=100)] = None,
    bucket: Annotated[str | None, Query(max_length=4)] = None,
    status: StatusFilter = "open",
    sort: Sort = "priority",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=views.MAX_PAGE_SIZE)] = 50,
) -> JSONResponse:
    """The cases you may see (a collector: theirs; an agency: its placements), one page."""
    result = views.list_queue(
        session,
        actor_of(user),
        queue=queue,
        bucket=bucket,
        status=None if status == "all" else status,
        sort=sort,
        page=page,
        page_size=page_size,
        as_of=business_date(request, session),
    )
    return _json(
        {
            "items": [asdict(r) for r in result.rows],
            "total": result.total,
            "page": result.page,
            "page_size": result.page_size,
        }
    )


@authed.get("/cases/{case_id}")
def get_case(
    session: DB,
    user: ApiUser,
    case_id: int,
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> JSONResponse:
    """One case with its customer (masked for your role) and promises."""
    return _json(asdict(views.get_case(session, actor_of(user), case_id, reason=reason)))


@authed.get("/customers/{customer_id}")
def get_customer(
    session: DB,
    user: ApiUser,
    customer_id: str,
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> JSONResponse:
    """All of a customer's accounts, open cases, total overdue and every contact across them."""
    view = customer_view.customer_overview(
        session, actor_of(user), customer_id, reason=reason, at=utc_now()
    )
    return _json(asdict(view))


@authed.get("/cases/{case_id}/timeline")
def case_timeline(session: DB, user: ApiUser, case_id: int) -> JSONResponse:
    """Everything that happened on the case, oldest first."""
    return _json([asdict(e) for e in views.timeline(session, actor_of(user), case_id)])


@authed.get("/cases/{case_id}/contacts")
def case_contacts(session: DB, user: ApiUser, case_id: int) -> JSONResponse:
    """The case's contact attempts (addresses masked), oldest first."""
    entries = views.timeline(session, actor_of(user), case_id)
    return _json([asdict(e) for e in entries if e.kind == "contact"])


@authed.post("/cases/{case_id}/outcomes", status_code=201)
def log_outcome(
    request: Request, session: DB, user: ApiUser, case_id: int, body: OutcomeIn
) -> JSONResponse:
    """Log a contact attempt and its outcome, behind the compliance gate: a contact the gate
    blocks is recorded as blocked (with its rule) and answered with 409 naming the rule."""
    try:
        attempt_id = contact_gate.attempt_contact(
            session, actor_of(user), case_id, profile=profile_of(request), **body.model_dump(),
            at=utc_now(),
        )  # fmt: skip
    except contact_gate.ContactBlocked as exc:  # answered, not raised: the record is committed
        return problem_response(409, str(exc), slug=f"contact-blocked/{exc.verdict.rule}")
    return _json({"contact_attempt_id": attempt_id}, 201)


@authed.post("/cases/{case_id}/promises", status_code=201)
def record_promise(
    request: Request, session: DB, user: ApiUser, case_id: int, body: PromiseIn
) -> JSONResponse:
    """Record a promise to pay (an earlier pending promise on the case is cancelled)."""
    promise_id = actions.record_promise(
        session,
        actor_of(user),
        case_id,
        amount_fen=body.amount_fen,
        promised_date=body.promised_date,
        as_of=business_date(request, session),
        contact_attempt_id=body.contact_attempt_id,
        at=utc_now(),
    )
    return _json({"promise_id": promise_id}, 201)


@authed.post("/cases/{case_id}/notes", status_code=201)
def add_note(session: DB, user: ApiUser, case_id: int, body: NoteIn) -> JSONResponse:
    """Add a note (stored as typed, shown escaped)."""
    note_id = actions.add_note(session, actor_of(user), case_id, body.body, at=utc_now())
    return _json({"note_id": note_id}, 201)


@authed.post("/cases/{case_id}/transfers", status_code=201)
def transfer(
    request: Request, session: DB, user: ApiUser, case_id: int, body: TransferIn
) -> JSONResponse:
    """Transfer the case (dispute and hardship pause collection)."""
    transfer_id = actions.transfer_case(
        session,
        actor_of(user),
        case_id,
        reason=body.reason,
        as_of=business_date(request, session),
        to_team_id=body.to_team_id,
        note=body.note,
        at=utc_now(),
    )
    return _json({"transfer_id": transfer_id}, 201)


@authed.get("/users")
def list_users(session: DB, user: ApiUser) -> JSONResponse:
    """Every user (admin only)."""
    return _json(admin.users(session, actor_of(user)))


@authed.post("/users", status_code=201)
def create_user(session: DB, user: ApiUser, body: UserIn) -> JSONResponse:
    """Create a user (admin only); the password is stored as an argon2 hash."""
    new_id = admin.create_user(session, actor_of(user), **body.model_dump(), at=utc_now())
    return _json({"id": new_id}, 201)


@authed.patch("/users/{user_id}")
def update_user(session: DB, user: ApiUser, user_id: int, body: UserPatch) -> JSONResponse:
    """Change a user's team, capacity, open-case limit or active flag (admin only)."""
    changes = body.model_dump(exclude_unset=True)
    admin.update_user(session, actor_of(user), user_id, changes, at=utc_now())
    return _json({"id": user_id, "changed": sorted(changes)})


@router.post(
    "/webhooks/payments",
    summary="Payments webhook (HMAC-SHA256 of the raw body, hex, in header X-Signature)",
    responses={401: {"description": "missing or bad signature"}},
)
async def payments_webhook(request: Request, session: DB) -> JSONResponse:
    """Record a payment once; the same payment_id again answers ``duplicate`` (200)."""
    body = await request.body()
    if len(body) > webhook.MAX_BODY_BYTES:
        raise Problem(413, f"body larger than {webhook.MAX_BODY_BYTES} bytes")
    secret = settings_of(request).webhook_secret
    if not webhook.signature_ok(secret, body, request.headers.get(webhook.SIGNATURE_HEADER)):
        raise Problem(401, "missing or bad X-Signature (hex HMAC-SHA256 of the raw body)")
    try:
        payment = payments.parse(body)
    except payments.ValidationError as exc:
        raise Problem(422, _pydantic_detail(exc)) from None
    answer = payments.record(session, payment, utc_now())
    return JSONResponse(answer, status_code=201 if answer["status"] == "applied" else 200)


def _pydantic_detail(exc: payments.ValidationError) -> str:
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:20]
    ]
    return "; ".join(parts)


# last: include the session-only routes once they are all defined
router.include_router(authed)
