"""Real local receivers for the contact tests and the bench: an SMTP server (aiosmtpd) and an HTTP
webhook receiver (http.server in a thread). Both count arrivals by idempotency key."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from overdue.contact.adapters.webhook import KEY_HEADER, SIGNATURE_HEADER, verify
from overdue.contact.keys import key_from_message_id


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Arrivals:
    """Thread-safe tally of arrivals by idempotency key, in arrival order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.log: list[tuple[str, dict[str, Any]]] = []

    def add(self, key: str, info: dict[str, Any]) -> None:
        with self._lock:
            self.log.append((key, info))

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(key for key, _ in self.log)

    def total(self) -> int:
        with self._lock:
            return len(self.log)


class _SmtpHandler:
    def __init__(self, arrivals: Arrivals, delay_seconds: float) -> None:
        self.arrivals = arrivals
        self.delay_seconds = delay_seconds

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        key = key_from_message_id(str(parsed.get("Message-ID", ""))) or "?"
        info = {"to": list(envelope.rcpt_tos), "subject": str(parsed.get("Subject", ""))}
        info["attempt"] = str(parsed.get("X-Overdue-Attempt", ""))
        info["body"] = parsed.get_content()
        self.arrivals.add(key, info)
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """aiosmtpd Controller on a free local port."""

    def __init__(self, delay_seconds: float = 0.0) -> None:
        self.arrivals = Arrivals()
        self.port = free_port()
        self.host = "127.0.0.1"
        handler = _SmtpHandler(self.arrivals, delay_seconds)
        self.controller = Controller(handler, hostname=self.host, port=self.port)

    def __enter__(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


Responder = Callable[[str, int], int]


class WebhookReceiver:
    """ThreadingHTTPServer that checks the signature and counts POSTs by Idempotency-Key.

    ``respond(key, nth_arrival_of_that_key) -> HTTP status`` scripts failures (default 200).
    """

    def __init__(
        self,
        secret: str,
        delay_seconds: float = 0.0,
        respond: Responder | None = None,
    ) -> None:
        self.secret = secret
        self.delay_seconds = delay_seconds
        self.respond = respond or (lambda key, nth: 200)
        self.arrivals = Arrivals()
        self.bad_signatures = 0
        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, channel: str) -> str:
        return f"http://127.0.0.1:{self.port}/{channel}"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes: without this, Nagle's algorithm and
                # the client's delayed ACK add ~40 ms to every response
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                if not verify(receiver.secret, body, self.headers.get(SIGNATURE_HEADER, "")):
                    receiver.bad_signatures += 1
                    self._reply(401, {"error": "bad signature"})
                    return
                key = self.headers.get(KEY_HEADER, "?")
                document = json.loads(body)
                nth = receiver.arrivals.counts()[key] + 1
                status = receiver.respond(key, nth)
                document["path"] = self.path
                document["status"] = status
                receiver.arrivals.add(key, document)
                self._reply(status, {"id": f"prov-{key}-{nth}"})

            def _reply(self, status: int, document: dict[str, Any]) -> None:
                payload = json.dumps(document).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    return  # the client gave up (time-out test)

        return Handler

    def accepted_counts(self) -> Counter[str]:
        with self.arrivals._lock:
            return Counter(k for k, doc in self.arrivals.log if 200 <= doc["status"] < 300)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
