"""The payments webhook's signature: HMAC-SHA256 of the raw body, hex, in header X-Signature."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Signature"
MAX_BODY_BYTES = 64 * 1024


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, given: str | None) -> bool:
    if not given:
        return False
    text = given.strip().lower()
    if text.startswith("sha256="):
        text = text[len("sha256=") :]
    return hmac.compare_digest(sign(secret, body), text)
