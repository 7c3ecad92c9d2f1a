"""The price_overrides table: prices set with `agentik prices set`, kept in the store so that
everyone on a team store prices calls alike. Nano-dollars per million tokens, as on a ledger row;
services/pricing.py turns them into unit prices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import delete, select
from sqlmodel import Session, col

from agentik_cli.store import dialect
from agentik_cli.store.models import PriceOverride
from agentik_cli.store.unit import Unit


@dataclass(frozen=True)
class Override:
    provider: str
    model: str
    input_nd: int
    output_nd: int
    cache_read_nd: int | None
    cache_write_nd: int | None
    set_by: str = ""
    updated_at: datetime | None = None


def _record(row: PriceOverride) -> Override:
    return Override(
        provider=row.provider,
        model=row.model,
        input_nd=row.input_nd,
        output_nd=row.output_nd,
        cache_read_nd=row.cache_read_nd,
        cache_write_nd=row.cache_write_nd,
        set_by=row.set_by,
        updated_at=row.updated_at,
    )


def all_overrides(session: Session) -> list[Override]:
    query = select(PriceOverride).order_by(col(PriceOverride.provider), col(PriceOverride.model_key))
    return [_record(row) for row in session.execute(query).scalars()]


def _values(unit: Unit, price: Override) -> dict[str, Any]:
    return {
        "provider": price.provider,
        "model_key": price.model.lower(),
        "model": price.model,
        "input_nd": price.input_nd,
        "output_nd": price.output_nd,
        "cache_read_nd": price.cache_read_nd,
        "cache_write_nd": price.cache_write_nd,
        "set_by": unit.user,
        "updated_at": unit.now,
    }


_TABLE: Any = cast(Any, PriceOverride).__table__


def put(unit: Unit, price: Override) -> None:
    """Set a model's price, replacing any (an upsert: two people setting one price at once both
    succeed, the later wins)."""
    table = _TABLE
    values = _values(unit, price)
    stmt = dialect.insert(unit.session, table).values(**values)
    keys = ("provider", "model_key")
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={k: stmt.excluded[k] for k in values if k not in keys}
    )
    unit.session.execute(stmt)


def add_missing(unit: Unit, prices: list[Override]) -> int:
    """Add the prices the store has none for (a price already in it stays: it was set since, or by
    someone else on a team store). Returns how many were added."""
    if not prices:
        return 0
    table = _TABLE
    stmt = dialect.insert(unit.session, table).on_conflict_do_nothing(index_elements=["provider", "model_key"])
    added = 0
    for price in prices:
        # a row comes back only when one was inserted (rowcount is not told reliably by every driver)
        added += len(unit.session.execute(stmt.values(**_values(unit, price)).returning(table.c.provider)).all())
    return added


def remove(unit: Unit, provider: str, model: str) -> bool:
    result: Any = unit.session.execute(
        delete(PriceOverride).where(
            col(PriceOverride.provider) == provider, col(PriceOverride.model_key) == model.lower()
        )
    )
    return bool(result.rowcount)
