"""SDP offer validation, before any slot, landmarker or peer connection is taken for it.

A live check needs exactly one video track the client sends and one SCTP data channel (`livecheck`, negotiated
in-band). aiortc accepts far less (`"v=0"` parses to an offer with no media, which it happily answers), so the
offer is checked here first: junk gets 400 `invalid_offer` and costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from realtime.errors import SessionCode, SessionError

MAX_OFFER_BYTES = 64 * 1024
MAX_OFFER_LINES = 2000
MAX_MEDIA_SECTIONS = 4
VIDEO_CODECS = ("VP8", "H264")  # what aiortc decodes
SENDING = ("sendrecv", "sendonly")


@dataclass(frozen=True)
class MediaSection:
    kind: str
    port: int
    proto: str
    formats: tuple[str, ...]
    attributes: tuple[str, ...]

    def values(self, name: str) -> list[str]:
        prefix = f"a={name}:"
        return [line[len(prefix) :] for line in self.attributes if line.startswith(prefix)]

    def has(self, name: str) -> bool:
        return any(line == f"a={name}" or line.startswith(f"a={name}:") for line in self.attributes)


def invalid(message: str, status: int = 400) -> SessionError:
    return SessionError(SessionCode.INVALID_OFFER, message, status)


def parse_media(sdp: str) -> tuple[list[str], list[MediaSection]]:
    """Session-level lines and media sections; raises invalid_offer when it is not SDP at all."""
    lines = [line.rstrip("\r") for line in sdp.split("\n") if line.strip()]
    if len(lines) > MAX_OFFER_LINES:
        raise invalid("The SDP offer has too many lines.", 413)
    if not lines or lines[0] != "v=0":
        raise invalid("Not an SDP offer (it must start with v=0).")
    session: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    for line in lines:
        if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
            raise invalid("Not an SDP offer (every line is <type>=<value>).")
        if line.startswith("m="):
            sections.append((line, []))
        elif sections:
            sections[-1][1].append(line)
        else:
            session.append(line)
    if not any(line.startswith("o=") for line in session) or not any(line.startswith("s=") for line in session):
        raise invalid("The SDP offer lacks its o= or s= line.")
    if len(sections) > MAX_MEDIA_SECTIONS:
        raise invalid(f"The SDP offer has more than {MAX_MEDIA_SECTIONS} media sections.")
    media = []
    for mline, attributes in sections:
        parts = mline[2:].split()
        if len(parts) < 4 or not parts[1].isdigit():
            raise invalid(f"Malformed media line: {mline[:80]!r}.")
        media.append(MediaSection(parts[0], int(parts[1]), parts[2], tuple(parts[3:]), tuple(session + attributes)))
    return session, media


def validate_offer(sdp: str, kind: str = "offer") -> None:
    """Raises invalid_offer unless `sdp` is an offer with exactly one sent video track (VP8 or H264), one SCTP
    data-channel section, and ICE credentials and a DTLS fingerprint for them."""
    if kind != "offer" or not isinstance(sdp, str) or not sdp.strip():
        raise invalid('Expected {"sdp": ..., "type": "offer"}.')
    if len(sdp.encode("utf-8", "replace")) > MAX_OFFER_BYTES:
        raise invalid("The SDP offer is too large.", 413)
    _, media = parse_media(sdp)
    video = [m for m in media if m.kind == "video" and m.port != 0]
    data = [m for m in media if m.kind == "application" and m.port != 0]
    if len(video) != 1:
        raise invalid(f"The offer must carry exactly one video track (it has {len(video)}).")
    if len(data) != 1 or "SCTP" not in data[0].proto:
        raise invalid("The offer must carry the 'livecheck' data channel (one SCTP application section).")
    if any(m.kind not in ("video", "application", "audio") for m in media):
        raise invalid("The offer has an unknown media section.")
    track = video[0]
    direction = next((d for d in ("sendrecv", "sendonly", "recvonly", "inactive") if track.has(d)), "sendrecv")
    if direction not in SENDING:
        raise invalid("The video track must be sent to the server (sendonly or sendrecv).")
    codecs = {value.split()[1].split("/")[0].upper() for value in track.values("rtpmap") if len(value.split()) > 1}
    if not codecs & set(VIDEO_CODECS):
        raise invalid(f"The video track offers none of {', '.join(VIDEO_CODECS)}.")
    for section in (track, data[0]):
        if not section.values("ice-ufrag") or not section.values("ice-pwd"):
            raise invalid("The offer lacks ICE credentials (a=ice-ufrag / a=ice-pwd).")
        if not section.values("fingerprint"):
            raise invalid("The offer lacks a DTLS fingerprint.")
