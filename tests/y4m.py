"""A camera for the snapshot tests: a 1920x1080 .y4m whose frame holds a "card" with a
small QR code (3 px modules, about 120 px wide) off-centre, for Chromium's
--use-file-for-fake-video-capture; and a QR reader (zbarimg) for grey pixels.

Only full resolution resolves the code: a stream scaled to a 480 px tile has modules
of 0.75 px, which no decoder reads.
"""
import os
import subprocess
import tempfile

import qrcode

WIDTH, HEIGHT = 1920, 1080
FPS = 10
FRAMES = 6          # a short loop: Chromium replays the file, and a marker moves
MODULE_PX = 3
QR_TEXT = 'RHYSTIC-CARD-7Q'
# Where the code's top-left corner sits (its quiet zone included), and the card around it.
QR_LEFT, QR_TOP = 1380, 320
CARD = (1330, 260, 230, 320)  # left, top, width, height


def qr_matrix(text=QR_TEXT):
    """The code's modules (True = dark), with a 4-module quiet zone: 41 x 41 for v4."""
    code = qrcode.QRCode(version=4, border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=False)
    return code.get_matrix()


def qr_box():
    """The QR code's box in source pixels, quiet zone included: (left, top, size)."""
    return QR_LEFT, QR_TOP, len(qr_matrix()) * MODULE_PX


def _fill(plane, left, top, width, height, value):
    row = bytes([value]) * width
    for y in range(top, top + height):
        start = y * WIDTH + left
        plane[start:start + width] = row


def luma_frame(tick):
    """One frame's Y plane: a grey table, a white card with the code, a moving marker."""
    plane = bytearray([96]) * (WIDTH * HEIGHT)
    _fill(plane, 200, 700, 600, 200, 150)            # something else on the table
    left, top, width, height = CARD
    _fill(plane, left - 4, top - 4, width + 8, height + 8, 20)  # the card's dark edge
    _fill(plane, left, top, width, height, 235)
    for y, cells in enumerate(qr_matrix()):
        for x, dark in enumerate(cells):
            if dark:
                _fill(plane, QR_LEFT + x * MODULE_PX, QR_TOP + y * MODULE_PX,
                      MODULE_PX, MODULE_PX, 16)
    # Moves every frame, so that the receiving tile's pixels change (a live link).
    _fill(plane, 100 + tick * 40, 120, 60, 60, 250)
    return plane


def write_y4m(path, frames=FRAMES):
    """Write the clip (grey: chroma at 128) and return its path."""
    chroma = bytes([128]) * ((WIDTH // 2) * (HEIGHT // 2))
    with open(path, 'wb') as f:
        f.write(f'YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n'.encode())
        for tick in range(frames):
            f.write(b'FRAME\n')
            f.write(luma_frame(tick))
            f.write(chroma)
            f.write(chroma)
    return path


def read_qr(grey, width, height):
    """The texts zbarimg finds in 8-bit grey pixels (row-major): [] when none."""
    with tempfile.NamedTemporaryFile(suffix='.pgm', delete=False) as f:
        f.write(f'P5\n{width} {height}\n255\n'.encode())
        f.write(bytes(grey))
        path = f.name
    try:
        run = subprocess.run(['zbarimg', '--quiet', '--raw', '-Sdisable', '-Sqrcode.enable',
                              path], capture_output=True, text=True, timeout=30)
    finally:
        os.unlink(path)
    # zbarimg exits 4 when it finds nothing; anything else but 0 is a real failure.
    if run.returncode not in (0, 4):
        raise RuntimeError(f'zbarimg failed ({run.returncode}): {run.stderr.strip()}')
    return [line for line in run.stdout.splitlines() if line]
