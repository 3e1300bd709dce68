"""A real webhook receiver on 127.0.0.1 that keeps what it is sent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

Delivery = tuple[dict[str, str], bytes]  # the request's headers and body


class WebhookReceiver:
    """Answers every POST with 204 and records its headers and body."""

    def __init__(self) -> None:
        self.received: list[Delivery] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                delivery = (dict(self.headers), self.rfile.read(length))
                with receiver.lock:
                    receiver.received.append(delivery)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, matches: Callable[[Delivery], bool], timeout: float = 10.0) -> Delivery:
        """The first delivery ``matches`` accepts, once it has arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [d for d in self.received if matches(d)]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no matching webhook within {timeout} s of {len(self.received)}")

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()
