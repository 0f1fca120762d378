"""The .pth unpickler (models/torch_checkpoint.py) against two crafted checkpoints: one that mutates what an
allow-listed global resolves to (so the next load would run with the attacker's defaults), and one whose zero
stride inflates 480 bytes of storage into a 256 MiB tensor. Both fail on the code before issue 19."""

from __future__ import annotations

import pickle
import struct
import sys
import types
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np
import pytest

from models import torch_checkpoint
from models.torch_checkpoint import LEGACY_MAGIC, CheckpointError, load_state_dict

pytestmark = pytest.mark.unit


@pytest.fixture
def fake_torch() -> Iterator[types.ModuleType]:
    """Just enough of a `torch` module for pickle to name its globals (torch itself is never installed)."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: object) -> None: ...

    class FloatStorage:
        pass

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    torch.FloatStorage = FloatStorage  # type: ignore[attr-defined]
    torch._utils = utils  # type: ignore[attr-defined]
    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        yield torch
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class _Tensor:
    def __init__(self, rebuild: object, storage: object, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.args: tuple[object, ...] = (storage, 0, size, stride, False, OrderedDict())
        self.rebuild = rebuild

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.rebuild, self.args


class _Storage:
    def __init__(self, kind: type, numel: int) -> None:
        self.kind, self.numel = kind, numel


def legacy_checkpoint(
    torch: types.ModuleType, tensors: dict[str, tuple[tuple[int, ...], tuple[int, ...]]], numel: int
) -> bytes:
    """A legacy .pth: one float32 storage of `numel` elements, tensors of the given (size, stride) over it."""
    storage = _Storage(torch.FloatStorage, numel)
    state = OrderedDict(
        (name, _Tensor(torch._utils._rebuild_tensor_v2, storage, size, stride))
        for name, (size, stride) in tensors.items()
    )
    header = [LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}]

    class Writer(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:
            return ("storage", obj.kind, "0", "cpu", obj.numel) if isinstance(obj, _Storage) else None

    import io

    main = io.BytesIO()
    Writer(main, protocol=2).dump(state)
    body = np.arange(numel, dtype="<f4").tobytes()
    return (
        b"".join(pickle.dumps(part, protocol=2) for part in header)
        + main.getvalue()
        + pickle.dumps(["0"], protocol=2)
        + struct.pack("<q", numel)
        + body
    )


def test_a_plain_checkpoint_still_loads(fake_torch: types.ModuleType) -> None:
    loaded = load_state_dict(legacy_checkpoint(fake_torch, {"w": ((3, 4), (4, 1)), "t": ((4, 3), (1, 4))}, 12))
    assert np.array_equal(loaded["w"], np.arange(12, dtype=np.float32).reshape(3, 4))
    assert np.array_equal(loaded["t"], loaded["w"].T)


def test_a_zero_stride_cannot_inflate_a_tensor_past_its_storage(fake_torch: types.ModuleType) -> None:
    """480 bytes of storage, a (8192, 8192) tensor of stride (0, 0): before, 256 MiB were allocated."""
    crafted = legacy_checkpoint(fake_torch, {"w": ((8192, 8192), (0, 0))}, 120)
    assert len(crafted) < 2000
    with pytest.raises(CheckpointError, match="elements"):
        load_state_dict(crafted)


def test_a_pickle_cannot_change_what_the_next_load_runs(fake_torch: types.ModuleType) -> None:
    """GLOBAL torch._utils._rebuild_tensor_v2 then BUILD with slot state sets __defaults__ on what the global
    resolved to. Before, that was the module's own function: every later load would see the attacker's defaults."""
    before = torch_checkpoint._rebuild_tensor_v2.__defaults__
    state = pickle.dumps((None, {"__defaults__": ("attacker", None, None)}), protocol=2)[2:-1]
    crafted = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n" + state + b"b."
    header = [LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}]
    with pytest.raises(CheckpointError):
        load_state_dict(b"".join(pickle.dumps(part, protocol=2) for part in header) + crafted)
    assert torch_checkpoint._rebuild_tensor_v2.__defaults__ == before
    loaded = load_state_dict(legacy_checkpoint(fake_torch, {"w": ((2, 2), (2, 1))}, 4))  # and the next load works
    assert loaded["w"].shape == (2, 2)
