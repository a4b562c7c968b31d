"""Letters, agency and legal hand-overs: each message becomes one file named by its key.

A resend writes the same file again (atomically, through a temporary name and a rename), so a
message is on disk exactly once however often it is sent. Placement spreadsheets for agencies are
built in batch by :mod:`overdue.contact.agency_files`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from overdue.contact.adapters.base import (
    CHANNELS,
    FILE_CHANNELS,
    Message,
    PermanentSendError,
    ProviderReceipt,
    TransientSendError,
)
from overdue.contact.keys import is_key

CAPTURE_CHANNELS = tuple(c for c in CHANNELS if c not in ("voice_agent", "field_visit"))


class FileAdapter:
    """Writes ``ROOT/<channel>/<key>.json`` for each message (letter, agency, legal).

    With ``capture=True`` it takes any machine channel (e-mail, SMS, push, robot calls too):
    a dry run or a demo then sends nothing and leaves every message on disk.
    """

    def __init__(
        self, root: Path, channels: tuple[str, ...] = FILE_CHANNELS, *, capture: bool = False
    ) -> None:
        allowed = CAPTURE_CHANNELS if capture else FILE_CHANNELS
        unknown = sorted(set(channels) - set(allowed))
        if unknown:
            raise ValueError(f"file channels {unknown} not in {list(allowed)}")
        self.root = Path(root)
        self.channel_names = tuple(channels)

    def path_for(self, message: Message) -> Path:
        if not is_key(message.idempotency_key):
            raise PermanentSendError(f"bad idempotency key {message.idempotency_key!r}")
        return self.root / message.channel / f"{message.idempotency_key}.json"

    def send(self, message: Message) -> ProviderReceipt:
        if message.channel not in self.channel_names:
            raise PermanentSendError(f"file adapter does not handle {message.channel!r}")
        target = self.path_for(message)
        document = {
            "idempotency_key": message.idempotency_key,
            "channel": message.channel,
            "to": message.to_address,
            "subject": message.subject,
            "body": message.body,
            "payload": message.payload,
        }
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(document, ensure_ascii=False, indent=1), "utf-8")
            os.replace(temporary, target)
        except OSError as exc:
            raise TransientSendError(f"file {target}: {exc}") from exc
        return ProviderReceipt(message.channel, message.idempotency_key, str(target))

    def close(self) -> None:
        return None
