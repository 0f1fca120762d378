"""Finds the models directory and verifies every pinned file once, before any inference runs."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from models.manifest import MANIFEST, ModelSpec

ENV_VAR = "LIVECHECK_MODELS"


class ModelError(Exception):
    """A model file is missing or does not match the manifest. The message is meant for a person."""


def default_models_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "livecheck" / "models"


def resolve_models_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--models` wins, then LIVECHECK_MODELS, then the per-user data directory."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return default_models_dir()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _install_hint(directory: Path) -> str:
    return (
        f"Install the models with `livecheck models download` (from their upstream sources; needs internet) or "
        f"`livecheck models install --from DIR` (DIR holding the files listed by `livecheck models verify`), "
        f"or point --models / {ENV_VAR} at such a directory. Looked in: {directory}"
    )


def has_no_models(directory: Path) -> bool:
    """True when not a single manifest file is present: a fresh install rather than a broken one."""
    return not any((directory / item.filename).exists() for item in MANIFEST)


def check_file(directory: Path, item: ModelSpec) -> str | None:
    """Returns a problem description for one file, or None when it matches the manifest."""
    return _inspect(directory, item)[0]


def _inspect(directory: Path, item: ModelSpec) -> tuple[str | None, str | None]:
    """(problem or None, the file's sha256 when it was hashed). Hashes each file once."""
    path = directory / item.filename
    if not path.is_file():
        return f"missing model file {item.filename} (expected sha256 {item.sha256})", None
    size = path.stat().st_size
    sizes = {item.size} | {v.size for v in item.variants}
    if size not in sizes:
        return f"corrupt model file {path}: {size} bytes, expected {item.size} (sha256 {item.sha256})", None
    actual = sha256_of(path)
    if not item.accepts(actual, size):
        return f"corrupt model file {path}: sha256 {actual}, expected {item.sha256}", actual
    return None, actual


@dataclass
class ModelStore:
    """A verified models directory. Construct with `ModelStore.open`; paths come back only for checked files."""

    directory: Path
    _verified: dict[str, Path] = field(default_factory=dict)
    _sha256: dict[str, str] = field(default_factory=dict)  # of the files verified: a converted variant has its own

    @classmethod
    def open(cls, explicit: str | os.PathLike[str] | None = None) -> ModelStore:
        store = cls(resolve_models_dir(explicit))
        store.verify()
        return store

    def verify(self) -> None:
        problems = []
        for item in MANIFEST:
            problem, actual = _inspect(self.directory, item)
            if problem is not None:
                if item.required:
                    problems.append(problem)
            elif actual is not None:
                self._verified[item.key] = self.directory / item.filename
                self._sha256[item.key] = actual
        if problems:
            raise ModelError("\n".join(problems + [_install_hint(self.directory)]))

    def versions(self) -> dict[str, str]:
        """`file@sha256:prefix` of every verified model, as results report them (the bytes actually loaded)."""
        return {key: f"{path.name}@sha256:{self._sha256[key][:12]}" for key, path in self._verified.items()}

    def path(self, key: str) -> Path:
        try:
            return self._verified[key]
        except KeyError:
            raise ModelError(f"model {key!r} was not verified in {self.directory}") from None


def install_models(source: Path, target: Path) -> list[str]:
    """Copies every manifest file from `source` into `target`, verifying each; returns what was installed."""
    target.mkdir(parents=True, exist_ok=True)
    problems, installed = [], []
    for item in MANIFEST:
        problem = check_file(source, item)
        if problem is not None:
            problems.append(problem)
            continue
        destination = target / item.filename
        if check_file(target, item) is not None:
            tmp = destination.with_suffix(destination.suffix + ".part")
            try:
                shutil.copyfile(source / item.filename, tmp)
                os.replace(tmp, destination)
            except BaseException:  # a failed or interrupted copy leaves nothing behind
                tmp.unlink(missing_ok=True)
                raise
        installed.append(item.filename)
    if problems:
        raise ModelError("\n".join(problems + [f"Source directory: {source}"]))
    return installed
