"""Complaints (SLA, rate per 1,000 contacts), quality reviews, the customer view, retention and
the settings file."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cases_world import AS_OF, AT, World, add_case
from sqlalchemy import select
from sqlalchemy.orm import Session

from overdue.cases.access import NotAllowed
from overdue.cases.actions import log_contact_outcome
from overdue.cases.complaints import (
    complaint_rates,
    overdue_complaints,
    register_complaint,
    resolve_complaint,
)
from overdue.cases.config import CasesConfigError, RetentionRule, load_config
from overdue.cases.customer_view import customer_overview
from overdue.cases.quality import (
    CHECKLIST,
    quality_by_collector_and_agency,
    review_contact,
    sample_contacts,
)
from overdue.cases.retention import purge_personal_data
from overdue.store.tables import Case, ContactAttempt, ContactPoint, Customer


def _contacts(session: Session, world: World, count: int, *, recorded: bool = True) -> list[int]:
    return [
        log_contact_outcome(
            session,
            world.actor("collector1"),
            world.cases[0],
            channel="voice_agent",
            outcome="no_answer",
            connected=True,
            right_party=False,
            recording_ref=f"rec-{i}" if recorded else None,
            at=AT + timedelta(minutes=i),
        )
        for i in range(count)
    ]


def test_complaint_register_sla_and_rate(session: Session, world: World) -> None:
    contacts = _contacts(session, world, 4)
    service = world.actor("service")
    with pytest.raises(NotAllowed):
        register_complaint(
            session,
            world.actor("collector1"),
            customer_id="TC00001",
            channel="phone",
            category="other",
        )
    complaint_id = register_complaint(
        session,
        service,
        customer_id="TC00001",
        channel="hotline",
        category="too_many_contacts",
        contact_attempt_id=contacts[0],
        received_at=AT,
        sla_days=10,
    )
    assert overdue_complaints(session, AT + timedelta(days=9)) == []
    late = overdue_complaints(session, AT + timedelta(days=11))
    assert [c.id for c in late] == [complaint_id]
    assert late[0].collector_user_id == world.actor("collector1").user_id
    assert late[0].case_id == world.cases[0]
    rates = {r.who: r for r in complaint_rates(session, AS_OF, AS_OF)}
    assert rates["all"].per_thousand == Decimal("250.00")
    assert rates[f"user:{world.actor('collector1').user_id}"].complaints == 1
    resolve_complaint(session, service, complaint_id, resolution="apologised; contacts reduced")
    assert overdue_complaints(session, AT + timedelta(days=11)) == []
    with pytest.raises(ValueError, match="category"):
        register_complaint(session, service, customer_id="TC00001", channel="x", category="nope")


def test_quality_sample_and_review(session: Session, world: World) -> None:
    recorded = _contacts(session, world, 6)
    _contacts(session, world, 2, recorded=False)
    sample = sample_contacts(session, AS_OF, AS_OF, 3, seed=7)
    assert len(sample) == 3 and set(sample) <= set(recorded)
    assert sample == sample_contacts(session, AS_OF, AS_OF, 3, seed=7)
    checklist = dict.fromkeys(CHECKLIST, True)
    checklist["no_threats"] = False
    with pytest.raises(NotAllowed):
        review_contact(session, world.actor("collector2"), sample[0], checklist)
    review_contact(session, world.actor("auditor"), sample[0], checklist)
    assert sample[0] not in sample_contacts(session, AS_OF, AS_OF, 5, seed=7)
    summary = {s.who: s for s in quality_by_collector_and_agency(session)}
    mine = summary[f"user:{world.actor('collector1').user_id}"]
    assert (mine.reviews, mine.average_score, mine.violations) == (1, 88, 1)
    with pytest.raises(ValueError, match="missing"):
        review_contact(session, world.actor("auditor"), sample[1], {"no_threats": True})


def test_customer_view_spans_accounts(session: Session, world: World) -> None:
    second = Case(
        account_id="TA00001",
        customer_id="TC00001",
        status="closed",
        opened_on=AS_OF - timedelta(days=90),
        closed_on=AS_OF - timedelta(days=60),
        close_reason="cured",
        dpd=0,
        bucket_cn="M0",
        overdue_fen=0,
        balance_fen=0,
        updated_on=AS_OF - timedelta(days=60),
    )
    session.add(second)
    session.flush()
    _contacts(session, world, 2)
    view = customer_overview(session, world.actor("manager"), "TC00001")
    assert len(view.cases) == 2 and view.total_overdue_fen == 100_000
    assert len(view.contacts) == 2 and view.contacts[0]["to_address"] == "138****0001"
    assert view.customer.phone == "138****0001"
    with pytest.raises(NotAllowed):
        customer_overview(session, world.actor("collector2"), "TC00001")


def test_retention_purges_only_after_the_keep_years(session: Session, world: World) -> None:
    case_id = add_case(session, 50)
    case = session.get(Case, case_id)
    assert case is not None
    case.status, case.closed_on, case.close_reason = "closed", date(2019, 1, 10), "cured"
    session.add(ContactPoint(customer_id="TC00050", kind="phone", value="13800000050"))
    session.flush()
    rule = RetentionRule(keep_years=5)
    assert purge_personal_data(session, world.actor("admin"), date(2024, 1, 9), rule) == 0
    with pytest.raises(NotAllowed):
        purge_personal_data(session, world.actor("manager"), date(2024, 1, 11), rule)
    assert purge_personal_data(session, world.actor("admin"), date(2024, 1, 11), rule) == 1
    customer = session.get(Customer, "TC00050")
    assert customer is not None
    session.refresh(customer)
    assert (customer.name, customer.phone, customer.id_number) == (None, None, None)
    assert customer.personal_data_purged_on == date(2024, 1, 11)
    kept = session.get(Customer, "TC00001")
    assert kept is not None and kept.phone == "13800000001"  # open case: kept
    assert session.get(Case, case_id) is not None  # the collection record stays
    points = session.scalars(
        select(ContactPoint.value).where(ContactPoint.customer_id == "TC00050")
    ).all()
    assert points == ["[purged]"]
    assert not session.scalars(
        select(ContactAttempt).where(ContactAttempt.customer_id == "TC00050")
    ).all()


def test_retention_below_five_years_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cases.toml"
    path.write_text("[retention]\nkeep_years = 3\n", encoding="utf-8")
    with pytest.raises(CasesConfigError, match=r"cases.toml: retention.keep_years = 3.*5 years"):
        load_config(path)
    path.write_text('[entry]\nmin_bucket = "M9"\n', encoding="utf-8")
    with pytest.raises(CasesConfigError, match="min_bucket"):
        load_config(path)
    path.write_text('[entry]\nmin_bucket = "M2"\n[promises]\ngrace_days = 3\n', encoding="utf-8")
    config = load_config(path)
    assert (config.entry.min_bucket, config.promises.grace_days) == ("M2", 3)
