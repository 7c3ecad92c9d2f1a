"""Forgetting: messages removed (`sessions forget`, the chat's /forget) and text redacted
(`sessions redact`), for the password, key or customer's data pasted by mistake.

What goes: the messages or the text, from the messages, their attachments, parts and tool calls,
session titles, the full-text index, the webhook events kept in the outbox and the answers and errors
logged for them (store/forget.py's TEXT_COLUMNS lists every text column), the chat's line history
file, and (a redaction) the journal of replies waiting to be stored; on SQLite the free pages and the
WAL too (store/forget.py). What stays: the ledger's cost rows (money was spent), detached from a
removed message, so every total stays as it was; and every copy made before (backups, `db copy`
targets, webhooks already delivered)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from agentik_cli.errors import NotFound, UsageError
from agentik_cli.services import journal
from agentik_cli.services.recording import make_title
from agentik_cli.store import forget as forget_store
from agentik_cli.store.engine import Store
from agentik_cli.store.forget import Doomed, Scope

REDACTED = "[redacted]"
FORGOTTEN_TITLE = "(forgotten)"
CONTEXT = 30  # characters shown each side of a match in a dry run


@dataclass(frozen=True)
class Outcome:
    messages: int
    sessions: int
    # False when another process's read kept the SQLite WAL from being emptied (store/forget.py)
    wal_emptied: bool = True

    def to_json(self) -> dict[str, int]:
        return {"messages": self.messages, "sessions": self.sessions}


def _titles(session: Any, doomed: list[Doomed]) -> dict[int, str]:
    """New titles for the sessions whose title was made from a message being forgotten: made from
    the first user message that stays, as the title was."""
    gone = {d.id for d in doomed}
    contents: dict[int, set[str]] = {d.session_id: set() for d in doomed}
    for d in doomed:
        if d.role == "user":
            contents[d.session_id].add(make_title(d.content))
    titles = {}
    for session_id, title in forget_store.session_titles(session, list(contents)).items():
        if title in contents[session_id]:
            kept = forget_store.first_user_message(session, session_id, gone)
            titles[session_id] = make_title(kept) if kept else FORGOTTEN_TITLE
    return titles


def _missing(found: list[Doomed], ids: list[int]) -> NotFound | None:
    missing = sorted(set(ids) - {d.id for d in found})
    if not missing:
        return None
    return NotFound(
        f"no message {', '.join(map(str, missing))}: nothing was forgotten",
        hint="`agentik sessions show SESSION --json` lists a session's message ids",
    )


def check_messages(store: Store, ids: list[int]) -> None:
    """NotFound unless every one of these messages exists (before asking to forget them)."""
    with store.read() as session:
        problem = _missing(forget_store.messages(session, sorted(set(ids)), lock=False), ids)
    if problem is not None:
        raise problem


def forget(store: Store, ids: list[int], keep_replies: bool = False) -> tuple[Outcome, list[Doomed]]:
    """Remove these messages (with the replies that answered a removed user message, unless
    `keep_replies`), all of them or, when one does not exist, none. Returns what went."""
    if not ids:
        raise UsageError("give the id of at least one message (`agentik sessions show ID` lists them)")
    with store.write() as unit:
        doomed = forget_store.messages(unit.session, sorted(set(ids)))
        problem = _missing(doomed, ids)
        if problem is not None:  # gone meanwhile
            raise problem
        if not keep_replies:
            taken = {d.id for d in doomed}
            for user in [d for d in doomed if d.role == "user"]:
                for reply in forget_store.replies(unit.session, user):
                    if reply.id not in taken:
                        taken.add(reply.id)
                        doomed.append(reply)
        forget_store.forget(unit, doomed, _titles(unit.session, doomed))
    erased = forget_store.erase_leftovers(store)
    forget_history([d.content for d in doomed if d.role == "user"])
    return Outcome(len(doomed), len({d.session_id for d in doomed}), erased), doomed


def forget_last(store: Store, session_id: int) -> tuple[Outcome, list[Doomed]] | None:
    """The chat's /forget: the session's last user message and what answered it. None when the
    session has no message of yours."""
    with store.read() as session:
        last = forget_store.last_user_message(session, session_id)
    return None if last is None else forget(store, [last])


# ---- redaction ----


class Matcher:
    """A pattern: plain text (found as it is, case and all) or a Python regular expression."""

    def __init__(self, pattern: str, regex: bool) -> None:
        if not pattern:
            raise UsageError("the pattern is empty: it would match everywhere")
        try:
            self.compiled = re.compile(pattern if regex else re.escape(pattern))
        except re.error as exc:
            raise UsageError(f"--regex: '{pattern}' is not a regular expression: {exc}") from None
        if self.compiled.search(""):
            raise UsageError(f"'{pattern}' matches the empty string: it would redact between every character")
        # the plain text a row must hold to be read at all (SQL finds it); None: every row is read.
        # JSON columns are compared as stored text, where a quote, a backslash or a character beyond
        # ASCII may be escaped: such a pattern is looked for by reading every row.
        plain = not regex and pattern.isascii() and pattern.isprintable() and not set('"\\') & set(pattern)
        self.needle = pattern if plain else None

    def sub(self, text: str) -> tuple[str, int]:
        return self.compiled.subn(REDACTED, text)

    def in_json(self, value: Any) -> tuple[Any, int]:
        """Every string in a JSON value (keys too) with the matches replaced."""
        if isinstance(value, str):
            return self.sub(value)
        if isinstance(value, list):
            done = [self.in_json(v) for v in value]
            return [v for v, _ in done], sum(n for _, n in done)
        if isinstance(value, dict):
            count, out = 0, {}
            for key, item in value.items():
                new_key, n_key = self.sub(key) if isinstance(key, str) else (key, 0)
                new_item, n_item = self.in_json(item)
                out[new_key] = new_item
                count += n_key + n_item
            return out, count
        return value, 0

    def in_parts(self, parts: list[dict[str, Any]] | None) -> tuple[list[dict[str, Any]] | None, int]:
        """A reply's parts, redacted; a reasoning part that held a match goes whole: Anthropic signs
        reasoning, and a continued session would send it back with a signature it no longer fits
        (an earlier turn's reasoning may be left out of a request; a changed one is refused)."""
        if not parts:
            return parts, 0
        kept, count = [], 0
        for part in parts:
            new, n = self.in_json(part)
            count += n
            if not (n and part.get("type") == "thinking"):
                kept.append(new)
        return kept, count

    def previews(self, text: str) -> list[str]:
        """Each match in its context, the match itself masked: what a dry run shows."""
        shown = []
        for match in self.compiled.finditer(text):
            start, end = match.span()
            before = text[max(start - CONTEXT, 0) : start]
            after = text[end : end + CONTEXT]
            line = ("…" if start > CONTEXT else "") + before + "*" * min(end - start, 12) + after
            shown.append(" ".join((line + ("…" if end + CONTEXT < len(text) else "")).split()))
        return shown


@dataclass
class Plan:
    """What a redaction changes: each row's new values, and what a dry run shows."""

    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    message_sessions: dict[int, int] = field(default_factory=dict)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    titles: dict[int, str] = field(default_factory=dict)
    previews: list[tuple[str, str]] = field(default_factory=list)  # (where, masked context)

    def outcome(self) -> Outcome:
        sessions = set(self.message_sessions.values()) | set(self.titles)
        return Outcome(len(self.message_sessions), len(sessions))


# where a dry run says a match is, by the field it is in (a reply's parts repeat its content: not shown)
_MESSAGE_FIELDS = {"content": "", "attachments": ": attached file", "parts": None, "error": ": error"}


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _plan(session: Any, matcher: Matcher, scope: Scope) -> Plan:
    plan = Plan()
    for row in forget_store.message_texts(session, scope, matcher.needle):
        values: dict[str, Any] = {}
        for name, where in _MESSAGE_FIELDS.items():
            old = row._mapping[name]
            new, n = (matcher.in_parts if name == "parts" else matcher.in_json)(old)
            if not n:
                continue
            values[name] = new
            if where is not None:
                label = f"message {row.id}" + (where or f" (session {row.session_id})")
                plan.previews += [(label, p) for p in matcher.previews(_shown(old))]
        if values:
            plan.messages[row.id] = values
            plan.message_sessions[row.id] = row.session_id
    for row in forget_store.tool_call_texts(session, scope, matcher.needle):
        values = {}
        for name in ("arguments", "output", "error"):
            new, n = matcher.in_json(row._mapping[name])
            if n:
                values[name] = new
                label = f"message {row.message_id}: tool call {name}"
                plan.previews += [(label, p) for p in matcher.previews(_shown(row._mapping[name]))]
        if values:
            plan.tool_calls[row.id] = values
            plan.message_sessions[row.message_id] = row.session_id
            plan.messages.setdefault(row.message_id, {})
    for row in forget_store.title_texts(session, scope, matcher.needle):
        title, n = matcher.sub(row.title)
        if n:
            plan.titles[row.id] = title
            plan.previews += [(f"session {row.id}: title", p) for p in matcher.previews(row.title)]
    return plan


def scope_of(store: Store, session_id: int | None, agent: str | None, every: bool) -> Scope:
    if sum((session_id is not None, agent is not None, every)) != 1:
        raise UsageError("say where: --session ID, --agent NAME or --all (one of them)")
    if session_id is not None:
        from agentik_cli.services import sessions

        sessions.describe(store, session_id)  # NotFound when there is no such session
        return Scope(session_id=session_id)
    if agent is not None:
        from agentik_cli.services import agents

        found = agents.get(store, agent)
        return Scope(agent_id=found.id)
    return Scope()


def redact(
    store: Store,
    pattern: str,
    *,
    regex: bool,
    scope: Scope,
    dry_run: bool,
    confirm: Callable[[Outcome], None] | None = None,
) -> tuple[Outcome, Plan]:
    """Replace every match of `pattern` with [redacted] in the scope's messages (content, attached
    text, parts, error), tool calls (arguments, output, error) and session titles, in one
    transaction, and in the webhook events that carry them (their bodies, and the answers and errors
    logged for their attempts: a receiver may echo what it was sent), the chat's line history and the
    journal; `dry_run` changes nothing. `confirm` is asked, with what would change in the store,
    before anything is (always: the files may hold what the store no longer does)."""
    matcher = Matcher(pattern, regex)
    with store.read() as session:
        plan = _plan(session, matcher, scope)
    if dry_run:
        return plan.outcome(), plan
    if confirm is not None:
        confirm(plan.outcome())
    with store.write() as unit:
        # read again inside the write: what a chat added meanwhile is redacted too
        plan = _plan(unit.session, matcher, scope)
        for message_id, values in plan.messages.items():
            forget_store.set_message(unit, message_id, values)
        for call_id, values in plan.tool_calls.items():
            forget_store.set_tool_call(unit, call_id, values)
        for session_id, title in plan.titles.items():
            forget_store.set_title(unit, session_id, title)
        subjects = [f"message:{i}" for i in plan.messages] + [f"session:{i}" for i in plan.titles]
        for event_id, body in forget_store.event_bodies(unit.session, subjects):
            new, n = matcher.in_json(json.loads(body))
            if n:
                forget_store.set_event_body(unit, event_id, json.dumps(new, ensure_ascii=False))
        for attempt in forget_store.attempt_texts(unit.session, subjects, matcher.needle):
            values = {}
            for name in ("error", "answer"):
                old = attempt._mapping[name]
                new_text, n = matcher.sub(old) if old is not None else (old, 0)
                if n:
                    values[name] = new_text
            if values:
                forget_store.set_attempt(unit, attempt.id, values)
    erased = forget_store.erase_leftovers(store) if plan.messages or plan.titles else True
    redact_history(matcher)
    journal.rewrite(store.url, lambda record: matcher.in_json(record)[0])
    return replace(plan.outcome(), wal_emptied=erased), plan


# ---- the chat's line history (readline's file in the data folder) ----


def _rewrite_history(change: Callable[[str], str | None]) -> None:
    from agentik_cli import paths

    path = paths.history_path()
    try:
        lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except FileNotFoundError:
        return
    kept = [new for new in (change(line) for line in lines) if new is not None]
    if kept != lines:
        path.write_text("".join(line + "\n" for line in kept), encoding="utf-8", errors="surrogateescape")


def forget_history(contents: list[str]) -> None:
    """The lines typed into the chat that were these messages go from its history file."""
    if not contents:
        return
    gone = {c.strip() for c in contents}
    _rewrite_history(lambda line: None if line.strip() in gone else line)


def redact_history(matcher: Matcher) -> None:
    _rewrite_history(lambda line: matcher.sub(line)[0])
