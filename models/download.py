"""Fetches every model from its upstream source, pinned by sha256, into a models directory.

Each download streams into a hidden `.NAME.partial` file next to its destination while its sha256 is computed, is
checked (size and sha256), and only then renamed into place: an interrupted, truncated or corrupt transfer never
leaves a file that looks installed. MiniFASNet arrives as PyTorch `.pth` files and is converted to ONNX here
(models.minifasnet_onnx, no PyTorch); the converter's output is pinned too. urllib honours the standard proxy
variables (http_proxy, https_proxy, no_proxy); LIVECHECK_MODELS_MIRROR redirects every fetch to a mirror.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from models.loader import ModelError, check_file
from models.manifest import DOWNLOADS, MANIFEST, Download, ModelSpec
from models.minifasnet_onnx import ConversionError, convert_bytes
from models.torch_checkpoint import CheckpointError

MIRROR_ENV = "LIVECHECK_MODELS_MIRROR"
TIMEOUT_S = 30.0  # per connect / per read: a stalled server fails instead of hanging
CHUNK = 1 << 16
USER_AGENT = "livecheck-models/1"

Progress = Callable[[int], None]


class DownloadError(ModelError):
    """A model could not be fetched, verified or converted; nothing was installed for it."""


def source_url(download: Download, mirror: str | None = None) -> str:
    """The URL fetched for a download: upstream, or `MIRROR/HOST/PATH` when a mirror is set."""
    mirror = os.environ.get(MIRROR_ENV) if mirror is None else mirror
    if not mirror:
        return download.url
    parts = urllib.parse.urlsplit(download.url)
    return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path}"


def _offline_hint(url: str, reason: str) -> str:
    return (
        f"could not fetch {url} ({reason}). Without internet access, copy the model files from a machine that has them and run "
        f"`livecheck models install --from DIR`, or set {MIRROR_ENV} to an internal mirror laid out as HOST/PATH"
    )


@dataclass
class TerminalProgress:
    """A one-line progress bar on a terminal; silent when the stream is not a TTY (logs, CI, pipes)."""

    label: str
    total: int
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    _last: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.stream.isatty()

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and done < self.total):
            return
        self._last = now
        width = 30
        filled = int(width * done / self.total) if self.total else width
        self.stream.write(
            f"\r  {self.label:45.45s} [{'#' * filled}{'.' * (width - filled)}] "
            f"{done / 1e6:6.1f}/{self.total / 1e6:.1f} MB"
        )
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


def _install_stream(
    destination: Path, chunks: Callable[[Callable[[bytes], None]], None], check: Callable[[str], None]
) -> None:
    """Streams bytes into `.NAME.partial` while hashing them, lets `check` refuse the sha256, then renames the file
    into place. On any failure, KeyboardInterrupt included, the partial file is removed: nothing half-done remains."""
    partial = destination.with_name(f".{destination.name}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:

            def sink(chunk: bytes) -> None:
                digest.update(chunk)
                out.write(chunk)

            chunks(sink)
        check(digest.hexdigest())
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def fetch(url: str, destination: Path, sha256: str, size: int, label: str, progress: Progress | None = None) -> None:
    """Downloads `url` to `destination` only if it has exactly `size` bytes with `sha256`."""

    def stream(sink: Callable[[bytes], None]) -> None:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"{label}: HTTP {exc.code} {exc.reason} from {url}; nothing installed") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise DownloadError(f"{label}: {_offline_hint(url, _reason(exc))}") from None
        received = 0
        with response:
            while True:
                try:
                    chunk = response.read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:  # the connection dropped mid-transfer
                    raise DownloadError(
                        f"{label}: transfer from {url} interrupted after {received} of {size} bytes "
                        f"({_reason(exc)}); nothing installed, run the command again"
                    ) from None
                if not chunk:
                    break
                received += len(chunk)
                if received > size:
                    raise DownloadError(f"{label}: {url} sent more than the expected {size} bytes; nothing installed")
                sink(chunk)
                if progress:
                    progress(received)
        if received != size:
            raise DownloadError(
                f"{label}: transfer from {url} interrupted after {received} of {size} bytes (connection closed); "
                "nothing installed, run the command again"
            )

    def check(actual: str) -> None:
        if actual != sha256:
            raise DownloadError(
                f"{label}: corrupt download from {url}: sha256 {actual}, expected {sha256}; nothing installed"
            )

    _install_stream(destination, stream, check)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc) or type(exc).__name__


def _install_converted(
    download: Download, item: ModelSpec, staging: Path, target: Path, progress: Callable[[str, int], Progress | None]
) -> None:
    pth = staging / download.file
    url = source_url(download)
    fetch(url, pth, download.sha256, download.size, download.file, progress(download.file, download.size))
    try:
        onnx_bytes = convert_bytes(pth.read_bytes(), download.file)
    except (CheckpointError, ConversionError) as exc:
        raise DownloadError(f"{download.file}: cannot convert to {item.filename}: {exc}") from None
    actual = hashlib.sha256(onnx_bytes).hexdigest()
    if not item.accepts(actual, len(onnx_bytes)):
        raise DownloadError(
            f"{item.filename}: converted from {download.file} with sha256 {actual}, which the manifest does not pin "
            f"(expected {item.sha256} or {', '.join(v.sha256 for v in item.variants)}); nothing installed"
        )
    _install_stream(target / item.filename, lambda sink: sink(onnx_bytes), lambda _sha256: None)


def download_for(key: str) -> Download:
    return next(d for d in DOWNLOADS if d.provides == key)


def download_models(
    target: Path,
    progress: Callable[[str, int], Progress | None] = lambda _l, _t: None,
    log: Callable[[str], None] = lambda _m: None,
) -> list[str]:
    """Fetches (and converts) every manifest file not already verified in `target`; returns what it installed.

    Stops at the first failure with a DownloadError that names the file and the URL.
    """
    target.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(target)
    installed = []
    for item in MANIFEST:
        if check_file(target, item) is None:
            log(f"ok  {item.filename} already installed")
            continue
        download = download_for(item.key)
        if download.convert:
            with tempfile.TemporaryDirectory(prefix=".download-", dir=target) as staging:
                _install_converted(download, item, Path(staging), target, progress)
        else:
            fetch(
                source_url(download),
                target / item.filename,
                download.sha256,
                download.size,
                item.filename,
                progress(item.filename, download.size),
            )
        log(f"got {item.filename} from {source_url(download)}")
        installed.append(item.filename)
    return installed


def remove_stale_partials(target: Path) -> None:
    """Leftovers of a process killed outright (SIGKILL, power loss) are removed before a new attempt."""
    if not target.is_dir():
        return
    for path in target.glob(".*.partial"):
        path.unlink(missing_ok=True)
    for path in target.glob(".download-*"):
        shutil.rmtree(path, ignore_errors=True)
