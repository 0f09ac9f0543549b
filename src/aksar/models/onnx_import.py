"""Weights back from an exported ONNX recognizer, to fine-tune a shipped model (``model.init_from``).

Export folds each BatchNorm into the convolution before it and writes LSTM gates in ONNX order, so
the import undoes both: convolutions, LSTM layers and linear layers are matched to the ONNX graph in
execution order (shape-checked), and each folded BatchNorm is rebuilt from the statistics of its
input over calibration batches (``mean``/``var`` from the data, ``weight = sqrt(var + eps)``,
``bias = mean + folded bias``). The rebuilt model computes the ONNX function exactly in eval mode, and
nearly the same in train mode (batch statistics close to the calibration ones), so fine-tuning starts
where the shipped model stands rather than from a disturbed copy. The result is compared with
onnxruntime on the calibration batches before it is used.

``checkpoint_from_onnx(path, batches)`` -> a checkpoint dict (``model_name``, ``model_kwargs``,
``charset``, ``script``, ``preprocess``, ``model_state``) that ``init_from_checkpoint`` takes.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch
from torch import nn

from aksar.core.errors import AksarError

PARITY_ATOL = 1e-3  # max |probability difference| between the rebuilt model and onnxruntime


def _meta(model: Any, path: Path) -> dict[str, str]:
    meta = {p.key: p.value for p in model.metadata_props}
    for key in ("aksar.model_name", "aksar.model_kwargs", "aksar.charset", "aksar.model_kind"):
        if key not in meta:
            raise AksarError(f"{path}: not an aksar ONNX model (no {key} in its metadata)")
    if meta["aksar.model_kind"] != "ctc":
        raise AksarError(f"{path}: importing weights from ONNX supports CTC recognizers, "
                         f"this is a {meta['aksar.model_kind']!r} model")
    return meta


def _conv_bn_pairs(model: nn.Module) -> list[tuple[nn.Conv2d, nn.BatchNorm2d | None]]:
    """Every Conv2d in execution (= registration) order, with the BatchNorm2d that follows it, if any."""
    follows: dict[int, nn.BatchNorm2d] = {}
    for m in model.modules():
        if isinstance(m, nn.Sequential):
            kids = list(m.children())
            for a, b in zip(kids, kids[1:]):
                if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                    follows[id(a)] = b
    return [(m, follows.get(id(m))) for m in model.modules() if isinstance(m, nn.Conv2d)]


def _reorder_gates(t: np.ndarray, hidden: int) -> np.ndarray:
    """ONNX LSTM gate blocks (i, o, f, c) to PyTorch's (i, f, g, o) along the first axis."""
    i, o, f, c = (t[k * hidden:(k + 1) * hidden] for k in range(4))
    return np.concatenate([i, f, c, o], axis=0)


def _take(inits: dict[str, np.ndarray], node: Any, k: int, path: Path) -> np.ndarray | None:
    if len(node.input) <= k or not node.input[k]:
        return None
    name = node.input[k]
    if name not in inits:
        raise AksarError(f"{path}: {node.op_type} input {name!r} is not a stored weight (unsupported graph)")
    return inits[name]


def _check(what: str, got: tuple, want: tuple, path: Path) -> None:
    if tuple(got) != tuple(want):
        raise AksarError(f"{path}: {what} has shape {tuple(got)} in the ONNX model, {tuple(want)} in the "
                         "model its metadata describes")


def _load_graph_weights(model: nn.Module, graph: Any, path: Path) -> list[tuple[nn.BatchNorm2d, torch.Tensor]]:
    """Copy the ONNX weights into ``model``; returns each folded BatchNorm with its folded bias."""
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    nodes = list(graph.node)
    convs = [n for n in nodes if n.op_type == "Conv"]
    lstms = [n for n in nodes if n.op_type == "LSTM"]
    pairs = _conv_bn_pairs(model)
    if len(convs) != len(pairs):
        raise AksarError(f"{path}: {len(convs)} convolutions in the ONNX graph, {len(pairs)} in the model")
    folded: list[tuple[nn.BatchNorm2d, torch.Tensor]] = []
    with torch.no_grad():
        for node, (conv, bn) in zip(convs, pairs):
            w, b = _take(inits, node, 1, path), _take(inits, node, 2, path)
            _check(f"convolution {node.input[1]}", w.shape, conv.weight.shape, path)
            conv.weight.copy_(torch.from_numpy(np.array(w)))
            bias = torch.from_numpy(np.array(b)) if b is not None else torch.zeros(conv.out_channels)
            if bn is None:
                if conv.bias is None:
                    raise AksarError(f"{path}: convolution {node.input[1]} has a bias the model has no place for")
                conv.bias.copy_(bias)
            else:
                folded.append((bn, bias.clone()))
        # one slot per layer and direction; export writes a node per direction (run_rnn) or per layer
        slots = [(m, f"_l{k}{suffix}") for m in model.modules() if isinstance(m, nn.LSTM)
                 for k in range(m.num_layers) for suffix in (("", "_reverse") if m.bidirectional else ("",))]
        for node in lstms:
            w, r, b = (_take(inits, node, j, path) for j in (1, 2, 3))
            if len(slots) < w.shape[0]:
                raise AksarError(f"{path}: more LSTM directions in the ONNX graph than in the model")
            for d in range(w.shape[0]):
                rnn, suffix = slots.pop(0)
                h = rnn.hidden_size
                params = {f"weight_ih{suffix}": _reorder_gates(w[d], h), f"weight_hh{suffix}": _reorder_gates(r[d], h),
                          f"bias_ih{suffix}": _reorder_gates(b[d][:4 * h], h),
                          f"bias_hh{suffix}": _reorder_gates(b[d][4 * h:], h)}
                for name, value in params.items():
                    target = getattr(rnn, name)
                    _check(f"LSTM {name}", value.shape, target.shape, path)
                    target.copy_(torch.from_numpy(np.array(value)))
        if slots:
            raise AksarError(f"{path}: {len(slots)} LSTM directions of the model are not in the ONNX graph")
        _load_linears(model, nodes, inits, path)
    return folded


def _load_linears(model: nn.Module, nodes: list, inits: dict[str, np.ndarray], path: Path) -> None:
    """nn.Linear layers from ``MatMul`` (+ ``Add``) or ``Gemm`` nodes with stored weights, in order."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    mats = [n for n in nodes if n.op_type in ("MatMul", "Gemm") and len(n.input) > 1 and n.input[1] in inits]
    if len(mats) != len(linears):
        raise AksarError(f"{path}: {len(mats)} linear layers in the ONNX graph, {len(linears)} in the model")
    consumers = {i: n for n in nodes if n.op_type == "Add" for i in n.input}
    for node, lin in zip(mats, linears):
        w = inits[node.input[1]]
        if node.op_type == "MatMul" or not any(a.name == "transB" and a.i for a in node.attribute):
            w = w.T
        _check(f"linear {node.input[1]}", w.shape, lin.weight.shape, path)
        lin.weight.copy_(torch.from_numpy(np.array(w)))
        if node.op_type == "Gemm":
            b = _take(inits, node, 2, path)
        else:
            add = consumers.get(node.output[0])
            b = next((inits[i] for i in add.input if i in inits), None) if add is not None else None
        if lin.bias is not None:
            if b is None:
                raise AksarError(f"{path}: linear {node.input[1]} has no bias in the ONNX graph")
            lin.bias.copy_(torch.from_numpy(np.array(b).reshape(lin.bias.shape)))


def _rebuild_batchnorms(model: nn.Module, folded: list[tuple[nn.BatchNorm2d, torch.Tensor]],
                        batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Each folded BatchNorm as identity + bias, then re-expressed with its input statistics."""
    with torch.no_grad():
        for bn, bias in folded:
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0)
            bn.weight.fill_(float(np.sqrt(1.0 + bn.eps)))
            bn.bias.copy_(bias)
    if not batches:
        return
    # per channel: count, sum and sum of squares of each BatchNorm's input (float64), not the inputs
    stats: dict[int, list] = {id(bn): [0, 0.0, 0.0] for bn, _ in folded}

    def accumulate(m: nn.Module, inp: tuple, _out: torch.Tensor) -> None:
        x = inp[0].detach().transpose(0, 1).reshape(inp[0].shape[1], -1).double()
        st = stats[id(m)]
        st[0] += x.shape[1]
        st[1] = st[1] + x.sum(1)
        st[2] = st[2] + (x * x).sum(1)

    hooks = [bn.register_forward_hook(accumulate) for bn, _ in folded]
    model.eval()
    try:
        with torch.no_grad():
            for images, widths in batches:
                model.export_forward(images, widths)
    finally:
        for h in hooks:
            h.remove()
    with torch.no_grad():
        for bn, bias in folded:
            n, total, squares = stats[id(bn)]
            mean = total / n
            var = (squares / n - mean * mean).clamp_min(0.0)
            bn.running_mean.copy_(mean.float())
            bn.running_var.copy_(var.float())
            bn.weight.copy_((var + bn.eps).sqrt().float())
            bn.bias.copy_((mean + bias.double()).float())


def _parity(model: nn.Module, path: Path, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Max |probability difference| against onnxruntime on ``batches`` (AksarError above PARITY_ATOL)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    worst = 0.0
    model.eval()
    with torch.no_grad():
        for images, widths in batches:
            feed = {"images": images.numpy()}
            if "widths" in names:
                feed["widths"] = widths.numpy().astype(np.int64)
            ref = sess.run(None, feed)[0]
            got = model.export_forward(images, widths).numpy()
            for j, n in enumerate(model.output_lengths(widths, got.shape[1]).tolist()):
                worst = max(worst, float(np.abs(ref[j, :n] - got[j, :n]).max()))
    if worst > PARITY_ATOL:
        raise AksarError(f"{path}: the weights read back from ONNX differ from it (max |dp| {worst:.2g} > "
                         f"{PARITY_ATOL}); this graph is not one aksar can import")
    return worst


def checkpoint_from_onnx(path: str | Path, batches: Iterable[tuple[torch.Tensor, torch.Tensor]] = ()) -> dict[str, Any]:
    """A checkpoint dict rebuilt from an aksar ONNX recognizer; ``batches`` (images, widths) calibrate
    its BatchNorms and check the result against onnxruntime (without them, BatchNorms are identity)."""
    import onnx

    from aksar.models.registry import build_model

    p = Path(path)
    try:
        proto = onnx.load(str(p))
    except Exception as exc:  # onnx raises DecodeError / ValueError / OSError for damaged files
        raise AksarError(f"{p}: not an ONNX model ({type(exc).__name__})") from None
    meta = _meta(proto, p)
    charset = json.loads(meta["aksar.charset"])
    kwargs = json.loads(meta["aksar.model_kwargs"])
    model = build_model(meta["aksar.model_name"], len(charset), **kwargs)
    folded = _load_graph_weights(model, proto.graph, p)
    batches = list(batches)
    _rebuild_batchnorms(model, folded, batches)
    if batches:
        _parity(model, p, batches)
    return {"model_name": meta["aksar.model_name"], "model_kwargs": kwargs, "charset": charset,
            "script": meta.get("aksar.script"), "preprocess": json.loads(meta.get("aksar.preprocess", "{}")),
            "model_state": {k: v.clone() for k, v in model.state_dict().items()}, "source": str(p)}


__all__ = ["checkpoint_from_onnx", "PARITY_ATOL"]
