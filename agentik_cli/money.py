"""Money is kept as integer nano-dollars (1e-9 USD): sums are exact and shown rounded."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

NANO = 1_000_000_000


def to_nd(usd: Decimal | float | str | int) -> int:
    return int((Decimal(str(usd)) * NANO).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def to_usd(nd: int | None) -> float | None:
    """For JSON: a float that round-trips the nano-dollar amount exactly (9 decimal places)."""
    if nd is None:
        return None
    return float(Decimal(nd) / NANO)


def fmt_usd(nd: int | None, places: int | None = None) -> str:
    """For people: more places for small amounts so a cheap call never shows as $0.00."""
    if nd is None:
        return "n/a"
    usd = Decimal(nd) / NANO
    if places is not None or abs(usd) >= 1 or usd == 0:
        return f"${usd:,.{2 if places is None else places}f}"
    text = f"{usd:.6f}".rstrip("0")
    if len(text.split(".")[1]) < 2:
        text = f"{usd:.2f}"
    return f"${text}" if usd >= Decimal("0.000001") or usd < 0 else "<$0.000001"
