"""Channel adapters: SMTP e-mail, one HTTP webhook provider (sms, voice_robot, push), files."""

from overdue.contact.adapters.base import (
    CHANNELS,
    Adapter,
    Message,
    PermanentSendError,
    ProviderReceipt,
    SendError,
    TransientSendError,
)

__all__ = [
    "CHANNELS",
    "Adapter",
    "Message",
    "PermanentSendError",
    "ProviderReceipt",
    "SendError",
    "TransientSendError",
]
