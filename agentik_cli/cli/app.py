"""The root app: wires one sub-app per noun, the global options, and the one error boundary that
turns domain errors into a line on stderr and the contract's exit code."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer._click.exceptions import UsageError as ClickUsageError
from typer.core import TyperGroup
from typer.exceptions import Abort

from agentik_cli import __version__, config
from agentik_cli.cli import agents, chat, costs, db, keys, prices, sessions
from agentik_cli.errors import FAILED, AgentikError


def _error(message: str, hint: str | None = None) -> None:
    sys.stderr.write(f"agentik: error: {message}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")
    sys.stderr.flush()


class AgentikGroup(TyperGroup):
    """Runs the command line in non-standalone mode so that every error, Typer's own usage errors
    included, ends here as one line on stderr (CliRunner goes through `main` too)."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        code = self._run(args, prog_name, complete_var, **extra)
        if standalone_mode:
            sys.exit(code)
        return code

    def _run(self, args: Any, prog_name: str | None, complete_var: str | None, **extra: Any) -> int:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            return result if isinstance(result, int) else 0
        except AgentikError as exc:
            if config.debug():
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
            if config.debug():
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
        sys.stdout.write(f"agentik {__version__}\n")
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
    config.settings.db = db
    config.settings.no_color = no_color


app.add_typer(agents.app, name="agents")
app.command("chat")(chat.chat)
app.add_typer(sessions.app, name="sessions")
app.add_typer(costs.app, name="costs")
app.add_typer(prices.app, name="prices")
app.add_typer(keys.app, name="keys")
app.add_typer(db.app, name="db")


def main() -> None:
    """The console script. Once the command is done and its output flushed, the process leaves with
    os._exit: tearing down the SDK's thousands of pydantic classes at interpreter shutdown costs about
    0.4 s after a chat (measured in tests/benchmarks/bench_chat.py), and everything that matters is
    already committed. atexit handlers (the chat history file) still run first."""
    import atexit
    import os

    try:
        app(prog_name="agentik")  # also under `python -m agentik_cli`, for messages and completion
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            sys.stderr.write(f"{exc.code}\n")
    try:
        atexit._run_exitfuncs()
        if "agentik_cli.store.engine" in sys.modules:
            from agentik_cli.store.engine import reset_stores

            reset_stores()  # closing checkpoints the WAL into agentik.db, which os._exit would skip
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = code or 1
    except Exception:
        pass
    os._exit(code)
