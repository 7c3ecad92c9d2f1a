"""The bounds on every number agentik accepts, in one place.

Money is kept as nano-dollars in a signed 64-bit integer (the store's BIGINT). The bounds are chosen
so that the cost of one call, computed from any accepted token counts at any accepted price, always
fits in it: pricing can then never fail after a paid reply has arrived. Each bound is far beyond
anything real, so no honest input meets it."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from agentik_cli.errors import UsageError
from agentik_cli.money import NANO, to_nd

TYPE_CHECKING = False  # the status line imports this module, and typing would cost it milliseconds
if TYPE_CHECKING:
    from typing import Any

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

# Every time agentik reads (`--since`, `--at`, an import row's `at`, `--days`) lies in this range:
# nothing was recorded before 1970, and dates near the end of the calendar overflow once a day or a
# month is added to them. Enforced by agentik_cli/timeutil.py.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)

MTOK = 1_000_000

# A budget reservation names the process that holds it (agentik_cli/owner.py). One of this host's
# is released as soon as its process is gone; another host's when its heartbeat (renewed every 30 s
# while the call lasts, services/journal.py) is older than this; one made by an agentik from before
# processes were named, when older than the lifetime (services/budgets.py; the status line reads
# the same, store/quickread.py).
HEARTBEAT_LAPSE = timedelta(minutes=2)
RESERVATION_LIFETIME = timedelta(hours=6)

# Usage from a server is checked before it is believed (providers/base.py): a count is a whole number
# from 0 to this. A hundred million tokens is ten times the largest context window on sale; above
# it, no call could have used so many, and one wrong row would swamp every total.
MAX_SERVER_TOKENS = 100_000_000
# AGENTIK_TIMEOUT, in seconds: a day; past some point the SDKs' clocks overflow.
MAX_TIMEOUT = 86_400

# Tokens in one count of one call: a thousand times the largest context window of any model, room
# enough for a batch job's totals recorded as one row.
MAX_TOKENS = 10**10
# USD per million tokens: no model has come within a hundred times of it.
MAX_PRICE = Decimal(100_000)
MAX_PRICE_ND = int(MAX_PRICE) * NANO
# The most one call can cost within those bounds: three priced parts of the input (uncached, cache
# read, cache write), each at most MAX_TOKENS, and the output.
MAX_CALL_COST_ND = 4 * MAX_TOKENS * MAX_PRICE_ND // MTOK
assert MAX_CALL_COST_ND <= INT64_MAX


def _number(value: Any) -> Decimal | None:
    """A finite Decimal from an int, float, Decimal or numeric text; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        number = Decimal(value.strip().removeprefix("$") if isinstance(value, str) else str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def check_int(value: int, name: str) -> int:
    """Any whole number given to agentik (an id, a count, a limit): it must fit in 64 bits."""
    if not INT64_MIN <= value <= INT64_MAX:
        raise UsageError(f"{name}: {value} is out of range (at most {INT64_MAX})")
    return value


def check_float(value: float, name: str) -> float:
    if not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, not {value}")
    return value


def tokens(value: Any, name: str) -> int:
    """A token count: a whole number from 0 to MAX_TOKENS (text such as "12" is read as a number)."""
    number = value if type(value) is int else _number(value)
    if number is None or number != int(number):
        raise UsageError(f"{name} must be a whole number, not {value!r}")
    count = int(number)
    if count < 0:
        raise UsageError(f"{name} cannot be negative ({count})")
    if count > MAX_TOKENS:
        raise UsageError(f"{name}: {count} is more tokens than one call can have (at most {MAX_TOKENS:,})")
    return count


def within_tokens(*counts: int) -> bool:
    """For counts that arrive from a server, where refusing is no longer possible."""
    return all(0 <= count <= MAX_TOKENS for count in counts)


def price(value: Any, name: str) -> Decimal:
    """A unit price, USD per million tokens: from 0 to MAX_PRICE."""
    number = _number(value)
    if number is None:
        raise UsageError(f"{name} must be a price in USD per million tokens, not {value!r}")
    if number < 0:
        raise UsageError(f"{name} must be a price of 0 or more (USD per million tokens), not {value}")
    if number > MAX_PRICE:
        raise UsageError(f"{name}: ${value} per million tokens is beyond any price (at most ${MAX_PRICE:,})")
    return number


def cost_nd(value: Any, name: str) -> int:
    """A cost in USD given by the user, as nano-dollars: from 0 to what one call can cost."""
    number = _number(value)
    if number is None:
        raise UsageError(f"{name} must be a number of dollars, not {value!r}")
    if number < 0:
        raise UsageError(f"{name} cannot be negative ({value})")
    if number * NANO > MAX_CALL_COST_ND:
        raise UsageError(f"{name}: ${value} is more than one call can cost (at most ${MAX_CALL_COST_ND // NANO:,})")
    return to_nd(number)
