"""Chat speed (issue 3), against the local fake provider server.

    python tests/benchmarks/bench_chat.py [--runs 7] [--words 20000]

1. One-shot chat: agentik, `llm` with the llm-anthropic plugin, and a bare script that makes the same
   streaming call with the anthropic SDK and prints it (medians). llm-anthropic pins anthropic<2, so
   it gets a virtualenv of its own (made on first run under ~/.cache/agentik-bench).
2. A 20,000-word streamed reply rendered on a pseudo-terminal: agentik (Markdown) against the bare
   script (raw chunks).
3. Eight concurrent one-shot chats on one database: wall time, and every row present.

Parts 1 and 2 also run the release b0b4fcb (common.BASELINE, a home of its own) in alternating
rounds with this checkout and the bare script, and print each one's ratio to the bare script and
this checkout's to the release. `--no-llm` leaves llm out."""

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

from tests.benchmarks.common import (  # noqa: E402
    AGENTIK,
    BASELINE,
    PYTHON,
    ROOT,
    Side,
    load,
    release_tree,
    report,
    side_by_side,
    timed,
)
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


def on_pty(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
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
        cwd=cwd,
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
    parser.add_argument("--no-llm", action="store_true", help="leave llm out")
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

    tree = release_tree()
    release_home = tempfile.mkdtemp()
    release_env = {**env, "AGENTIK_HOME": release_home}
    subprocess.run(
        [*AGENTIK, "agents", "create", "bench", "--model", "claude-sonnet-4-0"],
        env={**full_env, **release_env},
        cwd=tree,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    bare_cmd = [PYTHON, str(bare_script)]
    sides = {
        "bare": ("bare anthropic SDK script", bare_cmd, env, None),
        "now": ("agentik chat -m (this checkout)", [*AGENTIK, "chat", "bench", "-m"], env, ROOT),
        "then": (f"agentik chat -m ({BASELINE})", [*AGENTIK, "chat", "bench", "-m"], release_env, tree),
    }

    print(f"One-shot chat against the local server (median of {args.runs}, piped, alternating; {load()}):")
    medians = side_by_side(
        [Side(key, [*cmd, "hello"], side_env, cwd) for key, (_, cmd, side_env, cwd) in sides.items()], args.runs
    )
    for key, (label, *_) in sides.items():
        report(label, medians[key], "" if key == "bare" else f"({medians[key] / medians['bare']:.2f}x the bare script)")
    print(f"  this checkout / {BASELINE} = {medians['now'] / medians['then']:.2f}")
    llm = None if args.no_llm else llm_command()
    if llm:
        theirs = timed([*llm, "-m", "anthropic/claude-sonnet-4-0", "hello"], env, runs=args.runs)
        report("llm -m anthropic/claude-sonnet-4-0", theirs, f"({theirs / medians['bare']:.2f}x the bare script)")
        print(f"  agentik / llm = {medians['now'] / theirs:.2f}")
    else:
        print("  llm: skipped")

    print(f"\nA {args.words:,}-word streamed reply on a pseudo-terminal (median of 3, alternating; {load()}):")
    server.default = Reply(text=words(args.words), output_tokens=int(args.words * 1.3))
    on_terminal: dict[str, list[float]] = {key: [] for key in sides}
    for round_ in range(3):
        for key in list(sides)[round_ % 3 :] + list(sides)[: round_ % 3]:
            _, cmd, side_env, cwd = sides[key]
            on_terminal[key].append(on_pty([*cmd, "long"], side_env, cwd))
    pty_medians = {key: statistics.median(values) for key, values in on_terminal.items()}
    report("bare SDK script, raw chunks", pty_medians["bare"])
    for key in ("now", "then"):
        report(
            sides[key][0] + ", rendered",
            pty_medians[key],
            f"({pty_medians[key] / pty_medians['bare']:.2f}x the bare script)",
        )
    print(f"  this checkout / {BASELINE} = {pty_medians['now'] / pty_medians['then']:.2f}")

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
