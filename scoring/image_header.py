"""Image dimensions from the header alone, for the four accepted formats (JPEG, PNG, WebP, BMP).

A decoder allocates the whole pixel buffer from what the header claims before it reads any pixel data, so a
1 KB file can claim 16000x16000 and cost gigabytes. The size is therefore read here, by a parser that follows
every legal header form the decoder itself accepts (JPEG fill bytes before a marker, stand-alone markers, any
SOFn; BMP core and info headers, top-down heights; WebP lossy, lossless and extended), and an image whose size
cannot be read is refused rather than decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ImageFormat(StrEnum):
    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    BMP = "bmp"


@dataclass(frozen=True)
class ImageHeader:
    format: ImageFormat
    width: int
    height: int
    # A JPEG that libjpeg decodes in one pass (sequential, first scan holding every component). Otherwise it
    # keeps the whole picture's DCT coefficients (2 bytes per sample at FULL size) even when asked for a 1/8
    # scale decode, so a reduced decode bounds nothing: a progressive 16000x16000 header costs ~750 MB.
    single_pass: bool = True


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Markers without a length field: TEM, RST0-7, SOI (EOI ends the search).
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8), 0xD8}
# Start-of-frame markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}
_JPEG_SOS, _JPEG_EOI = 0xDA, 0xD9


def image_format(data: bytes) -> ImageFormat | None:
    """The format by its signature (the one the decoder will pick), or None for anything else."""
    if data[:3] == b"\xff\xd8\xff":
        return ImageFormat.JPEG
    if data[:8] == PNG_SIGNATURE:
        return ImageFormat.PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ImageFormat.WEBP
    if data[:2] == b"BM":
        return ImageFormat.BMP
    return None


def read_header(data: bytes) -> ImageHeader | None:
    """Format and size, or None when the data is none of the four formats or its size cannot be read."""
    kind = image_format(data)
    if kind is None:
        return None
    if kind == ImageFormat.JPEG:
        frame = _jpeg(data)
        return None if frame is None else ImageHeader(kind, frame[0], frame[1], frame[2])
    size = {ImageFormat.PNG: _png, ImageFormat.WEBP: _webp, ImageFormat.BMP: _bmp}[kind](data)
    if size is None:
        return None
    return ImageHeader(kind, *size)


def _u16be(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "big")


def _jpeg(data: bytes) -> tuple[int, int, bool] | None:
    """(width, height, single_pass). Walks the markers as libjpeg does: after each segment, bytes up to the next
    0xFF are skipped (libjpeg warns and goes on), any number of 0xFF fill bytes may precede a marker, and 0xFF00
    is not a marker. The first SOFn gives the size; the first SOS says whether the decode is single-pass."""
    i = 2
    n = len(data)
    frame: tuple[int, int, int, bool] | None = None  # width, height, components, progressive
    while i < n:
        while i < n and data[i] != 0xFF:  # garbage between segments
            i += 1
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            return None
        marker = data[i]
        i += 1
        if marker == 0x00 or marker in _JPEG_STANDALONE:
            continue
        if marker == _JPEG_EOI:
            break
        if marker == _JPEG_SOS and frame is None:
            return None  # no frame header before the scan: the decoder fails too
        if i + 2 > n:
            break
        length = _u16be(data, i)
        if length < 2:
            break
        if marker == _JPEG_SOS:
            assert frame is not None
            scan_components = data[i + 2] if i + 2 < n else 0
            return frame[0], frame[1], not frame[3] and scan_components == frame[2]
        if marker in _JPEG_SOF and frame is None:
            if length < 8 or i + 7 >= n:
                return None
            height, width = _u16be(data, i + 3), _u16be(data, i + 5)
            if width == 0 or height == 0:  # height 0 means "given later by a DNL marker": not allowed here
                return None
            frame = (width, height, data[i + 7], marker in _JPEG_PROGRESSIVE)
        i += length
    return None if frame is None else (frame[0], frame[1], False)  # no scan seen: assume the costly kind


def _png(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return (width, height) if width > 0 and height > 0 else None


def _webp(data: bytes) -> tuple[int, int] | None:
    """VP8 (lossy), VP8L (lossless) or VP8X (extended: the canvas, and the first image in it if larger)."""
    if len(data) < 30:
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        inner = _webp_chunks_after_vp8x(data)
        if inner is not None:
            width, height = max(width, inner[0]), max(height, inner[1])
        return width, height
    return _webp_image(data, 12)


def _webp_image(data: bytes, at: int) -> tuple[int, int] | None:
    chunk, body = data[at : at + 4], at + 8
    if chunk == b"VP8 ":
        # 3-byte frame tag, start code 9d 01 2a, then 14-bit width and height (2 bits of scale each).
        if len(data) < body + 10 or data[body + 3 : body + 6] != b"\x9d\x01\x2a":
            return None
        width = int.from_bytes(data[body + 6 : body + 8], "little") & 0x3FFF
        height = int.from_bytes(data[body + 8 : body + 10], "little") & 0x3FFF
        return (width, height) if width and height else None
    if chunk == b"VP8L":
        if len(data) < body + 5 or data[body] != 0x2F:
            return None
        bits = int.from_bytes(data[body + 1 : body + 5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _webp_chunks_after_vp8x(data: bytes) -> tuple[int, int] | None:
    """The largest VP8/VP8L image among the chunks following VP8X (animation frames included)."""
    at = 12 + 8 + 10
    best: tuple[int, int] | None = None
    while at + 8 <= len(data):
        chunk = data[at : at + 4]
        size = int.from_bytes(data[at + 4 : at + 8], "little")
        if chunk in (b"VP8 ", b"VP8L"):
            found = _webp_image(data, at)
        elif chunk == b"ANMF" and size >= 24:
            found = _webp_image(data, at + 8 + 16)  # frame header: x, y, w-1, h-1, duration, flags
        else:
            found = None
        if found is not None:
            best = found if best is None else (max(best[0], found[0]), max(best[1], found[1]))
        at += 8 + size + (size & 1)
    return best


def _bmp(data: bytes) -> tuple[int, int] | None:
    """BITMAPCOREHEADER (12 bytes: 16-bit sizes) or any longer info header (32-bit signed sizes; a negative
    height is a top-down bitmap), as OpenCV's BMP decoder reads them."""
    if len(data) < 26:
        return None
    header = int.from_bytes(data[14:18], "little")
    if header == 12:
        width, height = int.from_bytes(data[18:20], "little"), int.from_bytes(data[20:22], "little")
    elif header >= 36:
        width = int.from_bytes(data[18:22], "little", signed=True)
        height = abs(int.from_bytes(data[22:26], "little", signed=True))
    else:
        return None
    return (width, height) if width > 0 and height > 0 else None
