"""Per-frame cost of the scoring path at 640x480 on one core, split by stage, against the raw model time.

    .venv/bin/python -m bench.frame_pipeline [--cpu N] [--video d12.mp4] [--runs 1]

Builds a 640x480 H.264 clip from a shared live video, then for every frame: decodes it (PyAV), runs the
FrameAnalyzer with liveness and embedding (landmarks, describe/quality, anti-spoof, SFace), and times the raw
model calls (MediaPipe detect_for_video, each onnxruntime session.run) inside the same run through thin
proxies. Prints median / p95 per stage, frames/s, and the ratio of the whole per-frame path to the sum of raw
inference. Targets (issue 2): path <= 1.3x raw inference; landmarks + anti-spoof >= 40 frames/s on one core.
It also times LivenessEngine.analyze_video end to end on the same clip. Figures only; no assertions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]

import numpy as np  # noqa: E402

if TYPE_CHECKING:  # types only: the functions import these at run time, after main() has pinned the core
    from scoring.analyzer import FrameAnalyzer, StageTimer
    from scoring.engine import LivenessEngine
    from scoring.evidence import EvidenceReport
    from scoring.landmarks import StreamLandmarker
    from scoring.modelset import ModelSet
    from scoring.settings import EngineSettings

WIDTH, HEIGHT = 640, 480
WARMUP = 10


class Timed:
    """Wraps an object and records the seconds spent in one of its methods (the raw model call)."""

    def __init__(self, inner: object, method: str, samples: list[float]) -> None:
        self._inner, self._method, self._samples = inner, method, samples

    def __getattr__(self, name: str):
        attr = getattr(self._inner, name)
        if name != self._method:
            return attr

        def call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self._samples.append(time.perf_counter() - start)

        return call


def stats(samples: list[float]) -> tuple[float, float]:
    """Median and p95 in ms."""
    values = np.asarray(samples) * 1000
    return float(np.median(values)), float(np.percentile(values, 95))


def per_frame(samples: list[float], calls_per_frame: int) -> list[float]:
    """Sums consecutive calls belonging to one frame (e.g. two anti-spoof sessions)."""
    n = len(samples) // calls_per_frame
    return [sum(samples[i * calls_per_frame : (i + 1) * calls_per_frame]) for i in range(n)]


@dataclass
class FrameTimes:
    """Seconds per frame of one pass over the clip, by how much of the path each span covers (`time_frames`)."""

    path_s: list[float] = field(default_factory=list)  # decode + every model
    liveness_path_s: list[float] = field(default_factory=list)  # decode + landmarks + anti-spoof
    evidence_s: list[float] = field(default_factory=list)  # scoring.evidence per analyzed frame (thumbnail, tracks)
    light_s: list[float] = field(default_factory=list)  # scoring.light.sample_regions per face (the light challenge)
    light_samples: list[np.ndarray] = field(default_factory=list)
    faces: int = 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu", type=int, default=None, help="core to pin to (default: the last one)")
    parser.add_argument("--video", default="d12.mp4")
    parser.add_argument(
        "--models", default=os.environ.get("LIVECHECK_MODELS") or str(ROOT.parent / "shared" / "models")
    )
    parser.add_argument("--media", default=os.environ.get("LIVECHECK_MEDIA") or str(ROOT.parent / "shared" / "media"))
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})

    from scoring.analyzer import FrameAnalyzer, StageTimer
    from scoring.engine import LivenessEngine
    from scoring.settings import EngineSettings
    from tests.support import mediagen

    source = (Path(args.media) / "videos" / args.video).read_bytes()
    frames, fps = mediagen.decode_frames(source)
    clip = mediagen.encode_video([mediagen.fit_frame(f, WIDTH, HEIGHT) for f in frames], fps)

    settings = EngineSettings(inference_threads=1)
    engine = LivenessEngine.load(settings, args.models, landmarkers=1)
    try:
        models = engine.models
        raw, landmarker = instrument(models)
        timer = StageTimer(keep_samples=True)
        analyzer = FrameAnalyzer(landmarker, models.antispoof, models.embedder, mf_selector="reject", timer=timer)
        times, report, report_s = time_frames(clip, settings, analyzer, timer)
        models.landmarkers.release(landmarker)
        assert frames and frame_shape_ok(clip), "clip must be 640x480"
        print_frame_costs(cpu, timer, raw, times, report, report_s)
        print_engine_run(engine, clip)
        print_batch_costs(engine, frames)
    finally:
        engine.close()
    return 0


def instrument(models: ModelSet) -> tuple[dict[str, list[float]], StreamLandmarker]:
    """Wraps the raw model calls (both MiniFASNet sessions, SFace, a borrowed landmarker's detect_for_video) so
    that they record their seconds; returns the samples and the landmarker (the caller releases it)."""
    raw: dict[str, list[float]] = {"landmarker": [], "antispoof": [], "sface": []}
    for member in models.antispoof._members:  # noqa: SLF001 - bench-only instrumentation
        object.__setattr__(member, "session", Timed(member.session, "run", raw["antispoof"]))
    models.embedder._session = Timed(models.embedder._session, "run", raw["sface"])  # noqa: SLF001

    landmarker = models.landmarkers.acquire()
    landmarker._landmarker = Timed(landmarker._landmarker, "detect_for_video", raw["landmarker"])  # noqa: SLF001
    return raw, landmarker


def time_frames(
    clip: bytes, settings: EngineSettings, analyzer: FrameAnalyzer, timer: StageTimer
) -> tuple[FrameTimes, EvidenceReport, float]:
    """Decodes and analyzes every frame as a live check does (liveness, embedding, evidence, light samples),
    timing each part; returns the times, the evidence report and the seconds that report took."""
    from scoring.evidence import EvidenceTracker
    from scoring.light import sample_regions
    from scoring.media import VideoReader

    times = FrameTimes()
    tracker = EvidenceTracker(settings.evidence)
    with VideoReader(clip, settings.limits) as reader:
        iterator = reader.frames(0.0, max(WIDTH, HEIGHT))
        while True:
            t0 = time.perf_counter()
            frame = next(iterator, None)
            t1 = time.perf_counter()
            if frame is None:
                break
            timer.add("decode", t1 - t0)
            obs = analyzer.analyze(frame.rgb, frame.timestamp_ms, frame.frame_no, liveness=True, embed=False)
            t2 = time.perf_counter()
            if obs.face is not None:
                analyzer.add_embedding(frame.rgb, obs.face)
                times.faces += 1
            t3 = time.perf_counter()
            if obs.face is not None:
                tracker.add(obs.face, frame.timestamp_ms, frame.rgb)
            t4 = time.perf_counter()
            times.evidence_s.append(t4 - t3)
            if obs.face is not None:
                times.light_samples.append(sample_regions(frame.rgb, obs.face.landmarks))
                times.light_s.append(time.perf_counter() - t4)
            times.liveness_path_s.append(t2 - t0)
            times.path_s.append(t3 - t0)
    t_report = time.perf_counter()
    report = tracker.report()
    return times, report, time.perf_counter() - t_report


def print_frame_costs(
    cpu: int,
    timer: StageTimer,
    raw: dict[str, list[float]],
    times: FrameTimes,
    report: EvidenceReport,
    report_s: float,
) -> None:
    """Everything measured per frame after the warm-up: stages, raw inference, the whole path, evidence, light,
    and the path against raw inference (the issue 2 targets)."""
    samples = {k: v[WARMUP:] for k, v in timer.samples.items()}
    raw_frame = {
        "landmarker": raw["landmarker"][WARMUP:],
        "antispoof": per_frame(raw["antispoof"], 2)[WARMUP:],
        "sface": raw["sface"][WARMUP:],
    }
    path = times.path_s[WARMUP:]
    liveness_path = times.liveness_path_s[WARMUP:]
    n = len(path)

    print(
        f"frame pipeline at {WIDTH}x{HEIGHT}, one core (cpu {cpu}, onnxruntime threads=1), "
        f"{n} frames after {WARMUP} warm-up, faces in {times.faces}/{len(times.path_s)} frames"
    )
    print_stages(samples, raw_frame)

    raw_all = [a + b + c for a, b, c in zip(raw_frame["landmarker"], raw_frame["antispoof"], raw_frame["sface"])]
    raw_live = [a + b for a, b in zip(raw_frame["landmarker"], raw_frame["antispoof"])]
    decode = samples["decode"]
    no_decode = [p - d for p, d in zip(path, decode)]
    live_no_decode = [p - d for p, d in zip(liveness_path, decode)]
    print("whole per-frame path:")
    for label, values in (
        ("  all models + decode", path),
        ("  all models, no decode", no_decode),
        ("  landmarks+antispoof + decode", liveness_path),
        ("  landmarks+antispoof, no decode", live_no_decode),
    ):
        med, p95 = stats(values)
        print(
            f"{label:34s} {med:10.2f} {p95:10.2f}   {1000 / med:6.1f} frames/s (median)  "
            f"{n / sum(values):6.1f} frames/s (mean)"
        )
    print_evidence(times, report, report_s, liveness_path)
    print_light(times, liveness_path)
    print("ratio path / raw inference (sum of per-frame totals; target <= 1.30):")
    print(f"  all models + decode               {sum(path) / sum(raw_all):.3f}")
    print(f"  all models, no decode             {sum(no_decode) / sum(raw_all):.3f}")
    print(f"  landmarks+antispoof + decode      {sum(liveness_path) / sum(raw_live):.3f}")
    print(f"  landmarks+antispoof, no decode    {sum(live_no_decode) / sum(raw_live):.3f}")


def print_stages(samples: dict[str, list[float]], raw_frame: dict[str, list[float]]) -> None:
    """Median and p95 per scoring stage, then per raw model call of the same run."""
    print(f"{'stage':34s} {'median ms':>10s} {'p95 ms':>10s}")
    for stage in ("decode", "landmarks", "describe", "antispoof", "embedding"):
        if stage in samples:
            med, p95 = stats(samples[stage])
            print(f"{stage:34s} {med:10.2f} {p95:10.2f}")
    print("raw model inference (same run):")
    for name, label in (
        ("landmarker", "  mediapipe detect_for_video"),
        ("antispoof", "  MiniFASNet x2 session.run"),
        ("sface", "  SFace session.run"),
    ):
        med, p95 = stats(raw_frame[name])
        print(f"{label:34s} {med:10.2f} {p95:10.2f}")


def print_evidence(times: FrameTimes, report: EvidenceReport, report_s: float, liveness_path: list[float]) -> None:
    """scoring.evidence's cost per frame, its report once per clip included, against the target of 10 %."""
    evidence = times.evidence_s[WARMUP:]
    per_frame_evidence = (sum(evidence) + report_s) / len(evidence)
    med, p95 = stats(evidence)
    print(
        f"evidence across frames (scoring.evidence, {report.parallax_pairs} tracked turns, report "
        f"{report_s * 1000:.1f} ms once per clip):"
    )
    print(
        f"  per frame median {med:.2f} ms, p95 {p95:.2f} ms, mean incl. report {per_frame_evidence * 1000:.2f} ms = "
        f"{100 * per_frame_evidence / float(np.mean(liveness_path)):.1f} % of landmarks+antispoof+decode (target <= 10 %)"
    )


def print_light(times: FrameTimes, liveness_path: list[float]) -> None:
    """The light challenge's cost: region samples per frame (target 5 %) and one measure per sequence."""
    light = times.light_s[WARMUP:]
    med, p95 = stats(light)
    measure_s = light_measure_seconds(times.light_samples)
    print("light challenge (scoring.light.sample_regions per frame; measure once per sequence):")
    print(
        f"  per frame median {med:.3f} ms, p95 {p95:.3f} ms, mean {1000 * float(np.mean(light)):.3f} ms = "
        f"{100 * float(np.mean(light)) / float(np.mean(liveness_path)):.2f} % of landmarks+antispoof+decode "
        f"(target <= 5 %); measure of a 60-frame sequence {measure_s * 1000:.1f} ms"
    )


def print_engine_run(engine: LivenessEngine, clip: bytes) -> None:
    """LivenessEngine.analyze_video end to end on the same clip: what an upload costs, against real time."""
    start = time.perf_counter()
    verdict = engine.analyze_video(clip)
    elapsed = time.perf_counter() - start
    print(
        f"LivenessEngine.analyze_video on the same clip ({verdict.duration_s:.1f} s, "
        f"{verdict.frames_decoded} decoded, {verdict.frames_analyzed} analyzed at {engine.settings.analysis_fps:g} fps, "
        f"{verdict.liveness_frames} anti-spoofed, alive={verdict.alive}): {elapsed * 1000:.0f} ms, "
        f"{verdict.frames_analyzed / elapsed:.1f} analyzed frames/s, {verdict.duration_s / elapsed:.1f}x real time"
    )
    print("  stages (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in verdict.timings_ms.items()))


def print_batch_costs(engine: LivenessEngine, frames: list[np.ndarray]) -> None:
    """Anti-spoof cost per face by batch size: what EngineSettings.request_batch_size is chosen from."""
    models = engine.models
    print("anti-spoof ms per face by batch size (EngineSettings.request_batch_size):")
    crops = [models.antispoof.crops(f, best_box(engine, f)) for f in frames[:32]]
    for size in (1, 4, 16, 32):
        models.antispoof.predict_crops(crops[:size])
        start = time.perf_counter()
        for i in range(0, len(crops), size):
            models.antispoof.predict_crops(crops[i : i + size])
        print(f"  batch {size:2d}: {(time.perf_counter() - start) * 1000 / len(crops):6.2f}")


def light_measure_seconds(samples: list) -> float:
    """scoring.light.measure over 60 frames of real region samples against a drawn sequence (36 lags)."""
    from scoring.light import LightStep, draw_sequence, measure

    steps, at = [], 0
    for color, duration in draw_sequence():
        steps.append(LightStep(color, at))
        at += duration
    frames = (samples * (1 + 60 // max(1, len(samples))))[:60]
    times = [int(i * at / 50) for i in range(60)]
    start = time.perf_counter()
    measure(steps, at, times, frames)
    return time.perf_counter() - start


def best_box(engine, rgb: np.ndarray):
    """A face box for anti-spoof crops (the frame's centre when no face is found)."""
    from scoring.observation import BBox

    face = engine.analyze_image(mediagen_jpeg(rgb)).best_face
    h, w = rgb.shape[:2]
    return face.bbox if face else BBox(w // 4, h // 4, 3 * w // 4, 3 * h // 4)


def mediagen_jpeg(rgb: np.ndarray) -> bytes:
    from tests.support import mediagen

    return mediagen.jpeg(rgb)


def frame_shape_ok(clip: bytes) -> bool:
    from scoring.media import VideoReader
    from scoring.settings import MediaLimits

    with VideoReader(clip, MediaLimits()) as reader:
        return (reader.info.width, reader.info.height) == (WIDTH, HEIGHT)


if __name__ == "__main__":
    sys.exit(main())
