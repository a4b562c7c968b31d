"""The collector workbench: my queue (by priority), the case page and its forms.

Everything goes through the case services (overdue.cases.views / actions): they scope rows to the
signed-in user, mask personal data for their role and audit every change and unmasked view.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from overdue.cases import actions, contact_gate, customer_view, views
from overdue.cases.access import Conflict, NotFound
from overdue.compliance.profile import Profile
from overdue.store.tables import CASE_STATUSES, CHANNELS, TRANSFER_REASONS, Case
from overdue.web import labels
from overdue.web.auth import utc_now
from overdue.web.deps import (
    DB,
    FormUser,
    PageUser,
    actor_of,
    business_date,
    lang_of,
    profile_of,
)
from overdue.web.i18n import Lang
from overdue.web.render import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    session: DB,
    user: PageUser,
    bucket: Annotated[str | None, Query(max_length=4)] = None,
    status: Annotated[str, Query(max_length=10)] = "open",
    sort: Annotated[str, Query(max_length=10)] = "priority",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    as_of = business_date(request, session)
    result = views.list_queue(
        session,
        actor_of(user),
        bucket=bucket or None,
        status=status if status in CASE_STATUSES else None,
        sort=sort,
        page=page,
        page_size=PAGE_SIZE,
        as_of=as_of,
    )
    pages = max(1, -(-result.total // result.page_size))
    base = {"bucket": bucket or "", "status": status, "sort": sort}
    return render(
        request,
        "queue.html",
        {
            "result": result,
            "as_of": as_of,
            "pages": pages,
            "filters": base,
            "statuses": CASE_STATUSES,
            "sorts": views.SORTS,
            "page_url": lambda n: "/queue?" + urlencode({**base, "page": n}),
        },
        user=user,
    )


def _timeline_rows(lang: Lang, entries: list[views.TimelineEntry]) -> list[dict[str, Any]]:
    """Each entry as (when, kind, text, user text): the text is built here so it is translated."""
    rows = []
    for e in reversed(entries):
        d = e.details
        text, free = "", ""
        if e.kind == "contact":
            text = " · ".join(
                part
                for part in (
                    lang.gettext(labels.CHANNEL_NAMES.get(d["channel"], d["channel"])),
                    lang.gettext(labels.OUTCOME_NAMES.get(d["outcome"] or "", ""))
                    if d["outcome"]
                    else "",
                    lang.gettext("Right party") if d["right_party"] else "",
                )
                if part
            )
            free = d.get("to_address") or ""
        elif e.kind == "promise":
            text = (
                lang.gettext("{amount} by {date}").format(
                    amount=lang.money(d["amount_fen"]), date=lang.date(d["promised_date"])
                )
                + " · "
                + lang.gettext(labels.PROMISE_STATUS.get(d["status"], d["status"]))
            )
        elif e.kind == "note":
            free = d["body"]
        elif e.kind == "transfer":
            text = lang.gettext(labels.TRANSFER_REASONS.get(str(d.get("reason")), "Other"))
        elif e.kind in ("payment", "reversal"):
            text = f"{lang.money(d['amount_fen'])} · {lang.date(d['value_date'])}"
        elif e.kind == "status":
            event = str(d.get("event") or e.summary.split(":", 1)[0].strip())
            text = lang.gettext(labels.CASE_EVENTS.get(event, labels.N_("Status")))
            free = e.summary.split(":", 1)[1].strip() if ":" in e.summary else ""
        elif e.kind == "assignment":
            free = f"#{d['user_id']}" if d.get("user_id") else ""
        elif e.kind == "placement":
            free = f"#{d.get('agency_id')}"
        rows.append(
            {
                "at": e.at,
                "kind": e.kind,
                "kind_label": lang.gettext(labels.TIMELINE_KINDS.get(e.kind, e.kind)),
                "text": text,
                "free": free,
            }
        )
    return rows


def _breakdown(case: views.CaseDetail) -> tuple[list[tuple[str, int]], bool]:
    parts = [
        (labels.N_("Principal"), case.principal_fen),
        (labels.N_("Interest"), case.interest_fen),
        (labels.N_("Fees"), case.fee_fen),
        (labels.N_("Penalty interest"), case.penalty_fen),
    ]
    return parts, sum(v for _, v in parts) == case.overdue_fen


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(
    request: Request,
    session: DB,
    user: PageUser,
    case_id: int,
    reason: Annotated[str | None, Query(max_length=500)] = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
    error: Annotated[str | None, Query(max_length=500)] = None,
    blocked: Annotated[str | None, Query(max_length=40)] = None,
    check: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    lang = lang_of(request, user)
    actor = actor_of(user)
    case = views.get_case(session, actor, case_id, reason=reason or None, at=utc_now())
    # the gate's verdict on an agent call now, when asked (the "may I call?" link): it reads the
    # debtor's 8-day contact history, too much to pay on every view of the page
    call_now = _call_now(session, case_id, profile_of(request)) if check else None
    entries = views.timeline(session, actor, case_id)
    parts, adds_up = _breakdown(case)
    as_of = business_date(request, session)
    return render(
        request,
        "case.html",
        {
            "case": case,
            "c": case.customer,
            "as_of": as_of,
            "parts": parts,
            "adds_up": adds_up,
            "timeline": _timeline_rows(lang, entries),
            "channels": CHANNELS,
            "outcomes": actions.OUTCOMES,
            "reasons": TRANSFER_REASONS,
            "flash": labels.FLASH.get(done or ""),
            "form_error": error,
            "blocked_rule": labels.BLOCK_RULES.get(blocked or "") if blocked else None,
            "call_now": call_now,
            "reason": reason or "",
            "local_now": lang.datetime(utc_now(), case.customer.time_zone),
            "customer_flags": labels.CUSTOMER_FLAGS,
            "outcome_names": labels.OUTCOME_NAMES,
            "products": labels.PRODUCTS,
            "language_labels": labels.LANGUAGE_LABELS,
        },
        user=user,
    )


def _call_now(session: Session, case_id: int, profile: Profile) -> tuple[bool, str] | None:
    """The gate's verdict on an agent's call to the debtor right now: (allowed, rule label)."""
    case = session.get(Case, case_id)
    if case is None or case.status == "closed":
        return None
    verdict = contact_gate.check_contact(
        session, case, channel="voice_agent", at=utc_now(), profile=profile
    )
    return verdict.allowed, labels.BLOCK_RULES.get(verdict.rule, verdict.rule)


def _back(case_id: int, **params: str) -> RedirectResponse:
    return RedirectResponse(f"/cases/{case_id}?{urlencode(params)}", status_code=303)


def _failed(case_id: int, exc: Exception) -> RedirectResponse:
    return _back(case_id, error=" ".join(str(exc).split())[:400])


def yuan_to_fen(text: str) -> int:
    """'1234.5' → 123450; at most two decimals, more than zero."""
    try:
        amount = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"amount: {text!r} is not a number") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"amount: {text!r} must be positive with at most two decimals")
    return int(amount * 100)


@router.post("/cases/{case_id}/outcome")
def post_outcome(
    request: Request,
    session: DB,
    user: FormUser,
    case_id: int,
    channel: Annotated[str, Form(max_length=20)],
    outcome: Annotated[str, Form(max_length=40)],
    connected: Annotated[bool, Form()] = False,
    right_party: Annotated[bool, Form()] = False,
    note: Annotated[str, Form(max_length=actions.MAX_NOTE_CHARS)] = "",
) -> RedirectResponse:
    try:
        contact_gate.attempt_contact(
            session, actor_of(user), case_id, profile=profile_of(request), channel=channel,
            outcome=outcome, connected=connected or right_party, right_party=right_party,
            note=note.strip() or None, at=utc_now(),
        )  # fmt: skip
    except contact_gate.ContactBlocked as exc:
        return _back(case_id, blocked=exc.verdict.rule)  # the blocked attempt is kept
    except (ValueError, Conflict, NotFound) as exc:
        return _failed(case_id, exc)
    return _back(case_id, done="outcome")


@router.post("/cases/{case_id}/promise")
def post_promise(
    request: Request,
    session: DB,
    user: FormUser,
    case_id: int,
    amount: Annotated[str, Form(max_length=30)],
    promised_date: Annotated[date, Form()],
) -> RedirectResponse:
    try:
        with session.begin_nested():
            actions.record_promise(
                session, actor_of(user), case_id, amount_fen=yuan_to_fen(amount),
                promised_date=promised_date, as_of=business_date(request, session), at=utc_now(),
            )  # fmt: skip
    except (ValueError, Conflict, NotFound) as exc:
        return _failed(case_id, exc)
    return _back(case_id, done="promise")


@router.post("/cases/{case_id}/note")
def post_note(
    session: DB,
    user: FormUser,
    case_id: int,
    body: Annotated[str, Form(max_length=actions.MAX_NOTE_CHARS)],
) -> RedirectResponse:
    try:
        with session.begin_nested():
            actions.add_note(session, actor_of(user), case_id, body, at=utc_now())
    except (ValueError, Conflict, NotFound) as exc:
        return _failed(case_id, exc)
    return _back(case_id, done="note")


@router.post("/cases/{case_id}/transfer")
def post_transfer(
    request: Request,
    session: DB,
    user: FormUser,
    case_id: int,
    reason: Annotated[str, Form(max_length=20)],
    note: Annotated[str, Form(max_length=actions.MAX_NOTE_CHARS)] = "",
) -> RedirectResponse:
    try:
        with session.begin_nested():
            actions.transfer_case(
                session, actor_of(user), case_id, reason=reason,
                as_of=business_date(request, session), note=note.strip() or None, at=utc_now(),
            )  # fmt: skip
    except (ValueError, Conflict, NotFound) as exc:
        return _failed(case_id, exc)
    return _back(case_id, done="transfer")


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(request: Request, session: DB, user: PageUser, customer_id: str) -> HTMLResponse:
    view = customer_view.customer_overview(session, actor_of(user), customer_id, at=utc_now())
    return render(
        request,
        "customer.html",
        {
            "view": view,
            "c": view.customer,
            "products": labels.PRODUCTS,
            "outcome_names": labels.OUTCOME_NAMES,
        },
        user=user,
    )
