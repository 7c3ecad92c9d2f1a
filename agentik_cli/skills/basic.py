"""The small built-in skills: `time`, `calc` (arithmetic by an AST walk, never eval) and `spend`
(the agent's own costs, read only)."""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

from agentik_cli.skills.base import Builtin, Context, Outcome, Tool, one_text_tool


class TimeSkill(Builtin, name="time", risk="read"):
    description = "The current date and time, in the local time zone or a given one."

    def tools(self) -> list[Tool]:
        description = "The current date and time (ISO 8601, with its offset)."
        return [one_text_tool(self, description, "zone", "An IANA time zone, e.g. Europe/Paris", required=False)]

    def run(self, tool: str, arguments: dict[str, Any], context: Context) -> Outcome:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from agentik_cli.timeutil import now_utc

        now = now_utc()
        zone = arguments.get("zone")
        try:
            local = now.astimezone(ZoneInfo(zone)) if zone else now.astimezone()
        except (ZoneInfoNotFoundError, ValueError):
            return Outcome("error", error=f"unknown time zone {zone!r}")
        return Outcome("ok", f"{local.isoformat(timespec='seconds')} ({local.strftime('%A')})")


# ---- calc ----

_BINARY: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Any] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Any] = {
    "sqrt": math.sqrt,
    "log": math.log,
    "log10": math.log10,
    "exp": math.exp,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "abs": abs,
    "round": round,
    "floor": math.floor,
    "ceil": math.ceil,
    "min": min,
    "max": max,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}
MAX_EXPRESSION = 500
MAX_DIGITS = 1000  # an integer result, or operand, of at most this many digits
MAX_EXPONENT = 10_000


class CalcError(ValueError):
    pass


def evaluate(expression: str) -> int | float:
    """Arithmetic only: numbers, + - * / // % **, unary signs, parentheses, a few math functions
    and constants. Names, attributes, calls of anything else, strings: refused. Powers and results
    are bounded, so `9**9**9` is refused rather than run for hours."""
    if len(expression) > MAX_EXPRESSION:
        raise CalcError(f"the expression is longer than {MAX_EXPRESSION} characters")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise CalcError("not an arithmetic expression") from None
    return _eval(tree.body)


def _number(value: Any) -> int | float:
    if isinstance(value, int) and abs(value) >= 10**MAX_DIGITS:
        raise CalcError(f"a number of more than {MAX_DIGITS} digits")
    if isinstance(value, complex):
        raise CalcError("the result is not a real number")
    return value


def _eval(node: ast.AST) -> int | float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _number(node.value)
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _number(_UNARY[type(node.op)](_eval(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > MAX_EXPONENT or (abs(left) > 1 and abs(right) > 3400)):
            raise CalcError("the power is too large")
        try:
            return _number(_BINARY[type(node.op)](left, right))
        except ZeroDivisionError:
            raise CalcError("division by zero") from None
        except OverflowError:
            raise CalcError("the result is too large") from None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
        and len(node.args) <= 4
    ):
        try:
            return _number(_FUNCTIONS[node.func.id](*(_eval(a) for a in node.args)))
        except (ValueError, TypeError, OverflowError) as exc:
            raise CalcError(f"{node.func.id}: {exc}") from None
    raise CalcError(f"not allowed in an expression: {ast.unparse(node)[:60]}")


class CalcSkill(Builtin, name="calc", risk="read"):
    description = "Exact arithmetic: + - * / // % **, parentheses, sqrt, log, sin, round, min, max, pi, e."

    def tools(self) -> list[Tool]:
        return [one_text_tool(self, "Evaluate an arithmetic expression.", "expression", "e.g. (1.5 + 2) * 3**2")]

    def run(self, tool: str, arguments: dict[str, Any], context: Context) -> Outcome:
        try:
            return Outcome("ok", repr(evaluate(arguments["expression"])))
        except CalcError as exc:
            return Outcome("error", error=str(exc))


class SpendSkill(Builtin, name="spend", risk="read"):
    description = "What this agent has cost: today, this month and in all, from agentik's ledger (read only)."

    def tools(self) -> list[Tool]:
        schema = {"type": "object", "properties": {}, "additionalProperties": False}
        return [Tool("spend", self.name, "This agent's spend: today, this month, all time (USD).", schema, self.risk)]

    def run(self, tool: str, arguments: dict[str, Any], context: Context) -> Outcome:
        import json

        from agentik_cli.money import to_usd
        from agentik_cli.timeutil import local_midnight, today_local

        if context.spend is None or context.agent_id is None:
            return Outcome("error", error="no agent: spend reports an agent's own costs")
        today = today_local()
        # since when: local midnight today, on the first of the month, and ever
        windows = {"today": local_midnight(today), "month": local_midnight(today.replace(day=1)), "all_time": None}
        answer: dict[str, Any] = {"agent": context.agent_name, "currency": "USD"}
        for label, since in windows.items():
            spent = context.spend(since)
            answer[label] = {
                "cost": to_usd(spent.cost_nd),
                "calls": spent.calls,
                "unpriced_calls": spent.unpriced_calls,
            }
        return Outcome("ok", json.dumps(answer))
