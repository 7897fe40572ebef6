"""Webhook test fixtures: a tiny local HTTP receiver that can be down, flaky or slow."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from leadflow.services import signals

SUBSCRIBER = "leadflow.services.webhooks:on_signals"


class Receiver:
    """Records every POST (headers, body). ``fail_first`` requests get 503; ``delay`` seconds per request."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = 0
        self.always_status: int | None = None
        self.delay = 0.0
        self.seen = 0
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                event_id = self.headers.get("X-Leadflow-Event-Id", "")
                with receiver.lock:
                    receiver.seen += 1
                    n = receiver.seen
                    receiver.in_flight[event_id] += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight[event_id])
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.always_status or (503 if n <= receiver.fail_first else 200)
                with receiver.lock:
                    receiver.in_flight[event_id] -= 1
                    receiver.requests.append((dict(self.headers.items()), body))
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"unavailable")

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def event_ids(self) -> list[str]:
        return [h.get("X-Leadflow-Event-Id") for h, _ in self.requests]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def hooks_on(monkeypatch):
    """Only the webhook subscriber listens to domain signals."""
    monkeypatch.setattr(signals, "SUBSCRIBERS", (SUBSCRIBER,))
