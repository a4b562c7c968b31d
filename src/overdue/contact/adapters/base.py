"""What every channel adapter shares: the message it sends, the receipt it returns, its errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from overdue.domain.channels import CHANNELS as CHANNELS  # re-exported for the adapters

WEBHOOK_CHANNELS = ("sms", "voice_robot", "push")
FILE_CHANNELS = ("letter", "agency", "legal")


@dataclass(frozen=True)
class Message:
    """One outbox row ready to send (already rendered)."""

    idempotency_key: str
    channel: str
    to_address: str
    body: str
    subject: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1


@dataclass(frozen=True)
class ProviderReceipt:
    """What the provider said when it accepted a message."""

    channel: str
    idempotency_key: str
    provider_message_id: str
    detail: str = ""


class SendError(Exception):
    """A send that did not succeed. ``retryable`` says whether another attempt may succeed."""

    retryable: bool = True

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class TransientSendError(SendError):
    """Time-out, connection failure, 5xx: retry later with backoff."""

    retryable = True


class PermanentSendError(SendError):
    """Rejected for good (4xx, bad address): dead-letter at once."""

    retryable = False


class Adapter(Protocol):
    """A channel's sender. ``send`` raises :class:`SendError` when the message was not accepted."""

    channel_names: tuple[str, ...]

    def send(self, message: Message) -> ProviderReceipt: ...

    def close(self) -> None: ...
