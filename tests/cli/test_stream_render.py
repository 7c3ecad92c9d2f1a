"""A long streamed reply on a terminal costs work in proportion to its length (issue 22, item 7):
each completed block is rendered once, and the live tail once a frame, however many chunks the
reply comes in. Counted in-process, frames drawn by the test itself: no timing."""

from __future__ import annotations

import io
import re

from agentik_cli import environment
from tests.fakeprovider import words
from tests.terminal.test_chat import screen_lines


def test_a_long_reply_renders_each_block_once_and_the_tail_once_a_frame(monkeypatch):
    from rich.markdown import Markdown

    from agentik_cli.cli.render_stream import MarkdownPrinter

    rendered: list[str] = []
    original = Markdown.__rich_console__

    def counted(self, console, options):
        rendered.append(self.markup)
        yield from original(self, console, options)

    monkeypatch.setattr(Markdown, "__rich_console__", counted)
    # no frame from rich's refresh thread during the test: the test draws them, every 200 chunks
    monkeypatch.setattr(MarkdownPrinter, "refresh_per_second", 0.001)
    reply = words(3000)
    chunks = re.findall(r"\S+\s*", reply)  # by word, as a provider streams it
    blocks = reply.count("\n\n") + 1
    sink = io.StringIO()
    with environment.use(environment.Environment(stdout=sink, stdout_isatty=True, stdin_isatty=False)):
        printer = MarkdownPrinter()
        frames = 0
        for n, chunk in enumerate(chunks, 1):
            printer.text(chunk)
            if n % 200 == 0:
                printer.live.refresh()
                frames += 1
        printer.close()

    assert blocks > 3 * frames  # many blocks complete between two frames
    # every block once, the tail at most twice a frame (drawn, and drawn again under printed
    # blocks), and once more at the start and the end; re-rendering the text grown so far, or
    # the tail at every block or chunk, breaks both bounds
    assert len(rendered) <= blocks + 2 * frames + 2, (len(rendered), blocks, frames)
    assert sum(len(markup) for markup in rendered) <= 2 * len(reply)
    settled = [markup for markup in rendered if markup.strip() == "print('block 7')".join(["```python\n", "\n```"])]
    assert len(settled) == 1
    # and the person sees what they saw before: each block once, in order
    screen = screen_lines(sink.getvalue(), columns=printer.console.width, rows=printer.console.height)
    code = [line.strip() for line in screen if line.strip().startswith("print(")]
    assert code == [f"print('block {n}')" for n in range(7, 7 * (len(code) + 1), 7)] and len(code) > 5


class _Watched(io.StringIO):
    """A terminal that checks, at every write, that everything fed so far was kept first."""

    def __init__(self) -> None:
        super().__init__()
        self.fed = self.kept = self.unkept_writes = 0

    def keep(self) -> None:
        self.kept = self.fed

    def write(self, text: str) -> int:
        if text and self.kept < self.fed:
            self.unkept_writes += 1
        return super().write(text)


def test_a_long_reply_is_journaled_once_a_frame_and_always_before_it_is_shown(monkeypatch):
    """The journal's write (Chunk.keep) happens before each frame shows what arrived, not at every
    chunk: a piece shown is a piece kept, at a frame's cost rather than a chunk's."""
    from agentik_cli.cli.render_stream import MarkdownPrinter, RawPrinter

    monkeypatch.setattr(MarkdownPrinter, "refresh_per_second", 0.001)
    chunks = re.findall(r"\S+\s*", words(3000))
    sink = _Watched()
    keeps = 0

    def keep() -> None:
        nonlocal keeps
        keeps += 1
        sink.keep()

    with environment.use(environment.Environment(stdout=sink, stdout_isatty=True, stdin_isatty=False)):
        printer = MarkdownPrinter()
        frames = 0
        for n, chunk in enumerate(chunks, 1):
            sink.fed += 1
            printer.text(chunk, keep)
            if n % 200 == 0:
                printer.live.refresh()
                frames += 1
        printer.close()
    assert sink.unkept_writes == 0
    assert "block 7" in sink.getvalue()
    assert keeps <= frames + 3, (keeps, frames)

    # piped, each chunk is shown as it comes: each is kept first
    sink, keeps = _Watched(), 0
    with environment.use(environment.Environment(stdout=sink, stdout_isatty=False, stdin_isatty=False)):
        raw = RawPrinter()
        for chunk in chunks[:50]:
            sink.fed += 1
            raw.text(chunk, keep)
        raw.close()
    assert sink.unkept_writes == 0 and keeps == 50
