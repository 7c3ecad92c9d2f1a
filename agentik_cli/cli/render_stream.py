"""Printing a reply while it streams.

Piped: the raw text, chunk by chunk; reasoning is never written to stdout.
On a terminal: Markdown, control characters (but newline and tab) escaped (render.safe_text): a
reply is a stranger's text, and ESC or a carriage return in it must not drive the terminal.
Re-rendering the whole reply on every token is quadratic (a 20,000-word
reply slows to a crawl), so each block is rendered once when it is complete (a blank line outside a
code fence ends it) and only the unfinished tail stays live.

And the work is done once a frame, not once a chunk (issue 22: a 20,000-word reply arrives in
20,000 chunks and was 1.75x slower than the bare SDK printing them): a chunk is only put aside; at
each refresh of the live region the text put aside is split into lines, the blocks it completes
are printed in one write, and the tail is drawn once. Printing a block while the region is live
makes rich draw the tail under it again, so one print a frame rather than one a block also saves
all those redraws."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from agentik_cli import environment
from agentik_cli.cli import render

# journals the reply as far as it has arrived (Chunk.keep): called before anything is shown
Keep = Callable[[], None] | None


class RawPrinter:
    def __init__(self) -> None:
        self.last = ""
        env = environment.current()
        self.stdout = env.stdout
        # raw for a program reading a pipe; on a terminal (never chosen there today) escaped
        self.escape = env.stdout_isatty

    def text(self, chunk: str, keep: Keep = None) -> None:
        if keep is not None:
            keep()
        self.stdout.write(render.safe_text(chunk) if self.escape else chunk)
        self.stdout.flush()
        self.last = chunk or self.last

    def thinking(self, chunk: str, keep: Keep = None) -> None:
        pass

    def close(self) -> None:
        if self.last and not self.last.endswith("\n"):
            self.stdout.write("\n")
            self.stdout.flush()


class MarkdownPrinter:
    refresh_per_second = 8.0

    def __init__(self) -> None:
        from rich.live import Live

        self.console = render.out()
        self.settled_any = False
        self.separate_next = True
        # chunks not yet split into lines (the next frame does it): a deque, so that a chunk is put
        # aside without waiting for the lock while a frame is drawn (append and popleft are atomic)
        self.arrived: deque[str] = deque()
        self.settled: list[Any] = []  # blocks completed since the last frame, to print in one go
        self.lines: list[str] = []  # complete lines of the unfinished block
        self.partial = ""  # the line being written
        self.in_fence = False
        self.fence = ""  # the line that opened the code block the tail is in
        # the live tail must fit on the screen (rich cannot redraw lines that scrolled away)
        self.max_lines = max(self.console.height - 6, 8)
        self.thought: list[str] = []  # reasoning shown above the reply, a piece a chunk
        self.keep: Keep = None
        self._quiet_ctrl_c()
        self.live = Live(
            console=self.console,
            auto_refresh=True,
            refresh_per_second=self.refresh_per_second,
            transient=False,
            vertical_overflow="visible",
            get_renderable=self._tail,
        )
        self.lock = self.live._lock  # rich's own (re-entrant) lock around refresh and printing
        self.live.start()

    def _quiet_ctrl_c(self) -> None:
        """While the reply streams the terminal echoes nothing: rich pads the live lines to the full
        width, so an echoed ^C (or a key typed ahead) would wrap onto a line of its own and the
        redraw would leave the last line twice on the screen. Keys typed ahead are not lost: the
        next prompt reads them."""
        self._saved_tty: list[Any] | None = None
        try:
            import termios

            env = environment.current()
            if not env.stdin_isatty:
                return
            fd = env.stdin.fileno()
            attrs = termios.tcgetattr(fd)
            self._saved_tty = [fd, termios.tcgetattr(fd)]
            attrs[3] &= ~(termios.ECHO | termios.ECHOCTL)
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        except (ImportError, OSError, ValueError, AttributeError):
            self._saved_tty = None

    def _restore_tty(self) -> None:
        if self._saved_tty is not None:
            import termios

            fd, attrs = self._saved_tty
            try:
                termios.tcsetattr(fd, termios.TCSANOW, attrs)
            except (OSError, termios.error):
                pass
            self._saved_tty = None

    def _markdown(self, text: str) -> Any:
        return render.markdown(text)

    def _tail(self) -> Any:
        """The live region, drawn by each refresh (under the lock): first the text that arrived
        since the last one is taken in and the blocks it completed are printed above the region."""
        from rich.console import Group
        from rich.text import Text

        self._take_in()
        self._kept()  # after taking in: what a frame shows is at most what had arrived then
        self._print_settled()
        parts: list[Any] = []
        if self.thought:
            parts.append(Text(render.safe_text("".join(self.thought)), style="dim italic"))
        tail = "".join(self.lines) + self.partial
        if tail.strip():
            if self.settled_any and self.separate_next:
                parts.append(Text(""))
            parts.append(self._markdown(tail))
        return Group(*parts)

    def thinking(self, chunk: str, keep: Keep = None) -> None:
        with self.lock:
            self.keep = keep or self.keep
            if chunk:
                self.thought.append(chunk)

    def _kept(self) -> None:
        """What arrived is journaled before it is shown: once a frame, not once a chunk. Called after
        the text that arrived is taken in, never before: a piece arriving between the two would be
        drawn unkept (a chunk is in the reply's text before it reaches the printer, so the journal
        then holds at least all that was taken in)."""
        if self.keep is not None:
            self.keep()

    def _settle_thinking(self) -> None:
        if self.thought:
            from rich.text import Text

            thought = "".join(self.thought).rstrip()
            self.live.console.print(Text(render.safe_text(thought) + "\n", style="dim italic"))
            self.thought = []

    def _settle(self, separate: bool = True) -> None:
        from rich.text import Text

        block = "".join(self.lines)
        self.lines = []
        if block.strip():
            if self.settled_any and self.separate_next:
                self.settled.append(Text(""))
            self.separate_next = separate
            self.settled.append(self._markdown(block))
            self.settled_any = True

    def text(self, chunk: str, keep: Keep = None) -> None:
        self.keep = keep or self.keep
        if self.thought:
            # Live's refresh thread takes the text in and draws under this lock; holding it while
            # anything is printed keeps the two from interleaving their cursor moves (which left
            # stale lines on the screen). The reasoning goes above the reply, after what came first.
            with self.lock:
                self._take_in()
                self._kept()
                self._print_settled()
                self._settle_thinking()
        self.arrived.append(chunk)

    def _take_in(self) -> None:
        """Split the text that arrived into lines and settle the blocks it completes (printed by
        _print_settled, at most once a frame)."""
        if not self.arrived:
            return
        pieces = []
        while self.arrived:
            pieces.append(self.arrived.popleft())
        text = "".join(pieces)
        self.partial += text
        if "\n" not in text:
            return
        *complete, self.partial = self.partial.split("\n")
        for line in complete:
            stripped = line.strip()
            if stripped.startswith(("```", "~~~")):
                self.in_fence = not self.in_fence
                self.fence = line + "\n" if self.in_fence else ""
            if not stripped and not self.in_fence and self.lines:
                self._settle()
                continue
            self.lines.append(line + "\n")
            if len(self.lines) >= self.max_lines:
                self._settle_tall()

    def _settle_tall(self) -> None:
        """A block taller than the screen is settled in pieces: a code block is closed and opened
        again with the same fence, so each piece renders as code."""
        if self.in_fence:
            self.lines.append(self.fence.strip()[:3] + "\n")
            self._settle(separate=False)
            self.lines = [self.fence]
        else:
            self._settle(separate=False)

    def _print_settled(self) -> None:
        if self.settled:
            from rich.console import Group

            blocks, self.settled = self.settled, []
            self.live.console.print(Group(*blocks))

    def close(self) -> None:
        with self.lock:
            self._take_in()
            self._kept()
            self._print_settled()
            self._settle_thinking()
            if self.partial:
                self.lines.append(self.partial)
                self.partial = ""
        # the last block is drawn by the final refresh of the live region, not printed again
        try:
            self.live.stop()
        finally:
            self._restore_tty()


def printer(markdown: bool) -> RawPrinter | MarkdownPrinter:
    return MarkdownPrinter() if markdown else RawPrinter()
