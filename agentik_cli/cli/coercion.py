"""A parameter's value as Typer makes it, without pydantic where the answer is plain. Typer 0.29
turns every value through a pydantic TypeAdapter built for its parameter the first time the value
is processed, even a None left by an option not given: importing pydantic and building the adapters
costs `agents list` about a tenth of a second before it reads anything. The values a command line
mostly holds need no adapter: an option not given (None), a text for a text parameter, a whole
number for a number parameter, a list of texts. Those are answered here exactly as the adapter
answers them (tests/cli/test_startup.py compares the two over every parameter of the app);
anything else (a number written as text, a path, a bad value and its error message) goes to
Typer's own adapter, built then."""

from __future__ import annotations

import re
from typing import Any

# a whole number as typed, which the adapter reads as int(text): no sign, spaces, `_` or leading
# zero, and short enough to stay clear of Python's limit on the digits of an int
_DIGITS = re.compile(r"(0|[1-9][0-9]{0,17})")


class Deferred:
    """Stands in for the runtime parameter Typer keeps on a parameter (`_runtime_param`): answers
    the plain values, and builds Typer's own for the rest."""

    def __init__(self, descriptor: Any) -> None:
        self.descriptor = descriptor
        self.built: Any = None

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multiple = param.multiple or param.nargs == -1
        if value is None:  # what Typer's RuntimeParam.coerce does before it needs the adapter
            return () if multiple else None
        if not (multiple and isinstance(value, str)):  # that one is Typer's error
            plain = self._plain(value)
            if plain is not _NOT_PLAIN:
                return plain
        if self.built is None:
            from typer._coercion import build_runtime_param

            self.built = build_runtime_param(self.descriptor)
        return self.built.coerce(value, param=param, ctx=ctx)

    def _plain(self, value: Any) -> Any:
        descriptor = self.descriptor
        info = descriptor.parameter_info
        if descriptor.file_annotation is not None or info.parser is not None:
            return _NOT_PLAIN
        annotation = descriptor.annotation
        if annotation is str:
            return value if type(value) is str else _NOT_PLAIN
        if annotation == list[str] and type(value) in (list, tuple) and all(type(item) is str for item in value):
            return list(value)
        if annotation is int and not info.clamp:
            number = _whole(value)
            if number is None:
                return _NOT_PLAIN
            if (info.min is not None and number < info.min) or (info.max is not None and number > info.max):
                return _NOT_PLAIN  # the adapter's error message
            return number
        return _NOT_PLAIN


_NOT_PLAIN = object()


def _whole(value: Any) -> int | None:
    if type(value) is int:
        return value
    if type(value) is str and _DIGITS.fullmatch(value):
        return int(value)
    return None


def defer(param: Any) -> None:
    """Let `param` answer plain values without pydantic (see the module's docstring)."""
    if getattr(param, "type_descriptor", None) is not None and param._runtime_param is None:
        param._runtime_param = Deferred(param.type_descriptor)
