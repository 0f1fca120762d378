"""Recordings and animations against a random action challenge over real WebRTC:
`python -m evaluation.challenge_runs ../shared/media [--runs N] [--actions 2] [--only SUBSTR]`.

One `livecheck serve` on loopback (evaluation.live_runner.live_server); every sample is streamed in real time by
the Python WebRTC client as a camera would, each run into a fresh session created with `action_count: N` (the
server draws the actions with its own RNG, the way an integrator's sessions get them). The samples:
- `deepfake`: every clip of deepfakes/ (talking heads generated from one still; the group is SOURCES.tsv's
  generator), streamed as it is;
- `talking_photo`: evaluation.attacks.talking_photo of the middle frame of one live clip per source (the face
  spot from the engine's landmarker), long enough to cover the whole challenge;
- `recording`: live clips of real people streamed as they are (a recording injected as a camera; d12 turns left,
  right and opens its mouth, in that order).
None of these is a person answering the prompts: every accepted run is a hole. Prints one line per run, then per
kind and group the runs, accepted, the challenge's own pass (every prompted action passed, whatever the
evidence then decided), the reasons and the actions asked when one got through; then how often each action was
passed by chance when asked. Run it inside a loopback-only namespace:
`nice -n 10 unshare -n sh -c 'ip link set lo up && exec .venv/bin/python -m evaluation.challenge_runs ../shared/media'`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.live_runner import LiveServer, camera_frames, live_server, stream_session
from realtime.status import SessionStatus

Frames = tuple[list[np.ndarray], float]
TALKING_PHOTO_SECONDS = 20.0  # positioning + two 8 s action windows: the animation talks through all of it
LEAD_S = 0.5
SESSION_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Sample:
    kind: str  # deepfake | talking_photo | recording
    group: str  # the generator (deepfakes) or the live clip's source
    name: str
    load: Callable[[], Frames]


@dataclass(frozen=True)
class Run:
    sample: Sample
    status: str
    reasons: tuple[str, ...]
    prompted: tuple[tuple[str, bool], ...]  # (action, passed) per prompt the server gave
    timing: tuple[str, ...] = ()  # per passed action: its reaction after the prompt and how long it lasted
    asked: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == SessionStatus.SUCCEEDED

    @property
    def challenge_passed(self) -> bool:
        """Every asked action passed (the challenge let it through, whatever the evidence said)."""
        return len(self.prompted) == self.asked > 0 and all(ok for _, ok in self.prompted)


def sources(media: Path) -> dict[str, tuple[str, str]]:
    """SOURCES.tsv: relative path -> (kind, source)."""
    with (media / "SOURCES.tsv").open(encoding="utf-8", newline="") as handle:
        return {row["path"]: (row["kind"], row["source"]) for row in csv.DictReader(handle, delimiter="\t")}


def one_per_source(table: dict[str, tuple[str, str]], kind: str = "live") -> list[tuple[str, str]]:
    """(path, source): the longest clip of each source of `kind` (the most frames to give a chance pass)."""
    best: dict[str, str] = {}
    for path, (k, source) in sorted(table.items()):
        if k == kind and (source not in best or _seconds(path) > _seconds(best[source])):
            best[source] = path
    return sorted((path, source) for source, path in best.items())


_DURATIONS: dict[str, float] = {}


def _seconds(path: str) -> float:
    return _DURATIONS.get(path, 0.0)


def _load_durations(media: Path) -> None:
    with (media / "SOURCES.tsv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            _DURATIONS[row["path"]] = float(row["duration_s"] or 0)


class LazyLocator:
    """evaluation.locate.face_locator on an engine loaded at the first talking photo (none for deepfakes only)."""

    def __init__(self, models: str) -> None:
        self.models = models
        self._engine: Any = None
        self._locate: Callable[[np.ndarray], Any] | None = None

    def __call__(self, frame: np.ndarray) -> Any:
        if self._locate is None:
            from evaluation.locate import face_locator  # noqa: PLC0415 - loads the models
            from scoring.engine import LivenessEngine  # noqa: PLC0415
            from scoring.settings import EngineSettings  # noqa: PLC0415

            self._engine = LivenessEngine.load(EngineSettings(), self.models, landmarkers=1, live_landmarkers=1)
            self._locate = face_locator(self._engine)
        return self._locate(frame)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()


def talking_photo_loader(clip: Path, locate: Callable[[np.ndarray], Any] | None, seed: int) -> Callable[[], Frames]:
    """The middle frame of `clip` (at webcam size) animated by evaluation.attacks.talking_photo."""

    def load() -> Frames:
        from evaluation.attacks import FaceSpot, talking_photo  # noqa: PLC0415
        from evaluation.clips import STILL_FPS  # noqa: PLC0415

        frames, _ = camera_frames(clip)
        frame = frames[len(frames) // 2]
        spot = (locate(frame) if locate else None) or FaceSpot.guess(frame)
        animated = talking_photo(frame, np.random.default_rng(seed), spot, seconds=TALKING_PHOTO_SECONDS)
        return animated.frames, STILL_FPS

    return load


def samples(media: Path, locate: Callable[[np.ndarray], Any] | None, seed: int) -> list[Sample]:
    table = sources(media)
    _load_durations(media)
    out = [
        Sample("deepfake", source, Path(path).stem, partial(camera_frames, media / path))
        for path, (kind, source) in sorted(table.items())
        if kind == "deepfake"
    ]
    live = one_per_source(table)
    for i, (path, source) in enumerate(live):
        out.append(
            Sample(
                "talking_photo", source, f"tp_{Path(path).stem}", talking_photo_loader(media / path, locate, seed + i)
            )
        )
    recordings = dict(live)
    recordings.setdefault("videos/d12.mp4", table.get("videos/d12.mp4", ("live", "liveportrait-driving"))[1])
    for path, source in sorted(recordings.items()):
        out.append(Sample("recording", source, Path(path).stem, partial(camera_frames, media / path)))
    return out


async def run_one(server: LiveServer, sample: Sample, frames: Frames, actions: int) -> Run:
    started = time.perf_counter()
    try:
        body = await stream_session(
            server, frames[0], frames[1], actions=actions, lead_s=LEAD_S, timeout_s=SESSION_TIMEOUT_S
        )
    except Exception as exc:  # noqa: BLE001 - one run's failure is reported, the others go on
        return Run(sample, "ERROR", (), (), (), actions, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
    result = body.get("result") or {}
    done = result.get("actions") or ()
    return Run(
        sample,
        str(body.get("status")),
        tuple(str(r) for r in result.get("reasons") or ()),
        tuple((str(a["action"]), bool(a["passed"])) for a in done),
        tuple(_timing(a) for a in done if a.get("passed")),
        actions,
        time.perf_counter() - started,
    )


def _timing(action: dict[str, Any]) -> str:
    """'blink@1.2s/0.13s': reaction after its prompt, then how long the event lasted."""
    start, end, reaction = action.get("start_s"), action.get("end_s"), action.get("reaction_ms")
    length = f"/{end - start:.2f}s" if start is not None and end is not None else ""
    return f"{action['action']}@{(reaction or 0) / 1000:.1f}s{length}"


def line(run: Run) -> str:
    asked = " ".join(f"{a}{'+' if ok else '-'}" for a, ok in run.prompted) or "-"
    reasons = ",".join(run.reasons) or "-"
    return (
        f"{run.sample.kind:13} {run.sample.group:20} {run.sample.name:28} {run.status:9} "
        f"{asked:32} {reasons:30} {run.seconds:5.1f}s {' '.join(run.timing)}{'  ' + run.error if run.error else ''}"
    )


def table(runs: Sequence[Run]) -> str:
    rows = [
        f"{'kind':13} {'group':20} {'runs':>4} {'acc':>3} {'acc%':>5} {'chal':>4}  reasons | asked when through",
    ]
    groups: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for run in runs:
        groups[(run.sample.kind, run.sample.group)].append(run)
        groups[(run.sample.kind, "ALL")].append(run)
    for (kind, group), members in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] == "ALL", kv[0][1])):
        accepted = [r for r in members if r.accepted]
        through = [r for r in members if r.challenge_passed]
        reasons = Counter(reason for r in members for reason in r.reasons or (r.status,))
        asked = "; ".join(f"{r.sample.name}: {'+'.join(a for a, _ in r.prompted)}" for r in through) or "-"
        rows.append(
            f"{kind:13} {group:20} {len(members):4} {len(accepted):3} {100 * len(accepted) / len(members):5.1f} "
            f"{len(through):4}  {', '.join(f'{k} {v}' for k, v in reasons.most_common())} | {asked}"
        )
    return "\n".join(rows)


def per_action(runs: Sequence[Run]) -> str:
    """How often each action was passed when it was prompted to something that is not a person answering."""
    asked: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    for run in runs:
        for action, ok in run.prompted:
            asked[action] += 1
            passed[action] += ok
    rows = [f"{'action':11} {'prompted':>8} {'passed':>6}  by chance"]
    for action in sorted(asked):
        rows.append(f"{action:11} {asked[action]:8} {passed[action]:6}  {100 * passed[action] / asked[action]:5.1f} %")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("media", type=Path)
    parser.add_argument("--runs", type=int, default=1, help="sessions per sample (each a fresh random challenge)")
    parser.add_argument("--actions", type=int, default=2, help="action_count of each session")
    parser.add_argument("--only", default="", help="only samples whose kind/group/name contains this")
    parser.add_argument("--seed", type=int, default=18, help="the talking photos' animation")
    parser.add_argument("--models", default=os.environ.get("LIVECHECK_MODELS"))
    args = parser.parse_args(argv)
    media: Path = args.media
    models = args.models or str(media.parent / "models")

    locator = LazyLocator(models)
    chosen = [s for s in samples(media, locator, args.seed) if args.only in f"{s.kind}/{s.group}/{s.name}"]
    print(f"{len(chosen)} samples x {args.runs} runs, {args.actions} actions each", flush=True)
    runs: list[Run] = []
    began = time.perf_counter()
    with live_server(models) as server:
        for sample in chosen:
            frames = sample.load()
            for _ in range(args.runs):
                run = asyncio.run(run_one(server, sample, frames, args.actions))
                runs.append(run)
                print(line(run), flush=True)
            del frames
            gc.collect()
    locator.close()
    print()
    print(table(runs))
    print()
    print(per_action(runs))
    print(f"\n{len(runs)} runs in {time.perf_counter() - began:.0f} s")
    return 1 if any(r.error for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
