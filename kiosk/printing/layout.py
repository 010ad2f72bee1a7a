"""Line layout shared by tickets and checklists: wrap, mask, write, finish."""

from __future__ import annotations

from collections.abc import Iterable

from escpos.escpos import Escpos

from kiosk.printing.escpos_text import ChineseTextWriter, wrap_text
from kiosk.printing.privacy import mask_personal_identifiers

# Lines fed before the partial cut so the last text clears the cutter blade.
FEED_LINES_BEFORE_CUT = 6
FEED_LINES_WITHOUT_CUTTER = 4

# How tickets and checklists print a time (the hall's local time, as given).
TIME_FORMAT = "%Y-%m-%d %H:%M"


class PaperLayout:
    """Writes text lines at a known width; every line passes the privacy mask first."""

    def __init__(self, printer: Escpos, chars_per_line: int) -> None:
        self.writer = ChineseTextWriter(printer)
        self.printer = printer
        self.columns = chars_per_line

    @classmethod
    def begin(cls, printer: Escpos, chars_per_line: int) -> PaperLayout:
        """A layout for a new print job (the writer resets the printer first)."""
        layout = cls(printer, chars_per_line)
        layout.writer.begin_job()
        return layout

    def raw(self, command: bytes) -> None:
        self.writer.raw(command)

    def text(self, text: str, *, columns: int | None = None, indent: str = "") -> None:
        masked = mask_personal_identifiers(text)
        self.writer.lines(wrap_text(masked, columns or self.columns, continuation_indent=indent))

    def rule(self) -> None:
        self.writer.rule(self.columns)

    def end(self, footer: Iterable[str], *, cut: bool) -> None:
        """The footer lines, then `finish`: how every job ends."""
        for line in footer:
            self.text(line)
        self.finish(cut=cut)

    def finish(self, *, cut: bool) -> None:
        """Feed past the cutter and cut partially, so the paper hangs until it is taken."""
        if cut:
            # cut() feeds FEED_LINES_BEFORE_CUT lines (ESC d 6) itself, then sends GS V 1.
            self.printer.cut(mode="PART")
        else:
            self.printer.print_and_feed(FEED_LINES_WITHOUT_CUTTER)
