"""The catalogue of generated attacks: their kinds (`AttackType`, labels.csv's `attack_type`), one item to make
(`AttackSpec`), every item that applies to a folder of live media, and the dataset of them (`make_attacks`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from evaluation.attacks import (
    Locate,
    bent_photo,
    held_photo,
    print_photo,
    replay_fast,
    replay_loop,
    replay_tilted,
    screen_replay,
    splice,
    still_injection,
    still_noise,
    tilted_photo,
)
from evaluation.clips import IMAGE_SUFFIXES, VIDEO_SUFFIXES, Clip, read_frame, read_video, write_video


class AttackType(StrEnum):
    """The attacks this module generates (labels.csv `attack_type`; a dataset's real attack media may name others)."""

    PRINT_PHOTO = "print_photo"
    SCREEN_REPLAY = "screen_replay"
    STILL_INJECTION = "still_injection"
    REPLAY_FAST = "replay_fast"
    REPLAY_LOOP = "replay_loop"
    SPLICE = "splice"
    HELD_PHOTO = "held_photo"
    TILTED_PHOTO = "tilted_photo"
    BENT_PHOTO = "bent_photo"
    STILL_NOISE = "still_noise"
    REPLAY_TILTED = "replay_tilted"


ATTACK_TYPES = tuple(AttackType)
StillAttack = Callable[[np.ndarray, np.random.Generator], Clip]
STILL_ATTACKS: dict[str, StillAttack] = {
    AttackType.PRINT_PHOTO: print_photo,
    AttackType.HELD_PHOTO: held_photo,
    AttackType.TILTED_PHOTO: tilted_photo,
    AttackType.BENT_PHOTO: bent_photo,
    AttackType.STILL_NOISE: still_noise,
}


@dataclass(frozen=True)
class AttackSpec:
    """One clip to generate. Paths are relative to the live media folder."""

    attack_type: str
    source: str
    second_source: str = ""  # splice only: the other person
    at_s: float | None = None  # which frame of a video the still attacks use (default: the middle)
    max_seconds: float = 6.0  # clips made from a video use at most this much of it
    actions: tuple[str, ...] = ()  # what the item is checked against (a replay carries the live actions)

    def __post_init__(self) -> None:
        if self.attack_type not in ATTACK_TYPES:
            raise ValueError(f"unknown attack type {self.attack_type!r}; one of {', '.join(ATTACK_TYPES)}")
        if self.attack_type == AttackType.SPLICE and not self.second_source:
            raise ValueError("a splice needs second_source")

    @property
    def file_stem(self) -> str:
        stems = [Path(self.source).stem] + ([Path(self.second_source).stem] if self.second_source else [])
        return f"{self.attack_type}_{'+'.join(stems)}"


def generate(spec: AttackSpec, live_dir: Path, rng: np.random.Generator, locate: Locate | None = None) -> Clip:
    """`locate` finds the face for the attacks that warp or cut out part of it (else FaceSpot.guess)."""
    source = live_dir / spec.source
    video: Callable[[Path], Clip] = lambda p: read_video(p, spec.max_seconds)  # noqa: E731
    if spec.attack_type in STILL_ATTACKS:
        return STILL_ATTACKS[spec.attack_type](read_frame(source, spec.at_s), rng)
    if spec.attack_type == AttackType.STILL_INJECTION:
        return still_injection(read_frame(source, spec.at_s))
    if spec.attack_type == AttackType.SCREEN_REPLAY:
        return screen_replay(video(source), rng)
    if spec.attack_type == AttackType.REPLAY_TILTED:
        return replay_tilted(video(source), rng)
    if spec.attack_type == AttackType.REPLAY_FAST:
        return replay_fast(read_video(source, spec.max_seconds * 2))
    if spec.attack_type == AttackType.REPLAY_LOOP:
        return replay_loop(video(source))
    return splice(video(source), video(live_dir / spec.second_source))


def default_specs(live_dir: Path) -> list[AttackSpec]:
    """Every attack that applies to the media in a folder of live items: stills become printed photos and
    injected stills; each video also becomes a screen replay, a fast and a looped replay; consecutive videos
    (by name) are spliced."""
    files = sorted(p for p in live_dir.rglob("*") if p.is_file())
    videos = [p.relative_to(live_dir).as_posix() for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
    images = [p.relative_to(live_dir).as_posix() for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    stills = (
        AttackType.PRINT_PHOTO,
        AttackType.STILL_INJECTION,
        *[k for k in STILL_ATTACKS if k != AttackType.PRINT_PHOTO],
    )
    specs = [AttackSpec(kind, image) for image in images for kind in stills]
    for v in videos:
        specs += [
            AttackSpec(kind, v)
            for kind in (
                *stills,
                AttackType.SCREEN_REPLAY,
                AttackType.REPLAY_TILTED,
                AttackType.REPLAY_FAST,
                AttackType.REPLAY_LOOP,
            )
        ]
    specs += [AttackSpec(AttackType.SPLICE, a, b) for a, b in zip(videos, videos[1:])]
    return specs


def live_media(live_dir: Path) -> list[Path]:
    return sorted(p for p in live_dir.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES)


def rng_for(seed: int, index: int) -> np.random.Generator:
    """Each item its own stream, so adding an item does not change the others."""
    return np.random.default_rng([seed, index])


def make_attacks(
    specs: Sequence[AttackSpec],
    live_dir: Path,
    out_dir: Path,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
    locate: Locate | None = None,
) -> list[tuple[AttackSpec, Path]]:
    """Generates every spec into `out_dir/attacks/NN_<type>_<source>.mp4`."""
    written = []
    for index, spec in enumerate(specs):
        path = out_dir / "attacks" / f"{index:02d}_{spec.file_stem}.mp4"
        write_video(path, generate(spec, live_dir, rng_for(seed, index), locate))
        written.append((spec, path))
        if progress:
            progress(index + 1, len(specs))
    return written
