"""SMS, voice robot and app push through ONE HTTP webhook provider interface.

Each message is POSTed as JSON to the channel's URL with an ``Idempotency-Key`` header (the outbox
key) and an ``X-Overdue-Signature: sha256=<hex>`` header, the HMAC-SHA256 of the raw body under the
channel's secret. 2xx = accepted; 5xx, 408, 429, time-outs and connection errors = retry later;
any other 4xx = dead (the provider will never take it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import httpx

from overdue.contact.adapters.base import (
    WEBHOOK_CHANNELS,
    Message,
    PermanentSendError,
    ProviderReceipt,
    TransientSendError,
)

SIGNATURE_HEADER = "X-Overdue-Signature"
KEY_HEADER = "Idempotency-Key"
MAX_TIMEOUT_SECONDS = 60.0
MAX_BODY_BYTES = 64 * 1024
RETRYABLE_4XX = (408, 425, 429)


@dataclass(frozen=True)
class WebhookEndpoint:
    url: str
    secret: str
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"webhook url {self.url!r} must start with http:// or https://")
        if not self.secret:
            raise ValueError(f"webhook {self.url}: secret must not be empty")
        if not 0 < self.timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"webhook timeout_seconds {self.timeout_seconds} not in (0, 60]")


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``: ``sha256=`` + hex HMAC-SHA256."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, header: str) -> bool:
    """True when ``header`` is the signature of ``body`` under ``secret`` (constant time)."""
    return hmac.compare_digest(sign(secret, body), header)


def request_body(message: Message) -> bytes:
    """The JSON body the provider receives (sorted keys, UTF-8)."""
    document: dict[str, Any] = {
        "idempotency_key": message.idempotency_key,
        "channel": message.channel,
        "to": message.to_address,
        "subject": message.subject,
        "body": message.body,
        "attempt": message.attempt,
        "payload": message.payload,
    }
    body = json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8")
    if len(body) > MAX_BODY_BYTES:
        raise PermanentSendError(f"webhook body is {len(body)} bytes (limit {MAX_BODY_BYTES})")
    return body


class WebhookAdapter:
    """One HTTP provider interface for every webhook channel it has an endpoint for."""

    def __init__(self, endpoints: dict[str, WebhookEndpoint]) -> None:
        unknown = sorted(set(endpoints) - set(WEBHOOK_CHANNELS))
        if unknown:
            raise ValueError(f"webhook channels {unknown} not in {list(WEBHOOK_CHANNELS)}")
        self.endpoints = dict(endpoints)
        self.channel_names = tuple(sorted(endpoints))
        self._client = httpx.Client()

    def send(self, message: Message) -> ProviderReceipt:
        endpoint = self.endpoints.get(message.channel)
        if endpoint is None:
            raise PermanentSendError(f"no webhook endpoint for channel {message.channel!r}")
        body = request_body(message)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            KEY_HEADER: message.idempotency_key,
            SIGNATURE_HEADER: sign(endpoint.secret, body),
        }
        try:
            response = self._client.post(
                endpoint.url, content=body, headers=headers, timeout=endpoint.timeout_seconds
            )
        except httpx.TransportError as exc:
            raise TransientSendError(f"webhook {message.channel}: {type(exc).__name__}") from exc
        return _receipt(message, response)

    def close(self) -> None:
        self._client.close()


def _receipt(message: Message, response: httpx.Response) -> ProviderReceipt:
    status = response.status_code
    reason = f"webhook {message.channel}: HTTP {status} {response.text[:200]!r}"
    if status >= 500 or status in RETRYABLE_4XX:
        raise TransientSendError(reason)
    if status >= 400:
        raise PermanentSendError(reason)
    if not 200 <= status < 300:
        raise TransientSendError(reason)
    provider_id = response.headers.get("X-Provider-Message-Id", "")
    if not provider_id:
        try:
            provider_id = str(response.json().get("id", ""))
        except (ValueError, AttributeError):
            provider_id = ""
    return ProviderReceipt(
        channel=message.channel,
        idempotency_key=message.idempotency_key,
        provider_message_id=provider_id or message.idempotency_key,
        detail=f"HTTP {status}",
    )
