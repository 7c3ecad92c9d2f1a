"""Hostile review 29: `Chunk.keep` on a terminal (cli/render_stream.py MarkdownPrinter). The promise:
a piece shown is in the journal before it is shown. Rich's refresh thread draws a frame as keep,
then take in what arrived, then print; the chat's thread adds a piece to the reply (the provider's
`state.add`, what keep journals) and then puts it in `arrived`, without the lock. A piece that
arrives between the frame's keep and its take-in is shown by that frame without having been kept."""

from __future__ import annotations

import io

from agentik_cli import environment


class _Watched(io.StringIO):
    """A terminal that checks, at every write, that every piece fed so far was kept first."""

    def __init__(self) -> None:
        super().__init__()
        self.fed: list[str] = []  # the reply as the provider has it (state.text)
        self.kept = 0  # how many of its pieces the journal had at the last keep
        self.unkept: list[str] = []

    def write(self, text: str) -> int:
        shown_unkept = [piece for piece in self.fed[self.kept :] if piece.strip() and piece.strip() in text]
        self.unkept.extend(shown_unkept)
        return super().write(text)


def test_a_piece_arriving_between_a_frames_keep_and_its_take_in_is_shown_unkept(monkeypatch):
    """The chat's thread runs just before the refresh thread's `_take_in()` (no lock held by
    `text()` when no reasoning is shown): played here in one thread, at that moment, so that the
    test does not depend on timing. Today the frame's keep has already run by then: the piece "LATE"
    is drawn by a frame whose keep journaled the reply without it, and a kill -9 before the next
    frame (or the journal's quarter-second flush) loses a piece the person saw. Before 32c2bed the
    chat journaled every chunk before handing it over. (Taking in before keeping would hold.)"""
    from agentik_cli.cli.render_stream import MarkdownPrinter

    monkeypatch.setattr(MarkdownPrinter, "refresh_per_second", 0.001)  # the test draws the frames
    sink = _Watched()
    late_sent = False

    def keep() -> None:
        sink.kept = len(sink.fed)

    with environment.use(environment.Environment(stdout=sink, stdout_isatty=True, stdin_isatty=False)):
        printer = MarkdownPrinter()
        take_in = printer._take_in

        def chat_thread_meanwhile() -> None:
            nonlocal late_sent
            if not late_sent and sink.fed:
                late_sent = True  # the chat's thread: state.add, then on_chunk
                sink.fed.append("LATE ")
                printer.text("LATE ", keep)
            take_in()

        printer._take_in = chat_thread_meanwhile  # type: ignore[method-assign]
        for piece in ("early ", "words "):
            sink.fed.append(piece)
            printer.text(piece, keep)
        printer.live.refresh()  # a frame
        shown_in_frame = "LATE" in sink.getvalue()
        unkept_in_frame = list(sink.unkept)
        printer.close()
    assert shown_in_frame, "the interleaving was not played"
    assert unkept_in_frame == [], f"shown before it was kept: {unkept_in_frame}"
