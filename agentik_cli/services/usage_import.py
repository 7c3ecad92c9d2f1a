"""`costs import --from claude-code|codex|gemini|llm`: other tools' spend, read from their own logs
(agentik_cli/sources/), priced by agentik at each call's day, and written into the ledger with the
sessions and messages around it, exactly once, a file at a time from where its last read ended.

Each source is one agent of its own, named after it (`claude-code`, `codex`, `gemini`, `llm`), made on
the first import: a tool's spend is then one line of `costs by-agent`, its sessions one `--agent`
away, and the projects (many, and short-lived) are in each session's title rather than a list of
agents nobody made. Its sessions carry the source as their channel.

Pricing: the ledger's rule (`input_tokens` is the whole prompt, cache reads and writes at their own
prices), with two more a log can tell: a 1-hour cache write is priced at twice the input price (the
5-minute one at the list's cache-write price, 1.25x), and a long prompt's tier (the list's, on the
whole prompt) applies to the whole request. A model the list does not know is unpriced, never $0."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentik_cli import environment, limits
from agentik_cli.errors import UsageError
from agentik_cli.services import import_files, workers
from agentik_cli.services.costs import PRICE_COLUMNS
from agentik_cli.services.pricing import PriceBook
from agentik_cli.sources.base import Call, Read, file_id
from agentik_cli.store import imports
from agentik_cli.store.engine import Store

# calls written a unit at a time: a crash loses at most an uncommitted unit, which the next run reads again
BATCH_CALLS = 5000
# how often --follow looks at the folders again
FOLLOW_EVERY = 0.5
# from how many bytes to read files are read by a process of their own, and how many files ahead
PARALLEL_BYTES = 50_000_000
READ_AHEAD = 4
READERS = 4


@dataclass
class DayLine:
    """What a dry run would import for one source, model and day."""

    source: str
    model: str
    day: str
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_nd: int = 0
    unpriced_calls: int = 0
    source_cost_nd: int | None = None


@dataclass
class Summary:
    """One source's import: the figures the contract names."""

    source: str
    files: int = 0
    lines: int = 0
    imported: int = 0
    replaced: int = 0
    duplicates: int = 0
    unknown: int = 0
    unparsable: int = 0
    unpriced: int = 0
    messages: int = 0
    sessions: int = 0
    cost_nd: int = 0
    failed: list[str] = field(default_factory=list)  # "path: why", each file skipped whole
    days: dict[tuple[str, str], DayLine] = field(default_factory=dict)  # dry run: per model and day


class Importer:
    """One source's import into one store: reads the files that changed since their marks, prices
    the calls, and writes them a batch at a time."""

    def __init__(self, store: Store, name: str, dry_run: bool = False) -> None:
        self.store = store
        self.module = import_files.source(name)
        self.name = name
        self.dry_run = dry_run
        self.book = PriceBook(store)
        self.user = environment.current().user
        self._agent: tuple[int, str] | None = None
        self.failed: dict[str, tuple[str, int, int]] = {}  # files skipped whole, as they were then

    def run(self, paths: list[Path]) -> Summary:
        summary = Summary(self.name)
        with self.store.read() as session:
            marks = imports.marks(session, self.name)
        changed: list[tuple[Path, tuple[str, int, int], dict[str, Any]]] = []
        companions = getattr(self.module, "companions", None)
        for path in paths:
            identity = file_id(path)
            if identity is None:
                continue  # gone since the walk
            for other in companions(path) if companions is not None else ():
                # a file whose changes may sit in another one (a SQLite database's -wal) changed when
                # that one did
                found = file_id(other)
                if found is not None:
                    identity = (identity[0], identity[1] + found[1], max(identity[2], found[2]))
            summary.files += 1
            known = marks.get(str(path))
            if known is not None and (known.identity, known.size, known.mtime_ns) == identity:
                continue  # unchanged since it was read
            if self.failed.get(str(path)) == identity:
                continue  # said already, this run (--follow): said again once it changes
            mark = json.loads(known.mark) if known is not None and known.identity == identity[0] else {}
            changed.append((path, identity, mark))
        pending: list[tuple[Path, tuple[str, int, int], Read]] = []
        calls = 0
        for path, identity, read in self._reads(changed):
            if read.failed:
                summary.failed.append(f"{path}: {read.failed}")
                self.failed[str(path)] = identity
                continue
            believable = [call for call in read.calls if _believable(call)]
            read.unparsable += len(read.calls) - len(believable)
            read.calls = believable
            summary.lines += read.lines
            summary.unknown += read.unknown
            summary.unparsable += read.unparsable
            pending.append((path, identity, read))
            calls += len(read.calls)
            if calls >= BATCH_CALLS:
                self._write(pending, summary)
                pending, calls = [], 0
        if pending:
            self._write(pending, summary)
        return summary

    def _reads(
        self, changed: list[tuple[Path, tuple[str, int, int], dict[str, Any]]]
    ) -> Iterator[tuple[Path, tuple[str, int, int], Read]]:
        """Each changed file read, in order. Many bytes to read on a machine with a core to spare: read
        by a process of their own while this one prices and writes what was read before (the two
        halves of an import take about as long), a few files ahead."""
        size = sum(identity[1] for _, identity, _ in changed)
        if size < PARALLEL_BYTES or not workers.can_fork():
            for path, identity, mark in changed:
                yield path, identity, import_files.read_file(self.name, path, mark)
            return
        # forked readers touch no database (sources/ cannot); as many as there are cores, as the
        # reading is the larger half, and this process's writing waits on SQLite's disk as often
        count = min(READERS, os.cpu_count() or 1)
        reads = workers.in_order(
            import_files.read_file, ((self.name, path, mark) for path, _, mark in changed), count, READ_AHEAD * count
        )
        for (path, identity, _), read in zip(changed, reads, strict=True):
            yield path, identity, read

    def agent(self) -> tuple[int, str]:
        """The source's agent: the one its first import made (the store's setting
        `import_agent:<source>` names it), made now if there is none. It is named after the source,
        or `<source>-import` (`-2`, ...) when someone's own agent has that name: their agent never
        takes another tool's spend."""
        if self._agent is None:
            from agentik_cli.store import agents as agent_store
            from agentik_cli.store import ledger
            from agentik_cli.store.models import Agent

            key = f"import_agent:{self.name}"
            for attempt in range(3):
                try:
                    with self.store.write() as unit:
                        held = ledger.read_setting(unit, key)
                        found = agent_store.by_id(unit.session, int(held)) if held and held.isdigit() else None
                        if found is None:
                            name = self.name
                            for number in range(1, 100):
                                if agent_store.by_name(unit.session, name) is None:
                                    break
                                name = f"{self.name}-import" + (f"-{number}" if number > 1 else "")
                            found = agent_store.insert(
                                unit,
                                Agent(
                                    name=name,
                                    name_key=name.lower(),
                                    description=f"usage imported by agentik costs import --from {self.name}",
                                    model=self.module.model,
                                    provider=self.module.provider,
                                    created_at=unit.now,
                                    updated_at=unit.now,
                                ),
                            )
                            ledger.write_setting(unit, key, str(found.id))
                        self._agent = (int(found.id or 0), found.name)
                    break
                except UsageError:  # the name taken by another import at the same moment: look again
                    if attempt == 2:
                        raise
        assert self._agent is not None
        return self._agent

    def _write(self, pending: list[tuple[Path, tuple[str, int, int], Read]], summary: Summary) -> None:
        rows: dict[str, dict[str, Any]] = {}
        for _, _, read in pending:
            for call in read.calls:
                row = self.row(call)
                earlier = rows.get(row["call_key"])  # the same call in two files (a resumed session's copy)
                if earlier is None or (row["output_tokens"], row["input_tokens"]) > (
                    earlier["output_tokens"],
                    earlier["input_tokens"],
                ):
                    rows[row["call_key"]] = row
                else:
                    summary.duplicates += 1
        said = [
            {
                "import_key": f"{self.name}:{one.key}",
                "session_key": one.session,
                "timestamp": one.at,
                "content": one.text,
                "role": one.role,
            }
            for _, _, read in pending
            for one in read.said
        ]
        named: dict[str, tuple[str, str]] = {}  # a session's title and project, from every file that names it
        for _, _, read in pending:
            for key, info in read.sessions.items():
                title, project = named.get(key, ("", ""))
                named[key] = (info.title or title, info.project or project)
        titles = {
            key: (title, (Path(project).name or project) if project else "")
            for key, (title, project) in named.items()
            if title or project
        }
        if self.dry_run:
            self._plan(list(rows.values()), summary)
            return
        agent_id, agent_name = self.agent()
        batch = imports.Batch(self.name, agent_id, agent_name, list(rows.values()), said, titles)
        for path, (identity, size, mtime_ns), read in pending:
            batch.files[str(path)] = (identity, size, mtime_ns, json.dumps(read.mark))
        with self.store.write() as unit:
            written = imports.write(unit, batch)
        summary.imported += written.calls
        summary.replaced += written.replaced
        summary.duplicates += written.duplicates
        summary.messages += written.calls + written.messages
        summary.sessions += written.sessions
        summary.unpriced += written.unpriced  # of what was written: a duplicate added nothing
        summary.cost_nd += written.cost_nd

    def _plan(self, rows: list[dict[str, Any]], summary: Summary) -> None:
        """A dry run: what is not stored yet, by model and day."""
        with self.store.read() as session:
            stored = imports.stored_keys(session, [row["call_key"] for row in rows])
        for row in rows:
            if row["call_key"] in stored:
                summary.duplicates += 1
                continue
            summary.imported += 1
            day = row["timestamp"].astimezone().date().isoformat()
            line = summary.days.get((row["model"], day))
            if line is None:
                line = summary.days[(row["model"], day)] = DayLine(self.name, row["model"], day)
            line.calls += 1
            for name in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
                setattr(line, name, getattr(line, name) + row[name])
            if row["total_cost_nd"] is None:
                line.unpriced_calls += 1
                summary.unpriced += 1
            else:
                line.cost_nd += row["total_cost_nd"]
                summary.cost_nd += row["total_cost_nd"]
            if row["source_cost_nd"] is not None:
                line.source_cost_nd = (line.source_cost_nd or 0) + row["source_cost_nd"]

    def row(self, call: Call) -> dict[str, Any]:
        """A call as a ledger row, priced at its day's prices."""
        prices = (
            self.book.unit_prices(call.model, call.provider, call.input_tokens, call.at) if call.usage_known else None
        )
        input_nd = output_nd = total_nd = None
        stored: dict[str, int | None] = dict.fromkeys(PRICE_COLUMNS)
        if prices is not None:
            input_nd, output_nd = prices.cost_nd(
                call.input_tokens,
                call.output_tokens,
                call.cache_read_tokens,
                call.cache_write_5m_tokens,
                call.cache_write_1h_tokens,
            )
            total_nd = input_nd + output_nd
            stored = dict(prices.stored)
        return {
            "call_key": f"{self.name}:{call.key}",
            "session_key": call.session,
            "model": call.model,
            "provider": call.provider,
            "input_tokens": call.input_tokens,
            "output_tokens": call.output_tokens,
            "cache_read_tokens": call.cache_read_tokens,
            "cache_write_tokens": call.cache_write_tokens,
            "total_tokens": call.input_tokens + call.output_tokens,
            "input_cost_nd": input_nd,
            "output_cost_nd": output_nd,
            "total_cost_nd": total_nd,
            **stored,
            "timestamp": call.at,
            "user_name": self.user,
            "source_cost_nd": call.source_cost_nd,
            "text": call.text,
        }


def _believable(call: Call) -> bool:
    """Whether a call's counts are ones a server could have sent (as agentik believes a server's
    own, providers/tokens.py): a log's absurd count would be priced in billions, or not fit a column."""
    counts = [call.input_tokens, call.output_tokens, call.cache_read_tokens]
    counts += [call.cache_write_5m_tokens, call.cache_write_1h_tokens]
    return all(0 <= count <= limits.MAX_SERVER_TOKENS for count in counts)


def follow(importer: Importer, given: list[str], should_stop: Callable[[], bool]) -> Iterator[Summary]:
    """Import, then look again every FOLLOW_EVERY seconds and import what was written since, until
    stopped (Ctrl-C): each round's summary, when it found something."""
    first = True
    while not should_stop():
        summary = importer.run(import_files.files(importer.module, given))
        if first or summary.imported or summary.replaced or summary.messages or summary.failed:
            yield summary
        first = False
        time.sleep(FOLLOW_EVERY)


def by_day(summary: Summary) -> list[DayLine]:
    """What a dry run would import, by day and then model."""
    return [summary.days[key] for key in sorted(summary.days, key=lambda key: (key[1], key[0]))]
