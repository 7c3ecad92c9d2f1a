"""A webhook receiver for the tests: an HTTP server on a loopback port that keeps every request
(headers and body) and answers from a script (status, headers, body, delay, drip), else 200. It can
be stopped and started again on the same port: a receiver that is down, then up. A dripping answer
sends its status line and headers a byte at a time, each byte well within any per-read timeout."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"
    delay: float = 0.0
    echo: bool = False  # answer with the body received (a receiver that echoes: its answer is logged)
    drip: float = 0.0  # seconds between the bytes of the status line and headers


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    # when the request arrived and when its answer ended (sent, or the sender gone): time.monotonic()
    started: float = 0.0
    ended: float | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.received: list[Received] = []
        self.script: list[Answer] = []
        self.default = Answer()
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                started = time.monotonic()
                body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
                with receiver.lock:
                    answer = receiver.script.pop(0) if receiver.script else receiver.default
                if answer.delay:
                    time.sleep(answer.delay)
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, started)
                with receiver.lock:
                    receiver.received.append(got)
                data = (body if answer.echo else answer.body).encode()
                if answer.drip:
                    self.drip(answer, data)
                    got.ended = time.monotonic()
                    return
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a sender that gave up waiting (a command that ended)
                got.ended = time.monotonic()

            def drip(self, answer: Answer, data: bytes) -> None:
                head = f"HTTP/1.1 {answer.status} OK\r\ncontent-length: {len(data)}\r\n"
                head += "".join(f"{name}: {value}\r\n" for name, value in answer.headers.items())
                try:
                    for byte in (head + "\r\n").encode():
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(answer.drip)
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:
                    pass  # the sender gave up
                self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def types(self) -> list[str]:
        with self.lock:
            return [r.json["type"] for r in self.received]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        with self.lock:
            raise AssertionError(f"{len(self.received)} requests, not {count}: {[r.body for r in self.received]}")
