"""Chat speed (issue 3), against the local fake provider server.

    python tests/benchmarks/bench_chat.py [--runs 7] [--words 20000]

1. One-shot chat: agentik, `llm` with the llm-anthropic plugin, and a bare script that makes the same
   streaming call with the anthropic SDK and prints it (medians). llm-anthropic pins anthropic<2, so
   it gets a virtualenv of its own (made on first run under ~/.cache/agentik-bench).
2. A 20,000-word streamed reply rendered on a pseudo-terminal: agentik (Markdown) against the bare
   script (raw chunks).
3. Eight concurrent one-shot chats on one database: wall time, and every row present."""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.common import AGENTIK, PYTHON, report, timed  # noqa: E402
from tests.fakeprovider import FakeProvider, Reply, words  # noqa: E402

BARE = """
import sys, anthropic
client = anthropic.Anthropic()
with client.messages.create(model="claude-sonnet-4-0", max_tokens=8192, stream=True,
                            messages=[{"role": "user", "content": sys.argv[1]}]) as stream:
    for event in stream:
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            sys.stdout.write(event.delta.text)
            sys.stdout.flush()
print()
"""

LLM_VENV = Path.home() / ".cache" / "agentik-bench" / "llm-venv"


def llm_command() -> list[str] | None:
    exe = LLM_VENV / "bin" / "llm"
    if not exe.exists():
        print("(installing llm and llm-anthropic into", LLM_VENV, "...)", file=sys.stderr)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(LLM_VENV)], check=True)
            subprocess.run(
                [str(LLM_VENV / "bin" / "pip"), "install", "-q", "llm==0.36", "llm-anthropic==0.30"], check=True
            )
        except subprocess.CalledProcessError:
            return None
    return [str(exe)]


def on_pty(cmd: list[str], env: dict[str, str]) -> float:
    """Wall time of a command whose stdout and stderr are a pseudo-terminal (100x30), output drained."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, **env, "TERM": "xterm-256color"},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    while True:
        try:
            if not os.read(master, 65536):
                break
        except OSError:
            break
    proc.wait()
    elapsed = time.perf_counter() - start
    os.close(master)
    if proc.returncode:
        raise SystemExit(f"{cmd} failed with {proc.returncode}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--words", type=int, default=20000)
    args = parser.parse_args()

    server = FakeProvider().start()
    home = tempfile.mkdtemp()
    env = {
        "AGENTIK_HOME": home,
        "ANTHROPIC_BASE_URL": server.url,
        "ANTHROPIC_API_KEY": "sk-ant-bench",
        "LLM_USER_PATH": tempfile.mkdtemp(),
    }
    full_env = {**os.environ, **env}
    subprocess.run(
        [*AGENTIK, "agents", "create", "bench", "--model", "claude-sonnet-4-0"],
        env=full_env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    bare_script = Path(home) / "bare.py"
    bare_script.write_text(BARE)

    print(f"One-shot chat against the local server (median of {args.runs}, piped):")
    bare = timed([PYTHON, str(bare_script), "hello"], env, runs=args.runs)
    report("bare anthropic SDK script", bare)
    ours = timed([*AGENTIK, "chat", "bench", "-m", "hello"], env, runs=args.runs)
    report("agentik chat -m", ours, f"({ours / bare:.2f}x the bare script)")
    llm = llm_command()
    if llm:
        theirs = timed([*llm, "-m", "anthropic/claude-sonnet-4-0", "hello"], env, runs=args.runs)
        report("llm -m anthropic/claude-sonnet-4-0", theirs, f"({theirs / bare:.2f}x the bare script)")
        print(f"  agentik / llm = {ours / theirs:.2f}")
    else:
        print("  llm could not be installed: skipped")

    print(f"\nA {args.words:,}-word streamed reply on a pseudo-terminal (median of 3):")
    server.default = Reply(text=words(args.words), output_tokens=int(args.words * 1.3))
    bare_pty = statistics.median(on_pty([PYTHON, str(bare_script), "long"], env) for _ in range(3))
    report("bare SDK script, raw chunks", bare_pty)
    ours_pty = statistics.median(on_pty([*AGENTIK, "chat", "bench", "-m", "long"], env) for _ in range(3))
    report("agentik chat, rendered Markdown", ours_pty, f"({ours_pty / bare_pty:.2f}x the bare script)")

    print("\nEight concurrent one-shot chats on one database:")
    server.default = Reply(text="a short reply in a few pieces", delay=0.005)
    db = Path(home) / "agentik.db"
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*AGENTIK, "chat", "bench", "-m", f"concurrent {i}"],
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(8)
    ]
    codes = [p.wait() for p in procs]
    elapsed = time.perf_counter() - start
    with sqlite3.connect(db) as conn:
        after = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
    report(
        "8 x agentik chat -m, all at once",
        elapsed,
        f"(exit codes {sorted(set(codes))}, {after - before} of 16 messages stored)",
    )
    server.stop()


if __name__ == "__main__":
    main()
