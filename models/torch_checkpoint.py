"""Reads a PyTorch state dict into numpy without PyTorch, refusing anything that is not a state dict.

A `.pth` file is pickle plus raw tensor bytes: either the legacy stream (magic number, protocol, system info, the
state-dict pickle, the storage keys, then each storage as int64 element count + raw bytes; upstream MiniFASNet is
saved this way) or a zip (`*/data.pkl` + `*/data/<key>`, torch >= 1.6). Unpickling is the dangerous part: a pickle
can name any callable. The unpickler here resolves exactly the globals a state dict needs, each mapped to an inert
builder of our own, and refuses every other global before anything is called. Those builders are made afresh for
every load (a pickle's BUILD can set attributes, `__defaults__` say, on what a global resolves to: on a shared
object that would change the next load), and every tensor's size is bounded by its storage and by
MAX_TENSOR_ELEMENTS before anything is allocated (a zero stride would otherwise turn 480 bytes into 256 MiB).
"""

from __future__ import annotations

import io
import math
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
MAX_TENSOR_ELEMENTS = 1 << 26  # 64 Mi elements: far above any model livecheck converts (MiniFASNet: < 1 Mi in all)
MAX_DIMS = 8

# torch.<Name>Storage -> element dtype (little-endian; both formats store raw native bytes, written on x86/ARM).
_STORAGE_DTYPES: Mapping[str, np.dtype] = MappingProxyType(
    {
        "FloatStorage": np.dtype("<f4"),
        "DoubleStorage": np.dtype("<f8"),
        "HalfStorage": np.dtype("<f2"),
        "LongStorage": np.dtype("<i8"),
        "IntStorage": np.dtype("<i4"),
        "ShortStorage": np.dtype("<i2"),
        "CharStorage": np.dtype("i1"),
        "ByteStorage": np.dtype("u1"),
        "BoolStorage": np.dtype("?"),
    }
)


class CheckpointError(ValueError):
    """The file is not a plain state dict (corrupt, truncated, or carrying something other than tensors)."""


@dataclass(frozen=True, slots=True)
class _StorageType:
    """What `torch.FloatStorage` & co. unpickle to: only the element type is needed."""

    name: str
    dtype: np.dtype


@dataclass(frozen=True, slots=True)
class _StorageRef:
    key: str
    dtype: np.dtype
    numel: int


@dataclass(frozen=True, slots=True)
class _TensorRef:
    """A tensor as the pickle describes it; materialised once the storages' bytes are read."""

    storage: _StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(
    storage: object,
    storage_offset: object,
    size: object,
    stride: object,
    requires_grad: object = False,
    backward_hooks: object = None,
    metadata: object = None,
) -> _TensorRef:
    if not isinstance(storage, _StorageRef):
        raise CheckpointError("tensor without a storage")
    if not (
        isinstance(storage_offset, int)
        and isinstance(size, tuple)
        and isinstance(stride, tuple)
        and len(size) == len(stride) <= MAX_DIMS
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in size + stride)
        and storage_offset >= 0
    ):
        raise CheckpointError("malformed tensor geometry")
    elements = math.prod(size)
    # A state dict's tensor never holds more elements than its storage past its offset: a larger one repeats
    # storage bytes (a zero or overlapping stride) and would be materialised at its full size.
    if elements > MAX_TENSOR_ELEMENTS or elements > max(0, storage.numel - storage_offset):
        raise CheckpointError(f"tensor of {elements} elements from a storage of {storage.numel}")
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data: object, requires_grad: object = False, backward_hooks: object = None) -> object:
    if not isinstance(data, _TensorRef):
        raise CheckpointError("parameter without tensor data")
    return data


def _allowed_globals() -> dict[tuple[str, str], object]:
    """The globals a state dict needs, as objects made for one load only: nothing a pickle does to them (BUILD sets
    attributes on whatever a global resolved to) outlives that load or reaches this module's own functions."""

    def ordered_dict(*args: object) -> OrderedDict[object, object]:
        if args:
            raise CheckpointError("OrderedDict with arguments")
        return OrderedDict()

    def rebuild_tensor(*args: object) -> _TensorRef:
        return _rebuild_tensor_v2(*args)

    def rebuild_parameter(*args: object) -> object:
        return _rebuild_parameter(*args)

    return {
        ("collections", "OrderedDict"): ordered_dict,
        ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
        **{("torch", name): _StorageType(name, dtype) for name, dtype in _STORAGE_DTYPES.items()},
    }


# The names only (what the refusal message and the tests list); find_class resolves from a fresh _allowed_globals().
ALLOWED_NAMES: frozenset[tuple[str, str]] = frozenset(_allowed_globals())


class _StateDictUnpickler(pickle.Unpickler):
    """Resolves only the allow-listed globals; storages come back as references to be filled in afterwards."""

    def __init__(self, handle: IO[bytes]) -> None:
        super().__init__(handle)
        self.storages: dict[str, _StorageRef] = {}
        self._globals = _allowed_globals()  # this load's own builders

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._globals[(module, name)]
        except KeyError:
            raise CheckpointError(
                f"refused to load {module}.{name}: a state dict holds only tensors in OrderedDicts, "
                "so this file is not a plain checkpoint (possibly malicious)"
            ) from None

    def persistent_load(self, pid: Any) -> _StorageRef:
        # Legacy: ('storage', type, key, location, numel, view_metadata); zip: ('storage', type, key, location, numel).
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id {pid!r:.80}")
        storage_type, key, _location, numel = pid[1:5]
        if len(pid) == 6 and pid[5] is not None:
            raise CheckpointError("storage views are not supported")
        if not (
            isinstance(storage_type, _StorageType) and isinstance(key, str) and isinstance(numel, int) and numel >= 0
        ):
            raise CheckpointError(f"malformed storage reference {pid!r:.80}")
        known = self.storages.setdefault(key, _StorageRef(key, storage_type.dtype, numel))
        if known.dtype != storage_type.dtype or known.numel != numel:
            raise CheckpointError(f"storage {key} declared twice with different types")
        return known


def _plain_load(handle: IO[bytes]) -> Any:
    """The legacy header pickles hold only ints, strs, dicts and lists: no global is allowed at all."""

    class _NoGlobals(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            raise CheckpointError(f"refused to load {module}.{name} in a checkpoint header")

    return _NoGlobals(handle).load()


def _unpickle(handle: IO[bytes]) -> tuple[object, dict[str, _StorageRef]]:
    unpickler = _StateDictUnpickler(handle)
    try:
        result = unpickler.load()
    except CheckpointError:
        raise
    except Exception as exc:  # truncated or malformed pickle stream; REDUCE on a non-callable
        raise CheckpointError(f"unreadable checkpoint pickle: {exc}") from None
    return result, unpickler.storages


def _materialise(result: object, raw: dict[str, np.ndarray]) -> OrderedDict[str, np.ndarray]:
    if not isinstance(result, dict):
        raise CheckpointError(f"checkpoint holds a {type(result).__name__}, not a state dict")
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for name, ref in result.items():
        if not isinstance(name, str) or not isinstance(ref, _TensorRef):
            raise CheckpointError(f"state dict entry {name!r:.60} is not a tensor")
        data = raw[ref.storage.key]
        if 0 in ref.size:
            out[name] = np.zeros(ref.size, data.dtype.newbyteorder("="))
            continue
        last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride))
        if ref.offset < 0 or last >= data.size:
            raise CheckpointError(f"tensor {name} reaches outside its storage")
        view = np.lib.stride_tricks.as_strided(
            data[ref.offset :],
            shape=ref.size,
            strides=tuple(s * data.itemsize for s in ref.stride),
            writeable=False,
        )
        out[name] = np.array(view, dtype=data.dtype.newbyteorder("="), copy=True)
    return out


def _read_exact(handle: IO[bytes], count: int, what: str) -> bytes:
    data = handle.read(count)
    if len(data) != count:
        raise CheckpointError(f"truncated checkpoint: {what} needs {count} bytes, {len(data)} left")
    return data


def _load_legacy(handle: IO[bytes]) -> OrderedDict[str, np.ndarray]:
    try:
        magic, protocol, info = _plain_load(handle), _plain_load(handle), _plain_load(handle)
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"not a PyTorch checkpoint: {exc}") from None
    if magic != LEGACY_MAGIC or protocol != LEGACY_PROTOCOL:
        raise CheckpointError("not a PyTorch checkpoint (bad magic number or protocol)")
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise CheckpointError("only little-endian checkpoints are supported")
    result, refs = _unpickle(handle)
    try:
        keys = _plain_load(handle)
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"truncated checkpoint (storage list): {exc}") from None
    if not isinstance(keys, list) or set(keys) != set(refs):
        raise CheckpointError("storage list does not match the tensors")
    raw: dict[str, np.ndarray] = {}
    for key in keys:
        ref = refs[key]
        (numel,) = struct.unpack("<q", _read_exact(handle, 8, f"storage {key} size"))
        if numel != ref.numel:
            raise CheckpointError(f"storage {key}: {numel} elements on disk, {ref.numel} declared")
        raw[key] = np.frombuffer(_read_exact(handle, numel * ref.dtype.itemsize, f"storage {key}"), ref.dtype)
    if handle.read(1):
        raise CheckpointError("trailing bytes after the last storage")
    return _materialise(result, raw)


def _load_zip(archive: zipfile.ZipFile) -> OrderedDict[str, np.ndarray]:
    pickles = [name for name in archive.namelist() if name.endswith("/data.pkl") and name.count("/") == 1]
    if len(pickles) != 1:
        raise CheckpointError("zip checkpoint without exactly one <name>/data.pkl")
    prefix = pickles[0][: -len("data.pkl")]
    if f"{prefix}byteorder" in archive.namelist() and archive.read(f"{prefix}byteorder") != b"little":
        raise CheckpointError("only little-endian checkpoints are supported")
    result, refs = _unpickle(io.BytesIO(archive.read(pickles[0])))
    raw: dict[str, np.ndarray] = {}
    for key, ref in refs.items():
        try:
            data = archive.read(f"{prefix}data/{key}")
        except KeyError:
            raise CheckpointError(f"storage {key} missing from the archive") from None
        if len(data) != ref.numel * ref.dtype.itemsize:
            raise CheckpointError(f"storage {key}: {len(data)} bytes, {ref.numel} elements declared")
        raw[key] = np.frombuffer(data, ref.dtype)
    return _materialise(result, raw)


def load_state_dict(source: Path | bytes) -> OrderedDict[str, np.ndarray]:
    """Tensors by name, as numpy arrays, from a `.pth` file (legacy or zip format) or its bytes."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if zipfile.is_zipfile(io.BytesIO(data)):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return _load_zip(archive)
        except zipfile.BadZipFile as exc:
            raise CheckpointError(f"corrupt zip checkpoint: {exc}") from None
    return _load_legacy(io.BytesIO(data))
