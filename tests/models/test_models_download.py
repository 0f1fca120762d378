"""`livecheck models download` against a local mirror (laid out as HOST/PATH, served from ../shared/models): end to
end into an empty directory, corrupt and interrupted transfers leave nothing behind, offline and proxy behaviour,
the PyTorch-free MiniFASNet conversion (pinned bytes; logits against the reference export on real face crops), and
the restricted unpickler refusing anything but a state dict. No internet is used: the upstream hosts themselves are
never contacted here."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import io
import json
import os
import pickle
import shutil
import socket
import struct
import subprocess
import sys
import threading
import urllib.parse
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from models import MANIFEST, ModelStore
from models.download import TerminalProgress, fetch, source_url
from models.loader import check_file, sha256_of
from models.manifest import DOWNLOADS, Download, spec
from models.minifasnet_onnx import ConversionError, convert_bytes, node_scope
from models.torch_checkpoint import LEGACY_MAGIC, CheckpointError, _StateDictUnpickler, load_state_dict
from scoring.antispoof import AntiSpoofModel
from scoring.landmarks import StreamLandmarker
from scoring.observation import BBox
from tests.support.paths import ROOT

PROXY_VARS = (
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
    "all_proxy",
    "ALL_PROXY",
)
PAIRS = [("antispoof_v2", "2.7_80x80_MiniFASNetV2.pth"), ("antispoof_v1se", "4_0_0_80x80_MiniFASNetV1SE.pth")]


def upstream_file(models_dir: Path, download: Download) -> Path:
    """Where ../shared/models keeps the bytes each upstream URL serves."""
    return models_dir / "source" / download.file if download.convert else models_dir / download.file


def url_path(download: Download) -> str:
    parts = urllib.parse.urlsplit(download.url)
    return f"/{parts.netloc}{parts.path}"


def build_mirror(models_dir: Path, root: Path, corrupt: str | None = None) -> Path:
    """A mirror tree HOST/PATH; the file named `corrupt` is a copy with one byte flipped."""
    for download in DOWNLOADS:
        destination = root / url_path(download).lstrip("/")
        destination.parent.mkdir(parents=True, exist_ok=True)
        source = upstream_file(models_dir, download)
        if download.file == corrupt:
            data = bytearray(source.read_bytes())
            data[len(data) // 3] ^= 0x01
            destination.write_bytes(bytes(data))
        else:
            destination.symlink_to(source)
    return root


class MirrorServer(http.server.ThreadingHTTPServer):
    """Serves the mirror tree; records request targets; answers proxy-style absolute URIs too; can cut transfers."""

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), functools.partial(_MirrorHandler, directory=str(root)))
        self.requests: list[str] = []
        self.truncate: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _MirrorHandler(http.server.SimpleHTTPRequestHandler):
    server: MirrorServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if self.path.startswith("http://"):  # asked as an HTTP proxy
            self.path = urllib.parse.urlsplit(self.path).path
        if self.path in self.server.truncate:  # promise the whole file, send half, hang up
            data = Path(self.translate_path(self.path)).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@contextlib.contextmanager
def serving(root: Path) -> Iterator[MirrorServer]:
    server = MirrorServer(root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def mirror(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MirrorServer]:
    with serving(build_mirror(models_dir, tmp_path_factory.mktemp("mirror"))) as server:
        yield server


def livecheck(
    *args: str, mirror_url: str | None, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS and k != "LIVECHECK_MODELS"}
    env.pop("LIVECHECK_MODELS_MIRROR", None)
    if mirror_url:
        env["LIVECHECK_MODELS_MIRROR"] = mirror_url
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def leftovers(target: Path) -> list[str]:
    """Anything in the models directory that is not an installed manifest file (partials, staging dirs)."""
    names = {item.filename for item in MANIFEST}
    return sorted(p.name for p in target.iterdir() if p.name not in names) if target.exists() else []


def test_download_convert_verify_into_an_empty_directory(mirror: MirrorServer, tmp_path: Path) -> None:
    target = tmp_path / "fresh" / "models"
    before = len(mirror.requests)
    result = livecheck("models", "download", "--dir", str(target), mirror_url=mirror.url)
    assert result.returncode == 0, result.stderr
    assert f"downloaded {len(MANIFEST)} model files" in result.stdout
    assert f"all {len(MANIFEST)} models verified" in result.stdout
    assert sorted(mirror.requests[before:]) == sorted(url_path(d) for d in DOWNLOADS)  # each fetched once
    for item in MANIFEST:
        assert check_file(target, item) is None, item.filename
    for key, _ in PAIRS:  # the mirror holds only the .pth: these are the converter's pinned bytes
        item = spec(key)
        assert sha256_of(target / item.filename) == item.variants[0].sha256
    assert leftovers(target) == []
    store = ModelStore.open(target)
    assert store.path("antispoof_v2") == target / "2.7_80x80_MiniFASNetV2.onnx"
    for key, _ in PAIRS:  # results name the bytes that were loaded: the converted file's sha256, not the reference's
        item = spec(key)
        assert store.versions()[key] == f"{item.filename}@sha256:{item.variants[0].sha256[:12]}"
        assert item.variants[0].sha256 != item.sha256

    verify = livecheck("models", "verify", "--models", str(target), mirror_url=None)
    assert verify.returncode == 0, verify.stderr
    for key, _ in PAIRS:  # verify shows what is actually there
        item = spec(key)
        line = next(line for line in verify.stdout.splitlines() if item.filename in line)
        assert item.variants[0].sha256[:16] in line and "converted" in line

    # Once installed, nothing is fetched again.
    before = len(mirror.requests)
    again = livecheck("models", "download", "--dir", str(target), mirror_url=mirror.url)
    assert again.returncode == 0, again.stderr
    assert "downloaded 0 model files" in again.stdout
    assert mirror.requests[before:] == []


@pytest.mark.parametrize("victim", ["face_landmarker.task", "2.7_80x80_MiniFASNetV2.pth"])
def test_corrupt_download_names_the_file_and_installs_nothing(models_dir: Path, tmp_path: Path, victim: str) -> None:
    download = next(d for d in DOWNLOADS if d.file == victim)
    item = spec(download.provides)
    with serving(build_mirror(models_dir, tmp_path / "mirror", corrupt=victim)) as server:
        target = tmp_path / "models"
        result = livecheck("models", "download", "--dir", str(target), mirror_url=server.url)
    assert result.returncode == 2
    assert victim in result.stderr and "corrupt download" in result.stderr
    assert download.sha256 in result.stderr
    assert "Traceback" not in result.stderr
    assert not (target / item.filename).exists()
    assert leftovers(target) == []
    assert check_file(target, item) is not None


def test_interrupted_transfer_leaves_nothing(mirror: MirrorServer, tmp_path: Path) -> None:
    download = next(d for d in DOWNLOADS if d.provides == "sface")
    mirror.truncate.add(url_path(download))
    try:
        target = tmp_path / "models"
        result = livecheck("models", "download", "--dir", str(target), mirror_url=mirror.url)
    finally:
        mirror.truncate.clear()
    assert result.returncode == 2
    assert download.file in result.stderr and "interrupted" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (target / download.file).exists()
    assert leftovers(target) == []


def test_ctrl_c_mid_transfer_removes_the_partial_file(
    mirror: MirrorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    download = next(d for d in DOWNLOADS if d.provides == "sface")
    monkeypatch.setenv("LIVECHECK_MODELS_MIRROR", mirror.url)
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)

    def interrupt(received: int) -> None:
        assert (tmp_path / f".{download.file}.partial").exists()  # bytes are going to the partial file
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch(source_url(download), tmp_path / download.file, download.sha256, download.size, download.file, interrupt)
    assert list(tmp_path.iterdir()) == []


def test_offline_message_names_the_url_and_the_install_alternative(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    target = tmp_path / "models"
    result = livecheck("models", "download", "--dir", str(target), mirror_url=dead)
    assert result.returncode == 2
    first = spec(MANIFEST[0].key)
    url = source_url(next(d for d in DOWNLOADS if d.provides == first.key), mirror=dead)
    assert url in result.stderr
    assert "livecheck models install --from" in result.stderr
    assert "Traceback" not in result.stderr
    assert leftovers(target) == [] and not any(target.iterdir())


def test_downloads_go_through_the_proxy_from_the_environment(
    mirror: MirrorServer, models_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "models"
    target.mkdir()
    fetched = next(d for d in DOWNLOADS if d.provides == "landmarker")
    for item in MANIFEST:
        if item.key != fetched.provides:
            shutil.copyfile(models_dir / item.filename, target / item.filename)
    before = len(mirror.requests)
    # The mirror's host name does not resolve: only a proxy can fetch it.
    result = livecheck(
        "models",
        "download",
        "--dir",
        str(target),
        mirror_url="http://models-mirror.invalid",
        extra_env={"http_proxy": mirror.url},
    )
    assert result.returncode == 0, result.stderr
    assert mirror.requests[before:] == [f"http://models-mirror.invalid{url_path(fetched)}"]
    assert check_file(target, spec("landmarker")) is None


def test_sources_json_lists_every_download(models_dir: Path) -> None:
    result = livecheck("models", "sources", "--json", mirror_url=None)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["file"] for row in rows] == [d.file for d in DOWNLOADS]
    assert {d.provides for d in DOWNLOADS} == {item.key for item in MANIFEST}
    for row, download in zip(rows, DOWNLOADS):
        assert set(row) == {"file", "url", "sha256"}
        assert row["url"] == download.url and row["url"].startswith("https://")
        assert row["sha256"] == sha256_of(upstream_file(models_dir, download))  # the pins are the real bytes
    hosts = {urllib.parse.urlsplit(row["url"]).netloc for row in rows}
    assert hosts == {"storage.googleapis.com", "raw.githubusercontent.com", "media.githubusercontent.com"}
    assert all("b6d5f04ad78778917853b25c778acef6d5626d15" in row["url"] for row in rows if row["file"].endswith(".pth"))

    mirrored = json.loads(livecheck("models", "sources", "--json", mirror_url="http://mirror.lan/m/").stdout)
    assert [row["url"] for row in mirrored] == [f"http://mirror.lan/m{url_path(d)}" for d in DOWNLOADS]


# --- the PyTorch-free conversion ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def converted(models_dir: Path) -> dict[str, bytes]:
    return {key: convert_bytes((models_dir / "source" / pth).read_bytes(), pth) for key, pth in PAIRS}


def test_conversion_is_reproducible_and_pinned(converted: dict[str, bytes], models_dir: Path) -> None:
    for key, pth in PAIRS:
        item = spec(key)
        data = converted[key]
        assert hashlib.sha256(data).hexdigest() == item.variants[0].sha256
        assert len(data) == item.variants[0].size == item.size
        assert convert_bytes((models_dir / "source" / pth).read_bytes(), pth) == data


def test_converted_graph_matches_the_reference_export(converted: dict[str, bytes], models_dir: Path) -> None:
    """Same nodes, names and initializers as torch.onnx's export; only the folded Conv+BatchNorm values may differ,
    in the last bits (the export's batch-norm scale is not the correctly rounded float32 g / sqrt(var + eps) in ~14%
    of channels; ours is)."""
    for key, _ in PAIRS:
        ours = onnx.load_from_string(converted[key])
        ref = onnx.load(str(models_dir / spec(key).filename))
        assert ours.ir_version == ref.ir_version and list(ours.opset_import) == list(ref.opset_import)
        assert list(ours.graph.node) == list(ref.graph.node)
        assert list(ours.graph.input) == list(ref.graph.input) and list(ours.graph.output) == list(ref.graph.output)
        assert [i.name for i in ours.graph.initializer] == [i.name for i in ref.graph.initializer]
        differing = total = worst = 0
        for a, b in zip(ours.graph.initializer, ref.graph.initializer):
            x, y = numpy_helper.to_array(a), numpy_helper.to_array(b)
            assert x.shape == y.shape and x.dtype == y.dtype, a.name
            if not a.name.startswith("onnx::Conv_"):
                assert np.array_equal(x, y), a.name  # PReLU slopes, transposed Linear weights, BatchNorm1d
            elif x.ndim == 4:  # a folded Conv + BatchNorm weight: the scale differs by <= 1 ulp in ~14% of channels
                worst = max(worst, int(np.testing.assert_array_max_ulp(x, y, maxulp=4).max()))
                differing += int((x != y).any(axis=(1, 2, 3)).sum())
                total += x.shape[0]
            else:  # its bias, b - mean * scale
                np.testing.assert_allclose(x, y, rtol=0, atol=5e-7)
        print(
            f"{key}: {differing} of {total} folded Conv channels differ from the reference export, "
            f"by at most {worst} ulp"
        )
        assert differing < total / 4


def test_converted_logits_match_the_reference_on_real_face_crops(
    converted: dict[str, bytes], models_dir: Path, media: Path, tmp_path: Path
) -> None:
    paths = {}
    for key, _ in PAIRS:
        paths[key] = tmp_path / spec(key).filename
        paths[key].write_bytes(converted[key])
    reference = AntiSpoofModel(models_dir / spec("antispoof_v2").filename, models_dir / spec("antispoof_v1se").filename)
    ours = AntiSpoofModel(paths["antispoof_v2"], paths["antispoof_v1se"])
    sessions = [
        (
            ort.InferenceSession(str(models_dir / spec(k).filename), providers=["CPUExecutionProvider"]),
            ort.InferenceSession(str(paths[k]), providers=["CPUExecutionProvider"]),
        )
        for k, _ in PAIRS
    ]
    landmarker = StreamLandmarker(models_dir / "face_landmarker.task", video=False, max_faces=1)
    worst = 0.0
    probabilities = {}
    try:
        for name in ("image_T1", "image_F1", "image_F2"):
            bgr = cv2.imread(str(media / "images" / f"{name}.jpg"))
            assert bgr is not None, name
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            faces = landmarker.detect(rgb, 0)
            assert faces, name
            height, width = rgb.shape[:2]
            xs, ys = faces[0].landmarks[:, 0] * width, faces[0].landmarks[:, 1] * height
            bbox = BBox(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))
            crops = reference.crops(rgb, bbox)
            for index, (ref_session, our_session) in enumerate(sessions):
                expected = ref_session.run(None, {"input": crops[index][None]})[0]
                actual = our_session.run(None, {"input": crops[index][None]})[0]
                worst = max(worst, float(np.abs(expected - actual).max()))
                np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-5)
            probabilities[name] = (reference.predict(rgb, bbox), ours.predict(rgb, bbox))
    finally:
        landmarker.close()
    print(f"max |logit difference| {worst:.2e}; P(real) reference vs converted: {probabilities}")
    assert probabilities["image_T1"][1] > 0.9 and probabilities["image_F2"][1] < 0.1  # real crops, real verdicts


# --- the restricted unpickler ------------------------------------------------------------------------------------


def _legacy_checkpoint(main_pickle: bytes) -> bytes:
    header = [
        LEGACY_MAGIC,
        1001,
        {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}},
    ]
    return b"".join(pickle.dumps(part, protocol=2) for part in header) + main_pickle + pickle.dumps([], protocol=2)


def _global_call(module: str, name: str, arg: str) -> bytes:
    """A pickle that calls module.name(arg): what a malicious checkpoint carries."""
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + pickle.dumps(arg, protocol=2)[2:-1] + b"\x85R."


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


@pytest.mark.unit
@pytest.mark.parametrize(
    "module,name",
    [
        ("os", "system"),
        ("posix", "system"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("subprocess", "Popen"),
        ("torch", "load"),
        ("torch._utils", "_rebuild_from_type_v2"),
        ("collections", "defaultdict"),
        ("numpy", "load"),
        ("pickle", "loads"),
    ],
)
def test_pickle_with_any_other_global_is_refused(module: str, name: str, tmp_path: Path) -> None:
    payload = _global_call(module, name, f"touch {tmp_path / 'pwned'}")
    for data in (_legacy_checkpoint(payload), payload + b"\0" * 16):
        with pytest.raises(CheckpointError, match=f"refused to load {module}.{name}"):
            load_state_dict(data)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("archive/data.pkl", payload)
    with pytest.raises(CheckpointError, match=f"refused to load {module}.{name}"):
        load_state_dict(archive.getvalue())
    assert not (tmp_path / "pwned").exists()


@pytest.mark.unit
def test_state_dict_carrying_an_exploit_object_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(OrderedDict([("conv1.conv.weight", _Exploit(marker))]), protocol=2)
    with pytest.raises(CheckpointError, match="refused to load posix.system"):
        load_state_dict(_legacy_checkpoint(payload))
    with pytest.raises(CheckpointError):
        convert_bytes(_legacy_checkpoint(payload), "2.7_80x80_MiniFASNetV2.pth")
    assert not marker.exists()


def test_truncated_or_garbled_checkpoints_fail_cleanly(models_dir: Path) -> None:
    data = (models_dir / "source" / "2.7_80x80_MiniFASNetV2.pth").read_bytes()
    for broken in (data[: len(data) // 2], data[:100], data + b"x", b"not a checkpoint", b""):
        with pytest.raises(CheckpointError):
            load_state_dict(broken)


def test_zip_checkpoint_reads_like_the_legacy_one(models_dir: Path) -> None:
    """torch >= 1.6 writes a zip (data.pkl + data/<key>); rebuild one from the legacy file's own pieces."""
    handle = io.BytesIO((models_dir / "source" / "2.7_80x80_MiniFASNetV2.pth").read_bytes())
    for _ in range(3):
        pickle.load(handle)  # magic, protocol, system info: plain ints and dicts
    start = handle.tell()
    unpickler = _StateDictUnpickler(handle)
    unpickler.load()
    main = handle.getvalue()[start : handle.tell()]
    keys = pickle.load(handle)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("archive/data.pkl", main)
        z.writestr("archive/byteorder", "little")
        for key in keys:
            (numel,) = struct.unpack("<q", handle.read(8))
            z.writestr(f"archive/data/{key}", handle.read(numel * unpickler.storages[key].dtype.itemsize))
    legacy = load_state_dict(models_dir / "source" / "2.7_80x80_MiniFASNetV2.pth")
    rebuilt = load_state_dict(archive.getvalue())
    assert list(rebuilt) == list(legacy) and len(legacy) == 334
    for name in legacy:
        assert rebuilt[name].dtype == legacy[name].dtype and np.array_equal(rebuilt[name], legacy[name]), name
    assert legacy["module.conv1.conv.weight"].shape == (32, 3, 3, 3)
    assert legacy["module.conv1.bn.num_batches_tracked"].dtype == np.int64


def test_a_checkpoint_of_the_other_architecture_is_refused(models_dir: Path) -> None:
    v1se = (models_dir / "source" / "4_0_0_80x80_MiniFASNetV1SE.pth").read_bytes()
    with pytest.raises(ConversionError, match="se_module"):
        convert_bytes(v1se, "2.7_80x80_MiniFASNetV2.pth")  # V1SE weights named as V2: extra SE tensors
    v2 = (models_dir / "source" / "2.7_80x80_MiniFASNetV2.pth").read_bytes()
    with pytest.raises(ConversionError):
        convert_bytes(v2, "4_0_0_80x80_MiniFASNetV1SE.pth")
    with pytest.raises(ConversionError, match="unknown MiniFASNet variant"):
        convert_bytes(v2, "model.pth")


class _FakeTerminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.unit
def test_progress_bar_only_on_a_terminal() -> None:
    for tty in (True, False):
        stream = _FakeTerminal(tty)
        bar = TerminalProgress("face_landmarker.task", 4_000_000, stream)
        bar(1_000_000)
        bar(4_000_000)
        if tty:
            assert "face_landmarker.task" in stream.getvalue() and "4.0/4.0 MB" in stream.getvalue()
            assert "#" * 30 in stream.getvalue() and stream.getvalue().endswith("\n")
        else:
            assert stream.getvalue() == ""  # logs and pipes stay clean


def test_the_only_difference_from_the_reference_is_how_its_sqrt_rounded(models_dir: Path) -> None:
    """Every folded channel of the reference export equals g / s * w with s one of the two float32 neighbours of
    the exact sqrt(var + eps): its exporter's sqrt was faithful (error < 1 ulp), ours is correctly rounded. Where they
    disagree the exact root lies well inside the ulp, which no portable float32 formula reproduces."""
    for key, pth in PAIRS:
        weights = {k.removeprefix("module."): v for k, v in load_state_dict(models_dir / "source" / pth).items()}
        reference = onnx.load(str(models_dir / spec(key).filename))
        initializers = {i.name: numpy_helper.to_array(i) for i in reference.graph.initializer}
        paths = {
            node_scope(k.removesuffix(".weight")): k.removesuffix(".weight")
            for k, v in weights.items()
            if k.endswith(".weight") and v.ndim == 4
        }
        ours_rounded = other_neighbour = 0
        for node in (n for n in reference.graph.node if n.op_type == "Conv"):
            path = paths[node.name.removesuffix("/Conv")]
            bn = (
                path.removesuffix(".conv") + ".bn"
                if path.endswith(".conv")
                else path.replace(".fc1", ".bn1").replace(".fc2", ".bn2")
            )
            w, g = weights[f"{path}.weight"], weights[f"{bn}.weight"]
            x = weights[f"{bn}.running_var"] + np.float32(1e-5)
            expected = initializers[node.input[1]]
            for c in range(w.shape[0]):
                ours = np.sqrt(x[c])
                if np.array_equal(w[c] * (g[c] / ours), expected[c]):
                    ours_rounded += 1
                    continue
                exact = float(np.sqrt(np.float64(x[c])))
                other = np.nextafter(ours, np.float32(np.inf if exact > float(ours) else -np.inf))
                assert np.array_equal(w[c] * (g[c] / other), expected[c]), (node.name, c)
                other_neighbour += 1
        print(f"{key}: {other_neighbour} of {ours_rounded + other_neighbour} channels use the other neighbour")
        assert 0 < other_neighbour < (ours_rounded + other_neighbour) / 4


def test_a_pickle_cannot_alter_the_allowed_builders(models_dir: Path) -> None:
    """BUILD on an allowed global (torch.FloatStorage) would rewrite the shared allow-list entry: refused."""

    def text(value: str) -> bytes:
        return b"X" + struct.pack("<I", len(value)) + value.encode()

    payload = b"\x80\x02ctorch\nFloatStorage\n}" + text("dtype") + text("object") + b"sb."
    for data in (payload, _legacy_checkpoint(payload)):
        with pytest.raises(CheckpointError):
            load_state_dict(data)
    state = load_state_dict(models_dir / "source" / "2.7_80x80_MiniFASNetV2.pth")
    assert state["module.conv1.conv.weight"].dtype == np.float32


def test_a_missing_file_on_the_server_is_named_with_its_url(mirror: MirrorServer, tmp_path: Path) -> None:
    target = tmp_path / "models"
    result = livecheck("models", "download", "--dir", str(target), mirror_url=f"{mirror.url}/elsewhere")
    assert result.returncode == 2
    first = next(d for d in DOWNLOADS if d.provides == MANIFEST[0].key)
    assert "HTTP 404" in result.stderr and source_url(first, mirror=f"{mirror.url}/elsewhere") in result.stderr
    assert "Traceback" not in result.stderr and not any(target.iterdir())
