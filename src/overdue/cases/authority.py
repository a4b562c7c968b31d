"""The authority matrix (maker-checker): who may propose a waiver, plan or settlement of a given
amount and who must approve it. The maker never checks their own proposal; every proposal and
decision is audited. The amount is the money given up or rescheduled: the waived amount, the
plan's total, the settlement's discount."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from overdue.cases import audit
from overdue.cases.access import Actor, Conflict, NotAllowed, NotFound, load_case
from overdue.cases.clock import instant
from overdue.cases.config import AuthorityMatrix, AuthorityRow
from overdue.store.tables import APPROVAL_KINDS, Approval, Plan, Settlement, User

MAX_REASON_CHARS = 2000


def authority_for(
    matrix: AuthorityMatrix, kind: str, amount_fen: int, proposer_role: str
) -> AuthorityRow:
    """The rule that covers ``kind`` of ``amount_fen`` proposed by ``proposer_role``: the lowest
    bracket whose ceiling holds the amount and which lets that role propose. NotAllowed if none."""
    if kind not in APPROVAL_KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(APPROVAL_KINDS)}")
    if amount_fen < 0:
        raise ValueError(f"amount_fen: {amount_fen} must not be negative")
    rows = sorted(
        (r for r in matrix.rules if r.kind == kind and amount_fen <= r.max_amount_fen),
        key=lambda r: r.max_amount_fen,
    )
    for row in rows:
        if proposer_role in row.proposers:
            return row
    raise NotAllowed(f"role {proposer_role} may not propose a {kind} of {amount_fen} fen")


def may_approve(row: AuthorityRow, approver_role: str) -> bool:
    return approver_role in row.approvers


def propose(
    session: Session,
    actor: Actor,
    *,
    kind: str,
    case_id: int,
    amount_fen: int,
    matrix: AuthorityMatrix,
    details: dict[str, Any] | None = None,
    reason: str | None = None,
    at: datetime | None = None,
) -> int:
    """Open a pending approval request; returns its id."""
    load_case(session, actor, case_id)
    row = authority_for(matrix, kind, amount_fen, actor.role)
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"reason: longer than {MAX_REASON_CHARS} characters")
    when = instant(at)
    approval = Approval(
        kind=kind,
        case_id=case_id,
        amount_fen=amount_fen,
        proposed_by=actor.user_id,
        proposed_at=when,
        status="pending",
        reason=reason,
        details={**(details or {}), "proposer_role": actor.role, "approvers": list(row.approvers)},
    )
    session.add(approval)
    session.flush()
    audit.record(
        session,
        actor,
        f"propose_{kind}",
        "approval",
        approval.id,
        reason=reason,
        details={"case_id": case_id, "amount_fen": amount_fen},
        at=when,
    )
    return approval.id


def decide(
    session: Session,
    actor: Actor,
    approval_id: int,
    *,
    approve: bool,
    matrix: AuthorityMatrix,
    as_of: date,
    reason: str | None = None,
    at: datetime | None = None,
) -> str:
    """Approve or reject a pending request (never by its maker; only by a role the matrix names
    for it). The plan or settlement it carries becomes active or rejected. Returns the status."""
    approval = session.get(Approval, approval_id, with_for_update=True)
    if approval is None:
        raise NotFound(f"approval {approval_id}: not found")
    if approval.status != "pending":
        raise Conflict(f"approval {approval_id}: already {approval.status}")
    if approval.proposed_by == actor.user_id:
        raise NotAllowed(f"approval {approval_id}: the maker may not check their own proposal")
    proposer_role = str(approval.details.get("proposer_role", ""))
    row = authority_for(matrix, approval.kind, approval.amount_fen, proposer_role)
    if not may_approve(row, actor.role):
        raise NotAllowed(
            f"approval {approval_id}: role {actor.role} may not approve this "
            f"{approval.kind} (approvers: {', '.join(row.approvers)})"
        )
    when = instant(at)
    approval.status = "approved" if approve else "rejected"
    approval.approved_by = actor.user_id
    approval.decided_at = when
    _apply(session, approval, approve, as_of)
    audit.record(
        session,
        actor,
        f"{approval.status}_{approval.kind}",
        "approval",
        approval_id,
        reason=reason,
        details={"case_id": approval.case_id, "amount_fen": approval.amount_fen},
        at=when,
    )
    return approval.status


def _apply(session: Session, approval: Approval, approve: bool, as_of: date) -> None:
    if approval.kind == "waiver" and approve:
        from overdue.cases.waivers import record_approved_waiver

        approver = session.get(User, approval.approved_by) if approval.approved_by else None
        assert approval.case_id is not None, f"approval {approval.id}: a waiver needs a case"
        record_approved_waiver(session, approval.id, approval.case_id, approval.details,
                               approver.username if approver else "unknown", as_of)  # fmt: skip
    plan_id = approval.details.get("plan_id")
    if plan_id is not None:
        plan = session.get(Plan, int(plan_id))
        assert plan is not None
        plan.status = "active" if approve else "rejected"
        plan.decided_on = as_of
    settlement_id = approval.details.get("settlement_id")
    if settlement_id is not None:
        settlement = session.get(Settlement, int(settlement_id))
        assert settlement is not None
        settlement.status = "active" if approve else "rejected"
        settlement.decided_on = as_of
