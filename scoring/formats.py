"""What an upload is, from its magic bytes alone (before any decoder sees it): the one list of the containers
and codecs an upload may reach FFmpeg with."""

from __future__ import annotations

from scoring.image_header import image_format

# The only demuxers an upload reaches, chosen from the magic bytes before FFmpeg sees the data: FFmpeg's own
# probing would also pick playlists and scripts (concat, hls, image2 patterns) that open other files or URLs.
VIDEO_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftyp", "mov"),  # MP4 / MOV / 3GP
    (4, b"moov", "mov"),
    (4, b"mdat", "mov"),
    (4, b"wide", "mov"),
    (0, b"\x1a\x45\xdf\xa3", "matroska"),  # Matroska / WebM
    (0, b"FLV\x01", "flv"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "asf"),  # ASF / WMV
)
DEMUXERS = frozenset({"mov", "matroska", "avi", "flv", "asf", "mpegts", "h264", "hevc"})
# Decoders a camera, phone or browser recording uses; anything else (FFmpeg has hundreds) is refused unopened.
VIDEO_CODECS = frozenset(
    {
        "h264",
        "hevc",
        "vp8",
        "vp9",
        "av1",
        "mpeg4",
        "h261",
        "h263",
        "flv1",
        "mjpeg",
        "mpeg1video",
        "mpeg2video",
        "msmpeg4v2",
        "msmpeg4v3",
        "wmv1",
        "wmv2",
        "wmv3",
        "vc1",
        "theora",
        "rawvideo",
    }
)
# Nested opens (a demuxer asking for another file or URL) go through this list, which names no protocol.
NO_PROTOCOLS = {"protocol_whitelist": "none"}
_HEVC_NAL_TYPES = {19, 20, 21, 32, 33, 34, 35, 39}  # IDR, CRA, VPS, SPS, PPS, AUD, SEI: what a stream starts with


def video_format(data: bytes) -> str | None:
    """The FFmpeg demuxer for this upload from its magic bytes, or None when it is not a whitelisted format."""
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "avi"
    for offset, magic, name in VIDEO_MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return name
    if data[:1] == b"\x47" and data[188:189] == b"\x47":  # MPEG-TS: a sync byte every 188 bytes
        return "mpegts"
    return _annex_b(data)


def _annex_b(data: bytes) -> str | None:
    """H.264 or HEVC elementary stream: a start code, then a NAL header (HEVC's is two bytes, layer 0, tid 1)."""
    if data[:4] == b"\x00\x00\x00\x01":
        at = 4
    elif data[:3] == b"\x00\x00\x01":
        at = 3
    else:
        return None
    if len(data) < at + 2 or data[at] & 0x80:
        return None
    if data[at + 1] == 0x01 and (data[at] >> 1) & 0x3F in _HEVC_NAL_TYPES:
        return "hevc"
    return "h264" if data[at] & 0x1F in (1, 5, 6, 7, 9) else None


def sniff(data: bytes) -> str | None:
    """'video', 'image' or None, from magic bytes only."""
    if image_format(data) is not None:
        return "image"
    return "video" if video_format(data) is not None else None
