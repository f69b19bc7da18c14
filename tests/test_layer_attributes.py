"""Layer knowledge stays in layercalc/layers: the analyses read what the layer types
declare (``geometry``, ``linear_map``, ``dense``, ``cancels_channel_bias``,
``dropout_between_layers``, ``mask_attend``, ``roles``, ``Tensor.is_bias``), never a
layer class, a private resolved argument (``a["_k"]``) or a tensor's name."""

import ast
import pathlib

import pytest
from conftest import net_of

import layercalc.layers.base as base
from layercalc.analyses.loading import analyse
from layercalc.layers import REGISTRY, LayerType
from layercalc.layers.attention import MHAProjection

ROOT = pathlib.Path(__file__).resolve().parent.parent
ANALYSES = sorted((ROOT / "layercalc" / "analyses").glob("*.py"))
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
FLAGS = ("linear_map", "dense", "cancels_channel_bias", "dropout_between_layers")


def _tree(path):
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _layer_class_names() -> set:
    """Every LayerType subclass defined in layercalc.layers (Conv, Pool, Linear, ...)."""
    names, todo = set(), [LayerType]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("layercalc.layers") and sub.__name__ not in names:
                names.add(sub.__name__)
                todo.append(sub)
    return names


@pytest.mark.parametrize("path", ANALYSES, ids=lambda p: p.name)
def test_analyses_import_no_layer_module_but_base(path):
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom):
            module = ("." * node.level) + (node.module or "")
            if "layers" in module.split("."):
                assert module in ("..layers.base", "layercalc.layers.base"), (
                    f"{path.name}:{node.lineno} imports {module}"
                )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith("layercalc.layers"), (
                    f"{path.name}:{node.lineno} imports {alias.name}"
                )


@pytest.mark.parametrize("path", ANALYSES, ids=lambda p: p.name)
def test_analyses_name_no_layer_class(path):
    classes = _layer_class_names() - {"LayerType"}
    assert {"Conv", "ConvTranspose", "Pool", "Linear", "BatchNorm", "Recurrent"} <= classes
    used = {
        (node.id, node.lineno)
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Name) and node.id in classes
    }
    assert not used, f"{path.name} names layer classes: {sorted(used)}"


def _private_key(node) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        v = node.value
        if v.startswith("_") and v[1:2].isalpha() and v.isidentifier():
            return v
    return None


@pytest.mark.parametrize("path", ANALYSES, ids=lambda p: p.name)
def test_analyses_read_no_private_argument(path):
    found = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Subscript) and _private_key(node.slice):
            found.append((_private_key(node.slice), node.lineno))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "pop", "setdefault")
            and node.args
            and _private_key(node.args[0])
        ):
            found.append((_private_key(node.args[0]), node.lineno))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Attribute)
            and node.args[0].attr == "type"  # getattr(layer.type, "undeclared", default)
            and isinstance(node.args[1], ast.Constant)
        ):
            found.append((f"getattr {node.args[1].value}", node.lineno))
    assert not found, f"{path.name} reads undeclared layer internals: {found}"


def test_flags_are_declared_false_on_the_base():
    for flag in FLAGS:
        assert getattr(LayerType, flag) is False
    assert LayerType.mask_attend is True
    assert LayerType().geometry({}) is None
    assert LayerType().roles({}) == ()
    for lt in REGISTRY.canonical.values():
        for flag in (*FLAGS, "mask_attend"):
            assert isinstance(getattr(lt, flag), bool), (lt.name, flag)


@pytest.mark.parametrize(
    "name, flags",
    [
        ("conv2d", {"linear_map"}),
        ("conv_transpose1d", {"linear_map"}),
        ("linear", {"linear_map", "dense"}),
        ("embedding", set()),
        ("batch_norm2d", {"cancels_channel_bias"}),
        ("instance_norm1d", {"cancels_channel_bias"}),
        ("layer_norm", set()),
        ("group_norm", set()),
        ("max_pool2d", set()),
        ("adaptive_avg_pool2d", set()),
        ("lstm", {"dropout_between_layers"}),
        ("gru", {"dropout_between_layers"}),
        ("lstm_cell", set()),
        ("relu", set()),
        ("flatten", set()),
    ],
)
def test_flags_of_types(name, flags):
    lt = REGISTRY.get(name)
    assert {f for f in FLAGS if getattr(lt, f)} == flags


def test_mask_attend_of_attention():
    assert REGISTRY.get("scaled_dot_product_attention").mask_attend is True
    assert MHAProjection.mask_attend is False  # the row of MultiheadAttention reading masks


def _layers(text):
    return {layer.name: layer for layer in net_of(text).layers}


def test_geometry_of_windowed_layers():
    ls = _layers(
        """
        input: [1, 3, 16, 15]
        layers:
          - conv2d: {name: c, out_channels: 4, kernel_size: 4, padding: same, dilation: [1, 2]}
          - max_pool2d: {name: p, kernel_size: 3, stride: 2, padding: 1, ceil_mode: true}
          - conv_transpose2d: {name: t, out_channels: 2, kernel_size: 3, stride: 2,
                               output_padding: 1}
          - adaptive_avg_pool2d: {name: a, output_size: 2}
          - flatten
          - linear: {name: fc, out_features: 3}
        """
    )

    def geometry(name):
        layer = ls[name]
        return layer.type.geometry(layer.args)

    c = geometry("c")
    assert c == base.Window((4, 4), (1, 1), ((1, 2), (3, 3)), (1, 2), (0, 0), False, False)
    assert (c.dims, c.lefts, c.rights) == (2, (1, 3), (2, 3))
    p = geometry("p")
    assert p == base.Window((3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), (0, 0), True, False)
    t = geometry("t")
    assert t.transposed and t.output_padding == (1, 1) and t.padding == ((0, 0), (0, 0))
    assert t.kernel == (3, 3) and t.stride == (2, 2)
    assert geometry("a") is None and geometry("fc") is None


def test_geometry_of_a_conv1d_defaults():
    (layer,) = net_of(
        "input: [2, 3, 10]\nlayers:\n  - conv1d: {out_channels: 4, kernel_size: 3, stride: 2}\n"
    ).layers
    w = layer.type.geometry(layer.args)
    assert w == base.Window((3,), (2,), ((0, 0),), (1,), (0,))
    assert not w.ceil_mode and not w.transposed


def _name_rule(key: str) -> bool:
    """The rule that used to guess a bias from a state_dict suffix."""
    return key == "bias" or key.startswith("bias_") or key.endswith("_bias")


def test_is_bias_is_declared_not_guessed():
    assert base.Tensor("bias", (3,)).is_bias is False  # no default guessing from the key
    assert base.Tensor("weight", (3,), is_bias=True).is_bias is True
    assert "is_bias" in base.Tensor._fields


def test_is_bias_of_recurrent_and_attention_tensors():
    ls = _layers(
        """
        input: [5, 2, 8]
        layers:
          - lstm: {name: r, hidden_size: 4, proj_size: 2, bidirectional: true}
          - multihead_attention: {name: m, num_heads: 2, add_bias_kv: true}
        """
    )
    biases = {t.key for layer in ls.values() for t in layer.tensors if t.is_bias}
    assert {"bias_ih_l0", "bias_hh_l0_reverse", "in_proj_bias", "bias_k", "bias_v"} <= biases
    assert not any(k.startswith(("weight", "q_proj", "out_proj.weight")) for k in biases)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_declared_biases_match_the_state_dict_names(path):
    """Each layer type declares exactly the tensors PyTorch names as biases."""
    net = analyse(str(path)).net
    if net is None:
        pytest.skip("an invalid spec")
    for layer in net.layers:
        for t in layer.tensors:
            assert t.is_bias == _name_rule(t.key), (path.name, layer.name, t.key)
