"""A small MCP server over stdio, written with the official SDK, for the tests:
python tests/mcp_server.py"""

from __future__ import annotations

import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("agentik-test")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return text


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def fail() -> str:
    """Always fails."""
    raise ValueError("this tool always fails")


if __name__ == "__main__":
    server.run("stdio")
