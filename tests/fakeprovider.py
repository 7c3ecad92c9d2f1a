"""A local HTTP server that speaks the Anthropic Messages and OpenAI Chat Completions wire formats:
JSON and server-sent event streams with each provider's usage blocks (cache tokens included), error
bodies with status codes and retry headers, slow streams and dropped connections, odd usage blocks, and
answers that are not replies (a proxy's HTML, JSON of another shape, a stream where JSON was asked for).
The tests point the real SDKs at it with their base-URL settings, and read back what each request
carried, every header included.

Also runnable on its own (the benchmarks and manual checks use it):
    python tests/fakeprovider.py --port 8765 [--words 20000]"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

GATE_TIMEOUT = 120  # seconds a gated reply waits at most for its test (a failed test must not hang the server)


@dataclass
class Reply:
    """One scripted answer. With `status` set, an error body instead of a reply."""

    text: str = "Hello from the fake provider."
    thinking: str = ""
    chunks: int | None = None  # how many pieces to stream the text in (default: by word)
    delay: float = 0.0  # seconds between pieces
    input_tokens: int = 25
    output_tokens: int = 12
    cache_read: int = 0
    cache_write: int = 0
    model: str | None = None
    usage: bool = True  # OpenAI-compatible servers may send none
    drop_after: int | None = None  # close the connection after this many pieces
    error_after: int | None = None  # Anthropic: an `error` event after this many pieces, then the end
    status: int | None = None
    error_message: str = "something went wrong"
    error_type: str = "api_error"
    headers: dict[str, str] = field(default_factory=dict)
    # merged into every usage block sent (nested details included): fields the defaults leave out,
    # or nonsense a server might send
    usage_extra: dict[str, Any] = field(default_factory=dict)
    stream: bool | None = None  # answer as a stream (True) or as JSON (False) whatever was asked
    raw: str | None = None  # this body as it is (HTML from a proxy, say), with `content_type`
    content_type: str = "text/html; charset=utf-8"
    # calls the model asks for: {"name", "arguments": dict or a raw string, "id"?}; several = parallel
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    # OpenAI-compatible servers' habits: the id repeated in every chunk, the arguments in one piece,
    # no id at all
    repeat_ids: bool = False
    whole_arguments: bool = False
    no_ids: bool = False
    # the pieces after the first wait until this is set (a test that needs something to happen while
    # a reply is still streaming: by construction, not by a stream long enough)
    gate: threading.Event | None = None


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up (as the tests make it) is no news


class FakeProvider:
    def __init__(
        self, port: int = 0, default: Reply | None = None, canned: dict[str, list[Reply]] | None = None
    ) -> None:
        self.script: deque[Reply] = deque()
        # replies by the prompt they answer (the README's): the first for the prompt itself, the
        # next ones for the follow-up calls of its tool loop
        self.canned = canned or {}
        self.requests: list[Request] = []
        self.default = default or Reply()
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, *replies: Reply) -> None:
        self.script.extend(replies)

    def next_reply(self, body: dict[str, Any] | None = None) -> Reply:
        with self.lock:
            if self.script:
                return self.script.popleft()
        prompt, round_ = _last_prompt(body or {})
        replies = self.canned.get(prompt.strip()) if prompt is not None else None
        if replies:
            return replies[min(round_, len(replies) - 1)]
        return self.default

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                with fake.lock:
                    fake.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                reply = fake.next_reply(body)
                anthropic = self.path.endswith("/messages")
                if reply.raw is not None:
                    self._send(reply.status or 200, reply.raw, reply.headers, reply.content_type)
                elif reply.status is not None:
                    self._error(reply, anthropic)
                elif reply.stream if reply.stream is not None else body.get("stream"):
                    (_anthropic_stream if anthropic else _openai_stream)(self, reply, body)
                else:
                    payload = (_anthropic_json if anthropic else _openai_json)(reply, body)
                    self._send(200, payload, reply.headers)

            do_GET = do_POST  # noqa: N815 - recorded too: nothing should be fetched

            def _send(
                self,
                status: int,
                payload: dict[str, Any] | str,
                headers: dict[str, str],
                content_type: str = "application/json",
            ) -> None:
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _error(self, reply: Reply, anthropic: bool) -> None:
                if anthropic:
                    payload: dict[str, Any] = {
                        "type": "error",
                        "error": {"type": reply.error_type, "message": reply.error_message},
                    }
                else:
                    payload = {
                        "error": {"message": reply.error_message, "type": reply.error_type, "param": None, "code": None}
                    }
                self._send(reply.status or 500, payload, {"request-id": "req_fake", **reply.headers})

        return Handler


def _text(content: Any) -> str | None:
    """A message's text, when it is the person's words (not a tool's result)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(part, dict) for part in content):
        if any(part.get("type") == "tool_result" for part in content):
            return None
        texts = [part.get("text", "") for part in content if part.get("type") == "text"]
        return texts[-1] if texts else None
    return None


def _last_prompt(body: dict[str, Any]) -> tuple[str | None, int]:
    """The last prompt a person gave in a request (either wire format), and how many model calls
    of its tool loop came before this one."""
    rounds = 0
    for message in reversed(body.get("messages") or []):
        if not isinstance(message, dict):
            break
        if message.get("role") == "assistant":
            rounds += 1
        elif message.get("role") == "user":
            text = _text(message.get("content"))
            if text is not None:
                return text, rounds
    return None, 0


def load_canned(path: str) -> dict[str, list[Reply]]:
    """A replies file: {prompt: reply or [reply, ...]}, each reply the fields of Reply."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        prompt.strip(): [Reply(**item) for item in (value if isinstance(value, list) else [value])]
        for prompt, value in data.items()
        if not prompt.startswith("//")
    }


README_REPLIES = str(Path(__file__).with_name("readme_replies.json"))


def _pieces(reply: Reply) -> list[str]:
    if reply.chunks:
        size = max(1, -(-len(reply.text) // reply.chunks))
        return [reply.text[i : i + size] for i in range(0, len(reply.text), size)]
    words = reply.text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


def _call_id(reply: Reply, n: int, call: dict[str, Any], prefix: str) -> str:
    return str(call.get("id") or f"{prefix}{n + 1}")


def _arguments(call: dict[str, Any]) -> str:
    args = call.get("arguments", {})
    return args if isinstance(args, str) else json.dumps(args)


def _split(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _begin_stream(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    handler.send_response(200)
    handler.send_header("content-type", "text/event-stream")
    handler.send_header("cache-control", "no-cache")
    handler.send_header("connection", "close")
    for key, value in reply.headers.items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.close_connection = True


def _emit(handler: BaseHTTPRequestHandler, event: str | None, data: Any) -> None:
    text = (f"event: {event}\n" if event else "") + f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
    handler.wfile.write(text.encode())
    handler.wfile.flush()


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _anthropic_usage(reply: Reply, output: int) -> dict[str, Any]:
    usage = {
        "input_tokens": reply.input_tokens - reply.cache_read - reply.cache_write,
        "cache_creation_input_tokens": reply.cache_write,
        "cache_read_input_tokens": reply.cache_read,
        "output_tokens": output,
    }
    return _merged(usage, reply.usage_extra)


def _anthropic_stream(handler: BaseHTTPRequestHandler, reply: Reply, body: dict[str, Any]) -> None:
    model = reply.model or body.get("model", "claude-sonnet-4-0")
    _begin_stream(handler, reply)
    try:
        _emit(
            handler,
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": _anthropic_usage(reply, 1),
                },
            },
        )
        index = 0
        if reply.thinking:
            _emit(
                handler,
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                },
            )
            _emit(
                handler,
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "thinking_delta", "thinking": reply.thinking},
                },
            )
            _emit(
                handler,
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "c2ln"}},
            )
            _emit(handler, "content_block_stop", {"type": "content_block_stop", "index": 0})
            index = 1
        _emit(
            handler,
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
        )
        _emit(handler, "ping", {"type": "ping"})
        for n, piece in enumerate(_pieces(reply)):
            if reply.drop_after is not None and n >= reply.drop_after:
                return  # the connection closes mid-stream
            if reply.error_after is not None and n >= reply.error_after:
                error = {"type": reply.error_type, "message": reply.error_message}
                _emit(handler, "error", {"type": "error", "error": error})
                return
            if n == 1 and reply.gate is not None:
                reply.gate.wait(GATE_TIMEOUT)
            _emit(
                handler,
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}},
            )
            if reply.delay:
                time.sleep(reply.delay)
        _emit(handler, "content_block_stop", {"type": "content_block_stop", "index": index})
        for n, call in enumerate(reply.tool_calls):
            index += 1
            block = {"type": "tool_use", "id": _call_id(reply, n, call, "toolu_"), "name": call["name"], "input": {}}
            _emit(
                handler, "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}
            )
            for piece in _split(_arguments(call)):
                delta = {"type": "input_json_delta", "partial_json": piece}
                _emit(handler, "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
            _emit(handler, "content_block_stop", {"type": "content_block_stop", "index": index})
        _emit(
            handler,
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use" if reply.tool_calls else "end_turn", "stop_sequence": None},
                "usage": _merged({"output_tokens": reply.output_tokens}, reply.usage_extra),
            },
        )
        _emit(handler, "message_stop", {"type": "message_stop"})
    except (BrokenPipeError, ConnectionResetError):
        pass


def _anthropic_json(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.thinking:
        content.append({"type": "thinking", "thinking": reply.thinking, "signature": "c2ln"})
    if reply.text or not reply.tool_calls:
        content.append({"type": "text", "text": reply.text})
    for n, call in enumerate(reply.tool_calls):
        args = call.get("arguments", {})
        content.append(
            {"type": "tool_use", "id": _call_id(reply, n, call, "toolu_"), "name": call["name"], "input": args}
        )
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": reply.model or body.get("model"),
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(reply, reply.output_tokens),
    }


def _openai_usage(reply: Reply) -> dict[str, Any]:
    details: dict[str, Any] = {"cached_tokens": reply.cache_read}
    if reply.cache_write:
        details["cache_write_tokens"] = reply.cache_write
    usage = {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
        "prompt_tokens_details": details,
    }
    return _merged(usage, reply.usage_extra)


def _openai_stream(handler: BaseHTTPRequestHandler, reply: Reply, body: dict[str, Any]) -> None:
    model = reply.model or body.get("model", "gpt-4o-mini")
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    _begin_stream(handler, reply)
    try:
        _emit(
            handler,
            None,
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        )
        if reply.thinking:
            _emit(
                handler,
                None,
                {
                    **base,
                    "choices": [{"index": 0, "delta": {"reasoning_content": reply.thinking}, "finish_reason": None}],
                },
            )
        for n, piece in enumerate(_pieces(reply)):
            if reply.drop_after is not None and n >= reply.drop_after:
                return
            if n == 1 and reply.gate is not None:
                reply.gate.wait(GATE_TIMEOUT)
            _emit(
                handler, None, {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            )
            if reply.delay:
                time.sleep(reply.delay)
        for n, call in enumerate(reply.tool_calls):
            pieces = [_arguments(call)] if reply.whole_arguments else _split(_arguments(call))
            for k, piece in enumerate(pieces):
                entry: dict[str, Any] = {"index": n, "function": {"arguments": piece}}
                if not reply.no_ids and (k == 0 or reply.repeat_ids):
                    entry["id"] = _call_id(reply, n, call, "call_")
                    entry["type"] = "function"
                if k == 0:
                    entry["function"]["name"] = call["name"]
                delta = {"tool_calls": [entry]}
                _emit(handler, None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        finish = "tool_calls" if reply.tool_calls else "stop"
        _emit(handler, None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if reply.usage and (body.get("stream_options") or {}).get("include_usage"):
            _emit(handler, None, {**base, "choices": [], "usage": _openai_usage(reply)})
        _emit(handler, None, "[DONE]")
    except (BrokenPipeError, ConnectionResetError):
        pass


def _openai_json(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.thinking:
        message["reasoning_content"] = reply.thinking
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": _call_id(reply, n, call, "call_"),
                "type": "function",
                "function": {"name": call["name"], "arguments": _arguments(call)},
            }
            for n, call in enumerate(reply.tool_calls)
        ]
    result: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model or body.get("model"),
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
    }
    if reply.usage:
        result["usage"] = _openai_usage(reply)
    return result


def words(n: int) -> str:
    """A Markdown reply of n words in paragraphs, with the odd list and code block."""
    vocabulary = "the agent streams tokens while the terminal renders markdown quickly and exactly".split()
    out, count, para = [], 0, 0
    while count < n:
        para += 1
        if para % 7 == 0:
            out.append(f"```python\nprint('block {para}')\n```")
            count += 2
            continue
        if para % 5 == 0:
            out.append("\n".join(f"- item {i} of list {para}" for i in range(4)))
            count += 20
            continue
        size = min(60, n - count)
        out.append(" ".join(vocabulary[(para + i) % len(vocabulary)] for i in range(size)) + ".")
        count += size
    return "\n\n".join(out)


def main() -> None:
    """`python -m tests.fakeprovider`: the local provider for trying agentik without keys. It
    answers both APIs with the README's replies (tests/readme_replies.json), or `--words N` of
    Markdown, and prints what to export to point agentik at it."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.fakeprovider", description=main.__doc__)
    parser.add_argument("--port", type=int, default=8765, help="the port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--words", type=int, default=0, help="answer every prompt with this many words")
    parser.add_argument("--replies", default=README_REPLIES, help="canned replies by prompt (JSON)")
    args = parser.parse_args()
    default = Reply(text=words(args.words), output_tokens=int(args.words * 1.3)) if args.words else Reply()
    canned = {} if args.words else load_canned(args.replies)
    server = FakeProvider(args.port, default, canned)
    print(
        f"export ANTHROPIC_BASE_URL={server.url} OPENAI_BASE_URL={server.url}/v1 "
        "ANTHROPIC_API_KEY=sk-ant-local OPENAI_API_KEY=sk-local",
        flush=True,
    )
    print(f"# the local test provider is answering at {server.url}; Ctrl-C stops it", file=sys.stderr, flush=True)
    try:
        server.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
