"""The idempotency key of a contact: one definition, used by decisions, the outbox and receivers.

A contact is identified by the business date, the account, the treatment step and the channel.
The key is the first 32 hex characters of sha256("as_of|account_id|step_id|channel"); it is the
planned contact's ``contact_id``, the outbox's ``idempotency_key``, the e-mail's Message-ID
(``<key@overdue>``) and the webhooks' ``Idempotency-Key`` header.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date

KEY_LENGTH_HEX = 32
_KEY_PATTERN = re.compile(r"^[0-9a-f]{32}$")
MESSAGE_ID_DOMAIN = "overdue"


def contact_key(as_of: date | str, account_id: str, step_id: str, channel: str) -> str:
    """The 32-hex-character idempotency key of one contact (deterministic, no clock)."""
    day = as_of.isoformat() if isinstance(as_of, date) else str(as_of)
    for name, value in (("account_id", account_id), ("step_id", step_id), ("channel", channel)):
        if "|" in str(value):
            raise ValueError(f"{name}: {value!r} must not contain '|'")
    text = f"{day}|{account_id}|{step_id}|{channel}"
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()[:KEY_LENGTH_HEX]
    assert is_key(key)
    return key


def is_key(text: str) -> bool:
    """True when ``text`` looks like an idempotency key (32 lower-case hex characters)."""
    return bool(_KEY_PATTERN.match(text))


def message_id(key: str) -> str:
    """The RFC 5322 Message-ID an e-mail carries for ``key``."""
    if not is_key(key):
        raise ValueError(f"idempotency key {key!r} is not 32 hex characters")
    return f"<{key}@{MESSAGE_ID_DOMAIN}>"


def key_from_message_id(header: str) -> str | None:
    """The key inside a Message-ID header written by :func:`message_id`, or None."""
    text = header.strip()
    match = re.match(rf"^<([0-9a-f]{{32}})@{MESSAGE_ID_DOMAIN}>$", text)
    return match.group(1) if match else None
