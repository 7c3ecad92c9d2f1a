"""The provider interface: class attributes plus one streaming method.

A provider turns a ChatRequest into a stream of text (and, where the model streams it, reasoning),
updating a CallState as it goes so that a call cut short still knows its tokens so far. The stream's
envelope is `Provider.stream`'s, the same for every SDK (the client, a whole reply asked for or sent
in place of a stream, events that are not the API's, a stream cut short, the SDK's errors); a
provider supplies its request, its events and its whole reply."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from agentik_cli import limits
from agentik_cli.providers.failures import provider_error
from agentik_cli.providers.tokens import estimate_prompt, estimate_tokens
from agentik_cli.values import ChatRequest, Chunk, Part, ToolCall, Usage


class Pieces:
    """Text that grows a piece at a time, read now and then from another thread as well (the
    journal's): adding is an append; reading joins only what came since the last read."""

    __slots__ = ("_pieces", "_read")

    def __init__(self, text: str = "") -> None:
        self._pieces = [text] if text else []
        self._read = ("", 0)  # the text as last read, and of how many pieces: replaced whole

    def add(self, piece: str) -> None:
        self._pieces.append(piece)

    @property
    def value(self) -> str:
        text, count = self._read
        if count == len(self._pieces):
            return text
        pieces = self._pieces[count:]  # a piece added meanwhile waits for the next read
        text += "".join(pieces)
        self._read = (text, count + len(pieces))
        return text


@dataclass
class CallState:
    """What is known of a call so far: filled in while the reply streams. The text and the reasoning
    grow a piece at a time (`add`) and are joined when read: `+=` on an attribute copies the whole
    text at every piece, which over a long reply's tens of thousands of pieces is quadratic."""

    input_tokens: int = 0  # every prompt token, cache reads and writes included
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    model: str | None = None  # as the provider reports it
    stop_reason: str | None = None
    estimated: bool = False  # the token counts are agentik's own count, not the provider's
    started: bool = False  # the provider began its reply: the call is paid for
    input_reported: bool = False  # the provider's own counts arrived (and made sense)
    output_reported: bool = False
    # the reply's parts as they were completed, in order; blocks still arriving wait in `open`,
    # by the provider's index (a tool call is a part only once its arguments are complete)
    parts: list[Part] = field(default_factory=list)
    open: dict[int, dict[str, Any]] = field(default_factory=dict)
    _text: Pieces = field(default_factory=lambda: Pieces())
    _thinking: Pieces = field(default_factory=lambda: Pieces())

    @property
    def text(self) -> str:
        return self._text.value

    @text.setter
    def text(self, value: str) -> None:
        self._text = Pieces(value)

    @property
    def thinking(self) -> str:
        return self._thinking.value

    @thinking.setter
    def thinking(self, value: str) -> None:
        self._thinking = Pieces(value)

    def add(self, index: int | None, kind: str, piece: str) -> None:
        """A piece of block `index` as it streams: of the text ("text"), the reasoning ("thinking";
        index None: of no block, as OpenAI's reasoning) or a tool call's arguments ("tool_call")."""
        if index is not None:
            self.block(index, kind)["pieces"].append(piece)
        if kind == "text":
            self._text.add(piece)
        elif kind == "thinking":
            self._thinking.add(piece)

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [p.call for p in self.parts if p.kind == "tool_call" and p.call is not None]

    def begin(self, index: int, kind: str, **data: Any) -> None:
        """A block begins: "text", "thinking", "redacted" or "tool_call" (with id and name)."""
        self.open[index] = {"kind": kind, "text": "", "pieces": [], "signature": None, "arguments": "", **data}

    def block(self, index: int, kind: str) -> dict[str, Any]:
        if index not in self.open:
            self.begin(index, kind)
        return self.open[index]

    def end(self, index: int) -> None:
        """A block is complete: it becomes a part."""
        data = self.open.pop(index, None)
        if data is None:
            return
        if data["kind"] == "tool_call":
            raw = data["arguments"]
            if data["pieces"]:
                raw = (raw if isinstance(raw, str) else "") + "".join(data["pieces"])
            arguments, error = parse_arguments(raw)
            call = ToolCall(data.get("id") or f"call_{index}", data.get("name") or "", arguments, error)
            self.parts.append(Part("tool_call", call=call))
        elif data["kind"] == "redacted":
            self.parts.append(Part("thinking", redacted=data.get("data") or ""))
        else:
            text = data["text"] + "".join(data["pieces"])
            if text or data["signature"]:
                self.parts.append(Part(data["kind"], text, signature=data["signature"]))

    def end_all(self, *, complete: bool) -> None:
        """Close what is still open, in order. A reply cut short keeps its text and reasoning and
        drops a tool call whose arguments may be incomplete."""
        for index in sorted(self.open):
            if not complete and self.open[index]["kind"] == "tool_call":
                del self.open[index]
            else:
                self.end(index)

    def settle(self, request: ChatRequest) -> None:
        """Count what the provider never reported (a stream cut short, a server that sends no usage,
        nonsense refused by `token_count`): the prompt that was sent for input, the reply and
        reasoning that arrived for output. Never below what was reported so far (Anthropic's
        message_start input count is real), and marked as an estimate."""
        self.end_all(complete=False)
        if not self.input_reported:
            self.input_tokens = max(self.input_tokens, estimate_prompt(request))
            self.estimated = True
        if not self.output_reported:
            self.output_tokens = max(self.output_tokens, estimate_tokens(self.text) + estimate_tokens(self.thinking))
            self.estimated = True

    def usage(self) -> Usage:
        return Usage(
            self.input_tokens, self.output_tokens, self.cache_read_tokens, self.cache_write_tokens, self.estimated
        )


def parse_arguments(raw: Any) -> tuple[dict[str, Any], str | None]:
    """A tool call's arguments as a server sent them (a JSON string, or an object already parsed):
    the object, or {} and what is wrong. No arguments at all is an empty object."""
    if isinstance(raw, dict):
        return raw, None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}, None
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}, "the arguments are not valid JSON"
    if not isinstance(value, dict):
        return {}, "the arguments are not a JSON object"
    return value, None


# An explicit key, even this placeholder, stops an SDK looking for one of its own. On an agent's own
# server it never leaves: `client_headers` replaces it.
NO_KEY = "agentik-no-key"
UNREADABLE = "events or fields agentik cannot read"


MIB = 1024 * 1024


class Provider:
    """One per SDK, and everything agentik knows of that provider, declared here: adding a provider
    is one subclass, listed in providers/registry.py. `name` is the provider id used in prices and
    the ledger; `endpoint` names the API path called, for the ledger.

    A subclass module must import its SDK only inside its methods (`sdk`): the registry imports
    every subclass, and `agentik --help` and completion import the registry."""

    name: ClassVar[str]
    display_name: ClassVar[str]  # "Anthropic": how errors name the provider's own API
    key_env: ClassVar[str]  # where the provider's key is looked for first: "ANTHROPIC_API_KEY"
    # the header that carries a key (to an agent's own server as to the provider), and what goes
    # before the key in it
    key_header: ClassVar[str]
    key_scheme: ClassVar[str] = ""
    default_model: ClassVar[str]  # the model of the agent made on first use
    model_prefixes: ClassVar[tuple[str, ...]] = ()  # model names that tell the provider (lower case)
    temperature_range: ClassVar[tuple[float, float] | None] = (0.0, 2.0)  # None: takes no temperature
    max_tokens: ClassVar[int] = limits.MAX_TOKENS  # the most an agent may ask of one reply
    image_limit: ClassVar[int] = 5 * MIB  # bytes an attached image may have
    base_url_env: ClassVar[str]  # the SDK's own base-URL variable
    custom_headers_env: ClassVar[str]  # the SDK's own extra-headers variable ("Name: value" lines)
    ambient_headers: ClassVar[tuple[str, ...]]  # headers the SDK fills in from the environment
    default_base_url: ClassVar[str]
    endpoint_path: ClassVar[str]

    def __init__(self, *, api_key: str | None, base_url: str | None, timeout: float | None = None) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self._client: Any = None

    @property
    def own_server(self) -> bool:
        """The agent's own server (--base-url): not the provider, so nothing of the provider's goes there."""
        return self.base_url is not None

    @property
    def label(self) -> str:
        return "the server" if self.own_server else self.display_name

    def connect(self) -> Any:
        """The SDK client, made once (importing the SDK: over a second for anthropic)."""
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def make_client(self) -> Any:
        raise NotImplementedError

    def client_options(self, omit: Any) -> dict[str, Any]:
        """What every SDK client is made with: a key always (given none, an SDK looks for one of its
        own), on an agent's own server its base URL and `client_headers`, and the timeout."""
        options: dict[str, Any] = {"api_key": self.api_key or NO_KEY}
        if self.base_url:
            options["base_url"] = self.base_url
            options["default_headers"] = self.client_headers(omit)
        if self.timeout is not None:
            options["timeout"] = self.timeout
        return options

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def client_headers(self, omit: Any) -> dict[str, Any]:
        """Headers for the client. On an agent's own server the credential is agentik's alone: the
        --api-key-env key, or none at all. Both SDKs pick credentials up by themselves (keys and
        tokens in the environment, Anthropic profiles and workload identity, OpenAI organization and
        project ids, the *_CUSTOM_HEADERS variables) and would send them to any base URL; `omit` is
        the SDK's marker that removes a header whatever set it. The key goes in `key_header`, as the
        provider's API takes it (x-api-key for Anthropic, a bearer token for OpenAI). Set on the
        client, not per request: the SDKs' debug logs print each request's own headers."""
        if not self.own_server:
            return {}
        names = [*self.ambient_headers, *_header_names(os.environ.get(self.custom_headers_env, ""))]
        headers: dict[str, Any] = dict.fromkeys(names, omit)
        headers["Authorization"] = omit
        if self.api_key:  # in the provider's own header: a compatible server checks that one
            headers[self.key_header] = f"{self.key_scheme}{self.api_key}"
        return headers

    @property
    def endpoint(self) -> str:
        """The URL called, without credentials: kept on the cost row and named in errors."""
        base = self.base_url or os.environ.get(self.base_url_env) or self.default_base_url
        return strip_credentials(base).rstrip("/") + self.endpoint_path

    # What each provider supplies to `stream`: its SDK, its request, its events and its whole reply.

    def sdk(self) -> Any:
        """The SDK module, imported on first use (over a second for anthropic)."""
        raise NotImplementedError

    def create(self, client: Any, request: ChatRequest, *, stream: bool) -> Any:
        """The SDK's request: a stream of events, or (not streamed) the raw response of a whole reply."""
        raise NotImplementedError

    def reply_type(self) -> type[Any]:
        """The SDK's class of a whole reply, which a JSON body in place of a stream is read into."""
        raise NotImplementedError

    def events(self, stream: Any) -> Iterator[Any]:
        """The stream's events, as the SDK makes them (a provider may read them more cheaply)."""
        return iter(stream)

    def is_event(self, event: Any) -> bool:
        """An event of the API's own: anything else (a proxy's events) is counted and passed over."""
        raise NotImplementedError

    def take_event(self, event: Any, state: CallState) -> Iterator[Chunk]:
        """One event of the stream into `state`, yielding the text and reasoning it carries."""
        raise NotImplementedError

    def reply(self, message: Any, state: CallState, content_type: str | None) -> Iterator[Chunk]:
        """A whole reply of `reply_type` into `state`, yielding its text and reasoning."""
        raise NotImplementedError

    def stream(self, request: ChatRequest, state: CallState) -> Iterator[Chunk]:
        """Yield the reply as it arrives, keeping `state` current. Raises ProviderError."""
        sdk = self.sdk()
        client = self.connect()
        try:
            if not request.stream:
                raw = self.create(client, request, stream=False)
                yield from self._whole(raw.parse(), state, raw.headers.get("content-type"))
                return
            stream = self.create(client, request, stream=True)
            foreign = 0  # events that are not the API's (a proxy's own)
            with stream:
                content_type = stream.response.headers.get("content-type")
                if self.is_json(content_type):
                    # a compatible server that does not stream answers with the whole reply
                    data = json.loads(stream.response.read())
                    if not isinstance(data, dict):
                        raise self.not_a_reply(content_type)
                    yield from self._whole(self.reply_type().construct(**data), state, content_type)
                    return
                for event in self.events(stream):
                    if not self.is_event(event):
                        foreign += 1
                        continue
                    state.started = True
                    yield from self.take_event(event, state)
            if state.stop_reason is None:
                raise self.ended_early(state, stream.response.headers.get("content-type"), foreign)
        except sdk.APIError as exc:
            raise provider_error(exc, sdk, self.label, self.endpoint, self.api_key) from exc
        except (AttributeError, TypeError, ValueError) as exc:  # JSON that is not the API's, or no JSON
            raise self.not_a_reply(UNREADABLE) from exc

    def _whole(self, message: Any, state: CallState, content_type: str | None) -> Iterator[Chunk]:
        """A whole reply: asked for, or sent by a server in place of a stream."""
        if not isinstance(message, self.reply_type()):
            raise self.not_a_reply(content_type)
        yield from self.reply(message, state, content_type)

    def ended_early(self, state: CallState, content_type: str | None, foreign_events: int = 0) -> Exception:
        """A stream that ended without its closing event (the SDKs treat that as a normal end):
        dropped, never a stream at all, or a stream of events that are not the API's (a proxy's own
        events): with nothing billable arrived, not a reply, and no call to pay for."""
        if not state.started and not (content_type or "").startswith("text/event-stream"):
            return self.not_a_reply(content_type)
        if not state.started and foreign_events:
            return self.not_a_reply(UNREADABLE)
        from agentik_cli.errors import ProviderError

        return ProviderError(f"{self.label} at {self.endpoint} closed the connection before the reply was complete")

    @staticmethod
    def is_json(content_type: str | None) -> bool:
        """A JSON body: what a compatible server that does not stream sends, even when asked to."""
        kind = (content_type or "").split(";")[0].strip().lower()
        return kind == "application/json" or kind.endswith("+json")

    def not_a_reply(self, content_type: str | None) -> Exception:
        """A 200 whose body is not the API's reply (a proxy's or a login page's HTML, JSON of
        another shape, an event stream where JSON was asked for, or the other way round, events
        that are not the API's). `content_type` as the server sent it, or what was wrong."""
        from agentik_cli.errors import ProviderError

        kind = (content_type or "").split(";")[0].strip() or "no content type"
        return ProviderError(
            f"{self.label} at {self.endpoint} answered with something that is not a reply ({kind})",
            hint="check the base URL: a proxy or a login page may be answering in the API's place",
        )


def _header_names(lines: str) -> list[str]:
    """The names in a *_CUSTOM_HEADERS value, parsed as both SDKs parse it."""
    return [line[: line.find(":")].strip() for line in lines.split("\n") if ":" in line]


def strip_credentials(url: str) -> str:
    """A URL fit for the ledger and for error messages: no user:password@, no query string."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return urlunsplit(parts._replace(query=""))
