"""llm's log (Simon Willison's `llm` CLI): the SQLite database `logs.db` in its user folder,
`$LLM_USER_PATH`, else its app folder (`~/.config/io.datasette.llm` on Linux, `~/Library/Application
Support/io.datasette.llm` on macOS, `%APPDATA%\\io.datasette.llm` on Windows). The schema is llm's
own (llm/migrations.py, as of llm 0.36): two generations of tables, both read.

- `responses` (one row a call, llm before 0.32; read-only history since) with `conversations` (id,
  name); and `turns` (one row a call, llm since 0.32) with `threads` (id, name) and `turn_search`
  (the prompt the person typed and the reply's text, as llm derives them for `llm logs -q`). A
  thread made from a conversation keeps its id, and turn ids share the response ids' space: a call in
  both tables (llm's dual-write days, or a backfill) has one key, its id, and is read from `turns`.
- A call's key is its id; its session the conversation's (thread's) id, titled with its name; its
  time the moment the reply ended (`datetime_utc`, when the call started, plus `duration_ms`); the
  prompt is what the person said (a message keyed `prompt:<id>`), the reply the call's text.
- The model is `resolved_model` (the dated id the API answered with) when llm recorded one, else the
  model id, without a plugin's `vendor/` prefix (`anthropic/claude-sonnet-4-0`, `gemini/gemini-2.5-
  flash`): the name the price list knows. The provider is told by the name: `claude*` is anthropic,
  `gpt-*`, `o1*`, `o3*`, `o4*` and `chatgpt*` openai, `gemini*` google; any other (local models,
  plugins of other vendors) is `llm`, which no price list prices: such calls are unpriced, never $0.
- Tokens: `input_tokens` and `output_tokens` as the plugin set them, and `token_details`, the rest of
  the provider's usage. Anthropic's (llm-anthropic) `input_tokens` leaves the cache out:
  `cache_read_input_tokens` and `cache_creation_input_tokens` are added to make the whole prompt, the
  writes split by lifetime from `cache_creation.ephemeral_1h_input_tokens`. OpenAI's
  (`prompt_tokens_details` or, for the Responses API, `input_tokens_details`: `cached_tokens` read,
  `cache_write_tokens` written) and Gemini's (`cachedContentTokenCount`) are already in the prompt.
  Reasoning tokens are in the output as llm records it (OpenAI's count them there; llm-gemini adds the
  thoughts since 0.19.1; before, it left `thoughtsTokenCount` in the details, added here).
- A call llm recorded no counts for (a local model's, or any before llm 0.19, which logged none) is
  still a call: it is imported with the counts it has (0), so it is counted and its session keeps its
  words. A local model's is unpriced (provider `llm`); a priced model's comes out at $0 until a call
  can tell the importer that its usage is unknown.
- Reading is incremental by row: the mark holds, per table, the last rowid read. Row ids, unlike the
  ULIDs, grow in the order rows were committed (a ULID is made when a call starts, so a long call
  commits after a short one started later). The database is opened read-only in one read
  transaction, so a WAL database being written by llm at the same time is read as of one moment."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from agentik_cli.sources.base import MAX_TEXT, Call, Read, Said, count, when

name = "llm"
provider = "openai"  # llm's default model is OpenAI's
model = "gpt-4o-mini"

APP = "io.datasette.llm"
# llm is done writing within this (it holds its write lock for one insert transaction)
BUSY_SECONDS = 5.0
TABLES = ("responses", "turns")


def default_paths(env: Mapping[str, str], home: Path) -> list[Path]:
    configured = env.get("LLM_USER_PATH", "").strip()
    if configured:
        return [Path(configured).expanduser() / "logs.db"]
    # click.get_app_dir("io.datasette.llm"), on each platform
    folders = [
        Path(env.get("XDG_CONFIG_HOME") or home / ".config") / APP,
        home / "Library" / "Application Support" / APP,
    ]
    if env.get("APPDATA"):
        folders.append(Path(env["APPDATA"]) / APP)
    return [folder / "logs.db" for folder in folders]


def companions(path: Path) -> list[Path]:
    """The files a database's changes may sit in while llm (or Datasette) keeps it open: its WAL.
    The importer reads the database again when either changed."""
    return [path.with_name(path.name + "-wal")]


def wanted(path: Path) -> bool:
    # a folder holds other databases too (embeddings.db); a file named on the command line is read whatever its name
    return path.name == "logs.db"


def provider_of(model_name: str) -> str:
    lowered = model_name.lower()
    if lowered.startswith("claude"):
        return "anthropic"
    if lowered.startswith(("gpt-", "o1", "o3", "o4", "chatgpt")):
        return "openai"
    if lowered.startswith("gemini"):
        return "google"
    return "llm"


def read(path: Path, mark: dict[str, Any]) -> Read:
    found = Read()
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_SECONDS, isolation_level=None
        )
    except sqlite3.Error as exc:
        return Read(failed=f"cannot open it as SQLite ({exc})")
    try:
        connection.row_factory = sqlite3.Row
        connection.execute("BEGIN")  # one snapshot for every table read
        columns = _columns(connection)
        if not any(table in columns for table in TABLES):
            return Read(failed="not an llm log: no responses or turns table")
        after = {table: _start(connection, table, mark) for table in TABLES if table in columns}
        calls: dict[str, Call] = {}
        if "turns" in columns:
            after["turns"] = _turns(connection, columns, after["turns"], calls, found)
        if "responses" in columns:
            after["responses"] = _responses(connection, columns, after["responses"], calls, found)
        found.calls = list(calls.values())
        found.mark = after
        return found
    except sqlite3.Error as exc:  # not a database, locked past the timeout, a table llm never made
        return Read(failed=f"not readable as an llm log ({exc})")
    finally:
        connection.close()


def _columns(connection: sqlite3.Connection) -> dict[str, set[str]]:
    tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {
        table: {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}
        for table in ("responses", "conversations", "turns", "threads", "turn_search")
        if table in tables
    }


def _start(connection: sqlite3.Connection, table: str, mark: dict[str, Any]) -> int:
    """The last rowid read of a table, or 0 when the table no longer reaches it (rebuilt, vacuumed
    into new ids): read again from the start, the keys keep each call once."""
    last = mark.get(table)
    if type(last) is not int or last <= 0:
        return 0
    top = connection.execute(f'SELECT max(rowid) FROM "{table}"').fetchone()[0]
    return last if top is not None and top >= last else 0


def _pick(columns: set[str], table: str, column: str, alias: str | None = None) -> str:
    """A column of the table, or NULL when this database's version of llm did not have it yet."""
    alias = alias or column
    return f'{table}."{column}" AS "{alias}"' if column in columns else f'NULL AS "{alias}"'


def _turns(
    connection: sqlite3.Connection, columns: dict[str, set[str]], after: int, calls: dict[str, Call], found: Read
) -> int:
    """The turns after the rowid `after`, read into `calls`; the last rowid read."""
    have = columns["turns"]
    picks = [
        "turns.rowid AS row_id",
        *(_pick(have, "turns", c) for c in ("id", "thread_id", "model", "resolved_model", "input_tokens")),
        *(_pick(have, "turns", c) for c in ("output_tokens", "token_details", "duration_ms", "datetime_utc")),
    ]
    joins = ""
    if "threads" in columns:
        picks.append(_pick(columns["threads"], "threads", "name", "title"))
        joins += " LEFT JOIN threads ON threads.id = turns.thread_id"
    else:
        picks.append("NULL AS title")
    if "turn_search" in columns:
        picks.append(f"substr(turn_search.prompt, 1, {MAX_TEXT}) AS prompt")
        picks.append(f"substr(turn_search.response, 1, {MAX_TEXT}) AS response")
        joins += " LEFT JOIN turn_search ON turn_search.turn_id = turns.id"
    else:
        picks += ["NULL AS prompt", "NULL AS response"]
    query = f"SELECT {', '.join(picks)} FROM turns{joins} WHERE turns.rowid > ? ORDER BY turns.rowid"
    for row in connection.execute(query, (after,)):
        _call(row, row["thread_id"], calls, found)
        after = row["row_id"]
    return after


def _responses(
    connection: sqlite3.Connection, columns: dict[str, set[str]], after: int, calls: dict[str, Call], found: Read
) -> int:
    """The legacy responses after the rowid `after` (those not read from turns), into `calls`; the last
    rowid read."""
    have = columns["responses"]
    picks = [
        "responses.rowid AS row_id",
        *(_pick(have, "responses", c) for c in ("id", "conversation_id", "model", "resolved_model", "input_tokens")),
        *(_pick(have, "responses", c) for c in ("output_tokens", "token_details", "duration_ms", "datetime_utc")),
        f"substr(responses.prompt, 1, {MAX_TEXT}) AS prompt",
        f"substr(responses.response, 1, {MAX_TEXT}) AS response",
    ]
    joins = ""
    if "conversations" in columns:
        picks.append(_pick(columns["conversations"], "conversations", "name", "title"))
        joins = " LEFT JOIN conversations ON conversations.id = responses.conversation_id"
    else:
        picks.append("NULL AS title")
    query = f"SELECT {', '.join(picks)} FROM responses{joins} WHERE responses.rowid > ? ORDER BY responses.rowid"
    for row in connection.execute(query, (after,)):
        after = row["row_id"]
        if isinstance(row["id"], str) and row["id"] in calls:
            found.lines += 1  # the same call in turns, the richer record, read already
            continue
        _call(row, row["conversation_id"], calls, found)
    return after


def _call(row: sqlite3.Row, session: Any, calls: dict[str, Call], found: Read) -> None:
    found.lines += 1
    key, started = row["id"], when(row["datetime_utc"])
    named = row["resolved_model"] or row["model"]
    if not isinstance(key, str) or not key or started is None or not isinstance(named, str) or not named:
        found.unparsable += 1
        return
    session = session if isinstance(session, str) and session else key
    model_name = named.rsplit("/", 1)[-1]
    duration = row["duration_ms"]
    # the reply ends after its prompt even when llm recorded 0 ms (whole milliseconds; or no duration):
    # a session's messages are put in order by their times, and a tie put the reply first
    at = started + max(timedelta(milliseconds=duration if type(duration) is int else 0), timedelta(microseconds=1))
    details = _details(row["token_details"])
    input_tokens, read_tokens, write_5m, write_1h = _prompt_tokens(count(row["input_tokens"]), details)
    calls[key] = Call(
        key=key,
        session=session,
        at=at,
        model=model_name,
        provider=provider_of(model_name),
        input_tokens=input_tokens,
        output_tokens=_output_tokens(count(row["output_tokens"]), details),
        cache_read_tokens=read_tokens,
        cache_write_5m_tokens=write_5m,
        cache_write_1h_tokens=write_1h,
        text=row["response"] if isinstance(row["response"], str) else "",
        usage_known=row["input_tokens"] is not None or row["output_tokens"] is not None,
    )
    prompt = row["prompt"].strip() if isinstance(row["prompt"], str) else ""
    if prompt:
        found.said.append(Said(key=f"prompt:{key}", session=session, at=started, text=prompt))
    title = row["title"]
    if isinstance(title, str) and title.strip():
        found.session(session).title = " ".join(title.split())[:200]
    elif prompt and not found.session(session).title:
        found.session(session).title = " ".join(prompt.split())[:80]


def _details(value: Any) -> dict[str, Any]:
    if not isinstance(value, str) or not value:
        return {}
    try:
        details = json.loads(value)
    except ValueError:
        return {}
    return details if type(details) is dict else {}


def _output_tokens(recorded: int, details: dict[str, Any]) -> int:
    """The output as Google bills it, thinking included. llm-gemini before 0.19.1 (simonw/llm-gemini
    9a1ccac, #75) recorded the candidates alone and left `thoughtsTokenCount` in the details, taking
    `candidatesTokenCount` out of them; since, the count holds the thinking and the details keep
    `candidatesTokenCount` (or, with no candidates, the count is the thinking)."""
    thoughts = count(details.get("thoughtsTokenCount"))
    if thoughts and "candidatesTokenCount" not in details and recorded != thoughts:
        return recorded + thoughts
    return recorded


def _prompt_tokens(recorded: int, details: dict[str, Any]) -> tuple[int, int, int, int]:
    """(the whole prompt, cache reads, 5-minute cache writes, 1-hour cache writes) from the input
    count a plugin recorded and the provider's usage details."""
    written = count(details.get("cache_creation_input_tokens"))
    read_tokens = count(details.get("cache_read_input_tokens"))
    if written or read_tokens:  # Anthropic's: the count leaves the cache out
        by_lifetime = details.get("cache_creation")
        one_hour = count(by_lifetime.get("ephemeral_1h_input_tokens")) if type(by_lifetime) is dict else 0
        one_hour = min(one_hour, written)
        return recorded + written + read_tokens, read_tokens, written - one_hour, one_hour
    # OpenAI's (Chat Completions, Responses) and Gemini's: the count holds the cache already
    for key in ("prompt_tokens_details", "input_tokens_details"):
        inner = details.get(key)
        if type(inner) is dict:
            read_tokens = max(read_tokens, count(inner.get("cached_tokens")))
            written = max(written, count(inner.get("cache_write_tokens")))
    read_tokens = min(max(read_tokens, count(details.get("cachedContentTokenCount"))), recorded)
    written = min(written, recorded - read_tokens)
    return recorded, read_tokens, written, 0
