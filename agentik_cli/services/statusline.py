"""`agentik statusline`: one short line for a shell prompt or an editor's status bar, run on every
prompt, so it answers within tens of milliseconds of Python's own start: the standard library's
sqlite3 (or libpq) through store/quickread.py, no ORM, no migration, nothing written. A store not
set up yet has spent nothing.

What it says means what `costs summary` and `budgets list` say (a test holds them to it): today and
this month in local time, and the least any budget that applies has left."""

from __future__ import annotations

from agentik_cli import limits, paths
from agentik_cli.errors import NotFound, StoreError
from agentik_cli.money import fmt_usd, to_usd
from agentik_cli.timeutil import local_midnight, now_utc, today_local

SEPARATOR = " · "


class Status:
    """Nano-dollars; budget_left_nd None when no budget applies. (A plain class: see quickread.Spend.)"""

    def __init__(self, today_nd: int, month_nd: int, budget_left_nd: int | None) -> None:
        self.today_nd, self.month_nd, self.budget_left_nd = today_nd, month_nd, budget_left_nd

    def to_json(self) -> dict[str, float | None]:
        return {
            "today": to_usd(self.today_nd),
            "month": to_usd(self.month_nd),
            "budget_left": to_usd(self.budget_left_nd),
        }

    def line(self) -> str:
        parts = [f"today {fmt_usd(self.today_nd)}", f"month {fmt_usd(self.month_nd)}"]
        if self.budget_left_nd is not None:
            parts.append(f"budget left {fmt_usd(self.budget_left_nd)}")
        return SEPARATOR.join(parts)


def status(db: str | None, agent: str | None) -> Status:
    """`db` as --db gives it (None: AGENTIK_DB, else the data folder's agentik.db)."""
    import os

    from agentik_cli.store import quickread

    today = today_local()
    now = now_utc()
    target = db or os.environ.get("AGENTIK_DB") or None
    if target is not None and "://" not in target:
        target = os.path.expanduser(target)  # a path, as --db takes it (~/work/agentik.db)
    try:
        with quickread.connect(target, paths.default_db_text()) as query:
            if query is None:
                if agent is not None:
                    raise NotFound(f"no agent named '{agent}'")
                return Status(0, 0, None)
            found = quickread.spend(
                query,
                agent,
                local_midnight(today),
                local_midnight(today.replace(day=1)),
                now - limits.RESERVATION_LIFETIME,
                now - limits.HEARTBEAT_LAPSE,
            )
    except quickread.NoSuchAgent:
        raise NotFound(f"no agent named '{agent}'", hint="`agentik agents list` shows them") from None
    except NotFound:
        raise
    except Exception as exc:  # a store not set up yet has no tables: it has spent nothing
        if "no such table" in str(exc):
            return Status(0, 0, None)
        raise StoreError(f"cannot read the store: {exc}") from None
    lefts = [max(limit - spent - reserved, 0) for _, limit, spent, reserved in found.budgets]
    return Status(found.today_nd, found.month_nd, min(lefts) if lefts else None)


def render(db: str | None, agent: str | None, as_json: bool) -> str:
    found = status(db, agent)
    if as_json:
        import json

        return json.dumps(found.to_json())
    return found.line()
