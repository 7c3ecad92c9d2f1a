"""The values passed between providers/, services/ and store/: token usage, unit prices and what a
call cost, attachments, the turns of a conversation, a request and the chunks of a streamed reply,
and the records a chat writes (a reply with its cost row), with their JSON form for the journal.

They sit below every package (they import only errors, limits, money and text), so that providers/
and store/ need nothing from services/."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar, Literal

from agentik_cli.limits import MTOK
from agentik_cli.money import to_nd

DEFAULT_MAX_TOKENS = 8192


@dataclass(frozen=True)
class Usage:
    """Token counts of one call. input_tokens counts every prompt token, cache reads and writes
    included (the OpenAI convention); cache_read_tokens and cache_write_tokens are parts of it."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    # counted by agentik (the provider's usage never arrived), not reported by the provider
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def per_million(numerator: int) -> int:
    """numerator / 1,000,000, rounded half to even: integer arithmetic, exact."""
    quotient, remainder = divmod(numerator, MTOK)
    if remainder * 2 > MTOK or (remainder * 2 == MTOK and quotient % 2):
        quotient += 1
    return quotient


@dataclass(frozen=True)
class UnitPrices:
    """USD per million tokens."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    source: str = "genai-prices"  # or "override"
    model_id: str | None = None

    @cached_property
    def stored(self) -> dict[str, int | None]:
        """As kept on a cost row: nano-dollars per million tokens, None where there is no price."""
        return {
            "price_input_nd": to_nd(self.input),
            "price_output_nd": to_nd(self.output),
            "price_cache_read_nd": None if self.cache_read is None else to_nd(self.cache_read),
            "price_cache_write_nd": None if self.cache_write is None else to_nd(self.cache_write),
        }

    def cost_nd(
        self, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int, cache_write_1h: int = 0
    ) -> tuple[int, int]:
        """(input, output) cost in nano-dollars; input_tokens counts the cache tokens too. Cache
        writes are the 5-minute kind at the cache-write price; `cache_write_1h` (Anthropic's hour-long
        cache, which a log can tell apart) are at twice the input price."""
        p_in, p_out, p_read, p_write = self.nd
        uncached = max(input_tokens - cache_read - cache_write - cache_write_1h, 0)
        return (
            per_million(uncached * p_in + cache_read * p_read + cache_write * p_write + cache_write_1h * 2 * p_in),
            per_million(output_tokens * p_out),
        )

    @cached_property
    def nd(self) -> tuple[int, int, int, int]:
        """Nano-dollars per million tokens: input, output, cache read, cache write (a missing cache
        price is the input price)."""
        base = to_nd(self.input)
        return (
            base,
            to_nd(self.output),
            base if self.cache_read is None else to_nd(self.cache_read),
            base if self.cache_write is None else to_nd(self.cache_write),
        )


@dataclass(frozen=True)
class Priced:
    input_nd: int
    output_nd: int
    prices: UnitPrices

    @property
    def total_nd(self) -> int:
        return self.input_nd + self.output_nd


@dataclass
class Attachment:
    name: str
    mime: str
    size: int
    sha256: str
    data: bytes | None = None  # images, for this call only
    text: str | None = None  # text files: kept, so the history can send them again

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")

    def b64(self) -> str:
        assert self.data is not None
        return base64.b64encode(self.data).decode("ascii")

    def meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.name, "type": self.mime, "size": self.size, "sha256": self.sha256}
        if self.text is not None:
            meta["text"] = self.text
        return meta


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the model is offered it. `name` is the wire name (letters, digits, _ and -, at
    most 64: what both APIs accept); the toolbox maps it back to the tool (`calc2.add` is sent as
    `calc2__add`). `parameters` is a JSON schema of an object."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass
class ToolCall:
    """A call the model asked for: the provider's id for it, the wire name, and the arguments as
    parsed (`arguments_error` set, arguments {} when what arrived is not a JSON object)."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    arguments_error: str | None = None


@dataclass
class ToolResult:
    """What a call gave back, as the model is told it: the call's id, the text, and whether it failed
    (denied, an error, a timeout: the model is told and the turn goes on)."""

    call_id: str
    content: str
    is_error: bool = False


@dataclass
class Part:
    """One part of an assistant message, in order, kept so a continued session re-sends the exchange
    exactly as each provider requires: "text", "thinking" (reasoning, out of the message's content;
    `signature` is Anthropic's, which must come back with it, `redacted` Anthropic's encrypted
    form), or "tool_call"."""

    kind: Literal["text", "thinking", "tool_call"]
    text: str = ""
    signature: str | None = None
    redacted: str | None = None
    call: ToolCall | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.kind}
        if self.kind == "tool_call":
            assert self.call is not None
            data.update(id=self.call.id, name=self.call.name, arguments=self.call.arguments)
        else:
            data["text"] = self.text
        if self.signature is not None:
            data["signature"] = self.signature
        if self.redacted is not None:
            data["redacted"] = self.redacted
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Part:
        if data["type"] == "tool_call":
            return cls("tool_call", call=ToolCall(data["id"], data["name"], dict(data.get("arguments") or {})))
        return cls(data["type"], data.get("text", ""), data.get("signature"), data.get("redacted"))


@dataclass
class Turn:
    """One message of the conversation as it is sent. A user turn has content and attachments. An
    assistant turn has content and, when it asked for tools or reasoned, its `parts` (the content is
    then the text parts joined). A "tool" turn carries the `results` of the calls the assistant turn
    before it asked for, one per call, in the calls' order (Anthropic sends them as one user message
    of tool_result blocks, OpenAI as one "tool" message each)."""

    role: Literal["user", "assistant", "tool"]
    content: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [p.call for p in self.parts if p.kind == "tool_call" and p.call is not None]

    def text_with_files(self) -> str:
        """The message text with text attachments inlined, and a note for images no longer at hand."""
        parts = [self.content] if self.content else []
        for a in self.attachments:
            if a.text is not None:
                parts.append(f"<file name={a.name!r}>\n{a.text}\n</file>")
            elif a.data is None:
                parts.append(f"[image {a.name} was attached here]")
        return "\n\n".join(parts)


@dataclass
class ChatRequest:
    model: str
    messages: list[Turn]
    system: str | None = None
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float | None = None
    stream: bool = True
    tools: list[ToolSpec] = field(default_factory=list)


@dataclass
class Chunk:
    """A piece of a streamed reply: its text, or reasoning the model streams beside it. `keep`, set
    by the chat, journals the reply as far as it has arrived: whoever shows a chunk calls it first (a
    piece shown is a piece kept), once for all the chunks it shows at once."""

    kind: Literal["text", "thinking"]
    text: str
    keep: Callable[[], None] | None = None


# ---- the records a chat writes: passed down to the store as they are, or kept in the journal of
# unsaved records (services/journal.py) in their JSON form when the database cannot take them ----


def _given(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The fields of a record's JSON form that its class takes: a field an older agentik did not
    write takes its default, a key it no longer has is left out."""
    return {f.name: data[f.name] for f in fields(cls) if f.init and f.name in data}


@dataclass(frozen=True)
class JournalRecord:
    """A write of a chat's (services/recording.py). Its JSON form is its fields and its `kind`, as
    the journal has kept it since its first version."""

    kind: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Any:
        return cls(**_given(cls, data))


@dataclass(frozen=True)
class CostRecord:
    """A call's row of the ledger, its fields the columns of `costs` (store/models.py Cost); the
    store writes it as it is (store/unit.py add_reply), adding who made the call when it does not
    say (a record journaled by an agentik from before users were recorded) and the message it paid
    for. In JSON its time is {"$time": ISO 8601}."""

    model: str
    provider: str
    timestamp: datetime
    agent_id: int | None = None
    agent_name: str | None = None
    session_id: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    total_tokens: int = field(init=False)
    input_cost_nd: int | None = None  # None: the model has no price (never $0)
    output_cost_nd: int | None = None
    total_cost_nd: int | None = None
    price_input_nd: int | None = None  # per million tokens, as UnitPrices.stored
    price_output_nd: int | None = None
    price_cache_read_nd: int | None = None
    price_cache_write_nd: int | None = None
    response_ms: int | None = None
    channel: str | None = None
    endpoint: str | None = None
    estimated: bool = False
    over_limit: bool = False
    user_name: str | None = None
    call_key: str | None = None  # the key of the call's journal (services/journal.py Flight)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total_tokens", self.input_tokens + self.output_tokens)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["timestamp"] = {"$time": self.timestamp.isoformat()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CostRecord:
        moment = data["timestamp"]  # read by the journal's decoder already, or not
        moment = moment if isinstance(moment, datetime) else datetime.fromisoformat(moment["$time"])
        return cls(**_given(cls, {**data, "timestamp": moment}))


@dataclass(frozen=True)
class ReplyRecord(JournalRecord):
    """The assistant's reply, complete or cut short, and its cost row: written in one transaction
    (store/unit.py add_reply)."""

    kind: ClassVar[str] = "reply"
    agent_id: int
    session_id: int
    content: str
    channel: str
    cost: CostRecord
    error: str | None = None
    interrupted: bool = False
    parts: list[dict[str, Any]] | None = None  # Part.to_json, when there is more than the text
    reservation_id: int | None = None  # the budget reservation the call's cost takes the place of

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "cost": self.cost.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReplyRecord:
        record: ReplyRecord = super().from_json({**data, "cost": CostRecord.from_json(data["cost"])})
        return record
