"""`costs import --from TOOL`: another tool's spend from its own logs, and what it says of it. The
summary gives, per source, the files and lines read, the calls imported, what was skipped and why,
and the unpriced calls; `--dry-run` shows what would be imported per model and day (with the tool's
own figure beside agentik's where the log has one); `--follow` keeps importing as the tool writes."""

from __future__ import annotations

import signal
from dataclasses import asdict
from typing import Any

from agentik_cli.cli import render
from agentik_cli.cli.options import budget_warnings
from agentik_cli.errors import UsageError
from agentik_cli.records import for_output
from agentik_cli.services import import_files, usage_import
from agentik_cli.services.opening import command_store
from agentik_cli.services.usage_import import DayLine, Summary


def import_usage(
    paths: list[str], fmt: str | None, source: str | None, *, follow: bool, dry_run: bool, as_json: bool
) -> None:
    """`costs import`: a file of records, or --from another tool's logs."""
    if source is not None:
        if fmt is not None:
            raise UsageError("--format is for a file of records, not for --from")
        import_from(source, paths, follow=follow, dry_run=dry_run, as_json=as_json)
        return
    for flag, given in (("--follow", follow), ("--dry-run", dry_run)):
        if given:
            raise UsageError(f"{flag} goes with --from", hint=f"e.g. agentik costs import --from claude-code {flag}")
    if not paths or len(paths) > 1:
        raise UsageError("give one file (or - for stdin), or --from a tool", hint="agentik costs import usage.jsonl")
    _import_file(paths[0], fmt, as_json)


def _import_file(file: str, fmt: str | None, as_json: bool) -> None:
    import os
    import sys

    from agentik_cli.services import costs

    store = command_store()
    size = os.path.getsize(file) if file != "-" and os.path.isfile(file) else 0
    if size > 1_000_000 and sys.stderr.isatty():
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        with Progress(
            "importing", BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=render.err(), transient=True
        ) as bar:
            task = bar.add_task("import", total=size)
            count = costs.import_file(store, file, fmt, progress=lambda done: bar.update(task, completed=done))
    else:
        count = costs.import_file(store, file, fmt)
    budget_warnings(store, None, every=True)
    if as_json:
        render.print_json({"imported": count})
    else:
        render.print_line(str(count))


def import_from(source: str, paths: list[str], *, follow: bool, dry_run: bool, as_json: bool) -> None:
    if follow and dry_run:
        raise UsageError("--follow imports as the tool writes; --dry-run imports nothing: choose one")
    module = import_files.source(source)
    found = import_files.files(module, paths)
    if not found and not paths and not as_json:
        where = ", ".join(str(path) for path in import_files.default_roots(module))
        render.note(f"no {source} logs found under {where} (give their folder as PATH)")
    store = command_store()
    importer = usage_import.Importer(store, source, dry_run=dry_run)
    if not follow:
        summary = importer.run(found)
        _show(summary, as_json, dry_run)
        if not dry_run:
            budget_warnings(store, None, every=True)
        return
    stopped: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
    if not as_json:
        render.note(f"following {source}'s logs: Ctrl-C stops")
    for summary in usage_import.follow(importer, paths, lambda: bool(stopped)):
        if as_json:  # a line a round, for a program reading as it goes (the budgets looked at first)
            budget_warnings(store, None, every=True)
            render.print_line(render.to_json(summary_json(summary, False), indent=None))
            continue
        _show(summary, False, False)
        budget_warnings(store, None, every=True)


def summary_json(summary: Summary, dry_run: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "source": summary.source,
        "files": summary.files,
        "lines": summary.lines,
        "imported": summary.imported,
        "replaced": summary.replaced,
        "skipped": {
            "duplicates": summary.duplicates,
            "unknown_types": summary.unknown,
            "unparsable": summary.unparsable,
            "files": summary.failed,
        },
        "unpriced_calls": summary.unpriced,
        "cost_nd": summary.cost_nd,
        "sessions": summary.sessions,
        "messages": summary.messages,
        "dry_run": dry_run,
    }
    if dry_run:
        data["days"] = [for_output(asdict(line)) for line in usage_import.by_day(summary)]
    return for_output(data)


def _show(summary: Summary, as_json: bool, dry_run: bool) -> None:
    if as_json:
        render.print_json(summary_json(summary, dry_run))
        return
    for failed in summary.failed:
        render.warn(f"skipped {failed}")
    if dry_run:
        lines = usage_import.by_day(summary)
        render.print_table(
            ["day", "model", "calls", "input", "output", "cache read", "cache write", "cost", f"{summary.source} says"],
            [_day_row(line) for line in lines],
            right=["calls", "input", "output", "cache read", "cache write", "cost", f"{summary.source} says"],
            title=f"{summary.source}: would import",
            empty=f"{summary.source}: nothing new to import",
        )
    verb = "would import" if dry_run else "imported"
    cost = render.money(summary.cost_nd, summary.unpriced)
    parts = [
        f"{summary.files:,} file{'s' * (summary.files != 1)}",
        f"{summary.lines:,} line{'s' * (summary.lines != 1)} read",
        f"{verb} {summary.imported:,} call{'s' * (summary.imported != 1)} ({cost})",
    ]
    if summary.replaced:
        parts.append(f"{summary.replaced:,} completed by a later snapshot")
    skipped = [
        f"{count:,} {what}"
        for count, what in (
            (summary.duplicates, "already imported"),
            (summary.unknown, "of unknown types"),
            (summary.unparsable, "unparsable"),
            (len(summary.failed), "files unreadable"),
        )
        if count
    ]
    if skipped:
        parts.append("skipped " + ", ".join(skipped))
    if summary.unpriced:
        parts.append(f"{summary.unpriced:,} unpriced")
    if not dry_run and (summary.sessions or summary.messages):
        parts.append(
            f"{summary.sessions:,} new session{'s' * (summary.sessions != 1)}, "
            f"{summary.messages:,} message{'s' * (summary.messages != 1)}"
        )
    render.print_line(f"{summary.source}: " + "; ".join(parts))


def _day_row(line: DayLine) -> list[str]:
    return [
        line.day,
        line.model,
        f"{line.calls:,}",
        f"{line.input_tokens:,}",
        f"{line.output_tokens:,}",
        f"{line.cache_read_tokens:,}",
        f"{line.cache_write_tokens:,}",
        render.money(line.cost_nd, line.unpriced_calls),
        "" if line.source_cost_nd is None else render.money(line.source_cost_nd),
    ]
