"""A chat webhook on 127.0.0.1 that behaves as a careful receiver does: it drops repeats by idempotency key.

It can be down (answers 500), unreachable (its port closed: connection refused), or slow (it
takes a message, then answers only after the sender's timeout); then back. It counts, per
idempotency key, the requests it got, the messages it took (the first of each key) and the 2xx
answers it gave, so a test can tell "delivered exactly once" from "posted several times".
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self):
        self.mode = "ok"  # "ok", "error" (500) or "slow" (takes the message, answers after slow_seconds)
        self.slow_seconds = 0.0
        self.requests: list[dict] = []
        self.requests_per_key: Counter = Counter()
        self.taken: dict[str, dict] = {}  # the first payload of each key: what the team's chat shows
        self.accepted_per_key: Counter = Counter()  # 2xx answers in time (not a slow one's late answer)
        self.lock = threading.Lock()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/team"

    def up(self) -> None:
        """Listen (again, on the same port)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                payload = json.loads(body)
                key = self.headers.get("Idempotency-Key") or ""
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "key": key, "json": payload})
                    receiver.requests_per_key[key] += 1
                    mode = receiver.mode
                    first = key not in receiver.taken
                    if mode != "error" and first:
                        receiver.taken[key] = payload
                if mode == "error":
                    return self._answer(500)
                if mode == "slow" and first:
                    time.sleep(receiver.slow_seconds)  # took it; answers after the sender stopped waiting
                    return self._answer(200)
                with receiver.lock:
                    receiver.accepted_per_key[key] += 1
                self._answer(200)

            def _answer(self, status: int) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Stop listening: connections are refused until up()."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    close = down
