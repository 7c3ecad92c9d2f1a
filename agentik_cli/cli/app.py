"""The root app: wires one sub-app per noun, the global options, and the one error boundary that
turns domain errors into a line on stderr and the contract's exit code."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Annotated, Any

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer._click.exceptions import UsageError as ClickUsageError
from typer.core import TyperGroup, TyperOption
from typer.exceptions import Abort

from agentik_cli import __version__, environment, limits, text
from agentik_cli.cli import agents, budgets, chat, coercion, costs, db, keys, prices, sessions, shells, skills, webhooks
from agentik_cli.cli.options import ANY_CASE, FILE_NAMES
from agentik_cli.errors import FAILED, OK, AgentikError
from agentik_cli.services import opening


def _error(message: str, hint: str | None = None) -> None:
    # a message may quote a name or a server's words: escaped like every text printed for people
    from agentik_cli.cli.render import safe_text

    stderr = environment.current().stderr
    try:
        stderr.write(f"agentik: error: {safe_text(message)}\n")
        if hint:
            stderr.write(f"hint: {safe_text(hint)}\n")
        stderr.flush()
    except (OSError, ValueError):  # stderr itself is gone (`2>&1 | head`): the exit code still tells
        pass


def _stdout_closed() -> int:
    """The reader of our output went away (`agentik costs list --csv | head -1`, `agentik --help |
    true`): that is how pipes end, not an error. Exit 0 and say nothing, as ripgrep does (git is
    killed by SIGPIPE instead, 141 in a shell; Python ignores SIGPIPE, so the choice is ours, and a
    script that runs `agentik ... | head` under `set -o pipefail` should not fail). Later writes and
    the final flush go to /dev/null instead of failing again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no file descriptor (under a test runner)
        pass
    return OK


def _check_environment() -> None:
    """What the environment holds that a command would otherwise trip on half-way: a bad
    AGENTIK_USER failing the write of a reply after the call was paid for."""
    environment.current().user  # noqa: B018 - reading it checks it


class _Flag(TyperOption):
    """A flag takes no value, so its help shows none (Typer 0.29 shows `<bool>` after every flag)."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _commands(command: Any) -> Any:
    yield command
    for child in (getattr(command, "commands", None) or {}).values():
        yield from _commands(child)


def _label(param: Any) -> str:
    return param.opts[0] if param.opts and param.opts[0].startswith("-") else str(param.name).upper()


def _checked_value(param: Any, value: Any, any_case: bool, file_name: bool) -> Any:
    if isinstance(value, list | tuple):
        return type(value)(_checked_value(param, item, any_case, file_name) for item in value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return limits.check_int(value, _label(param))
    if isinstance(value, float):
        return limits.check_float(value, _label(param))
    if isinstance(value, str) and not file_name:
        value, replaced = text.repair(value)
        if replaced:
            from agentik_cli.cli import render

            render.warn(text.replaced_note(_label(param), replaced))
        return value.lower() if any_case else value
    return value


def _checking(param: Any) -> None:
    """Wrap a parameter's callback so that its value obeys the app's rules before any command sees it."""
    callback = param.callback
    any_case = any(opt in ANY_CASE for opt in param.opts)
    file_name = any(opt in FILE_NAMES for opt in param.opts)

    def check(ctx: Any, param: Any, value: Any) -> Any:
        if not ctx.resilient_parsing:  # completion parses half-typed lines: never refuse them
            value = _checked_value(param, value, any_case, file_name)
        return callback(ctx, param, value) if callback is not None else value

    param.callback = check


def _adapt(root: Any) -> None:
    """The rules that hold for every parameter of every command, applied once to the whole app:
    - a whole number must fit in 64 bits, a number with a point must be finite (`--limit
      99999999999999999999`, `sessions show 99999999999999999999`, `--cost nan` are usage errors,
      not overflows deep inside);
    - a value from a fixed list is read in any case (`--by DAY`);
    - text holds no bytes that are not UTF-8 (see agentik_cli/text.py), file names aside;
    - a flag's help shows no value;
    - a plain value (an option not given, a text) is taken without building pydantic's adapter (cli/coercion.py);
    - `--show-completion` and `--install-completion` give agentik's scripts, not Typer's stock ones."""
    help_names = SimpleNamespace(help_option_names=root.context_settings.get("help_option_names", ["--help"]))
    for command in _commands(root):
        for param in command.params:
            if param.name == "install_completion":
                param.callback = shells.install
            elif param.name == "show_completion":
                param.callback = shells.show
            if isinstance(param, TyperOption) and param.is_flag:
                param.__class__ = _Flag
            _checking(param)
            coercion.defer(param)
        help_option = command.get_help_option(help_names)  # made now (and kept) so that it is a _Flag too
        if help_option is not None:
            help_option.__class__ = _Flag
            coercion.defer(help_option)


class AgentikGroup(TyperGroup):
    """Runs the command line in non-standalone mode so that every error, Typer's own usage errors
    included, ends here as one line on stderr (CliRunner goes through `main` too)."""

    _adapted = False

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not self._adapted:  # here, not in __init__: Typer adds the completion options after that
            _adapt(self)
            self._adapted = True
        # each command line runs in its own copy of the environment: the root options it sets
        # (--db, --no-color) end with it, and what a test injected (a clock, a user, streams) holds
        with environment.use(environment.current().copy()):
            code = self._run(args, prog_name, complete_var, **extra)
            opening.wait_for_sends()
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:  # caught here, before Click turns it into exit 1
            return _stdout_closed()

    def _run(self, args: Any, prog_name: str | None, complete_var: str | None, **extra: Any) -> int:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            return result if isinstance(result, int) else 0
        except BrokenPipeError:  # help or a usage message written to a reader that went away
            return _stdout_closed()
        except SystemExit as exc:
            # rich ends the process with exit 1 when stdout is a closed pipe (Console.on_broken_pipe),
            # Typer's help console included; agentik's own consoles raise BrokenPipeError instead
            if isinstance(exc.__context__, BrokenPipeError):
                return _stdout_closed()
            raise
        except AgentikError as exc:
            if _debug():
                raise
            _error(exc.message, exc.hint)
            return exc.exit_code
        except NoArgsIsHelpError as exc:
            exc.show()
            return exc.exit_code
        except ClickUsageError as exc:
            hint = None
            if exc.ctx is not None:
                hint = f"see '{exc.ctx.command_path} --help'"
            _error(exc.format_message(), hint)
            return exc.exit_code
        except ClickException as exc:
            _error(exc.format_message())
            return exc.exit_code
        except Abort:
            _error("aborted")
            return FAILED
        except Exception as exc:
            if _debug():
                raise
            _error(f"unexpected {type(exc).__name__}: {exc}", "run again with AGENTIK_DEBUG=1 for the traceback")
            return FAILED


app = typer.Typer(
    cls=AgentikGroup,
    name="agentik",
    help="Run AI agents from your terminal: define agents, chat with them, keep every conversation, "
    "and know what each agent, model and day has cost.\n\n"
    "Example: agentik agents create helper --model claude-sonnet-4-0",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        stdout = environment.current().stdout
        stdout.write(f"agentik {__version__}\n")
        stdout.flush()  # here, where a closed pipe is caught, not in the final flush
        raise typer.Exit()


@app.callback()
def root(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="SQLite file or SQLAlchemy URL (default: $AGENTIK_DB, else the data folder).",
            show_default=False,
        ),
    ] = None,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour, even on a terminal.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    env = environment.current()
    if db is not None:
        env.db = db
    if no_color:
        env.no_color = True
    _check_environment()


app.add_typer(agents.app, name="agents")
app.command("chat")(chat.chat)
app.add_typer(sessions.app, name="sessions")
app.command("statusline")(costs.statusline)
app.add_typer(costs.app, name="costs")
app.add_typer(prices.app, name="prices")
app.add_typer(keys.app, name="keys")
app.add_typer(budgets.app, name="budgets")
app.add_typer(skills.app, name="skills")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(db.app, name="db")


def main() -> None:
    """The console script: the app narrowed to the command the command line names (cli/narrow.py).
    Once the command is done and its output flushed, the process leaves with os._exit: tearing down
    the SDK's thousands of pydantic classes at interpreter shutdown costs about 0.4 s after a chat
    (measured in tests/benchmarks/bench_chat.py), and everything that matters is already committed.
    atexit handlers (the chat history file) still run first."""
    import atexit
    import os

    from agentik_cli.cli.narrow import narrowed

    try:
        # prog_name: also under `python -m agentik_cli`, for messages and completion
        narrowed(app, sys.argv[1:], complete_var="_AGENTIK_COMPLETE")(prog_name="agentik")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            sys.stderr.write(f"{exc.code}\n")
    except Exception as exc:  # AGENTIK_DEBUG=1 lets it through the error boundary: its traceback
        sys.stderr.write(_redacted_traceback(exc))
        code = FAILED
    try:
        atexit._run_exitfuncs()
        if "agentik_cli.store.engine" in sys.modules:
            opening.close_stores()  # closing checkpoints the WAL into agentik.db, which os._exit would skip
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass  # the reader went away after the last write: not an error (see _stdout_closed)
    except Exception:
        pass
    os._exit(code)


def _redacted_traceback(exc: BaseException) -> str:
    """A traceback for AGENTIK_DEBUG=1 that passes through the same key redaction as errors: an
    SDK's exception chained under agentik's may quote what a server said, a key among it. Every
    value of a variable named like a secret, every stored key, and anything shaped like one go."""
    import os
    import traceback

    from agentik_cli.providers.failures import redact
    from agentik_cli.skills.secrets import is_secret_variable

    text = "".join(traceback.format_exception(exc))
    secrets = [value for name, value in os.environ.items() if is_secret_variable(name) and len(value) >= 8]
    try:
        from agentik_cli.services import keys

        secrets += [value for value in keys.stored_values() if len(value) >= 8]
    except Exception:  # noqa: BLE001 - an unreadable keys file: the environment's and the shapes still go
        pass
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return redact(text, None)


def _debug() -> bool:
    """AGENTIK_DEBUG=1: the real exception, not the one-line error (tests and bug reports)."""
    import os

    return os.environ.get("AGENTIK_DEBUG", "") not in ("", "0")
