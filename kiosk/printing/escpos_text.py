"""Chinese text for ESC/POS printers, encoded by hallkit rather than by python-escpos.

python-escpos 3.1 picks an encoding per string: it sends GB18030 only when a string contains a
CJK ideograph (U+4E00–U+9FA5), turns a line of full-width punctuation such as "：，。" into
"???", and never sends ``FS &``, so a printer that powers up in single-byte mode prints the
GB18030 bytes as pairs of Western characters. This module therefore

* puts the printer in Chinese (double-byte) mode with ``FS &`` once at the start of a job,
* encodes *every* line as GB18030 (ASCII is a subset, so Latin text is unchanged),
* measures and wraps lines by the cells the printer will use: a single-byte character takes
  one cell, every multi-byte character one double-width cell,
* strips control characters from text, so data can never smuggle printer commands in.

Layout commands (alignment, size, bold) are plain ASCII control sequences and safe to send in
Chinese mode: a GB18030 lead byte is always >= 0x81, so the printer never mistakes a command
byte for half a character. That is why no ``FS .`` is needed before them.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterator

from escpos.escpos import Escpos

logger = logging.getLogger(__name__)

ESC = b"\x1b"
FS = b"\x1c"
GS = b"\x1d"
LF = b"\n"

INITIALIZE = ESC + b"@"
CHINESE_MODE_ON = FS + b"&"
CHINESE_MODE_OFF = FS + b"."
ALIGN_LEFT = ESC + b"a\x00"
ALIGN_CENTER = ESC + b"a\x01"
BOLD_ON = ESC + b"E\x01"
BOLD_OFF = ESC + b"E\x00"

TEXT_ENCODING = "gb18030"
REPLACEMENT = "?"


def character_size(width: int, height: int) -> bytes:
    """``GS !`` with the given magnification (1–8 each).

    ``GS !`` is used rather than ``ESC !`` because ``ESC !`` only enlarges single-byte
    characters; Chinese characters would stay small next to enlarged digits.
    """
    if not (1 <= width <= 8 and 1 <= height <= 8):
        raise ValueError(f"character magnification must be 1..8, got {width}x{height}")
    return GS + b"!" + bytes([((width - 1) << 4) | (height - 1)])


NORMAL_SIZE = character_size(1, 1)


def clean_text(text: str) -> str:
    """Drop control characters (ESC, GS, tabs, line breaks…) that would act as printer commands."""
    cleaned = "".join(ch for ch in text if unicodedata.category(ch) != "Cc")
    if len(cleaned) != len(text):
        logger.warning(
            "removed %d control character(s) from printed text", len(text) - len(cleaned)
        )
    return cleaned


def encode_text(text: str) -> bytes:
    """GB18030 bytes for ``text``; a character GB18030 cannot encode becomes "?".

    GB18030 covers every Unicode scalar value, so only lone surrogates (broken UTF-16 input)
    ever reach the fallback; it is logged because it means upstream data is damaged.
    """
    try:
        return text.encode(TEXT_ENCODING)
    except UnicodeEncodeError:
        pass
    encoded = bytearray()
    for ch in text:
        try:
            encoded += ch.encode(TEXT_ENCODING)
        except UnicodeEncodeError:
            logger.warning("U+%04X cannot be encoded as GB18030; printing %r", ord(ch), REPLACEMENT)
            encoded += REPLACEMENT.encode("ascii")
    return bytes(encoded)


def cell_width(ch: str) -> int:
    """Cells the printer uses for ``ch`` in Chinese mode: 1 for single-byte codes, else 2."""
    return 1 if len(encode_text(ch)) == 1 else 2


def text_width(text: str) -> int:
    return sum(cell_width(ch) for ch in text)


def wrap_text(text: str, columns: int, continuation_indent: str = "") -> list[str]:
    """Break ``text`` into lines of at most ``columns`` cells.

    Breaks fall between characters (Chinese has no spaces to break at); a Latin word is kept
    whole when it fits on a line of its own. Continuation lines start with
    ``continuation_indent`` so numbered list items keep a hanging indent.
    """
    if columns < 2:
        raise ValueError("a line must hold at least one double-width character")
    indent_width = text_width(continuation_indent)
    if indent_width > columns - 2:
        raise ValueError("continuation indent leaves no room for text")
    lines: list[str] = []
    current = ""
    current_width = 0
    for token in _tokens(text):
        token_width = text_width(token)
        if current_width + token_width > columns and current.strip():
            lines.append(current.rstrip())
            current, current_width = continuation_indent, indent_width
            if token.isspace():
                continue
        if token_width > columns - current_width:
            # A single Latin word longer than the line: split it by characters.
            for ch in token:
                w = cell_width(ch)
                if current_width + w > columns:
                    lines.append(current.rstrip())
                    current, current_width = continuation_indent, indent_width
                current += ch
                current_width += w
            continue
        current += token
        current_width += token_width
    if current.strip() or not lines:
        lines.append(current.rstrip())
    return lines


def _tokens(text: str) -> Iterator[str]:
    """Latin words and runs of spaces stay together; every other character stands alone."""
    word = ""
    for ch in text:
        if ch.isascii() and (ch.isalnum() or ch in "-_./:@#%+()[]"):
            word += ch
            continue
        if word:
            yield word
            word = ""
        yield ch
    if word:
        yield word


class ChineseTextWriter:
    """Writes whole lines of GB18030 text to an escpos printer in Chinese mode."""

    def __init__(self, printer: Escpos) -> None:
        self._printer = printer

    def raw(self, command: bytes) -> None:
        self._printer._raw(command)

    def begin_job(self) -> None:
        """Reset the printer's modes, then enter Chinese mode once for the whole job.

        ``ESC @`` first so a size or alignment left over from an interrupted job cannot leak
        into this one; it does not reliably leave Chinese mode on, so ``FS &`` follows.
        """
        self.raw(INITIALIZE + CHINESE_MODE_ON)

    def line(self, text: str = "") -> None:
        self.raw(encode_text(clean_text(text)) + LF)

    def lines(self, texts: list[str]) -> None:
        for text in texts:
            self.line(text)

    def rule(self, columns: int, char: str = "-") -> None:
        self.line(char * (columns // cell_width(char)))
