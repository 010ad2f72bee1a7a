"""QR code on the ticket: drawn by the printer (native) or sent as a bitmap (image).

Native QR (``GS ( k``) sends only the URL and a few parameters, about 60 bytes plus the URL, and
is sharp at any size. Printers without a QR engine need the image mode, a 1-bit raster of
roughly 4–5 KB that takes about 5 s over a 9600-baud serial line.
"""

from __future__ import annotations

import qrcode
from escpos.constants import QR_ECLEVEL_M
from escpos.escpos import Escpos
from PIL import Image

from kiosk.printing.settings import QrMode

# Module size in printer dots (203 dpi): 5 dots = 0.63 mm, 6 dots = 0.75 mm — both read easily
# with a phone at arm's length while keeping the ticket short.
MODULE_DOTS_58MM = 5
MODULE_DOTS_80MM = 6
# Paper around the code already gives a wide white margin; two modules of quiet zone in the
# bitmap keep it scannable even when the text sits close above and below.
IMAGE_QUIET_ZONE_MODULES = 2


def module_dots(paper_width_mm: int) -> int:
    return MODULE_DOTS_58MM if paper_width_mm == 58 else MODULE_DOTS_80MM


def qr_image(content: str, module_size: int) -> Image.Image:
    """A 1-bit QR bitmap, error correction M (survives a crease or a smudge)."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=module_size,
        border=IMAGE_QUIET_ZONE_MODULES,
    )
    code.add_data(content)
    code.make(fit=True)
    image: Image.Image = code.make_image().get_image().convert("1")
    return image


def print_qr(printer: Escpos, content: str, mode: QrMode, paper_width_mm: int) -> None:
    """Print ``content`` as a QR code at the current alignment.

    The caller centres it with ``ESC a 1``, which ESC/POS applies to graphics and 2D codes
    alike; padding the bitmap to full width instead would add ~50 % more bytes.
    """
    size = module_dots(paper_width_mm)
    if mode == "native":
        # native=True only emits GS ( k blocks; the URL is ASCII so its UTF-8 is plain bytes.
        printer.qr(content, ec=QR_ECLEVEL_M, size=size, native=True)
    else:
        # image() is called directly: qr(native=False) would go through python-escpos's text
        # encoder for its blank lines and emit a code-page switch (ESC t) mid-job.
        printer.image(qr_image(content, size), center=False)
    # End the line holding the code so the next text starts below it on every firmware.
    printer._raw(b"\n")
