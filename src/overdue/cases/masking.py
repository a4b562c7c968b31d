"""Masking of personal data by role; every view of unmasked data is audited by the caller.

Policy (``can_see``): phone, e-mail and address unmasked for a collector on their own cases,
customer service and admin; the ID number unmasked only for admin and auditor, and only with a
reason. Every other role sees masked values everywhere (pages, API, exports).
"""

from __future__ import annotations

MASK = "*"
PERSONAL_FIELDS = ("phone", "email", "address", "id_number", "to_address")

_CONTACT_ROLES = frozenset({"collector", "customer_service", "admin"})
_ID_ROLES = frozenset({"admin", "auditor"})


def mask_phone(phone: str | None) -> str | None:
    """'13812341234' → '138****1234': first 3 and last 4 kept (short numbers: last 2 kept)."""
    if phone is None:
        return None
    if len(phone) >= 8:
        return phone[:3] + MASK * (len(phone) - 7) + phone[-4:]
    keep = 2 if len(phone) > 2 else 0
    return MASK * (len(phone) - keep) + phone[len(phone) - keep :]


def mask_id_number(id_number: str | None) -> str | None:
    """'110101199003071234' → '110***********1234' (first 3 and last 4 kept)."""
    if id_number is None:
        return None
    if len(id_number) >= 8:
        return id_number[:3] + MASK * (len(id_number) - 7) + id_number[-4:]
    return MASK * len(id_number)


def mask_email(email: str | None) -> str | None:
    """'zhang.san@example.com' → 'z***@example.com' (domain kept, local part hidden)."""
    if email is None:
        return None
    local, at, domain = email.partition("@")
    if not at:
        return MASK * len(email)
    return (local[:1] if len(local) > 1 else "") + MASK * 3 + "@" + domain


def mask_address(address: str | None) -> str | None:
    """Only the first 6 characters (province / city) kept."""
    if address is None:
        return None
    return address[:6] + MASK * 4 if len(address) > 6 else MASK * len(address)


def mask_address_for_channel(channel: str, to_address: str | None) -> str | None:
    """A contact's to_address masked as its kind (e-mail, else phone-like)."""
    if to_address is None:
        return None
    if channel == "email" or "@" in to_address:
        return mask_email(to_address)
    if channel in {"letter", "field_visit"}:
        return mask_address(to_address)
    return mask_phone(to_address)


MASKERS = {
    "phone": mask_phone,
    "email": mask_email,
    "address": mask_address,
    "id_number": mask_id_number,
}


def can_see(role: str, field: str, *, own_case: bool = True, reason: str | None = None) -> bool:
    """True when ``role`` may see ``field`` unmasked (see the module doc for the policy)."""
    if field not in PERSONAL_FIELDS:
        return True
    if field == "id_number":
        return role in _ID_ROLES and bool(reason and reason.strip())
    if role == "collector":
        return own_case
    return role in _CONTACT_ROLES


def shown(
    role: str,
    field: str,
    value: str | None,
    *,
    own_case: bool = True,
    reason: str | None = None,
) -> tuple[str | None, bool]:
    """(value as ``role`` may see it, whether it is shown unmasked)."""
    if value is None:
        return None, False
    if can_see(role, field, own_case=own_case, reason=reason):
        return value, True
    return MASKERS[field](value), False
