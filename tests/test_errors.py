"""Every error path of spec loading and layer rules: code, line and column (1-based)."""

import pytest

from conftest import assert_located, diag_of

CASES = {
    "unknown-top-level-key": (
        """\
input: [1, 3]
layer:
  - relu
layers: [relu]
""",
        "unknown-key",
        2,
        "layer:",
        "did you mean 'layers'?",
    ),
    "missing-input": (
        """\
layers: [relu]
""",
        "missing-key",
        1,
        "layers",
        None,
    ),
    "missing-layers": (
        """\
input: [1, 3]
""",
        "missing-key",
        1,
        "input",
        None,
    ),
    "duplicate-key": (
        """\
input: [1, 3]
layers:
  - linear: {out_features: 4, out_features: 5}
""",
        "duplicate-key",
        3,
        "out_features: 5",
        None,
    ),
    "unknown-type": (
        """\
input: [1, 3, 8, 8]
layers:
  - conv2d: {out_channels: 4, kernel_size: 3}
  - batch_norm2
""",
        "unknown-layer",
        4,
        "batch_norm2",
        None,
    ),
    "unknown-type-typo": (
        """\
input: [1, 3, 8, 8]
layers:
  - cnov2d: {out_channels: 4, kernel_size: 3}
""",
        "unknown-layer",
        3,
        "cnov2d",
        "did you mean 'conv2d'?",
    ),
    "unknown-argument": (
        """\
input: [1, 3, 8, 8]
layers:
  - conv2d: {out_channels: 4, kernel: 3}
""",
        "unknown-argument",
        3,
        "kernel:",
        "did you mean 'kernel_size'?",
    ),
    "missing-argument": (
        """\
input: [1, 3, 8, 8]
layers:
  - conv2d: {out_channels: 4}
""",
        "missing-argument",
        3,
        "conv2d",
        None,
    ),
    "in-channels-mismatch": (
        """\
input: [1, 3, 8, 8]
layers:
  - conv2d: {in_channels: 1, out_channels: 4, kernel_size: 3}
""",
        "shape-mismatch",
        3,
        "1, out",
        None,
    ),
    "in-features-mismatch": (
        """\
input: [1, 784]
layers:
  - linear: {in_features: 700, out_features: 10}
""",
        "shape-mismatch",
        3,
        "700",
        None,
    ),
    "num-features-mismatch": (
        """\
input: [1, 8, 4, 4]
layers:
  - batch_norm2d: {num_features: 16}
""",
        "shape-mismatch",
        3,
        "16",
        None,
    ),
    "output-below-one": (
        """\
input: [1, 3, 4, 4]
layers:
  - conv2d: {out_channels: 4, kernel_size: 5}
""",
        "output-too-small",
        3,
        "5}",
        None,
    ),
    "groups-do-not-divide": (
        """\
input: [1, 6, 8, 8]
layers:
  - conv2d: {out_channels: 4, kernel_size: 3, groups: 4}
""",
        "invalid-layer",
        3,
        "4}",
        None,
    ),
    "output-padding-too-big": (
        """\
input: [1, 6, 8, 8]
layers:
  - conv_transpose2d: {out_channels: 4, kernel_size: 3, stride: 2, output_padding: 2}
""",
        "invalid-layer",
        3,
        "2}",
        None,
    ),
    "same-with-stride": (
        """\
input: [1, 6, 8, 8]
layers:
  - conv2d: {out_channels: 4, kernel_size: 3, stride: 2, padding: same}
""",
        "invalid-layer",
        3,
        "same",
        None,
    ),
    "wrong-rank": (
        """\
input: [1, 784]
layers:
  - conv2d: {out_channels: 4, kernel_size: 3}
""",
        "bad-rank",
        3,
        "conv2d",
        None,
    ),
    "pool-padding-over-half": (
        """\
input: [1, 6, 8, 8]
layers:
  - max_pool2d: {kernel_size: 2, padding: 2}
""",
        "invalid-layer",
        3,
        "2}",
        None,
    ),
    "add-shape-mismatch": (
        """\
input: [1, 6, 8, 8]
layers:
  - conv2d: {name: a, out_channels: 4, kernel_size: 1}
  - add: {from: [a, input]}
""",
        "shape-mismatch",
        4,
        "[a, input]",
        None,
    ),
    "bad-expression": (
        """\
vars: {ndf: 64}
input: [1, 3, 8, 8]
layers:
  - conv2d: {out_channels: "ndf.__class__", kernel_size: 3}
""",
        "bad-expression",
        4,
        '"ndf',
        None,
    ),
    "unknown-name": (
        """\
vars: {ndf: 64}
input: [1, 3, 8, 8]
layers:
  - conv2d: {out_channels: nfd * 2, kernel_size: 3}
""",
        "unknown-name",
        4,
        "nfd",
        "did you mean 'ndf'?",
    ),
    "not-an-integer": (
        """\
vars: {c: 3}
input: [1, 3, 8, 8]
layers:
  - conv2d: {out_channels: c / 2, kernel_size: 3}
""",
        "not-integer",
        4,
        "c / 2",
        None,
    ),
    "var-error-reported-even-if-unused": (
        """\
vars:
  a: 2
  b: a // 0
input: [1, 3]
layers: [relu]
""",
        "bad-expression",
        3,
        "a // 0",
        None,
    ),
    "bool-where-int": (
        """\
input: [1, 3]
layers:
  - linear: {out_features: true}
""",
        "bad-value",
        3,
        "true",
        None,
    ),
    "bad-padding-word": (
        """\
input: [1, 3, 8, 8]
layers:
  - conv2d: {out_channels: 4, kernel_size: 3, padding: sme}
""",
        "bad-value",
        3,
        "sme",
        "did you mean 'same'?",
    ),
    "softmax-needs-dim": (
        """\
input: [1, 10]
layers:
  - softmax
""",
        "missing-argument",
        3,
        "softmax",
        None,
    ),
    "entry-with-two-keys": (
        """\
input: [1, 10]
layers:
  - linear: {out_features: 3}
    name: fc
""",
        "bad-entry",
        3,
        "linear",
        None,
    ),
    "duplicate-name": (
        """\
input: [1, 10]
layers:
  - linear: {name: fc, out_features: 3}
  - linear: {name: fc, out_features: 3}
""",
        "duplicate-name",
        4,
        "fc,",
        None,
    ),
    "reserved-name": (
        """\
input: [1, 10]
layers:
  - linear: {name: output, out_features: 3}
""",
        "bad-name",
        3,
        "output",
        None,
    ),
    "bad-input": (
        """\
input: [1, 0, 8]
layers: [relu]
""",
        "bad-value",
        1,
        "0",
        None,
    ),
    "bad-dtype": (
        """\
input: [1, 3]
dtype: float33
layers: [relu]
""",
        "bad-value",
        2,
        "float33",
        "did you mean 'float32'?",
    ),
    "top-level-list": (
        """\
- relu
""",
        "not-a-mapping",
        1,
        "- relu",
        None,
    ),
    "yaml-syntax": (
        """\
input: [1, 3
layers: [relu]
""",
        "yaml-syntax",
        2,
        ":",
        None,
    ),
    "tab-indent": ("input: [1, 3]\nlayers:\n\t- relu\n", "yaml-syntax", 3, "\t", None),
    "unflatten-mismatch": (
        """\
input: [1, 100]
layers:
  - unflatten: {dim: 1, sizes: [3, 4]}
""",
        "shape-mismatch",
        3,
        "[3, 4]",
        None,
    ),
    "concat-mismatch": (
        """\
input: [1, 6, 8, 8]
layers:
  - max_pool2d: {name: p, kernel_size: 2}
  - concat: {from: [p, input], dim: 1}
""",
        "shape-mismatch",
        4,
        "[p, input]",
        None,
    ),
    "upsample-both": (
        """\
input: [1, 6, 8, 8]
layers:
  - upsample: {scale_factor: 2, size: 16}
""",
        "invalid-layer",
        3,
        "16}",
        None,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_error_is_located(name):
    """Each case names the text the diagnostic must point at, so columns are checkable."""
    assert assert_located(*CASES[name]).message


def test_messages_give_both_numbers():
    d = diag_of(CASES["in-channels-mismatch"][0])
    assert "1" in d.message and "3" in d.message
    d = diag_of(CASES["output-below-one"][0])
    assert "5" in d.message and "4" in d.message


def test_set_unknown_var_suggests():
    from layercalc.analyses.loading import analyse_bytes

    r = analyse_bytes(
        b"vars: {ndf: 64}\ninput: [1, 3]\nlayers: [relu]\n", "t.yaml", overrides={"nfd": 1}
    )
    d = r.diagnostics[0]
    assert d.code == "unknown-var" and d.hint == "did you mean 'ndf'?"
