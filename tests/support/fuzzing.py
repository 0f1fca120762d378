"""Crafted attack inputs and a seeded mutation fuzzer for the HTTP APIs (tests/security/test_fuzz.py runs a bounded sample
against a real server in CI; bench/fuzz.py runs it longer and prints the counts).

The attack builders make the inputs of security issue 10 from nothing (a few hundred bytes each): images whose
header claims 16000x16000, an FFmpeg playlist naming a local file, a WebM whose codec id nobody knows, an H.264
stream that grows from 64x64 to 8K mid-stream, JSON nested 100,000 deep. The fuzzer mutates real seeds (a short
clip, stills in the four image formats, JSON bodies, an SDP offer) by truncation, bit flips, header splices,
absurd sizes and durations, and sends them to every route with the right and the wrong framing.
"""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import av
import cv2
import numpy as np

from tests.support.mediagen import encode_video, encode_webm
from tests.support.serverproc import Reply, Server

# -- crafted attacks --------------------------------------------------------------------------------------------


def rle_bmp_bomb(width: int = 16000, height: int = 16000) -> bytes:
    """An 8-bit RLE BMP (1,080 bytes) whose info header claims width x height: the decoder allocates it all."""
    palette = b"\x00\x00\x00\x00" * 256
    pixels = b"\x00\x01"  # RLE8 end of bitmap
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(pixels), 2835, 2835, 256, 0)
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels


def jpeg_fill_byte_bomb(width: int = 16000, height: int = 16000) -> bytes:
    """A real 8x8 JPEG whose SOF0 claims width x height and is preceded by a 0xFF fill byte (legal; a parser
    that expects the marker right after the first 0xFF misses the frame header)."""
    ok, buf = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))
    assert ok
    data = bytearray(buf.tobytes())
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 7] = height.to_bytes(2, "big")
    data[at + 7 : at + 9] = width.to_bytes(2, "big")
    return bytes(data[:at] + b"\xff" + data[at:])


def jpeg_progressive_bomb(width: int = 16000, height: int = 16000) -> bytes:
    """A real 8x8 progressive JPEG whose SOF2 claims width x height: libjpeg keeps every DCT coefficient of a
    progressive picture at full size, even for a 1/8 scale decode."""
    ok, buf = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok
    data = bytearray(buf.tobytes())
    at = data.index(b"\xff\xc2")
    data[at + 5 : at + 7] = height.to_bytes(2, "big")
    data[at + 7 : at + 9] = width.to_bytes(2, "big")
    return bytes(data)


def webp_header_bomb(width: int = 16383, height: int = 16383) -> bytes:
    """A lossless WebP (VP8L) whose bitstream header claims width x height."""
    ok, buf = cv2.imencode(".webp", np.full((64, 64, 3), 128, np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 101])
    assert ok
    data = bytearray(buf.tobytes())
    assert data[12:16] == b"VP8L"
    bits = int.from_bytes(data[21:25], "little") & ~((1 << 28) - 1)
    data[21:25] = (bits | (width - 1) | ((height - 1) << 14)).to_bytes(4, "little")
    return bytes(data)


def ffconcat_playlist(*names: str) -> bytes:
    """An FFmpeg concat script naming files relative to the server's working directory."""
    return ("ffconcat version 1.0\n" + "".join(f"file {name}\n" for name in names)).encode()


def hls_playlist(name: str) -> bytes:
    return f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{name}\n#EXT-X-ENDLIST\n".encode()


def unknown_codec_webm() -> bytes:
    """A valid VP8 WebM whose CodecID element says V_XYZ (same length, so every size field stays right)."""
    frames = [np.full((64, 64, 3), 40 + 4 * i, np.uint8) for i in range(30)]
    data = encode_webm(frames, [40.0] * 29, nominal_rate=1000)
    at = data.index(b"\x86\x85V_VP8")
    return data[: at + 2] + b"V_XYZ" + data[at + 7 :]


def _h264_annexb(frames: Sequence[np.ndarray], fps: int = 25) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="h264") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


def resolution_switch_h264(small_frames: int = 100, big: tuple[int, int] = (7680, 4320), big_frames: int = 2) -> bytes:
    """An H.264 elementary stream: 64x64 for `small_frames`, then a new SPS at big (width, height)."""
    small = [np.full((64, 64, 3), 100, np.uint8)] * small_frames
    large = [np.full((big[1], big[0], 3), 100, np.uint8)] * big_frames
    return _h264_annexb(small) + _h264_annexb(large)


def nested_json(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth


def structure_bomb(values: int = 400_000) -> bytes:
    """A JSON array of `values` small numbers (~0.8 MB): what makes a parser build hundreds of thousands of objects
    (issue 19: such a body was parsed on the event loop before the key was checked)."""
    return b'{"sdp": "v=0", "junk": [' + b"1," * (values - 1) + b'1], "hash_id": "x"}'


def long_string_json(chars: int = 2 * 1024 * 1024) -> bytes:
    """A JSON object with one very long string: cheap to parse, large to receive."""
    return b'{"selfie_image": "' + b"A" * chars + b'", "hash_id": "x"}'


KEYLESS_JUNK_PATHS = (
    "/v1/sessions/nosuch/offer",
    "/liveness",
    "/v1/sessions",
    "/v2/proj/live-detect",
    "/v1/sessions/nosuch/recording",
)


def keyless_junk(rng: random.Random) -> tuple[str, bytes, dict[str, str]]:
    """One request an attacker without any key sends to stall the server (path, body, headers)."""
    body = rng.choice([structure_bomb(), long_string_json(), nested_json(), b"[" * 60_000, bad_json(rng)])
    return rng.choice(KEYLESS_JUNK_PATHS), body, {"Content-Type": "application/json"}


VIDEO_URLS = (
    "http://127.0.0.1:9/ok/%2e%2e/secret.mp4",
    "http://127.0.0.1:9/ok/..%2fsecret.mp4",
    "http://127.0.0.1:9@evil.example/ok/x.mp4",
    "http://user:pw@127.0.0.1:9/ok/x.mp4",
    "file:///etc/passwd",
    "gopher://127.0.0.1:9/x",
    "http://[::1/ok/x",
    "http://127.0.0.1:99999/ok/x",
    "http://127.0.0.1:9/ok/x\r\nHost: evil",
    "http://" + "a" * 3000 + "/x",
    "http://127.0.0.1:9/ok/%252e%252e/x",
    "",
)


def nested_object(depth: int = 100_000) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


# -- seeds ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeds:
    clip: bytes  # a short real H.264 MP4 with a face
    webm: bytes
    jpeg: bytes
    png: bytes
    bmp: bytes
    webp: bytes
    sdp: str

    @classmethod
    def build(cls, face_clip: bytes, face_jpeg: bytes) -> Seeds:
        with av.open(io.BytesIO(face_clip), mode="r") as container:
            frames = []
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24", width=160, height=160))
                if len(frames) >= 50:
                    break
        clip = encode_video(frames, 25.0)
        webm = encode_webm(frames[:25], [40.0] * 24, nominal_rate=1000)
        rgb = cv2.imdecode(np.frombuffer(face_jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert rgb is not None, "face_jpeg does not decode"
        small = cv2.resize(rgb, (240, int(240 * rgb.shape[0] / rgb.shape[1])))
        encoded = {ext: cv2.imencode(ext, small)[1].tobytes() for ext in (".jpg", ".png", ".bmp", ".webp")}
        sdp = (
            "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
            "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\n"
            "a=rtpmap:96 VP8/90000\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
            "a=fingerprint:sha-256 " + ":".join(["AB"] * 32) + "\r\na=setup:actpass\r\n"
        )
        return cls(clip, webm, encoded[".jpg"], encoded[".png"], encoded[".bmp"], encoded[".webp"], sdp)


# -- mutations --------------------------------------------------------------------------------------------------

Mutator = Callable[[random.Random, bytes], bytes]


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(0, max(1, len(data)))]


def bit_flip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        if out:
            # Mostly in the header, where parsers decide sizes and formats.
            at = rng.randrange(0, min(len(out), 512)) if rng.random() < 0.7 else rng.randrange(0, len(out))
            out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


def splice_header(rng: random.Random, data: bytes, others: Sequence[bytes] = ()) -> bytes:
    """One format's first bytes on another's body."""
    donor = rng.choice(list(others) or [data])
    cut = rng.randint(4, 64)
    return donor[:cut] + data[cut:]


def absurd_numbers(rng: random.Random, data: bytes) -> bytes:
    """Overwrites a few 16/32-bit fields near the start with huge or zero values (sizes, durations, rates)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if len(out) < 8:
            break
        at = rng.randrange(0, min(len(out) - 4, 400))
        value = rng.choice([0, 1, 0x7FFF, 0xFFFF, 0x3FFF, 0x7FFFFFFF, 0xFFFFFFFF, 16000, 65535])
        width = rng.choice([2, 4])
        out[at : at + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, rng.choice(["big", "little"]))
    return bytes(out)


def duplicate_chunk(rng: random.Random, data: bytes) -> bytes:
    if len(data) < 16:
        return data + data
    start = rng.randrange(0, len(data) - 8)
    end = min(len(data), start + rng.randint(8, 4096))
    return data[:end] + data[start:end] * rng.randint(1, 20) + data[end:]


MUTATORS: tuple[Mutator, ...] = (truncate, bit_flip, absurd_numbers, duplicate_chunk)


def mutate(rng: random.Random, data: bytes, others: Sequence[bytes]) -> bytes:
    if rng.random() < 0.15:
        return splice_header(rng, data, others)
    out = data
    for _ in range(rng.randint(1, 2)):
        out = rng.choice(MUTATORS)(rng, out)
    return out


def bad_json(rng: random.Random) -> bytes:
    return rng.choice(
        [
            lambda: nested_json(rng.choice([40, 1000, 100_000])),
            lambda: nested_object(rng.choice([40, 1000, 50_000])),
            lambda: b"\xff\xfe{\x00}\x00",  # UTF-16 with a BOM
            lambda: b'{"a": "\xc3\x28"}',  # invalid UTF-8
            lambda: b'{"a": "\\ud800"}',  # lone surrogate
            lambda: b'{"a": NaN, "b": Infinity}',
            lambda: b'{"a": ' + b"9" * 5000 + b"}",
            lambda: b"[1, 2",
            lambda: b"null",
            lambda: b'"just a string"',
            lambda: b"",
            lambda: bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))),
        ]
    )()


def bad_base64(rng: random.Random, data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return rng.choice(
        [
            lambda: text[:-1],
            lambda: text.replace("A", "*", 3),
            lambda: "data:image/jpeg;base64," + text,
            lambda: "data:;base64," + text[: len(text) // 2],
            lambda: "====",
            lambda: text + "\n" + text,
            lambda: " " * 10,
            lambda: base64.urlsafe_b64encode(data).decode(),
        ]
    )()


def bad_sdp(rng: random.Random, sdp: str) -> str:
    return rng.choice(
        [
            lambda: "v=0",
            lambda: "junk",
            lambda: sdp.replace("m=video", "m=audio"),
            lambda: sdp.replace("a=fingerprint", "a=x"),
            lambda: sdp[: rng.randrange(len(sdp))],
            lambda: sdp + "a=candidate:" + "1" * 5000 + "\r\n",
            lambda: "\x00" * 100,
            lambda: sdp.replace("\r\n", "\n") * 3,
        ]
    )()


def multipart(fields: dict[str, bytes | str], *, boundary: str = "fuzzboundary") -> tuple[bytes, str]:
    parts = []
    for name, value in fields.items():
        if isinstance(value, bytes):
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.bin"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            )
            parts.append(head.encode() + value + b"\r\n")
        else:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def bad_multipart(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    body, kind = multipart({"media": data, "video_file": data, "video": data})
    return rng.choice(
        [
            lambda: (body[: len(body) // 2], kind),  # no closing boundary
            lambda: (body, "multipart/form-data"),  # no boundary parameter
            lambda: (body, "multipart/form-data; boundary=other"),
            lambda: (body.replace(b"Content-Disposition", b"Content-Dispositio"), kind),
            lambda: (b"--fuzzboundary\r\n" * 2000, kind),
            lambda: (body, "multipart/form-data; boundary=" + "x" * 300),
        ]
    )()


# -- requests ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FuzzRequest:
    label: str
    method: str
    path: str
    body: bytes
    headers: dict[str, str]


class RequestMaker:
    """Seeded: the same seed gives the same requests. `key` is a valid API key; some requests go without it."""

    def __init__(self, seeds: Seeds, key: str, seed: int, *, sessions: Sequence[tuple[str, str]] = ()) -> None:
        """`sessions`: (session id, client token) of sessions created for the run; offers and recordings use them
        (the token is one-time, so later requests for a session meet a used token, as a replay would)."""
        self.seeds = seeds
        self.key = key
        self.rng = random.Random(seed)
        self.sessions = list(sessions) or [("0" * 32, "y" * 43)]
        self._media = [seeds.clip, seeds.webm, seeds.jpeg, seeds.png, seeds.bmp, seeds.webp]
        self._attacks = [
            rle_bmp_bomb(),
            jpeg_fill_byte_bomb(),
            jpeg_progressive_bomb(),
            webp_header_bomb(),
            ffconcat_playlist("pic.jpg"),
            hls_playlist("pic.jpg"),
            unknown_codec_webm(),
        ]

    def _auth(self) -> dict[str, str]:
        roll = self.rng.random()
        if roll < 0.85:
            return {"Authorization": f"Bearer {self.key}"}
        return {} if roll < 0.93 else {"Authorization": "Bearer " + "x" * self.rng.choice([1, 40, 5000])}

    def media(self) -> bytes:
        rng = self.rng
        if rng.random() < 0.1:
            return rng.choice(self._attacks)
        seed = rng.choice(self._media)
        return seed if rng.random() < 0.1 else mutate(rng, seed, self._media)

    def next(self) -> FuzzRequest:
        rng = self.rng
        builder = rng.choice(
            [
                self._native,
                self._findface,
                self._huawei,
                self._facia,
                self._silent,
                self._sessions,
                self._offer,
                self._recording,
                self._misc,
                self._fallback,
                self._session_read,
                self._demo,
                self._video_url,
                self._keyless,
                self._still_recording,
            ]
        )
        return builder()

    # -- routes and body shapes of issue 19 (round two of the security review) ------------------------------------

    def _fallback(self) -> FuzzRequest:
        rng = self.rng
        session_id, auth = self._session()
        method, suffix = rng.choice([("POST", ""), ("GET", ""), ("POST", "/next"), ("PUT", "/next")])
        body = bad_json(rng) if rng.random() < 0.3 else b""
        return FuzzRequest(
            "fallback",
            method,
            f"/v1/sessions/{session_id}/fallback{suffix}",
            body,
            {"Content-Type": "application/json", **auth},
        )

    def _session_read(self) -> FuzzRequest:
        session_id, _ = self.rng.choice(self.sessions)
        session_id = session_id if self.rng.random() < 0.7 else self.rng.choice(["%0a", "x" * 500, "..%2f"])
        return FuzzRequest("session", "GET", f"/v1/sessions/{session_id}", b"", self._auth())

    def _demo(self) -> FuzzRequest:
        rng = self.rng
        host = rng.choice(["evil.example", "127.0.0.1", "localhost:1", "[::1]", "a" * 300, "x\ty"])
        if rng.random() < 0.6:
            return FuzzRequest(
                "demo",
                "POST",
                "/demo/sessions",
                b"{}",
                {"Host": host, "Origin": rng.choice([f"http://{host}", "null"])},
            )
        session_id, _ = rng.choice(self.sessions)
        return FuzzRequest(
            "demo", "GET", f"/demo/sessions/{session_id}", b"", {"Host": host, "Sec-Fetch-Site": "same-origin"}
        )

    def _video_url(self) -> FuzzRequest:
        rng = self.rng
        url: object = rng.choice(VIDEO_URLS) if rng.random() < 0.9 else rng.choice([5, None, ["x"], {"u": 1}])
        body = json.dumps({"actions": "1", "video_url": url}).encode()
        return FuzzRequest(
            "video_url", "POST", "/v2/proj/live-detect", body, {**self._auth(), "Content-Type": "application/json"}
        )

    def _keyless(self) -> FuzzRequest:
        path, body, headers = keyless_junk(self.rng)
        if self.rng.random() < 0.3:
            headers = {**headers, "Authorization": "Bearer " + "z" * 43}  # a wrong token: refused before the body
        return FuzzRequest("keyless", "POST", path, body, headers)

    def _still_recording(self) -> FuzzRequest:
        rng = self.rng
        session_id, auth = self._session()
        still = rng.choice([self.seeds.jpeg, self.seeds.png, self.seeds.webp, self.seeds.bmp])
        if rng.random() < 0.5:
            body, kind = multipart({"video": still})
        else:
            body, kind = still, rng.choice(["video/mp4", "video/webm", "image/jpeg", "application/octet-stream"])
        return FuzzRequest(
            "still_recording", "POST", f"/v1/sessions/{session_id}/recording", body, {"Content-Type": kind, **auth}
        )

    def _native(self) -> FuzzRequest:
        rng = self.rng
        if rng.random() < 0.3:
            body, kind = (
                bad_multipart(rng, self.media())
                if rng.random() < 0.5
                else multipart({"media": self.media(), "actions": rng.choice(["blink", "nod,xx", "", "💥"])})
            )
        else:
            body, kind = self.media(), rng.choice(["video/mp4", "image/jpeg", "application/octet-stream", "text/plain"])
        return FuzzRequest("native", "POST", "/v1/analyze", body, {**self._auth(), "Content-Type": kind})

    def _findface(self) -> FuzzRequest:
        kind = self.rng.choice(["video/mp4", "video/webm", "application/octet-stream", "application/json"])
        return FuzzRequest(
            "findface", "POST", "/v1/video-liveness", self.media(), {**self._auth(), "Content-Type": kind}
        )

    def _huawei(self) -> FuzzRequest:
        rng = self.rng
        roll = rng.random()
        if roll < 0.3:
            body, kind = bad_json(rng), "application/json"
        elif roll < 0.6:
            fields = {
                "video_base64": bad_base64(rng, self.media())
                if rng.random() < 0.5
                else base64.b64encode(self.media()).decode(),
                "actions": rng.choice(["1,3", "9", "", 5, None, ["1"]]),
                "action_time": rng.choice(["1000-3000,4000-7000", "x", "3000-1000", 7, None]),
                "nod_threshold": rng.choice([10, "abc", 1e308, -1, None]),
            }
            body, kind = json.dumps(fields).encode(), "application/json"
        else:
            body, kind = (
                multipart({"video_file": self.media(), "actions": "1,3"})
                if rng.random() < 0.6
                else bad_multipart(rng, self.media())
            )
        return FuzzRequest("huawei", "POST", "/v2/proj/live-detect", body, {**self._auth(), "Content-Type": kind})

    def _facia(self) -> FuzzRequest:
        rng = self.rng
        if rng.random() < 0.35:
            body = bad_json(rng)
        else:
            selfie = bad_base64(rng, self.media()) if rng.random() < 0.4 else base64.b64encode(self.media()).decode()
            body = json.dumps({"selfie_image": selfie, "hash_id": rng.choice([None, 5, "x"])}).encode()
        return FuzzRequest("facia", "POST", "/liveness", body, {**self._auth(), "Content-Type": "application/json"})

    def _silent(self) -> FuzzRequest:
        rng = self.rng
        fields: dict[str, bytes | str] = {
            "encrypted_video": bad_base64(rng, self.media())
            if rng.random() < 0.3
            else base64.b64encode(self.media()).decode(),
            "encrypted_image": base64.b64encode(rng.choice([self.seeds.jpeg, self.media()])).decode(),
            "check_quality": rng.choice(["true", "false", "maybe"]),
        }
        body, kind = multipart(fields) if rng.random() < 0.8 else bad_multipart(rng, self.media())
        return FuzzRequest(
            "silent",
            "POST",
            "/identity/silent_image_verification/stateless",
            body,
            {**self._auth(), "Content-Type": kind},
        )

    def _sessions(self) -> FuzzRequest:
        rng = self.rng
        if rng.random() < 0.6:
            body = bad_json(rng)
        else:
            body = json.dumps(
                {
                    "action_count": rng.choice([1, 3, -1, 10**9, "3", None]),
                    "actions": rng.choice([["blink"], ["x"] * 50, "blink", None]),
                    "reference_photo": rng.choice(
                        [None, bad_base64(rng, self.seeds.jpeg), base64.b64encode(self.media()).decode()]
                    ),
                    "allowed_origins": rng.choice([["https://a.example"], ["javascript:x"], "x", None]),
                }
            ).encode()
        return FuzzRequest(
            "sessions", "POST", "/v1/sessions", body, {**self._auth(), "Content-Type": "application/json"}
        )

    def _session(self) -> tuple[str, dict[str, str]]:
        session_id, token = self.rng.choice(self.sessions)
        token = token if self.rng.random() < 0.6 else "y" * 43
        return session_id, {"Authorization": f"Bearer {token}"}

    def _offer(self) -> FuzzRequest:
        rng = self.rng
        session_id, auth = self._session()
        if rng.random() < 0.5:
            body = bad_json(rng)
        else:
            body = json.dumps(
                {
                    "sdp": bad_sdp(rng, self.seeds.sdp),
                    "type": rng.choice(["offer", "answer", 3]),
                    "token": rng.choice(["x" * 43, "", None]),
                }
            ).encode()
        return FuzzRequest(
            "offer", "POST", f"/v1/sessions/{session_id}/offer", body, {"Content-Type": "application/json", **auth}
        )

    def _recording(self) -> FuzzRequest:
        session_id, auth = self._session()
        return FuzzRequest(
            "recording",
            "POST",
            f"/v1/sessions/{session_id}/recording",
            self.media(),
            {"Content-Type": "video/webm", **auth},
        )

    def _misc(self) -> FuzzRequest:
        rng = self.rng
        path = rng.choice(
            [
                "/v1/detections/" + "a" * rng.choice([1, 32, 3000]),
                "/v1/sessions/%00",
                "/widget/..%2f..%2fetc",
                "/demo/sessions",
                "/metrics",
                "/openapi.json",
                "/v1/video-liveness?return_photo=" + "1" * 100,
            ]
        )
        method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH"])
        return FuzzRequest(
            "misc",
            method,
            path,
            bad_json(rng) if method != "GET" else b"",
            {**self._auth(), "Content-Type": "application/json", "Origin": rng.choice(["null", "http://evil.example"])},
        )


# -- running ----------------------------------------------------------------------------------------------------


@dataclass
class FuzzReport:
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[tuple[str, int, bytes]] = field(default_factory=list)  # label, status, body (5xx but 503)
    no_answer: list[tuple[str, str]] = field(default_factory=list)  # label, error: a hang or a silent close
    slowest_s: float = 0.0
    slowest_label: str = ""
    busy: int = 0  # 503 with Retry-After: the bounded waits at work, not a failure
    busy_without_retry_after: int = 0
    peak_growth_mb: float = 0.0  # server VmHWM over its RSS before the run
    seconds: float = 0.0

    def summary(self) -> str:
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        fives = len(self.server_errors)
        return (
            f"requests sent: {self.sent} in {self.seconds:.1f} s\nstatuses: {statuses}\n"
            f"5xx other than 503: {fives}; 503 busy: {self.busy} (without Retry-After: {self.busy_without_retry_after})\n"
            f"no answer (hang or close): {len(self.no_answer)}; slowest: {self.slowest_s:.2f} s ({self.slowest_label})\n"
            f"server peak memory growth (VmHWM - RSS before): {self.peak_growth_mb:.0f} MB"
        )


def run_fuzz(
    server: Server,
    maker: RequestMaker,
    count: int,
    *,
    timeout_s: float = 10.0,
    log: Callable[[str], None] | None = None,
) -> FuzzReport:
    """Sends `count` requests one after another; any 5xx but 503, any request without an answer within
    `timeout_s`, and the server's peak memory growth are recorded."""
    report = FuzzReport()
    server.reset_peak()
    base_rss = server.rss_mb()
    started = time.monotonic()
    for index in range(count):
        request = maker.next()
        reply: Reply = server.request(request.method, request.path, request.body, request.headers, timeout=timeout_s)
        report.sent += 1
        report.statuses[reply.status] += 1
        if reply.seconds > report.slowest_s:
            report.slowest_s, report.slowest_label = reply.seconds, f"{request.label} {request.path}"
        if reply.status == 0:
            report.no_answer.append((request.label, reply.error))
        elif reply.status == 503:
            report.busy += 1
            report.busy_without_retry_after += "retry-after" not in reply.headers
        elif reply.status >= 500:
            report.server_errors.append((request.label, reply.status, reply.body[:300]))
        if log and (index + 1) % 50 == 0:
            log(f"{index + 1} requests, statuses {dict(report.statuses)}")
    report.seconds = time.monotonic() - started
    report.peak_growth_mb = server.peak_mb() - base_rss
    return report
