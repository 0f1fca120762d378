"""An evaluation dataset: a folder with `labels.csv` (path,label,attack_type,actions,reference).

Paths are relative to the CSV's folder (absolute paths work too). `label` is live or attack; attacks need an
`attack_type`. `actions` is an optional list of the engine's action names separated by `;` or `,` (in order);
`reference` an optional photo to match the face against.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from evaluation.metrics import ATTACK, LIVE

LABELS_FILE = "labels.csv"
COLUMNS = ("path", "label", "attack_type", "actions", "reference")


class DatasetError(Exception):
    """A labels file that cannot be read as a dataset; the message names the line."""


@dataclass(frozen=True)
class LabeledItem:
    path: Path
    label: str  # live | attack
    attack_type: str = ""  # "" for bona fide
    actions: tuple[str, ...] = ()
    reference: Path | None = None

    @property
    def name(self) -> str:
        return self.path.name


def labels_path(dataset: Path) -> Path:
    """A dataset folder or its CSV file."""
    return dataset if dataset.is_file() else dataset / LABELS_FILE


def _split_actions(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in text.replace(";", ",").split(",") if a.strip())


def load_labels(dataset: Path) -> list[LabeledItem]:
    csv_path = labels_path(Path(dataset))
    if not csv_path.is_file():
        raise DatasetError(f"{csv_path}: no labels file")
    root = csv_path.parent
    items: list[LabeledItem] = []
    with csv_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"path", "label"} - set(reader.fieldnames or ())
        if missing:
            raise DatasetError(f"{csv_path}: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            path = (row.get("path") or "").strip()
            label = (row.get("label") or "").strip().lower()
            attack_type = (row.get("attack_type") or "").strip()
            where = f"{csv_path}:{line}"
            if not path:
                raise DatasetError(f"{where}: empty path")
            if label not in (LIVE, ATTACK):
                raise DatasetError(f"{where}: label must be live or attack, not {label!r}")
            if label == ATTACK and not attack_type:
                raise DatasetError(f"{where}: an attack needs an attack_type")
            if label == LIVE:
                attack_type = ""
            reference = (row.get("reference") or "").strip()
            items.append(
                LabeledItem(
                    path=root / path,
                    label=label,
                    attack_type=attack_type,
                    actions=_split_actions(row.get("actions") or ""),
                    reference=root / reference if reference else None,
                )
            )
    if not items:
        raise DatasetError(f"{csv_path}: no items")
    return items


def write_labels(folder: Path, items: Iterable[LabeledItem]) -> Path:
    """Writes `labels.csv` into `folder` with every path relative to it."""
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / LABELS_FILE

    def rel(p: Path) -> str:
        return Path(os.path.relpath(p.resolve(), folder.resolve())).as_posix()

    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for item in items:
            writer.writerow(
                [
                    rel(item.path),
                    item.label,
                    item.attack_type,
                    ";".join(item.actions),
                    rel(item.reference) if item.reference else "",
                ]
            )
    return csv_path
