"""`layercalc import onnx`: hand-built ONNX graphs for each mapped operator, refusals,
output handling, and a torch.onnx export of torchvision's ResNet-18 whose spec matches
torch's parameters, buffers and layer names.

Every generated spec carries `expect:` computed from ONNX's own shape inference, so
`layercalc check` passing is the cross-check of layercalc's shapes against ONNX's."""

import json
import sys
import warnings

import numpy as np
import pytest
import yaml
from conftest import cli_runner

from layercalc.cli import main


def run(*args):
    return cli_runner(env={"NO_COLOR": "1"}).invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def onnx():
    return pytest.importorskip("onnx")


def _init(onnx, name, shape, value=None):
    arr = (
        np.full(shape, value, np.float32)
        if value is not None
        else (np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    )
    return onnx.numpy_helper.from_array(arr, name)


def _model(onnx, nodes, inputs, outputs, inits=(), opset=17):
    h = onnx.helper
    F = onnx.TensorProto.FLOAT
    graph = h.make_graph(
        nodes,
        "g",
        [h.make_tensor_value_info(n, F, s) for n, s in inputs],
        [h.make_tensor_value_info(n, F, None) for n in outputs],
        list(inits),
    )
    return h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])


def _save(onnx, tmp_path, model, name="m.onnx"):
    path = tmp_path / name
    onnx.save(model, str(path))
    return str(path)


def _import(path, *extra, tmp_path):
    out = tmp_path / "out.yaml"
    r = run("import", "onnx", path, "-o", str(out), *extra)
    assert r.exit_code == 0, r.output
    assert "warning" not in r.stderr, r.stderr
    text = out.read_text()
    checked = run("check", str(out))
    assert checked.exit_code == 0, text + checked.output
    return text, yaml.safe_load(text)


def _leaves(layers, prefix=""):
    """(dotted name, type, entry) of every leaf entry of a generated spec."""
    for e in layers:
        if "share" in e:
            yield prefix + e["name"], "share", e
            continue
        ((kind, args),) = e.items()
        if kind == "sequential":
            yield from _leaves(args["layers"], prefix + args["name"] + ".")
        else:
            yield prefix + args["name"], kind, args


def _chain(onnx):
    h = onnx.helper
    nodes = [
        h.make_node(
            "Conv",
            ["x", "features.0.weight", "features.0.bias"],
            ["c"],
            kernel_shape=[3, 3],
            pads=[1, 1, 1, 1],
            strides=[2, 2],
        ),
        h.make_node(
            "BatchNormalization",
            [
                "c",
                "features.1.weight",
                "features.1.bias",
                "features.1.running_mean",
                "features.1.running_var",
            ],
            ["b"],
            epsilon=1e-3,
        ),
        h.make_node("Relu", ["b"], ["r"]),
        h.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        h.make_node("Flatten", ["p"], ["f"], axis=1),
        h.make_node("Gemm", ["f", "classifier.weight", "classifier.bias"], ["y"], transB=1),
    ]
    inits = [
        _init(onnx, "features.0.weight", [8, 3, 3, 3]),
        _init(onnx, "features.0.bias", [8]),
        _init(onnx, "features.1.weight", [8], 1.0),
        _init(onnx, "features.1.bias", [8], 0.0),
        _init(onnx, "features.1.running_mean", [8], 0.0),
        _init(onnx, "features.1.running_var", [8], 1.0),
        _init(onnx, "classifier.weight", [10, 8 * 4 * 4]),
        _init(onnx, "classifier.bias", [10]),
    ]
    return _model(onnx, nodes, [("x", [1, 3, 16, 16])], ["y"], inits)


def test_chain_names_from_weights(onnx, tmp_path):
    path = _save(onnx, tmp_path, _chain(onnx))
    text, spec = _import(path, tmp_path=tmp_path)
    assert text.startswith(f"# Imported from {path}")
    leaves = {n: (k, a) for n, k, a in _leaves(spec["layers"])}
    assert leaves["features.0"][0] == "conv2d"
    assert leaves["features.0"][1]["stride"] == 2
    assert leaves["features.1"] == ("batch_norm2d", {"name": "1", "eps": 0.001})
    assert leaves["classifier"][1]["out_features"] == 10
    assert spec["expect"] == {"output": [1, 10], "params": 8 * 27 + 8 + 16 + 1280 + 10}
    r = run("params", str(tmp_path / "out.yaml"), "--format", "json")
    totals = json.loads(r.stdout)["totals"]
    assert totals["buffers"] == 8 + 8 + 1  # running stats and num_batches_tracked


def test_stdout_and_input_override(onnx, tmp_path):
    path = _save(onnx, tmp_path, _chain(onnx))
    r = run("import", "onnx", path)
    assert r.exit_code == 0
    assert r.stdout.startswith("# Imported from")
    # the input size drives every shape, and the Gemm's input must still fit
    r = run("import", "onnx", path, "--input", "2,3,16,16")
    assert "input: [2, 3, 16, 16]" in r.stdout and "output: [2, 10]" in r.stdout
    r = run("import", "onnx", path, "--input", "1,3,16")
    assert r.exit_code == 1 and "3 sizes" in r.stderr


def test_residual_add_gets_from(onnx, tmp_path):
    h = onnx.helper
    nodes = [
        h.make_node("Conv", ["x", "conv1.weight"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        h.make_node("Relu", ["a"], ["b"], name="relu"),
        h.make_node("Conv", ["b", "conv2.weight"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        h.make_node("Add", ["c", "x"], ["y"], name="add"),
    ]
    inits = [_init(onnx, "conv1.weight", [4, 4, 3, 3]), _init(onnx, "conv2.weight", [4, 4, 3, 3])]
    model = _model(onnx, nodes, [("x", [1, 4, 8, 8])], ["y"], inits)
    text, spec = _import(_save(onnx, tmp_path, model), tmp_path=tmp_path)
    assert "add: {name: add, from: [conv2, input]}" in text
    assert spec["layers"][0]["conv2d"]["bias"] is False


def test_concat_and_branches(onnx, tmp_path):
    h = onnx.helper
    nodes = [
        h.make_node("Conv", ["x", "left.weight"], ["l"], kernel_shape=[1, 1]),
        h.make_node("Conv", ["x", "right.weight"], ["r"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        h.make_node("Concat", ["l", "r"], ["y"], axis=-3, name="cat"),
    ]
    inits = [_init(onnx, "left.weight", [2, 3, 1, 1]), _init(onnx, "right.weight", [5, 3, 3, 3])]
    model = _model(onnx, nodes, [("x", [1, 3, 8, 8])], ["y"], inits)
    text, spec = _import(_save(onnx, tmp_path, model), tmp_path=tmp_path)
    assert "from: input" in text
    assert "concat: {name: cat, from: [left, right], dim: 1}" in text
    assert spec["expect"]["output"] == [1, 7, 8, 8]


def _single(onnx, op, x_shape, inits=(), extra_inputs=(), **attrs):
    h = onnx.helper
    node = h.make_node(op, ["x", *extra_inputs], ["y"], name=op.lower(), **attrs)
    return _model(onnx, [node], [("x", x_shape)], ["y"], inits)


def _const(onnx, name, values, dtype=np.int64):
    return onnx.numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


SINGLE = [
    # op, input shape, attributes, (initializers as (name, values, dtype)), expected type
    (
        "ConvTranspose",
        [1, 4, 5, 5],
        {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]},
        [("up.weight", [4, 6, 3, 3], None)],
        "conv_transpose2d",
    ),
    ("Conv", [1, 3, 9], {"pads": [0, 1]}, [("c.weight", [2, 3, 2], None)], "conv1d"),
    (
        "Conv",
        [1, 3, 9, 9],
        {"auto_pad": "SAME_UPPER", "strides": [2, 2]},
        [("c.weight", [2, 3, 4, 4], None)],
        "conv2d",
    ),
    (
        "AveragePool",
        [1, 2, 9, 9],
        {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1},
        [],
        "avg_pool2d",
    ),
    (
        "MaxPool",
        [1, 2, 8, 8, 8],
        {"kernel_shape": [2, 2, 2], "strides": [2, 2, 2]},
        [],
        "max_pool3d",
    ),
    ("GlobalAveragePool", [1, 2, 7, 7], {}, [], "adaptive_avg_pool2d"),
    ("GlobalMaxPool", [1, 2, 7], {}, [], "adaptive_max_pool1d"),
    ("Relu", [2, 5], {}, [], "relu"),
    ("LeakyRelu", [2, 5], {"alpha": 0.2}, [], "leaky_relu"),
    ("Sigmoid", [2, 5], {}, [], "sigmoid"),
    ("Tanh", [2, 5], {}, [], "tanh"),
    ("Elu", [2, 5], {}, [], "elu"),
    ("HardSwish", [2, 5], {}, [], "hardswish"),
    ("HardSigmoid", [2, 5], {"alpha": 1 / 6}, [], "hardsigmoid"),
    ("Softmax", [2, 5, 3], {"axis": 1}, [], "softmax"),
    ("LogSoftmax", [2, 5], {}, [], "log_softmax"),
    ("Clip", [2, 5], {}, [("lo", 0.0, np.float32), ("hi", 6.0, np.float32)], "relu6"),
    ("Transpose", [2, 3, 4], {"perm": [0, 2, 1]}, [], "transpose"),
    ("Transpose", [2, 3, 4], {"perm": [2, 0, 1]}, [], "permute"),
    # a merge of dims is a flatten, a split an unflatten (both follow --input)
    ("Reshape", [2, 3, 4], {}, [("shape", [0, -1], np.int64)], "flatten"),
    ("Reshape", [2, 12], {}, [("shape", [0, 3, 4], np.int64)], "unflatten"),
    ("Reshape", [2, 3, 4], {}, [("shape", [2, 4, 3], np.int64)], "reshape"),
    ("Flatten", [2, 3, 4, 5], {"axis": 1}, [], "flatten"),
    ("Flatten", [2, 3, 4, 5], {"axis": 2}, [], "reshape"),
    ("Unsqueeze", [2, 3], {}, [("axes", [1], np.int64)], "unsqueeze"),
    ("Squeeze", [2, 1, 3], {}, [("axes", [1], np.int64)], "squeeze"),
    ("ReduceMean", [2, 3, 4, 4], {"keepdims": 1}, [("axes", [2, 3], np.int64)], "mean"),
    (
        "Resize",
        [1, 3, 4, 4],
        {
            "mode": "nearest",
            "coordinate_transformation_mode": "asymmetric",
            "nearest_mode": "floor",
        },
        [("", None, None), ("scales", [1, 1, 2, 2], np.float32)],
        "upsample",
    ),
    (
        "Resize",
        [1, 3, 4, 4],
        {"mode": "linear"},
        [("", None, None), ("", None, None), ("sizes", [1, 3, 7, 9], np.int64)],
        "upsample",
    ),
    (
        "Pad",
        [1, 3, 4, 4],
        {"mode": "reflect"},
        [("pads", [0, 0, 1, 2, 0, 0, 3, 1], np.int64)],
        "reflection_pad2d",
    ),
    (
        "Pad",
        [1, 3, 4, 4],
        {},
        [("pads", [0, 0, 1, 1, 0, 0, 1, 1], np.int64), ("v", 0.5, np.float32)],
        "constant_pad2d",
    ),
    ("Mul", [2, 5], {}, [("k", 3.0, np.float32)], "mul"),
    ("Div", [2, 5], {}, [("k", 2.0, np.float32)], "div"),
    ("Add", [1, 4, 3], {}, [("pos_embedding", [1, 4, 3], None)], "add"),
    ("MatMul", [2, 7, 6], {}, [("proj", [6, 4], None)], "linear"),
    ("Gemm", [2, 6], {}, [("fc.weight", [6, 4], None)], "linear"),
    ("PRelu", [1, 4, 3, 3], {}, [("act.weight", [4, 1, 1], None)], "prelu"),
    (
        "LayerNormalization",
        [2, 5, 8],
        {"axis": -1},
        [("norm.weight", [8], None), ("norm.bias", [8], None)],
        "layer_norm",
    ),
    (
        "InstanceNormalization",
        [2, 4, 6, 6],
        {},
        [("inorm.weight", [4], None), ("inorm.bias", [4], None)],
        "instance_norm2d",
    ),
    ("Split", [2, 6, 3], {"axis": 1}, [("split", [2, 4], np.int64)], "split"),
    (
        "Slice",
        [2, 6, 3],
        {},
        [("s", [1], np.int64), ("e", [5], np.int64), ("a", [1], np.int64)],
        "slice",
    ),
    ("Gather", [2, 6, 3], {"axis": 1}, [("i", 2, np.int64)], "select"),
    ("DepthToSpace", [1, 8, 3, 3], {"blocksize": 2, "mode": "CRD"}, [], "pixel_shuffle"),
    ("Expand", [1, 1, 4], {}, [("size", [3, 2, 4], np.int64)], "expand"),
]


@pytest.mark.parametrize(
    "op,shape,attrs,inits,kind", SINGLE, ids=[f"{s[0]}-{s[4]}" for s in SINGLE]
)
def test_single_op(onnx, tmp_path, op, shape, attrs, inits, kind):
    names, tensors = [], []
    for name, values, dtype in inits:
        names.append(name)
        if not name:
            continue
        if dtype is None:
            tensors.append(_init(onnx, name, values))
        else:
            tensors.append(_const(onnx, name, values, dtype))
    h = onnx.helper
    outs = ["y", "z"] if op == "Split" else ["y"]
    node = h.make_node(op, ["x", *names], outs, name=op.lower(), **attrs)
    model = _model(onnx, [node], [("x", shape)], outs, tensors, opset=18)
    text, spec = _import(_save(onnx, tmp_path, model), tmp_path=tmp_path)
    kinds = [k for _, k, _ in _leaves(spec["layers"])]
    assert kind in kinds, text


def test_matmul_add_is_one_linear(onnx, tmp_path):
    h = onnx.helper
    nodes = [
        h.make_node("MatMul", ["x", "onnx::MatMul_7"], ["m"], name="/head/MatMul"),
        h.make_node("Add", ["head.bias", "m"], ["y"], name="/head/Add"),
    ]
    inits = [_init(onnx, "onnx::MatMul_7", [6, 4]), _init(onnx, "head.bias", [4])]
    model = _model(onnx, nodes, [("x", [2, 3, 6])], ["y"], inits)
    text, spec = _import(_save(onnx, tmp_path, model), tmp_path=tmp_path)
    assert spec["layers"] == [{"linear": {"name": "head", "out_features": 4}}]
    assert spec["expect"]["params"] == 28


def test_attention_pattern(onnx, tmp_path):
    """Scaled dot-product attention as exporters decompose it: matmul, scale, softmax."""
    h = onnx.helper
    nodes = [
        h.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1], name="kt"),
        h.make_node("MatMul", ["q", "kt"], ["s"], name="scores"),
        h.make_node("Div", ["s", "scale"], ["d"], name="scaled"),
        h.make_node("Softmax", ["d"], ["a"], axis=-1, name="attn"),
        h.make_node("MatMul", ["a", "v"], ["y"], name="context"),
    ]
    inits = [_const(onnx, "scale", 4.0, np.float32)]
    shapes = [("q", [2, 5, 16]), ("k", [2, 7, 16]), ("v", [2, 7, 8])]
    model = _model(onnx, nodes, shapes, ["y"], inits)
    text, spec = _import(_save(onnx, tmp_path, model), tmp_path=tmp_path)
    assert set(spec["input"]) == {"q", "k", "v"}
    assert "matmul: {name: scores, from: [q, kt]}" in text
    assert spec["expect"]["output"] == [2, 5, 8]


def test_shape_arithmetic_is_folded(onnx, tmp_path):
    """x.view(x.size(0), -1) as the legacy exporter writes it."""
    h = onnx.helper
    nodes = [
        h.make_node("Shape", ["x"], ["s"]),
        h.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        h.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
        h.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
        h.make_node("Reshape", ["x", "shape"], ["y"], name="view"),
    ]
    inits = [_const(onnx, "zero", 0), _const(onnx, "ax0", [0]), _const(onnx, "minus1", [-1])]
    model = _model(onnx, nodes, [("x", [3, 4, 5])], ["y"], inits)
    text, spec = _import(_save(onnx, tmp_path, model), tmp_path=tmp_path)
    assert spec["layers"] == [{"flatten": {"name": "view", "start_dim": 1, "end_dim": 2}}]


def test_shape_arithmetic_is_folded_through_many_dependent_stages(onnx, tmp_path):
    """Each view's shape comes from the previous view's output (ShuffleNet's 16 channel
    shuffles exported with a dynamic batch): one round of inference and folding per
    stage; after 8 rounds the rest was refused as of unknown shape."""
    h = onnx.helper
    nodes, x = [], "x"
    for k in range(20):
        rest = "split" if k % 2 == 0 else "minus1"
        nodes += [
            h.make_node("Shape", [x], [f"s{k}"]),
            h.make_node("Gather", [f"s{k}", "zero"], [f"g{k}"], axis=0),
            h.make_node("Div", [f"g{k}", "one"], [f"n{k}"]),  # what inference stops at
            h.make_node("Unsqueeze", [f"n{k}", "ax0"], [f"u{k}"]),
            h.make_node("Concat", [f"u{k}", rest], [f"shape{k}"], axis=0),
            h.make_node("Reshape", [x, f"shape{k}"], [f"y{k}"], name=f"view{k}"),
        ]
        x = f"y{k}"
    inits = [
        _const(onnx, "zero", 0),
        _const(onnx, "one", 1),
        _const(onnx, "ax0", [0]),
        _const(onnx, "minus1", [-1]),
        _const(onnx, "split", [2, -1]),
    ]
    model = _model(onnx, nodes, [("x", [3, 24])], [x], inits)
    text, spec = _import(_save(onnx, tmp_path, model), tmp_path=tmp_path)
    kinds = [k for _, k, _ in _leaves(spec["layers"])]
    assert kinds == ["unflatten", "flatten"] * 10
    assert spec["expect"]["output"] == [3, 24]


def test_scoped_names_group_and_share(onnx, tmp_path):
    """Legacy torch.onnx node names: '/block/conv/Conv'; a second call '/block/relu_1'."""
    h = onnx.helper
    nodes = [
        h.make_node(
            "Conv", ["x", "onnx::Conv_1"], ["a"], kernel_shape=[1, 1], name="/block/conv/Conv"
        ),
        h.make_node("Relu", ["a"], ["b"], name="/block/relu/Relu"),
        h.make_node("Add", ["b", "x"], ["c"], name="/block/Add"),
        h.make_node("Relu", ["c"], ["y"], name="/block/relu_1/Relu"),
    ]
    inits = [_init(onnx, "onnx::Conv_1", [3, 3, 1, 1])]
    model = _model(onnx, nodes, [("x", [1, 3, 4, 4])], ["y"], inits)
    text, spec = _import(_save(onnx, tmp_path, model), tmp_path=tmp_path)
    block = spec["layers"][0]["sequential"]
    assert block["name"] == "block"
    assert [next(iter(e)) for e in block["layers"]] == ["conv2d", "relu", "add", "share"]
    assert block["layers"][-1] == {"share": "relu", "name": "relu_1"}


def test_group_with_two_inputs_is_a_block(onnx, tmp_path):
    h = onnx.helper
    nodes = [
        h.make_node("Relu", ["x"], ["a"], name="/pre/Relu"),
        h.make_node("Sigmoid", ["x"], ["b"], name="/gate/Sigmoid"),
        h.make_node("Mul", ["a", "b"], ["m"], name="/mix/Mul"),
        h.make_node("Tanh", ["m"], ["y"], name="/mix/act/Tanh"),
    ]
    model = _model(onnx, nodes, [("x", [1, 4])], ["y"])
    text, spec = _import(_save(onnx, tmp_path, model), tmp_path=tmp_path)
    assert "inputs: [in0, in1]" in text
    assert "block_mix: {name: mix, from: [pre, gate]}" in text


def test_unsupported_ops_refused(onnx, tmp_path):
    h = onnx.helper
    nodes = [
        h.make_node("Relu", ["x"], ["a"], name="ok"),
        h.make_node("TopK", ["a", "k"], ["v", "i"], name="topk", axis=1),
        h.make_node("Conv", ["v", "w"], ["y"], name="dyn_conv", kernel_shape=[1]),
    ]
    model = _model(
        onnx, nodes, [("x", [1, 4, 6]), ("w", [2, 4, 1])], ["y"], [_const(onnx, "k", [3])]
    )
    path = _save(onnx, tmp_path, model)
    out = tmp_path / "never.yaml"
    r = run("import", "onnx", path, "-o", str(out))
    assert r.exit_code == 1
    assert "topk (TopK): no layercalc layer computes it" in r.stderr
    assert "dyn_conv (Conv): input 1 ('w') is not a constant weight" in r.stderr
    assert "Traceback" not in r.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "m.onnx"]


def test_bad_file_and_bad_target(onnx, tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    r = run("import", "onnx", str(bad))
    assert r.exit_code == 1 and "cannot read" in r.stderr and "Traceback" not in r.output
    bad.write_bytes(b"")  # read as an empty model: was "the graph has no input"
    r = run("import", "onnx", str(bad))
    assert r.exit_code == 1 and "holds no ONNX graph" in r.stderr
    path = _save(onnx, tmp_path, _chain(onnx))
    r = run("import", "onnx", path, "-o", str(tmp_path))
    assert r.exit_code == 1 and "directory" in r.stderr
    before = (tmp_path / "m.onnx").read_bytes()
    r = run("import", "onnx", path, "-o", path)
    assert (
        r.exit_code == 1 and "it is the ONNX file" in r.stderr and "never overwritten" in r.stderr
    )
    assert (tmp_path / "m.onnx").read_bytes() == before


def test_without_onnx_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    r = run("import", "onnx", str(tmp_path / "m.onnx"))
    assert r.exit_code == 1
    assert "pip install 'layercalc[onnx]'" in r.stderr
    assert "Traceback" not in r.output


EXPORTS = {
    # the legacy (TorchScript) exporter; TRAINING keeps batch norms as nodes with their
    # running statistics (EVAL folds them into the convs)
    "legacy-training": {"dynamo": False, "training": "TRAINING"},
    # without constant folding the batch norms stay too, but the exporter de-duplicates
    # equal tensors through Identity nodes (each keeps its state_dict name)
    "legacy-nofold": {"dynamo": False, "do_constant_folding": False},
    # the default (torch.export) exporter needs onnxscript; optimize=False keeps the
    # batch norms, and adds zero biases to the bias-free convs
    "dynamo": {"dynamo": True, "optimize": False},
}


@pytest.mark.parametrize("how", list(EXPORTS))
def test_torchvision_resnet18_export(onnx, tmp_path, how):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    kw = dict(EXPORTS[how])
    if kw["dynamo"]:
        pytest.importorskip("onnxscript")
    if "training" in kw:
        kw["training"] = getattr(torch.onnx.TrainingMode, kw["training"])
    model = torchvision.models.resnet18().eval()
    path = str(tmp_path / "resnet18.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(model, (torch.randn(1, 3, 224, 224),), path, **kw)
        except Exception as exc:  # pragma: no cover - depends on the torch build
            pytest.skip(f"torch.onnx.export failed: {exc}")
    text, spec = _import(path, tmp_path=tmp_path)
    r = run("params", str(tmp_path / "out.yaml"), "--format", "json")
    data = json.loads(r.stdout)
    totals = data["totals"]
    assert totals["params"] == 11_689_512 == sum(p.numel() for p in model.parameters())
    assert totals["buffers"] == sum(b.numel() for b in model.buffers())
    assert data["output"] == [1, 1000]
    # every torch module with tensors is a spec layer of the same name, and vice versa
    torch_names = {
        n
        for n, m in model.named_modules()
        if list(m.parameters(recurse=False)) or list(m.buffers(recurse=False))
    }
    spec_names = {row["name"] for row in data["layers"] if row["params"] or row["buffers"]}
    assert spec_names == torch_names
    assert "layer1.0.conv1" in spec_names and "layer2.0.downsample.0" in spec_names
    # every leaf module (relu, maxpool, avgpool...) is a spec row too
    leaves = {n for n, m in model.named_modules() if not list(m.children())}
    rows = {row["name"] for row in data["layers"]}
    assert leaves <= rows


def test_silu_pattern(onnx, tmp_path):
    h = onnx.helper
    nodes = [
        h.make_node("Sigmoid", ["x"], ["s"], name="/act/Sigmoid"),
        h.make_node("Mul", ["x", "s"], ["y"], name="/act/Mul"),
    ]
    model = _model(onnx, nodes, [("x", [2, 3])], ["y"])
    text, spec = _import(_save(onnx, tmp_path, model), tmp_path=tmp_path)
    assert spec["layers"] == [{"silu": {"name": "act"}}]


def test_layer_norm2d_pattern(onnx, tmp_path):
    """permute -> LayerNormalization over C -> permute back: one layer_norm2d."""
    h = onnx.helper
    nodes = [
        h.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1], name="/norm/Transpose"),
        h.make_node(
            "LayerNormalization",
            ["t", "norm.weight", "norm.bias"],
            ["n"],
            axis=-1,
            epsilon=1e-6,
            name="/norm/LayerNormalization",
        ),
        h.make_node("Transpose", ["n"], ["y"], perm=[0, 3, 1, 2], name="/norm/Transpose_1"),
    ]
    inits = [_init(onnx, "norm.weight", [8], 1.0), _init(onnx, "norm.bias", [8], 0.0)]
    model = _model(onnx, nodes, [("x", [1, 8, 5, 5])], ["y"], inits)
    text, spec = _import(_save(onnx, tmp_path, model), tmp_path=tmp_path)
    assert spec["layers"] == [{"layer_norm2d": {"name": "norm", "eps": 1e-6}}]
    assert spec["expect"]["params"] == 16


@pytest.mark.parametrize("dynamo", [False, True])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_multihead_attention_export(onnx, tmp_path, batch_first, bias, dynamo):
    """nn.MultiheadAttention, decomposed by torch.onnx, comes back as one layer, and
    `expect: params` is the module's: the dynamo exporter keeps its reshapes' integer
    shapes as initializers and folds away out_proj's bias while it is zero."""
    torch = pytest.importorskip("torch")
    if dynamo:
        pytest.importorskip("onnxscript")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = torch.nn.LayerNorm(32)
            self.attn = torch.nn.MultiheadAttention(32, 4, batch_first=batch_first, bias=bias)

        def forward(self, x):
            y = self.norm(x)
            return self.attn(y, y, y, need_weights=False)[0] + x

    model = Net().eval()
    path = str(tmp_path / "mha.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(model, (torch.randn(2, 5, 32),), path, dynamo=dynamo)
        except Exception as exc:  # pragma: no cover - depends on the torch build
            pytest.skip(f"torch.onnx.export failed: {exc}")
    text, spec = _import(path, tmp_path=tmp_path)
    attn = spec["layers"][1]["multihead_attention"]
    assert attn["name"] == "attn" and attn["num_heads"] == 4
    assert attn.get("batch_first", False) is batch_first
    assert attn.get("bias", True) is bias
    assert spec["expect"]["params"] == sum(p.numel() for p in model.parameters())


def test_resize_scales_concatenated_from_constants(onnx, tmp_path):
    """An exporter writes the scales as Concat(Constant [1, 1], Constant [2, 2]): folded
    like any constant arithmetic, not refused as network data."""
    h = onnx.helper
    t = onnx.numpy_helper.from_array
    nodes = [
        h.make_node("Constant", [], ["lo"], value=t(np.array([1.0, 1.0], np.float32))),
        h.make_node("Constant", [], ["hi"], value=t(np.array([2.0, 3.0], np.float32))),
        h.make_node("Concat", ["lo", "hi"], ["scales"], axis=0),
        h.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest", name="/up/Resize"),
    ]
    model = _model(onnx, nodes, [("x", [1, 3, 4, 4])], ["y"])
    text, spec = _import(_save(onnx, tmp_path, model), tmp_path=tmp_path)
    (entry,) = spec["layers"]
    assert list(entry) == ["upsample"] and entry["upsample"]["scale_factor"] == [2, 3]
    assert spec["expect"]["output"] == [1, 3, 8, 12]


def test_a_name_the_spec_language_changes_is_a_warning(onnx, tmp_path):
    """`head.output.weight`: the layer is written `head.output_` (`output` is reserved),
    and the import says so instead of renaming it silently."""
    h = onnx.helper
    nodes = [h.make_node("Gemm", ["x", "head.output.weight"], ["y"], transB=1)]
    inits = [_init(onnx, "head.output.weight", [3, 5])]
    model = _model(onnx, nodes, [("x", [2, 5])], ["y"], inits)
    out = tmp_path / "out.yaml"
    r = run("import", "onnx", _save(onnx, tmp_path, model), "-o", str(out))
    assert r.exit_code == 0, r.output
    assert (
        "warning: the module name 'output' is written 'output_' (the spec language "
        "reserves it): state_dict keys under it differ from the file's"
    ) in r.stderr
    assert "output_" in out.read_text()


def test_one_initializer_across_module_scopes_is_refused_saying_why(onnx, tmp_path):
    """An exporter merges equal weights: nn.TransformerEncoder's layers are copies until
    trained, so both layers read one initializer, and no order of the module scopes
    works. The refusal says so (it said "the graph has a cycle" of a valid graph)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    nn = torch.nn

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            layer = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, dropout=0.0)
            self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

        def forward(self, x):
            return self.enc(x)

    path = str(tmp_path / "enc.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                M().eval(), (torch.randn(2, 5, 16),), path, opset_version=18, dynamo=True
            )
        except Exception as exc:  # pragma: no cover - depends on the torch build
            pytest.skip(f"torch.onnx.export failed: {exc}")
    r = run("import", "onnx", path, "-o", str(tmp_path / "out.yaml"))
    if r.exit_code == 0:
        pytest.skip("this exporter kept the copies apart")
    assert "share one initializer across module scopes" in r.output, r.output
    assert "import torch" in r.output and "cycle" not in r.output
