"""Cost reports: what each question means (which window, which periods, which agent), answered by
the store's queries (store/reports.py). Everything returned is plain values, money in integer
nano-dollars; the command line turns them into dollars, JSON and tables (cli/costs.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from agentik_cli.errors import NotFound, UsageError
from agentik_cli.services import agents
from agentik_cli.store import reports as queries
from agentik_cli.store.engine import Store
from agentik_cli.store.reports import Figures, Line
from agentik_cli.timeutil import local_midnight, today_local

__all__ = ["Figures", "Line", "Period", "Summary", "Window"]

GROUPS = tuple(queries.GROUPS)
MAX_PERIODS = 5000  # each period is three bound parameters; SQLite takes 32,766
PERIODS = ("day", "week", "month")


@dataclass
class Window:
    since: datetime | None = None
    until: datetime | None = None

    def check(self) -> None:
        if self.since and self.until and self.until <= self.since:
            raise UsageError("--until is before --since")


@dataclass(frozen=True)
class Summary:
    today: Figures
    month: Figures
    total: Figures
    # one line per model and provider, largest cost first
    models: list[Line]


@dataclass(frozen=True)
class Period:
    period: str
    figures: Figures


def month_start(day: date) -> date:
    return day.replace(day=1)


def summary(store: Store) -> Summary:
    today = today_local()
    with store.read() as session:
        today_figures = queries.bucket_figures(session, local_midnight(today))
        month_figures = queries.bucket_figures(session, local_midnight(month_start(today)))
        models = queries.totals_by(session, "model")
    total = sum((line.figures for line in models), Figures())
    return Summary(today_figures, month_figures, total, models)


def breakdown(store: Store, by: str, window: Window) -> list[Line]:
    """by-agent, by-model, by-provider, by-user: largest cost first. Without a window from the
    maintained totals; with one, one aggregate over the ledger's index range."""
    if by not in GROUPS:
        raise UsageError(f"unknown grouping '{by}'")
    window.check()
    with store.read() as session:
        if window.since is None and window.until is None:
            return queries.totals_by(session, by)
        return queries.ledger_by(session, by, window.since, window.until)


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
) -> list[Period]:
    """Spend per local day, week or month, oldest first, empty periods included."""
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
        agent_id = agents.ledger_agent_id(session, agent) if agent is not None else None
        found = queries.history(session, bounds, agent_id)
    return [Period(label, found.get(i, Figures())) for i, (label, _) in enumerate(periods)]


def list_costs(
    store: Store, window: Window, agent: str | None = None, model: str | None = None, limit: int | None = 50
) -> list[dict[str, Any]]:
    """Ledger rows, newest first: every column (money in nano-dollars), `agent` and `user_name`."""
    window.check()
    if limit is not None and limit <= 0:
        raise UsageError("--limit must be a positive number")
    with store.read() as session:
        agent_id = agents.ledger_agent_id(session, agent) if agent is not None else None
        return queries.cost_rows(
            session, since=window.since, until=window.until, agent_id=agent_id, model=model, limit=limit
        )


def get_cost(store: Store, cost_id: int) -> dict[str, Any]:
    with store.read() as session:
        found = queries.cost_row(session, cost_id)
    if found is None:
        raise NotFound(f"no ledger row {cost_id}")
    return found
