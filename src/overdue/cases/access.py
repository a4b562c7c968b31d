"""Who is acting and what their role allows: the ``Actor``, row scoping and action permissions.

A collector sees only the cases assigned to them; an agency user only the cases placed with its
agency; a customer (self-service, ``Actor.customer``) only their own cases; every other role sees
every case. Analysts and auditors only read.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, true
from sqlalchemy.orm import Session

from overdue.store.tables import ROLES, Case, User


class NotAllowed(Exception):
    """The actor's role or scope does not allow this (the web answers 403)."""


class NotFound(Exception):
    """No such record (the web answers 404)."""


class Conflict(Exception):
    """The request contradicts the record's state or a limit (the web answers 409)."""


CUSTOMER_ROLE = "customer"  # a debtor on the self-service page: not a user, no user id


@dataclass(frozen=True)
class Actor:
    """The person acting: their user id, role, team and agency (None when they have none); for
    the customer role, the customer acting on their own cases."""

    user_id: int
    role: str
    team_id: int | None = None
    agency_id: int | None = None
    username: str = ""
    customer_id: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES and self.role != CUSTOMER_ROLE:
            raise ValueError(f"role: {self.role!r} is not one of {', '.join(ROLES)}")
        if self.role == "agency" and self.agency_id is None:
            raise ValueError("an agency user must belong to an agency")
        if (self.role == CUSTOMER_ROLE) != (self.customer_id is not None):
            raise ValueError("a customer id goes with the customer role, and only with it")

    @classmethod
    def customer(cls, customer_id: str) -> Actor:
        """The customer acting on their own cases through the self-service page."""
        return cls(0, CUSTOMER_ROLE, username=f"self-service:{customer_id}", customer_id=customer_id)


SYSTEM = Actor(user_id=0, role="admin", username="system")  # batch jobs (sync, promise decisions)

# Action → roles allowed to do it (scoping still applies on top).
PERMISSIONS: dict[str, frozenset[str]] = {
    "log_contact": frozenset({"admin", "manager", "collector", "agency", "customer_service"}),
    "record_promise": frozenset(
        {"admin", "manager", "collector", "agency", "customer_service", CUSTOMER_ROLE}
    ),
    "add_note": frozenset({"admin", "manager", "collector", "agency", "customer_service"}),
    "transfer": frozenset({"admin", "manager", "collector", "customer_service", CUSTOMER_ROLE}),
    "resolve_transfer": frozenset({"admin", "manager", "customer_service"}),
    "place": frozenset({"admin", "manager"}),
    "assign": frozenset({"admin", "manager"}),
    "propose": frozenset({"admin", "manager", "collector", "customer_service"}),
    "approve": frozenset({"admin", "manager"}),
    "complaint": frozenset({"admin", "manager", "customer_service", CUSTOMER_ROLE}),
    "quality_review": frozenset({"admin", "manager", "auditor"}),
    "manage_users": frozenset({"admin"}),
    "retention": frozenset({"admin"}),
}


def actor_for_user(session: Session, user_id: int) -> Actor:
    """The Actor of an active user (raises NotFound for an unknown or inactive user)."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound(f"user {user_id}: no such active user")
    return Actor(user.id, user.role, user.team_id, user.agency_id, user.username)


def require(actor: Actor, action: str) -> None:
    """Raise NotAllowed unless ``actor``'s role may do ``action``."""
    allowed = PERMISSIONS.get(action)
    if allowed is None:
        raise ValueError(f"unknown action {action!r}")
    if actor.role not in allowed:
        raise NotAllowed(f"role {actor.role} may not {action.replace('_', ' ')}")


def case_scope(actor: Actor) -> ColumnElement[bool]:
    """A WHERE clause restricting cases to those ``actor`` may see."""
    if actor.role == "collector":
        return Case.assigned_user_id == actor.user_id
    if actor.role == "agency":
        return Case.agency_id == actor.agency_id if actor.agency_id is not None else false()
    if actor.role == CUSTOMER_ROLE:
        return Case.customer_id == actor.customer_id
    return true()


def may_see_case(actor: Actor, case: Case) -> bool:
    if actor.role == "collector":
        return case.assigned_user_id == actor.user_id
    if actor.role == "agency":
        return actor.agency_id is not None and case.agency_id == actor.agency_id
    if actor.role == CUSTOMER_ROLE:
        return case.customer_id == actor.customer_id
    return True


def load_case(session: Session, actor: Actor, case_id: int, *, for_update: bool = False) -> Case:
    """The case if it exists and ``actor`` may see it; NotFound / NotAllowed otherwise."""
    case = session.get(Case, case_id, with_for_update=for_update)
    if case is None:
        raise NotFound(f"case {case_id}: not found")
    if not may_see_case(actor, case):
        raise NotAllowed(f"case {case_id}: not in your cases")
    return case
