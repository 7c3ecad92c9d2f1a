"""Budgets: a limit per local day or month, over everything or one agent. Before every provider
call its worst case is reserved, in the transaction that stores the user's message (or, for a
follow-up call of a tool loop, a transaction of its own), against every budget that applies: the
call is refused (exit 3) when what is spent, what other calls in flight have reserved and this
call's worst case would pass a limit. When the call ends its reservation goes, in the transaction
that records its actual cost.

A reservation names its process (host, pid, start time: agentik_cli/owner.py). Every check releases
those no running process holds: this host's whose process is gone, another host's whose heartbeat
lapsed (limits.HEARTBEAT_LAPSE), and those of an older agentik past limits.RESERVATION_LIFETIME. The
call of a process that died is stored from its journal by the next command, with an estimated cost
row (services/recording.py replay_journal), so its spend stays counted; `budgets release` drops the
rest, on request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agentik_cli import limits, owner
from agentik_cli.errors import BudgetRefused, NotFound, UsageError
from agentik_cli.money import to_usd
from agentik_cli.store import budgets as budget_store
from agentik_cli.store import ledger as ledger_store
from agentik_cli.store.budgets import BudgetRecord
from agentik_cli.store.engine import Store
from agentik_cli.store.unit import Unit
from agentik_cli.timeutil import local_midnight, today_local

PERIODS = ("day", "month")
LABELS = {"day": "daily", "month": "monthly"}
LIVE = limits.RESERVATION_LIFETIME
DEFAULT_WARN = 80


@dataclass(frozen=True)
class BudgetStatus:
    scope: str  # "all" or the agent's name
    scope_key: int
    period: str
    limit_nd: int
    spent_nd: int
    reserved_nd: int
    warn_percent: int
    allow_unpriced: bool

    @property
    def left_nd(self) -> int:
        return max(self.limit_nd - self.spent_nd - self.reserved_nd, 0)

    @property
    def percent(self) -> float:
        return round(100 * (self.spent_nd + self.reserved_nd) / self.limit_nd, 1) if self.limit_nd else 100.0

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "period": self.period,
            "limit": to_usd(self.limit_nd),
            "spent": to_usd(self.spent_nd),
            "reserved": to_usd(self.reserved_nd),
            "left": to_usd(self.left_nd),
            "percent": self.percent,
        }


def dollars(nd: int) -> str:
    """An amount for a message: $0.0162, $5, never a float's tail."""
    from decimal import Decimal

    text = format(Decimal(nd) / 10**9, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "$" + text


def period_start(period: str) -> datetime:
    today = today_local()
    return local_midnight(today if period == "day" else today.replace(day=1))


def _usd(value: float, option: str) -> int:
    amount = limits.cost_nd(value, option)
    if amount <= 0:
        raise UsageError(f"{option} takes an amount above 0 USD, not {value}")
    return amount


def _scope(store: Store, agent: str | None) -> tuple[int, str | None]:
    if agent is None:
        return 0, None
    from agentik_cli.services import agents

    found = agents.get(store, agent)
    assert found.id is not None
    return found.id, found.name


def set_budget(
    store: Store,
    *,
    agent: str | None,
    daily: float | None,
    monthly: float | None,
    warn: int | None,
    allow_unpriced: bool,
) -> list[BudgetStatus]:
    if daily is None and monthly is None:
        raise UsageError("give --daily USD, --monthly USD or both")
    if warn is not None and not 1 <= warn <= 100:
        raise UsageError(f"--warn takes a percentage from 1 to 100, not {warn}")
    limits_by_period = {"day": daily, "month": monthly}
    scope_key, name = _scope(store, agent)
    with store.write() as unit:
        found = budget_store.applicable(unit.session, scope_key or None, lock=True)
        existing = {b.period: b for b in found if b.scope_key == scope_key}
        for period, amount in limits_by_period.items():
            if amount is None:
                continue
            before = existing.get(period)
            budget_store.put(
                unit,
                BudgetRecord(
                    scope_key,
                    period,
                    name,
                    _usd(amount, f"--{LABELS[period]}"),
                    warn if warn is not None else (before.warn_percent if before else DEFAULT_WARN),
                    allow_unpriced or (before.allow_unpriced if before else False),
                ),
            )
    return [s for s in statuses(store) if s.scope_key == scope_key]


def remove_budget(store: Store, *, agent: str | None, daily: bool, monthly: bool) -> int:
    periods = [p for p, chosen in (("day", daily), ("month", monthly)) if chosen] or list(PERIODS)
    scope_key = 0
    if agent is not None:  # a live agent, or (by its id or name) one removed that left a budget
        from agentik_cli.services import agents

        with store.read() as session:
            try:
                scope_key = agents.ledger_agent_id(session, agent)
            except NotFound:  # removed, and never spent: its id alone names its budget
                if agents.id_ref(agent) is None:
                    raise
                scope_key = int(agents.id_ref(agent) or 0)
    with store.write() as unit:
        removed = budget_store.remove(unit, scope_key, periods)
    if not removed:
        raise NotFound(f"no such budget over {agent or 'everything'}", hint="`agentik budgets list` shows them")
    return removed


@dataclass(frozen=True)
class Lively:
    """Which reservations count: `condition` admits this host's, another host's with a recent
    heartbeat and an older agentik's recent ones; `gone` are this host's whose process died."""

    condition: Any
    gone: list[int]


def lively(session: Any, now: datetime) -> Lively:
    me, local = owner.me(), owner.local_prefix()
    here = budget_store.on_host(session, me.host, local)
    gone = [i for i, pid, started in here if not owner.alive(pid, started)]
    return Lively(budget_store.lively(me.host, local, now - limits.HEARTBEAT_LAPSE, now - LIVE), gone)


def _status(session: Any, budget: BudgetRecord, now: datetime, live: Lively | None = None) -> BudgetStatus:
    live = live or lively(session, now)
    spent, reserved = budget_store.spent_and_reserved(
        session, budget.scope_key, period_start(budget.period), live.condition, live.gone
    )
    return BudgetStatus(
        scope="all" if budget.scope_key == 0 else (budget.agent_name or str(budget.scope_key)),
        scope_key=budget.scope_key,
        period=budget.period,
        limit_nd=budget.limit_nd,
        spent_nd=spent,
        reserved_nd=reserved,
        warn_percent=budget.warn_percent,
        allow_unpriced=budget.allow_unpriced,
    )


def statuses(store: Store) -> list[BudgetStatus]:
    from agentik_cli.timeutil import now_utc

    now = now_utc()
    with store.read() as session:
        found = budget_store.all_budgets(session)
        live = lively(session, now) if found else None
        return [_status(session, b, now, live) for b in found]


def _name(status: BudgetStatus) -> str:
    scope = "over everything" if status.scope_key == 0 else f"of {status.scope}"
    return f"the {LABELS[status.period]} budget {scope}"


@dataclass(frozen=True)
class WorstCase:
    """A call's worst case, in the parts a refusal's hint needs: the prompt's worst (every token it
    can have at the dearest input rate) and the reply's (`max_tokens` at the output rate)."""

    prompt_nd: int
    reply_nd: int
    max_tokens: int
    agent: str | None  # the agent whose max tokens can be lowered

    @property
    def total_nd(self) -> int:
        return self.prompt_nd + self.reply_nd


CENT_ND = 10**7


def _ways_out(status: BudgetStatus, worst: WorstCase) -> str:
    """Both ways out, with their numbers: the limit that lets this call through (rounded up to a
    cent), and the max tokens that fit under the limit as it is (when any do)."""
    import shlex

    held = status.spent_nd + status.reserved_nd
    needed = -(-(held + worst.total_nd) // CENT_ND) * CENT_ND
    agent = "" if status.scope_key == 0 else f" --agent {shlex.quote(status.scope)}"
    limit = dollars(needed)
    ways = f"raise the budget to {limit} (agentik budgets set{agent} --{LABELS[status.period]} {limit[1:]})"
    room = status.limit_nd - held - worst.prompt_nd
    if worst.agent is not None and worst.max_tokens > 0 and worst.reply_nd > 0 and room > 0:
        fits = room * worst.max_tokens // worst.reply_nd
        if fits >= 1:
            name = shlex.quote(worst.agent)
            ways += (
                f", or lower {worst.agent}'s max tokens to {fits:,} "
                f"(agentik agents update {name} --max-tokens {fits}, or --max-tokens {fits} for one call)"
            )
    return ways


def reserve(unit: Unit, agent_id: int | None, worst: WorstCase | None, model: str, provider: str) -> int | None:
    """Check a call's worst case against every budget that applies and hold it; BudgetRefused
    (rolling the unit back) when it would pass one. Returns the reservation's id, None when no
    budget applies. `worst_nd` None: the model has no price."""
    budgets = budget_store.applicable(unit.session, agent_id, lock=True)
    if not budgets:
        return None
    live = lively(unit.session, unit.now)
    if budget_store.release_lapsed(unit, live.condition, live.gone):
        live = Lively(live.condition, [])
    for budget in budgets:
        status = _status(unit.session, budget, unit.now, live)
        if worst is None:
            if budget.allow_unpriced:
                continue
            raise BudgetRefused(
                f"refused by {_name(status)}: {model} ({provider}) has no price, so the call's cost cannot be checked",
                hint=f"agentik prices set {model} --provider {provider} --input USD --output USD "
                "(or allow it: agentik budgets set ... --allow-unpriced)",
            )
        if status.spent_nd + status.reserved_nd + worst.total_nd > status.limit_nd:
            raise BudgetRefused(
                f"refused by {_name(status)}: spent and reserved {dollars(status.spent_nd + status.reserved_nd)}, "
                f"this call up to {dollars(worst.total_nd)}, limit {dollars(status.limit_nd)}",
                hint=_ways_out(status, worst),
            )
    me = owner.me()
    return budget_store.reserve(unit, agent_id, worst.total_nd if worst else 0, me.host, me.pid, me.started)


@dataclass(frozen=True)
class Left:
    """A reservation as `budgets release` shows it: whose, how much, and why it looks left behind
    (or, with `running`, held by a process that still seems to run)."""

    id: int
    agent: str  # as it is called now, or "removed agent N"
    amount_nd: int
    holder: str
    why: str
    running: bool


def _age(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def left_behind(store: Store, *, agent: str | None, every: bool) -> list[Left]:
    """The reservations no running process holds (this host's whose process is gone, another host's
    whose heartbeat lapsed, an older agentik's past their lifetime), of one agent's calls or of all;
    with `every` those of processes that still seem to run too."""
    from agentik_cli.services import agents
    from agentik_cli.timeutil import now_utc

    now = now_utc()
    me = owner.me()
    with store.read() as session:
        agent_id = agents.ledger_agent_id(session, agent) if agent is not None else None
        rows = budget_store.held(session, agent_id)
    found = []
    for row in rows:
        if row.host is None:
            holder, running = "an older agentik", now - row.created_at < LIVE
            why = f"made {_age(now - row.created_at)} ago"
        elif owner.seen_from_here(row.host, row.started or ""):
            holder = f"process {row.pid}"
            running = owner.alive(row.pid or 0, row.started or "")
            why = "still running" if running else "its process is gone"
        else:
            where = "in another container of this host" if row.host == me.host else f"on {row.host}"
            holder = f"process {row.pid} {where}"
            beaten = row.heartbeat_at or row.created_at
            running = now - beaten < limits.HEARTBEAT_LAPSE
            why = f"last heard from {_age(now - beaten)} ago"
        if running and not every:
            continue
        name = row.agent_name or ("-" if row.agent_id is None else f"removed agent {row.agent_id}")
        found.append(Left(row.id, name, row.amount_nd, holder, why, running))
    return found


def release(store: Store, ids: list[int]) -> int:
    """Drop these reservations (those already gone are not counted)."""
    with store.write() as unit:
        return budget_store.release_all(unit, ids)


def warnings(store: Store, agent_id: int | None, *, every: bool = False) -> list[str]:
    """One line per budget whose recorded spend has crossed its warning threshold, or its limit, in
    this period for the first time (remembered in the store, so each is said once), with the
    budget.warning or budget.exceeded event (the budget as `budgets list --json` gives it). The
    budgets looked at: those over a call of `agent_id`, or with `every` all of them (an import
    records spend of any agent)."""

    def looked_at(session: Any) -> list[BudgetRecord]:
        return budget_store.all_budgets(session) if every else budget_store.applicable(session, agent_id)

    lines: list[str] = []
    with store.read() as session:
        if not looked_at(session):
            return lines
    with store.write() as unit:
        live = lively(unit.session, unit.now)
        for budget in looked_at(unit.session):
            status = _status(unit.session, budget, unit.now, live)
            for kind, percent in (("warning", budget.warn_percent), ("exceeded", 100)):
                if status.spent_nd * 100 < percent * budget.limit_nd or not _first(unit, kind, budget):
                    continue
                unit.emit(f"budget.{kind}", status.to_json(), budget.scope_key or None)
                if kind == "warning":
                    lines.append(
                        f"{_name(status)} is at {round(100 * status.spent_nd / status.limit_nd)}%: "
                        f"{dollars(status.spent_nd)} of {dollars(status.limit_nd)}"
                    )
    return lines


def _first(unit: Unit, kind: str, budget: BudgetRecord) -> bool:
    """Whether this is the first time in the period (noted, so the next time is not)."""
    name = "budget_warned" if kind == "warning" else "budget_exceeded"
    key = f"{name}:{budget.scope_key}:{budget.period}:{period_start(budget.period).isoformat()}"
    if ledger_store.read_setting(unit, key) is not None:
        return False
    ledger_store.write_setting(unit, key, "1")
    return True
