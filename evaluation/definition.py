"""A committed dataset definition (TOML): which live media, which real attack media, which generated attacks.
`materialise` turns it into a dataset folder (generated clips + labels.csv referring to the media in place).

    seed = 6
    [[live]]                      # a bona fide item from the media folder
    path = "videos/d12.mp4"
    actions = ["turn_left", "turn_right"]
    [[attack]]                    # an attack that exists as media
    path = "images/image_F1.jpg"
    type = "print_photo"
    [[generate]]                  # an attack built by evaluation.catalogue
    type = "splice"
    source = "videos/d18.mp4"
    second_source = "videos/d19.mp4"
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.catalogue import AttackSpec, default_specs, live_media, make_attacks
from evaluation.dataset import DatasetError, LabeledItem, write_labels
from evaluation.metrics import ATTACK, LIVE

DATASETS_DIR = Path(__file__).resolve().parent / "datasets"


@dataclass(frozen=True)
class Definition:
    seed: int
    existing: tuple[LabeledItem, ...]  # paths relative to the media folder
    generated: tuple[AttackSpec, ...]


def resolve(name_or_path: str) -> Path:
    """A bundled definition by name (`shared`) or a path to a TOML file."""
    bundled = DATASETS_DIR / f"{name_or_path}.toml"
    return bundled if bundled.is_file() else Path(name_or_path)


def _actions(entry: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(a) for a in entry.get("actions", ()))


def load_definition(path: Path) -> Definition:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DatasetError(f"{path}: {exc}") from None
    try:
        existing = [
            LabeledItem(Path(e["path"]), LIVE, "", _actions(e), Path(e["reference"]) if e.get("reference") else None)
            for e in data.get("live", [])
        ] + [LabeledItem(Path(e["path"]), ATTACK, str(e["type"]), _actions(e)) for e in data.get("attack", [])]
        generated = [
            AttackSpec(
                attack_type=str(e["type"]),
                source=str(e["source"]),
                second_source=str(e.get("second_source", "")),
                at_s=float(e["at_s"]) if "at_s" in e else None,
                max_seconds=float(e.get("max_seconds", 6.0)),
                actions=_actions(e),
            )
            for e in data.get("generate", [])
        ]
    except (KeyError, ValueError, TypeError) as exc:
        raise DatasetError(f"{path}: bad entry: {exc}") from None
    return Definition(int(data.get("seed", 0)), tuple(existing), tuple(generated))


def folder_definition(live_dir: Path, seed: int) -> Definition:
    """Every media file of a folder as a live item, and every attack that applies to it."""
    existing = tuple(LabeledItem(p.relative_to(live_dir), LIVE) for p in live_media(live_dir))
    return Definition(seed, existing, tuple(default_specs(live_dir)))


def materialise(
    definition: Definition,
    media_dir: Path,
    out_dir: Path,
    seed: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Generates the attacks into `out_dir` and writes `out_dir/labels.csv`; returns the CSV's path."""
    media_dir = media_dir.resolve()
    missing = [str(i.path) for i in definition.existing if not (media_dir / i.path).is_file()]
    missing += [
        s for g in definition.generated for s in (g.source, g.second_source) if s and not (media_dir / s).is_file()
    ]
    if missing:
        raise DatasetError(f"not in {media_dir}: {', '.join(sorted(set(missing)))}")
    written = make_attacks(
        definition.generated, media_dir, out_dir, definition.seed if seed is None else seed, progress
    )
    items = [
        LabeledItem(
            media_dir / i.path, i.label, i.attack_type, i.actions, media_dir / i.reference if i.reference else None
        )
        for i in definition.existing
    ] + [LabeledItem(path, ATTACK, spec.attack_type, spec.actions) for spec, path in written]
    return write_labels(out_dir, items)
