"""Self-service links: a signed token that lets one customer open their own page.

A reminder carries a link ``/self/<token>``; the token names the customer and the last business
date it is valid, signed with HMAC-SHA256 under the server's secret:

    <customer id, base64url> . <valid until, YYYYMMDD> . <signature, base64url of 18 bytes>

Nothing else is needed to open the page, so a token is short-lived (``DEFAULT_VALID_DAYS``),
names one customer only, and a changed byte anywhere makes it invalid. No clock is read here:
the caller passes the business date.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import date, timedelta

DEFAULT_VALID_DAYS = 14
MAX_VALID_DAYS = 60
SIGNATURE_BYTES = 18  # 144 bits: enough against guessing, short enough for an SMS link
MAX_TOKEN_CHARS = 300
MAX_CUSTOMER_ID_CHARS = 64


class LinkInvalid(ValueError):
    """The token is malformed, forged or expired; ``reason`` says which (for the log, not the
    customer: the page shows one neutral message)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Link:
    """What a valid token grants: one customer's page, through ``valid_until``."""

    customer_id: str
    valid_until: date


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, customer_id: str, valid_until: date) -> str:
    assert secret, "self-service links need a secret"
    message = f"self-service|{customer_id}|{valid_until.isoformat()}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return _b64(digest[:SIGNATURE_BYTES])


def issue_token(
    secret: str, customer_id: str, *, as_of: date, valid_days: int = DEFAULT_VALID_DAYS
) -> str:
    """A token for ``customer_id``, valid from ``as_of`` through ``as_of + valid_days``."""
    if not 0 < len(customer_id) <= MAX_CUSTOMER_ID_CHARS:
        raise ValueError(f"customer_id: 1 to {MAX_CUSTOMER_ID_CHARS} characters")
    if not 1 <= valid_days <= MAX_VALID_DAYS:
        raise ValueError(f"valid_days: {valid_days} must be between 1 and {MAX_VALID_DAYS}")
    valid_until = as_of + timedelta(days=valid_days)
    customer = _b64(customer_id.encode("utf-8"))
    return f"{customer}.{valid_until:%Y%m%d}.{_signature(secret, customer_id, valid_until)}"


def read_token(secret: str, token: str, *, as_of: date) -> Link:
    """The customer the token was issued for; ``LinkInvalid`` when it is malformed, its
    signature does not match, or ``as_of`` is past its last valid day."""
    if not 0 < len(token) <= MAX_TOKEN_CHARS or token.count(".") != 2:
        raise LinkInvalid("malformed")
    customer_part, until_part, signature = token.split(".")
    if len(until_part) != 8 or not until_part.isdigit():
        raise LinkInvalid("malformed")
    try:
        customer_id = _unb64(customer_part).decode("utf-8")
        valid_until = date(int(until_part[:4]), int(until_part[4:6]), int(until_part[6:]))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise LinkInvalid("malformed") from None
    if not 0 < len(customer_id) <= MAX_CUSTOMER_ID_CHARS:
        raise LinkInvalid("malformed")
    if not hmac.compare_digest(signature, _signature(secret, customer_id, valid_until)):
        raise LinkInvalid("signature")
    if as_of > valid_until:
        raise LinkInvalid("expired")
    return Link(customer_id, valid_until)
