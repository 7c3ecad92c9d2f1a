"""The root's options that may come before a command's name (`--db PATH`, `--db=PATH`,
`--no-color`), read without the command line's framework: by the console script before anything
heavy is imported (agentik_cli/entry.py), and by cli/narrow.py to find the command to build."""

from __future__ import annotations

# the root's options that may come before the command's name: those that take a value, and flags
ROOT_VALUED = frozenset({"--db"})
ROOT_FLAGS = frozenset({"--no-color"})


def after_root(args: list[str]) -> list[str] | None:
    """The words after the root's options; None when something else comes first (--help,
    --version, a mistake: the whole app is to answer)."""
    rest = list(args)
    while rest and rest[0].startswith("-"):
        name, equals, _ = rest[0].partition("=")
        if rest[0] in ROOT_FLAGS:
            rest = rest[1:]
        elif name in ROOT_VALUED:
            rest = rest[1 if equals else 2 :]
        else:
            return None
    return rest
