"""Adapters against real local receivers: aiosmtpd for e-mail, an HTTP server for webhooks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from contact_receivers import SmtpReceiver, WebhookReceiver, free_port

from overdue.contact.adapters.base import Message, PermanentSendError, TransientSendError
from overdue.contact.adapters.files import FileAdapter
from overdue.contact.adapters.smtp import SmtpAdapter, SmtpConfig
from overdue.contact.adapters.webhook import WebhookAdapter, WebhookEndpoint, sign, verify
from overdue.contact.keys import contact_key, key_from_message_id, message_id

SECRET = "s3cret"


def _message(channel: str, n: int = 0, to: str = "someone@example.com") -> Message:
    key = contact_key("2026-11-28", f"A{n:05d}", "d1", channel)
    return Message(key, channel, to, body=f"您好，第{n}条 / hello {n}", subject=f"提醒 {n}")


def test_keys_are_deterministic_and_round_trip_through_message_id() -> None:
    key = contact_key("2026-11-28", "A1", "step-1", "sms")
    assert key == contact_key("2026-11-28", "A1", "step-1", "sms")
    assert key != contact_key("2026-11-29", "A1", "step-1", "sms")
    assert len(key) == 32 and key_from_message_id(message_id(key)) == key
    with pytest.raises(ValueError):
        contact_key("2026-11-28", "A|1", "s", "sms")


def test_smtp_sends_with_message_id_equal_to_the_key() -> None:
    with SmtpReceiver() as receiver:
        adapter = SmtpAdapter(SmtpConfig(host=receiver.host, port=receiver.port))
        messages = [_message("email", n) for n in range(5)]
        receipts = [adapter.send(m) for m in messages]
        adapter.close()
    assert receiver.arrivals.counts() == {m.idempotency_key: 1 for m in messages}
    assert receipts[0].provider_message_id == message_id(messages[0].idempotency_key)
    first = receiver.arrivals.log[0][1]
    assert first["subject"] == "提醒 0" and "您好" in first["body"]


def test_smtp_unreachable_is_a_transient_error() -> None:
    adapter = SmtpAdapter(SmtpConfig(port=free_port(), timeout_seconds=2))
    with pytest.raises(TransientSendError):
        adapter.send(_message("email"))


def test_webhook_carries_key_and_valid_signature_for_each_channel() -> None:
    with WebhookReceiver(SECRET) as receiver:
        endpoints = {c: WebhookEndpoint(receiver.url(c), SECRET) for c in ("sms", "push")}
        adapter = WebhookAdapter(endpoints)
        sms, push = _message("sms", 1, "13800000000"), _message("push", 2, "device-1")
        assert adapter.send(sms).provider_message_id == f"prov-{sms.idempotency_key}-1"
        adapter.send(push)
        adapter.close()
    assert receiver.bad_signatures == 0
    assert receiver.arrivals.counts() == {sms.idempotency_key: 1, push.idempotency_key: 1}
    paths = {doc["path"] for _, doc in receiver.arrivals.log}
    assert paths == {"/sms", "/push"}


def test_webhook_signature_is_checked_by_the_receiver() -> None:
    with WebhookReceiver(SECRET) as receiver:
        adapter = WebhookAdapter({"sms": WebhookEndpoint(receiver.url("sms"), "wrong")})
        with pytest.raises(PermanentSendError):
            adapter.send(_message("sms"))
    assert receiver.bad_signatures == 1
    body = b'{"a": 1}'
    assert verify(SECRET, body, sign(SECRET, body)) and not verify(SECRET, body + b" ", sign(SECRET, body))


@pytest.mark.parametrize(("status", "error"), [(503, TransientSendError), (429, TransientSendError),
                                               (400, PermanentSendError), (404, PermanentSendError)])
def test_webhook_status_classification(status: int, error: type[Exception]) -> None:
    with WebhookReceiver(SECRET, respond=lambda key, nth: status) as receiver:
        adapter = WebhookAdapter({"voice_robot": WebhookEndpoint(receiver.url("v"), SECRET)})
        with pytest.raises(error):
            adapter.send(_message("voice_robot"))


def test_webhook_timeout_is_transient() -> None:
    with WebhookReceiver(SECRET, delay_seconds=1.0) as receiver:
        endpoint = WebhookEndpoint(receiver.url("sms"), SECRET, timeout_seconds=0.2)
        with pytest.raises(TransientSendError):
            WebhookAdapter({"sms": endpoint}).send(_message("sms"))


def test_file_adapter_writes_each_key_once(tmp_path: Path) -> None:
    adapter = FileAdapter(tmp_path)
    letter = _message("letter", 3, "北京市朝阳区 1 号")
    adapter.send(letter)
    adapter.send(letter)
    files = list((tmp_path / "letter").iterdir())
    assert [f.name for f in files] == [f"{letter.idempotency_key}.json"]
    assert json.loads(files[0].read_text("utf-8"))["to"] == "北京市朝阳区 1 号"
    with pytest.raises(PermanentSendError):
        adapter.send(_message("email"))
