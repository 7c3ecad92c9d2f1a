"""Times: stored in UTC, shown and bucketed in the local time zone (TZ honoured)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from agentik_cli import environment
from agentik_cli.errors import UsageError
from agentik_cli.limits import EARLIEST, LATEST

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def now_utc() -> datetime:
    """The environment's clock (a test or a budget check can freeze it): UTC-aware."""
    return environment.current().now().astimezone(UTC)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local_midnight(day: date) -> datetime:
    """The UTC instant of local midnight starting `day` (DST-safe: resolved by the C library)."""
    return datetime(day.year, day.month, day.day).astimezone().astimezone(UTC)


def today_local() -> date:
    """Today in the local time zone, by the environment's clock."""
    return now_utc().astimezone().date()


_RANGE_HINT = "use a time between 1970 and 9998"


def _in_range(moment: datetime | None, text: str, option: str) -> datetime:
    if moment is None or not EARLIEST <= moment < LATEST:
        raise UsageError(f"{option}: '{text}' is out of range", hint=_RANGE_HINT)
    return moment


def days_ago(days: int, option: str) -> datetime:
    """Now less a number of days (`--days`, `--older-than`), refused when that leaves the range."""
    now = now_utc()
    most = (now - EARLIEST).days
    if days > most:
        raise UsageError(f"{option}: {days} days is out of range (at most {most:,}, back to 1970)")
    return now - timedelta(days=days)


def parse_when(text: str, *, end_of_day: bool = False, option: str = "WHEN") -> datetime:
    """An ISO date or datetime, `7d`, `24h`, `30m`, `today` or `yesterday`, as an aware UTC datetime.
    A date means local midnight; with end_of_day the next local midnight (so `--until DATE` takes
    that whole day). Out of the range EARLIEST..LATEST is a usage error."""
    try:
        moment = _parse(text, end_of_day)
    except (OverflowError, OSError):  # arithmetic past year 9999, or a time the C library cannot convert
        moment = None
    except ValueError:
        raise UsageError(
            f"{option}: cannot read '{text}' as a time",
            hint="use an ISO date or datetime (2026-11-01, 2026-11-01T09:30), or 7d, 24h, today",
        ) from None
    return _in_range(moment, text, option)


def _parse(text: str, end_of_day: bool) -> datetime:
    value = text.strip().lower()
    if value in ("today", "yesterday"):
        day = today_local() - timedelta(days=1 if value == "yesterday" else 0)
        return local_midnight(day + timedelta(days=1) if end_of_day else day)
    if value == "now":
        return now_utc()
    match = _RELATIVE.match(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return now_utc() - timedelta(**{_UNITS[unit]: amount})
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        day = date.fromisoformat(value)
        return local_midnight(day + timedelta(days=1) if end_of_day else day)
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a datetime without offset is local time
    return moment.astimezone(UTC)
