"""Cost reports: what each question means (windows, periods, which agent), asked of store/reports.py,
whose queries are each one SQL aggregate. Money stays in nano-dollars (`*_nd` keys); the CLI turns
it into dollars once, as it prints."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from agentik_cli import records
from agentik_cli.errors import UsageError
from agentik_cli.services import agents
from agentik_cli.skills.base import Spent
from agentik_cli.store import reports as store_reports
from agentik_cli.store.engine import Store
from agentik_cli.timeutil import local_midnight, today_local

GROUPS = ("agent", "model", "provider", "user")
MAX_PERIODS = 5000  # each period is three bound parameters; SQLite takes 32,766
PERIODS = ("day", "week", "month")


@dataclass
class Window:
    since: datetime | None = None
    until: datetime | None = None

    def check(self) -> None:
        if self.since and self.until and self.until <= self.since:
            raise UsageError("--until is before --since")


def breakdown(store: Store, by: str, window: Window) -> list[dict[str, Any]]:
    """by-agent, by-model, by-provider, by-user: largest cost first."""
    if by not in GROUPS:
        raise UsageError(f"unknown grouping '{by}'")
    window.check()
    with store.read() as session:
        rows = store_reports.breakdown(session, by, window.since, window.until)
    shaped = []
    for keys, figures in rows:
        row = keys | figures.as_dict()
        if "removed" in row:
            # a key added after the figures': at the end, for CSV readers that go by position
            row["removed"] = row.pop("removed")
        shaped.append(row)
    return shaped


def spend_of(store: Store, agent_id: int | None) -> Callable[[datetime | None], Spent]:
    """An agent's spend since a time (None: ever): all of the ledger the `spend` skill may see."""

    def since(when: datetime | None) -> Spent:
        with store.read() as session:
            rows = store_reports.breakdown(session, "agent", when)
        mine = [figures for keys, figures in rows if keys["agent_id"] == agent_id]
        return Spent(sum(f.cost_nd for f in mine), sum(f.calls for f in mine), sum(f.unpriced_calls for f in mine))

    return since


def _periods(period: str, first: date, last: date) -> list[tuple[str, date]]:
    """(label, first local day) of every period from the one holding `first` to the one holding `last`."""
    out: list[tuple[str, date]] = []
    if period == "day":
        day = first
        while day <= last:
            out.append((day.isoformat(), day))
            day += timedelta(days=1)
    elif period == "week":
        day = first - timedelta(days=first.weekday())
        while day <= last:
            year, week, _ = day.isocalendar()
            out.append((f"{year}-W{week:02d}", day))
            day += timedelta(days=7)
    elif period == "month":
        day = first.replace(day=1)
        while day <= last:
            out.append((f"{day.year}-{day.month:02d}", day))
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        raise UsageError(f"unknown period '{period}'", hint="use one of: day, week, month")
    return out


def _next_start(period: str, start: date) -> date:
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def history(
    store: Store,
    *,
    days: int | None = None,
    since: datetime | None = None,
    by: str = "day",
    agent: str | None = None,
) -> list[dict[str, Any]]:
    """Spend per local day, week or month, oldest first, empty periods included. One query: the
    periods (as UTC instants) are a VALUES list joined to the quarter-hour buckets (or, for one
    agent, to that agent's range of the ledger index)."""
    if days is not None and since is not None:
        raise UsageError("give --days or --since, not both")
    if days is not None and days <= 0:
        raise UsageError("--days must be 1 or more")
    today = today_local()
    if since is not None:
        first = since.astimezone().date()
        if first > today:
            raise UsageError("--since is in the future")
    else:
        first = today - timedelta(days=(days or 30) - 1)
    periods = _periods(by, first, today)
    if len(periods) > MAX_PERIODS:
        raise UsageError(f"{len(periods):,} periods are too many to chart", hint="use --by week or --by month")
    bounds = [
        (i, local_midnight(start), local_midnight(_next_start(by, start))) for i, (_, start) in enumerate(periods)
    ]
    with store.read() as session:
        agent_id = None if agent is None else agents.ledger_agent_id(session, agent)
        found = store_reports.history(session, bounds, agent_id)
    empty = store_reports.Figures()
    return [{"period": label, **found.get(i, empty).as_dict()} for i, (label, _) in enumerate(periods)]


def ledger_row(found: store_reports.LedgerRow) -> dict[str, Any]:
    """A ledger row with every field (money in nano-dollars, prices per million tokens)."""
    return records.ledger_row(found.cost, found.agent_name)


def list_costs(
    store: Store, window: Window, agent: str | None = None, model: str | None = None, limit: int | None = 50
) -> list[dict[str, Any]]:
    window.check()
    if limit is not None and limit <= 0:
        raise UsageError("--limit must be a positive number")
    with store.read() as session:
        agent_id = None if agent is None else agents.ledger_agent_id(session, agent)
        found = store_reports.ledger_rows(session, window.since, window.until, agent_id, model, limit)
    return [ledger_row(row) for row in found]


def get_cost(store: Store, cost_id: int) -> dict[str, Any]:
    with store.read() as session:
        found = store_reports.ledger_row(session, cost_id)
    if found is None:
        from agentik_cli.errors import NotFound

        raise NotFound(f"no ledger row {cost_id}")
    return ledger_row(found)
