"""MCP servers as skills, through the official `mcp` SDK over stdio (the optional `mcp` extra,
imported only when a server is added or called).

`agentik skills add-mcp NAME -- COMMAND...` starts the server once, lists its tools and writes
`skills/NAME.toml` with the command, the risk class and the tool list; the tools are `NAME.TOOL`.
In a conversation the server is started at its first call and kept for the next ones (a server
may hold state between calls, as a browser does); it is stopped when the conversation ends, and
killed on Ctrl-C or when a call outlasts its timeout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentik_cli.errors import UsageError
from agentik_cli.skills.base import RISKS, Context, Outcome, Skill, Tool, check_name, skills_dir
from agentik_cli.skills.builtin import BUILTIN, refuse_builtin_names

TIMEOUT = 60.0
EXTRA_HINT = "pip install 'agentik[mcp]'"


def _sdk() -> Any:
    try:
        import mcp
    except ImportError:
        raise UsageError("MCP servers need the mcp extra", hint=EXTRA_HINT) from None
    return mcp


class McpSkill(Skill):
    kind = "mcp"

    def __init__(self, data: dict[str, Any], path: Path) -> None:
        self.path = path
        self.name = check_name(str(data.get("name", "")))
        command = data.get("command")
        if not isinstance(command, list) or not command or not all(isinstance(w, str) and w for w in command):
            raise ValueError("`command` must be a list of words")
        self.command: list[str] = command
        if data.get("risk", "exec") not in RISKS:
            raise ValueError(f"`risk` must be one of {', '.join(RISKS)}")
        self.risk = data.get("risk", "exec")
        self.description = str(data.get("description") or f"MCP server: {' '.join(command)}")
        self._connection: _Connection | None = None
        self._tools = [
            Tool(
                f"{self.name}.{t['name']}",
                self.name,
                str(t.get("description") or ""),
                t.get("parameters") or {"type": "object"},
                self.risk,
            )
            for t in data.get("tools", [])
        ]
        refuse_builtin_names(self.name, [t.name for t in self._tools])

    def tools(self) -> list[Tool]:
        return self._tools

    def describe(self, tool: str, arguments: dict[str, Any]) -> str:
        return f"{json.dumps(arguments, ensure_ascii=False)} (MCP server: {' '.join(self.command)})"

    def run(self, tool: str, arguments: dict[str, Any], context: Context) -> Outcome:
        _sdk()
        name = tool.split(".", 1)[1]
        try:
            if self._connection is None:
                from agentik_cli.skills import sandbox

                confinement = sandbox.confinement(context, self.risk)
                argv = confinement.argv(self.command, Path(context.workspace))
                self._connection = _Connection(argv, str(context.workspace))
            result = self._connection.call(name, arguments)
        except TimeoutError:
            self.close()
            return Outcome("timeout", error=f"the MCP server did not answer within {TIMEOUT:g} s")
        except KeyboardInterrupt:
            self.close()
            raise
        except Exception as exc:  # the server failed to start or broke the protocol: an error result
            self.close()
            return Outcome("error", error=f"MCP server {self.name}: {_message(exc)}")
        text = "\n".join(getattr(c, "text", "") or f"[{getattr(c, 'type', 'content')}]" for c in result.content)
        if getattr(result, "is_error", False):
            return Outcome("error", text, error=text.splitlines()[0][:200] if text else "the tool failed")
        return Outcome("ok", text)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _Connection:
    """One MCP client session, kept open in a thread of its own: its event loop runs one task that
    opens the session, answers calls from a queue, and closes it (anyio wants a session opened and
    closed by the same task)."""

    def __init__(self, argv: list[str], cwd: str) -> None:
        import asyncio
        import concurrent.futures
        import threading

        self.loop = asyncio.new_event_loop()
        self.ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.queue: Any = None
        self.task: Any = None
        self.thread = threading.Thread(target=self._run, args=(argv, cwd), daemon=True)
        self.thread.start()
        try:
            self.ready.result(timeout=TIMEOUT)
        except BaseException:
            self.close()
            raise

    def _run(self, argv: list[str], cwd: str) -> None:
        self.loop.run_until_complete(self._main(argv, cwd))

    async def _main(self, argv: list[str], cwd: str) -> None:
        import asyncio

        self.task = asyncio.current_task()
        try:
            await self._serve(argv, cwd)
        except BaseException as exc:  # noqa: BLE001 - told to whoever waits
            if not self.ready.done():
                self.ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError("stopped"))

    async def _serve(self, argv: list[str], cwd: str) -> None:
        import asyncio

        import anyio
        from mcp.client.session import ClientSession
        from mcp.client.stdio import StdioServerParameters, stdio_client

        from agentik_cli.skills.shell import clean_environment

        self.queue = asyncio.Queue()
        params = StdioServerParameters(command=argv[0], args=argv[1:], env=clean_environment(), cwd=cwd)
        async with stdio_client(params, errlog=_devnull()) as (read, write), ClientSession(read, write) as session:
            with anyio.fail_after(TIMEOUT):
                await session.initialize()
            self.ready.set_result(None)
            while (item := await self.queue.get()) is not None:
                tool, arguments, answer = item
                try:
                    with anyio.fail_after(TIMEOUT):
                        answer.set_result(await session.call_tool(tool, arguments))
                except Exception as exc:  # noqa: BLE001 - told to the caller
                    answer.set_exception(exc)

    def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        import concurrent.futures

        answer: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (tool, arguments, answer))
        return answer.result(timeout=TIMEOUT + 5)

    def close(self) -> None:
        """Stop the session and the server (cancelled when it is in the middle of a call)."""
        if self.thread.is_alive():
            if self.task is not None:
                self.loop.call_soon_threadsafe(self.task.cancel)
            self.thread.join(timeout=10)


def _message(exc: BaseException) -> str:
    inner = getattr(exc, "exceptions", None)
    if inner:
        return _message(inner[0])
    return str(exc) or type(exc).__name__


async def _list(argv: list[str]) -> list[dict[str, Any]]:
    import anyio
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    from agentik_cli.skills.shell import clean_environment

    params = StdioServerParameters(command=argv[0], args=argv[1:], env=clean_environment())
    with anyio.fail_after(TIMEOUT):
        async with stdio_client(params, errlog=_devnull()) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            listed = await session.list_tools()
    return [
        {"name": t.name, "description": t.description or "", "parameters": t.input_schema or {"type": "object"}}
        for t in listed.tools
    ]


def _devnull() -> Any:
    import os

    return open(os.devnull, "w")  # noqa: SIM115 - the SDK writes the server's stderr here


def add(name: str, risk: str, argv: list[str]) -> tuple[Path, list[dict[str, Any]]]:
    """Start the server, list its tools and write its skill file. Returns the file and the tools."""
    import anyio

    check_name(name)
    if risk not in RISKS:
        raise UsageError(f"--risk takes one of {', '.join(RISKS)}, not {risk!r}")
    if not argv:
        raise UsageError("give the server's command after --", hint="agentik skills add-mcp NAME -- COMMAND [ARGS...]")
    if name in BUILTIN:
        raise UsageError(f"{name} is a built-in skill's name")
    path = skills_dir() / f"{name}.toml"
    if path.exists():
        raise UsageError(f"a skill named {name} exists", hint=f"agentik skills remove {name}")
    _sdk()
    try:
        tools = anyio.run(_list, argv)
    except Exception as exc:
        raise UsageError(f"could not list the tools of the MCP server ({' '.join(argv)}): {_message(exc)}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_toml(name, risk, argv, tools), encoding="utf-8")
    return path, tools


def _toml(name: str, risk: str, argv: list[str], tools: list[dict[str, Any]]) -> str:
    """The skill file, in TOML written by hand: the standard library reads TOML but does not write it.
    Every value is a JSON string or list, which TOML reads alike (its basic strings are JSON's)."""
    lines = [
        'kind = "mcp"',
        f"name = {json.dumps(name)}",
        f"risk = {json.dumps(risk)}",
        f"command = {json.dumps(argv, ensure_ascii=False)}",
    ]
    for tool in tools:
        lines += [
            "",
            "[[tools]]",
            f"name = {json.dumps(tool['name'], ensure_ascii=False)}",
            f"description = {json.dumps(tool['description'], ensure_ascii=False)}",
            f"parameters = {_inline(tool['parameters'])}",
        ]
    return "\n".join(lines) + "\n"


def _inline(value: Any) -> str:
    """A JSON value as a TOML inline value (tables inline, on one line)."""
    if isinstance(value, dict):  # TOML has no null: a key whose value is null is left out
        items = [f"{json.dumps(str(k))} = {_inline(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value if v is not None) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)
