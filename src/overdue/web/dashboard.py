"""The manager dashboard page: today's KPIs, buckets, roll rates, vintage, alerts, performance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from overdue.domain.buckets import CN_BUCKETS
from overdue.strategy.arm_figures import ArmFigures, arm_rows
from overdue.web import charts, performance
from overdue.web.deps import DB, PageUser, lang_of, require_role, settings_of
from overdue.web.i18n import Lang
from overdue.web.labels import N_, SEVERITY
from overdue.web.render import render

router = APIRouter(include_in_schema=False)
DASHBOARD_ROLES = ("admin", "manager", "analyst", "auditor")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def open_cases_by_bucket(session: Any) -> dict[str, int]:
    from overdue.store.tables import Base

    cases = Base.metadata.tables["cases"]
    rows = session.execute(
        sa.select(cases.c.bucket_cn, sa.func.count())
        .where(cases.c.status != "closed")
        .group_by(cases.c.bucket_cn)
    ).all()
    return {str(bucket): int(n) for bucket, n in rows}


def _today_cards(lang: Lang, today: performance.Today) -> list[tuple[str, str]]:
    return [
        (lang.gettext(N_("Business date")), lang.date(today.as_of)),
        (lang.gettext(N_("Open cases")), lang.number(today.open_cases)),
        (lang.gettext(N_("Overdue in open cases")), lang.money(today.overdue_open_fen)),
        (lang.gettext(N_("Cases opened today")), lang.number(today.opened_today)),
        (lang.gettext(N_("Promises due today")), lang.number(today.promises_due)),
        (lang.gettext(N_("Contacts today")), lang.number(today.contacts_today)),
        (lang.gettext(N_("Collected today")), lang.money(today.collected_today_fen)),
        (lang.gettext(N_("Open complaints")), lang.number(today.open_complaints)),
    ]


def _performance_chart(lang: Lang, rows: list[performance.Row]) -> dict[str, Any]:
    names = [r.name for r in rows[:20]]
    series = (
        (N_("Contacts"), [r.contacts for r in rows[:20]]),
        (N_("Right-party contacts"), [r.right_party for r in rows[:20]]),
        (N_("Promises"), [r.promises for r in rows[:20]]),
    )
    return {
        "data": [
            {"type": "bar", "name": lang.gettext(label), "x": names, "y": values}
            for label, values in series
        ],
        "layout": {
            "title": {"text": lang.gettext(N_("Collector activity, last 30 days"))},
            "barmode": "group",
            "margin": {"l": 50, "r": 20, "t": 50, "b": 80},
        },
    }


def _strategy_arms(path: Path | None) -> tuple[list[ArmFigures], list[tuple[str, int]]]:
    """Contacts, blocked attempts, promises and recoveries per arm of the last strategy run."""
    if path is None or not path.is_file():
        return [], []
    rows, blocked = arm_rows(json.loads(path.read_text(encoding="utf-8")))
    return rows, sorted(blocked.items())


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, session: DB, user: PageUser) -> HTMLResponse:
    require_role(user, *DASHBOARD_ROLES)
    lang = lang_of(request, user)
    conn = session.connection()
    today = performance.today(conn)
    people = performance.collectors(session, today.as_of) if today.as_of else []
    teams = performance.teams(session, today.as_of) if today.as_of else []
    by_bucket = open_cases_by_bucket(session)
    figures: list[tuple[str, dict[str, Any]]] = [
        (
            "chart-open-buckets",
            charts.bucket_chart(
                lang,
                list(CN_BUCKETS),
                [by_bucket.get(b, 0) for b in CN_BUCKETS],
                lang.gettext(N_("Open cases by bucket")),
            ),
        ),
        ("chart-performance", _performance_chart(lang, people)),
    ]
    context: dict[str, Any] = {"book_kpis": [], "alerts": [], "measures_error": None}
    settings = settings_of(request)
    if settings.snapshot_dir is not None:
        measures = charts.load_measures(
            request.app.state.dashboard_cache, settings.snapshot_dir, settings.book_dir
        )
        context["measures_error"] = measures.error
        if measures.monitoring is not None:
            monitoring = measures.monitoring
            context["book_kpis"] = charts.day_kpis(lang, monitoring)
            figures.append(("chart-book-buckets", charts.snapshot_bucket_chart(lang, monitoring)))
            figures.append(("chart-roll-rates", charts.roll_rate_chart(lang, monitoring)))
            vintage = charts.vintage_chart(lang, monitoring)
            if vintage is not None:
                figures.append(("chart-vintage", vintage))
            context["alerts"] = [
                (
                    charts.alert_name(lang, a.rule),
                    a.at,
                    lang.gettext(SEVERITY.get(a.severity, a.severity)),
                    a.value,
                    a.threshold,
                    a.op,
                )
                for a in measures.alerts[-charts.MAX_ALERTS_SHOWN :]
            ]
    context["arms"], context["blocked_by_rule"] = _strategy_arms(settings.strategy_figures)
    return render(
        request,
        "dashboard.html",
        {
            "today_cards": _today_cards(lang, today),
            "figures": figures,
            "people": people,
            "teams": teams,
            **context,
        },
        user=user,
    )


@router.get("/dashboard/daily.xlsx")
def daily_report(request: Request, session: DB, user: PageUser) -> Response:
    """The daily report workbook of the latest snapshot up to the store's business date."""
    import io

    from overdue.portfolio.eod import snapshot_dates
    from overdue.reports.daily_report import daily_workbook

    require_role(user, *DASHBOARD_ROLES)
    snapshot_dir = settings_of(request).snapshot_dir
    if snapshot_dir is None:
        raise HTTPException(404, "no snapshot folder is configured")
    business = performance.business_date(session.connection())
    days = [d for d in snapshot_dates(snapshot_dir) if business is None or d <= business]
    if not days:
        raise HTTPException(404, "no snapshot up to the business date")
    buffer = io.BytesIO()
    daily_workbook(snapshot_dir, days[-1], session).save(buffer)
    name = f"daily-{days[-1].isoformat()}.xlsx"
    return Response(
        buffer.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
