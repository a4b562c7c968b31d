"""E-mail through SMTP (smtplib). The Message-ID header carries the idempotency key."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from overdue.contact.adapters.base import (
    Message,
    PermanentSendError,
    ProviderReceipt,
    TransientSendError,
)
from overdue.contact.keys import message_id

MAX_TIMEOUT_SECONDS = 60.0
MAX_SUBJECT_CHARS = 200


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "overdue@localhost"
    timeout_seconds: float = 10.0
    starttls: bool = False
    username: str | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"smtp port {self.port} is not in 1..65535")
        if not 0 < self.timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"smtp timeout_seconds {self.timeout_seconds} not in (0, 60]")


def build_email(message: Message, sender: str) -> EmailMessage:
    """The e-mail for ``message``; Message-ID = ``<idempotency_key@overdue>``."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to_address
    email["Subject"] = (message.subject or "")[:MAX_SUBJECT_CHARS]
    email["Message-ID"] = message_id(message.idempotency_key)
    email["X-Overdue-Attempt"] = str(message.attempt)
    email.set_content(message.body)
    return email


class SmtpAdapter:
    """Sends e-mail over one kept-open SMTP connection; reconnects when the server drops it."""

    channel_names: tuple[str, ...] = ("email",)

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._client: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        client = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_seconds)
        if cfg.starttls:
            client.starttls()
        if cfg.username:
            client.login(cfg.username, cfg.password or "")
        return client

    def send(self, message: Message) -> ProviderReceipt:
        email = build_email(message, self.config.sender)
        try:
            if self._client is None:
                self._client = self._connect()
            refused = self._client.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            raise _classify(exc.recipients, message.to_address) from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            error_class = PermanentSendError if 500 <= exc.smtp_code < 600 else TransientSendError
            raise error_class(f"smtp {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TransientSendError(f"smtp: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise PermanentSendError(f"smtp refused {sorted(refused)}")
        return ProviderReceipt(
            channel=message.channel,
            idempotency_key=message.idempotency_key,
            provider_message_id=email["Message-ID"],
        )

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def _classify(recipients: dict[str, tuple[int, bytes]], address: str) -> Exception:
    code, text = recipients.get(address, (550, b"refused"))
    if 400 <= code < 500:
        return TransientSendError(f"smtp {code} for {address}: {text!r}")
    return PermanentSendError(f"smtp {code} for {address}: {text!r}")
