"""Queue, case page and timeline: scoping by role, masking and audit of unmasked views."""

from __future__ import annotations

import pytest
from cases_world import AS_OF, AT, World
from sqlalchemy import select
from sqlalchemy.orm import Session

from overdue.cases.access import NotAllowed, NotFound
from overdue.cases.actions import add_note, log_contact_outcome, record_promise
from overdue.cases.views import get_case, list_queue, timeline
from overdue.store.tables import AuditEntry


def test_collector_sees_only_own_cases_sorted_by_priority(session: Session, world: World) -> None:
    page = list_queue(session, world.actor("collector1"))
    assert [r.case_id for r in page.rows] == [world.cases[1], world.cases[0]]
    assert page.total == 2
    other = list_queue(session, world.actor("collector2"))
    assert [r.case_id for r in other.rows] == [world.cases[2]]


def test_agency_sees_only_its_placements(session: Session, world: World) -> None:
    page = list_queue(session, world.actor("agency"))
    assert [r.case_id for r in page.rows] == [world.cases[3]]


def test_manager_sees_all_with_filters_pages_and_sorts(session: Session, world: World) -> None:
    manager = world.actor("manager")
    assert list_queue(session, manager).total == 5
    assert list_queue(session, manager, bucket="M2").total == 1
    assert list_queue(session, manager, queue="early-en").rows[0].case_id == world.cases[2]
    first = list_queue(session, manager, page=1, page_size=2)
    second = list_queue(session, manager, page=2, page_size=2)
    assert len(first.rows) == 2 and len(second.rows) == 2
    assert not {r.case_id for r in first.rows} & {r.case_id for r in second.rows}
    assert list_queue(session, manager, page_size=10_000).page_size == 200
    by_dpd = list_queue(session, manager, sort="dpd").rows
    assert [r.dpd for r in by_dpd] == sorted((r.dpd for r in by_dpd), reverse=True)
    with pytest.raises(ValueError, match="sort"):
        list_queue(session, manager, sort="name; DROP TABLE cases")


def test_sla_breach_flag(session: Session, world: World) -> None:
    rows = list_queue(session, world.actor("manager"), as_of=AS_OF).rows
    assert not any(r.sla_breached for r in rows)
    later = list_queue(session, world.actor("manager"), as_of=AS_OF.replace(day=30, month=7))
    assert all(r.sla_breached for r in later.rows)


def test_collector_is_refused_another_collectors_case(session: Session, world: World) -> None:
    with pytest.raises(NotAllowed):
        get_case(session, world.actor("collector1"), world.cases[2])
    with pytest.raises(NotAllowed):
        timeline(session, world.actor("collector1"), world.cases[2])
    with pytest.raises(NotFound):
        get_case(session, world.actor("manager"), 999_999)


def _unmasked_views(session: Session) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "view_unmasked")))


def test_masking_by_role_and_audit_of_unmasked_views(session: Session, world: World) -> None:
    manager_view = get_case(session, world.actor("manager"), world.cases[0]).customer
    assert manager_view.phone == "138****0001"
    assert manager_view.id_number is not None and "*" in manager_view.id_number
    assert manager_view.unmasked == ()
    assert _unmasked_views(session) == []

    collector_view = get_case(session, world.actor("collector1"), world.cases[0], at=AT).customer
    assert collector_view.phone == "13800000001"
    assert collector_view.id_number is not None and "*" in collector_view.id_number
    views = _unmasked_views(session)
    assert len(views) == 1 and views[0].actor_user_id == world.actor("collector1").user_id
    assert views[0].details["fields"] == ["phone", "email", "address"]

    no_reason = get_case(session, world.actor("auditor"), world.cases[0]).customer
    assert no_reason.id_number is not None and "*" in no_reason.id_number
    with_reason = get_case(session, world.actor("auditor"), world.cases[0], reason="complaint 17")
    assert with_reason.customer.id_number == "990000000000000001"
    assert _unmasked_views(session)[-1].reason == "complaint 17"


def test_timeline_orders_everything(session: Session, world: World) -> None:
    collector = world.actor("collector1")
    case_id = world.cases[0]
    contact = log_contact_outcome(
        session,
        collector,
        case_id,
        channel="voice_agent",
        outcome="promise_to_pay",
        connected=True,
        right_party=True,
        at=AT,
    )
    record_promise(
        session,
        collector,
        case_id,
        amount_fen=50_000,
        promised_date=AS_OF.replace(day=30),
        as_of=AS_OF,
        contact_attempt_id=contact,
        at=AT.replace(minute=5),
    )
    add_note(
        session, collector, case_id, "<script>alert(1)</script> will pay", at=AT.replace(minute=6)
    )
    entries = timeline(session, collector, case_id)
    kinds = [e.kind for e in entries]
    assert kinds[0] == "status"
    assert kinds.index("contact") < kinds.index("promise") < kinds.index("note")
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    contact_entry = next(e for e in entries if e.kind == "contact")
    assert contact_entry.details["to_address"] == "138****0001"
    note = next(e for e in entries if e.kind == "note")
    assert note.details["body"] == "<script>alert(1)</script> will pay"


def test_total_is_capped_for_huge_queues(
    session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from overdue.cases import views

    monkeypatch.setattr(views, "MAX_COUNTED", 3)
    page = list_queue(session, world.actor("manager"))
    assert (page.total, page.total_is_lower_bound, len(page.rows)) == (3, True, 5)
    exact = list_queue(session, world.actor("collector1"))
    assert (exact.total, exact.total_is_lower_bound) == (2, False)
