"""Builds the MiniFASNet V2 / V1SE ONNX graphs from their upstream state dicts, with `onnx.helper`, no PyTorch.

The graph is the one `torch.onnx.export` (opset 13, eval mode, dynamic batch `N`) wrote for the reference files in
the manifest: every Conv+BatchNorm pair folded into one Conv (the order of operations of torch's eval-peephole
pass), PReLU slopes as [C,1,1], the Linear layers as MatMul with transposed weights, the last BatchNorm1d kept.
Node names, value names (including the exporter's numeric ids, which depend only on the architecture), initializer
order and model metadata are reproduced too. The one difference: the reference exporter's float32 sqrt was
faithful (error < 1 ulp) where numpy's is correctly rounded, so in ~14% of channels its folded scale
g / sqrt(var + eps) is the other float32 neighbour and the bytes differ there. The output is deterministic; the
manifest pins its sha256 as a Variant, and the tests hold its logits to the reference's.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from models.torch_checkpoint import load_state_dict

OPSET = 13
IR_VERSION = 7  # what the reference export carries; onnxruntime rejects onnx 1.23's default (14)
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9
INPUT_SIZE = 80
NUM_CLASSES = 3


class ConversionError(ValueError):
    """The state dict does not fit the MiniFASNet architecture it was named for."""


@dataclass(frozen=True)
class Architecture:
    """One upstream MiniFASNet variant. `first_value_id` is the numeric id the torch exporter gave the flatten's
    Unsqueeze axes; every later exporter-numbered value follows from it and the layer count."""

    name: str
    se: bool
    first_value_id: int
    blocks: tuple[tuple[str, int], ...] = (("conv_3", 4), ("conv_4", 6), ("conv_5", 2))


ARCHITECTURES: Mapping[str, Architecture] = MappingProxyType(
    {
        "MiniFASNetV2": Architecture("MiniFASNetV2", se=False, first_value_id=548),
        "MiniFASNetV1SE": Architecture("MiniFASNetV1SE", se=True, first_value_id=608),
    }
)


def node_scope(path: str) -> str:
    """The exporter's node-name scope for a module path: `conv_3.model.0.conv` -> `/conv_3/model/model.0/conv`."""
    parts: list[str] = []
    for part in path.split("."):
        parts.append(f"{parts[-1]}.{part}" if part.isdigit() and parts else part)
    return "/" + "/".join(parts)


def architecture_for(filename: str) -> Architecture:
    """Upstream names files `<scale>_<h>x<w>_<Architecture>.pth`."""
    stem = Path(filename).name.split(".pth")[0]
    name = stem.rsplit("_", 1)[-1]
    if name not in ARCHITECTURES:
        raise ConversionError(f"{filename}: unknown MiniFASNet variant {name!r} (known: {', '.join(ARCHITECTURES)})")
    return ARCHITECTURES[name]


@dataclass
class _Builder:
    """Accumulates nodes and initializers in export order."""

    arch: Architecture
    weights: OrderedDict[str, np.ndarray]
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    conv_params: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    prelu_params: list[np.ndarray] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def take(self, key: str) -> np.ndarray:
        try:
            value = self.weights[key]
        except KeyError:
            raise ConversionError(f"state dict has no {key} (is this a {self.arch.name} checkpoint?)") from None
        self.used.add(key)
        return value

    def add(self, op: str, name: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        output = output or f"{name}_output_0"
        node = helper.make_node(op, inputs, [output], name=name, **attrs)
        self.nodes.append(node)
        return output

    def _conv_bn(self, x: str, scope: str, weight: np.ndarray, bn: str, stride: int, pad: int, in_channels: int) -> str:
        scale, bias, mean, var = (
            self.take(f"{bn}.{k}").astype(np.float32) for k in ("weight", "bias", "running_mean", "running_var")
        )
        self.take(f"{bn}.num_batches_tracked")
        if not (scale.shape == bias.shape == mean.shape == var.shape == (weight.shape[0],)):
            raise ConversionError(f"{bn}: batch-norm shapes do not match the convolution {weight.shape}")
        if in_channels % weight.shape[1]:
            raise ConversionError(f"{scope}: {in_channels} input channels, weight {weight.shape}")
        # As torch folds them, in float32: std = sqrt(var + eps); f = g / std; w[i] *= f[i]; bias = B - mean * f
        std = np.sqrt(var + np.float32(BN_EPSILON))
        factor = scale / std
        fused_weight = weight * factor[:, None, None, None]
        fused_bias = bias - mean * factor
        index = len(self.conv_params)
        self.conv_params.append((fused_weight, fused_bias))
        kernel = list(weight.shape[2:])
        output = self.add(
            "Conv",
            f"{scope}/Conv",
            [x, f"@conv{index}w", f"@conv{index}b"],
            dilations=[1, 1],
            group=in_channels // weight.shape[1],
            kernel_shape=kernel,
            pads=[pad] * 4,
            strides=[stride, stride],
        )
        return output

    def prelu(self, x: str, scope: str, key: str) -> str:
        slope = self.take(key).astype(np.float32)
        self.prelu_params.append(slope.reshape(-1, 1, 1))
        output = self.add("PRelu", f"{scope}/PRelu", [x, f"@prelu{len(self.prelu_params) - 1}"])
        return output

    def conv_block(
        self, x: str, path: str, channels: int, kernel: int, stride: int, pad: int, linear: bool = False
    ) -> tuple[str, int]:
        """Conv_block (conv, bn, prelu) or Linear_block (conv, bn); returns the output and its channel count."""
        scope = node_scope(path)
        out = self._conv_bn(x, f"{scope}/conv", self._conv_weight(path, kernel), f"{path}.bn", stride, pad, channels)
        if not linear:
            out = self.prelu(out, f"{scope}/prelu", f"{path}.prelu.weight")
        return out, self.weights[f"{path}.conv.weight"].shape[0]

    def _conv_weight(self, path: str, kernel: int | None) -> np.ndarray:
        weight = self.take(f"{path}.conv.weight")
        if weight.ndim != 4 or (kernel is not None and weight.shape[2:] != (kernel, kernel)):
            raise ConversionError(f"{path}.conv.weight has shape {weight.shape}, expected a {kernel}x{kernel} kernel")
        return weight.astype(np.float32)

    def depth_wise(self, x: str, path: str, channels: int, stride: int, residual: bool, se: bool) -> tuple[str, int]:
        out, c = self.conv_block(x, f"{path}.conv", channels, 1, 1, 0)
        out, c = self.conv_block(out, f"{path}.conv_dw", c, 3, stride, 1)
        out, c = self.conv_block(out, f"{path}.project", c, 1, 1, 0, linear=True)
        scope = node_scope(path)
        if residual and se:
            out = self.se_module(out, f"{path}.se_module", c)
        if residual:
            if c != channels:
                raise ConversionError(f"{path}: residual block changes channels {channels} -> {c}")
            out = self.add("Add", f"{scope}/Add", [x, out])
        return out, c

    def se_module(self, x: str, path: str, channels: int) -> str:
        scope = node_scope(path)
        pooled = self.add("GlobalAveragePool", f"{scope}/avg_pool/GlobalAveragePool", [x])
        fc1 = self.take(f"{path}.fc1.weight").astype(np.float32)
        out = self._conv_bn(pooled, f"{scope}/fc1", fc1, f"{path}.bn1", 1, 0, channels)
        out = self.add("Relu", f"{scope}/relu/Relu", [out])
        fc2 = self.take(f"{path}.fc2.weight").astype(np.float32)
        out = self._conv_bn(out, f"{scope}/fc2", fc2, f"{path}.bn2", 1, 0, fc1.shape[0])
        out = self.add("Sigmoid", f"{scope}/sigmoid/Sigmoid", [out])
        return self.add("Mul", f"{scope}/Mul", [x, out])

    def flatten(self, x: str, unsqueeze_axes: str) -> str:
        scope = "/conv_6_flatten"
        shape = self.add("Shape", f"{scope}/Shape", [x])
        zero = self.add("Constant", f"{scope}/Constant", [], value=numpy_helper.from_array(np.array(0, np.int64), ""))
        batch = self.add("Gather", f"{scope}/Gather", [shape, zero], axis=0)
        # The exporter named this unscoped constant by a node counter that runs 3 ahead of its position.
        axes = self.add(
            "Constant",
            f"Constant_{len(self.nodes) + 3}",
            [],
            unsqueeze_axes,
            value=numpy_helper.from_array(np.array([0], np.int64), ""),
        )
        batch = self.add("Unsqueeze", f"{scope}/Unsqueeze", [batch, axes])
        rest = self.add(
            "Constant", f"{scope}/Constant_1", [], value=numpy_helper.from_array(np.array([-1], np.int64), "")
        )
        target = self.add("Concat", f"{scope}/Concat", [batch, rest], axis=0)
        return self.add("Reshape", f"{scope}/Reshape", [x, target])


def build_model(weights: OrderedDict[str, np.ndarray], arch: Architecture) -> onnx.ModelProto:
    """The ONNX model for a MiniFASNet state dict (keys with or without DataParallel's `module.` prefix)."""
    plain = OrderedDict((k.removeprefix("module."), v) for k, v in weights.items())
    b = _Builder(arch, plain)
    x, c = _feature_layers(b, arch)
    x = b.flatten(x, f"onnx::Unsqueeze_{arch.first_value_id}")
    linear, prob, bn = _classifier_weights(b, c)
    inits, linear_name, prob_name = _initializers(b, linear, prob, bn)
    x = b.add("MatMul", "/linear/MatMul", [x, linear_name])
    x = b.add(
        "BatchNormalization",
        "/bn/BatchNormalization",
        [x, "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"],
        epsilon=BN_EPSILON,
        momentum=BN_MOMENTUM,
    )
    b.add("MatMul", "/prob/MatMul", [x, prob_name], "logits")
    return _checked_model(b.nodes, inits)


def _feature_layers(b: _Builder, arch: Architecture) -> tuple[str, int]:
    """The convolutional trunk, conv1 to conv_6_dw, in the upstream module order (node order is export order);
    returns its output and channel count."""
    x, c = b.conv_block("input", "conv1", 3, 3, 2, 1)
    x, c = b.conv_block(x, "conv2_dw", c, 3, 1, 1)
    strides = {"conv_3": "conv_23", "conv_4": "conv_34", "conv_5": "conv_45"}
    for stage, count in arch.blocks:
        x, c = b.depth_wise(x, strides[stage], c, 2, residual=False, se=False)
        for i in range(count):
            x, c = b.depth_wise(x, f"{stage}.model.{i}", c, 1, residual=True, se=arch.se and i == count - 1)
    x, c = b.conv_block(x, "conv_6_sep", c, 1, 1, 0)
    side = b.weights.get("conv_6_dw.conv.weight", np.zeros((0, 0, 0, 0))).shape[-1]
    return b.conv_block(x, "conv_6_dw", c, side, 1, 0, linear=True)


def _classifier_weights(b: _Builder, features: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The Linear, prob and BatchNorm1d weights, checked against the trunk's `features`. They are the last tensors
    taken, so the check for tensors left over (another variant's SE blocks, say) comes here."""
    linear = b.take("linear.weight").astype(np.float32)
    prob = b.take("prob.weight").astype(np.float32)
    bn = {k: b.take(f"bn.{k}").astype(np.float32) for k in ("weight", "bias", "running_mean", "running_var")}
    b.take("bn.num_batches_tracked")
    if linear.shape != (bn["weight"].shape[0], features) or prob.shape != (NUM_CLASSES, linear.shape[0]):
        raise ConversionError(f"classifier shapes {linear.shape} / {prob.shape} do not follow {features} features")
    unused = [k for k in b.weights if k not in b.used]
    if unused:
        raise ConversionError(f"state dict has tensors this {b.arch.name} graph does not use: {', '.join(unused[:5])}")
    return linear, prob, bn


def _initializers(
    b: _Builder, linear: np.ndarray, prob: np.ndarray, bn: dict[str, np.ndarray]
) -> tuple[list[onnx.TensorProto], str, str]:
    """Every initializer under the exporter's name and in its order, the nodes' placeholder inputs (`@conv0w`...)
    renamed to match; returns them and the two MatMul weights' names."""
    # The exporter's numbering: each folded Conv took three ids (output, weight, bias) starting 11 after the
    # Unsqueeze axes; the PReLU slopes follow the last bias; the two MatMul weights come one id later.
    names: dict[str, str] = {}
    inits: list[onnx.TensorProto] = [
        numpy_helper.from_array(bn[k], f"bn.{k}") for k in ("weight", "bias", "running_mean", "running_var")
    ]
    next_id = b.arch.first_value_id + 12
    for i, (weight, bias) in enumerate(b.conv_params):
        names[f"@conv{i}w"], names[f"@conv{i}b"] = f"onnx::Conv_{next_id}", f"onnx::Conv_{next_id + 1}"
        inits += [
            numpy_helper.from_array(weight, names[f"@conv{i}w"]),
            numpy_helper.from_array(bias, names[f"@conv{i}b"]),
        ]
        next_id += 3
    next_id -= 1
    for i, slope in enumerate(b.prelu_params):
        names[f"@prelu{i}"] = f"onnx::PRelu_{next_id + i}"
        inits.append(numpy_helper.from_array(slope, names[f"@prelu{i}"]))
    next_id += len(b.prelu_params) + 1
    linear_name, prob_name = f"onnx::MatMul_{next_id}", f"onnx::MatMul_{next_id + 1}"
    inits += [
        numpy_helper.from_array(np.ascontiguousarray(linear.T), linear_name),
        numpy_helper.from_array(np.ascontiguousarray(prob.T), prob_name),
    ]
    for node in b.nodes:
        for j, name in enumerate(node.input):
            if name in names:
                node.input[j] = names[name]
    return inits, linear_name, prob_name


def _checked_model(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto]) -> onnx.ModelProto:
    """The graph wrapped as the exporter wrote it (dynamic batch `N`, opset, IR version, producer), checked by onnx."""
    graph = helper.make_graph(
        nodes,
        "main_graph",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", NUM_CLASSES])],
        initializer=inits,
    )
    opset = onnx.OperatorSetIdProto()
    opset.version = OPSET  # the default domain left unset, as the exporter writes it
    model = helper.make_model(
        graph, opset_imports=[opset], ir_version=IR_VERSION, producer_name="pytorch", producer_version="2.13.0"
    )
    onnx.checker.check_model(model)
    return model


def convert(pth: Path, onnx_path: Path) -> None:
    """Reads an upstream `.pth`, writes its ONNX graph (the architecture comes from the file name)."""
    arch = architecture_for(pth.name)
    model = build_model(load_state_dict(pth), arch)
    onnx_path.write_bytes(model.SerializeToString())


def convert_bytes(pth_bytes: bytes, pth_name: str) -> bytes:
    """The ONNX bytes for a `.pth` file's bytes; deterministic, so the result can be pinned by sha256."""
    return build_model(load_state_dict(pth_bytes), architecture_for(pth_name)).SerializeToString()
