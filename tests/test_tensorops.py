"""Tensor operations with one output (SPEC.md section 12): permute, transpose (swapdims),
squeeze, unsqueeze, expand, roll, select, slice, flip and matmul. Shapes, no parameters,
matmul's MACs, refusals located at the argument at fault with PyTorch's reason, verify
and the other commands through the CLI, receptive fields undefined after them. No torch
here: tests/test_tensorops_torch.py compares them with torch."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from conftest import assert_located, cli_runner, diag_of, net_of

from layercalc.cli import main
from layercalc.analyses.receptive import receptive_fields
from layercalc.layers import REGISTRY

TYPES = (
    "permute",
    "transpose",
    "squeeze",
    "unsqueeze",
    "expand",
    "roll",
    "select",
    "slice",
    "flip",
    "matmul",
)


def _cli(tmp_path, text, *args):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return cli_runner(env={"NO_COLOR": "1", "COLUMNS": "200"}).invoke(
        main, [*args, str(path)], catch_exceptions=False
    )


def _shape_json(tmp_path, text):
    result = _cli(tmp_path, text, "shape", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- one network through every command -------------------------------------------------

ATTENTION_LIKE = """\
    input: [2, 8, 6, 6]
    layers:
      - conv2d: {out_channels: 12, kernel_size: 3, padding: 1}
      - flatten: {start_dim: 2}                         # [2, 12, 36]
      - transpose: {name: tokens, dim0: 1, dim1: -1}    # [2, 36, 12]
      - slice: {name: q, dim: -1, end: 4}               # [2, 36, 4]
      - slice: {name: k, dim: -1, start: 4, end: 8, from: tokens}
      - transpose: {name: kt, dim0: -2, dim1: -1}       # [2, 4, 36]
      - matmul: {name: scores, from: [q, kt]}           # [2, 36, 36]
      - softmax: {dim: -1}
      - slice: {name: v, dim: 2, start: -4, from: tokens}
      - matmul: {name: mixed, from: [7, v]}             # [2, 36, 4]
      - permute: {dims: [0, 2, 1]}                      # [2, 4, 36]
      - unsqueeze: {dim: 1}                             # [2, 1, 4, 36]
      - expand: {size: [-1, 3, -1, -1]}                 # [2, 3, 4, 36]
      - roll: {shifts: [1, -5], dims: [1, 3]}
      - flip: {dims: -1}
      - select: {dim: 1, index: -1}                     # [2, 4, 36]
      - unsqueeze: {dim: 0}
      - squeeze                                         # [2, 4, 36]
      - swapdims: {dim0: 0, dim1: 2}                    # [36, 4, 2]
    """


def test_one_network_through_shape_params_cost_explain_rf_and_verify(tmp_path):
    data = _shape_json(tmp_path, ATTENTION_LIKE)
    shapes = {layer["name"]: layer["output"] for layer in data["layers"]}
    assert shapes["tokens"] == [2, 36, 12]
    assert shapes["q"] == shapes["k"] == shapes["v"] == [2, 36, 4]
    assert shapes["kt"] == [2, 4, 36]
    assert shapes["scores"] == [2, 36, 36]
    assert shapes["mixed"] == [2, 36, 4]
    assert [layer["output"] for layer in data["layers"]][10:] == [
        [2, 4, 36],
        [2, 1, 4, 36],
        [2, 3, 4, 36],
        [2, 3, 4, 36],
        [2, 3, 4, 36],
        [2, 4, 36],
        [1, 2, 4, 36],
        [2, 4, 36],
        [36, 4, 2],
    ]
    macs = {layer["name"]: layer["macs"] for layer in data["layers"]}
    assert macs["scores"] == 2 * 36 * 4 * 36  # ∏batch · n · k · m
    assert macs["mixed"] == 2 * 36 * 36 * 4
    assert data["totals"]["params"] == 2 * 8 * 9 * 12 // 2 + 12  # the conv's only
    assert all(layer["params"] == 0 and layer["buffers"] == 0 for layer in data["layers"][1:])
    assert all(layer["macs"] == 0 for layer in data["layers"][1:] if layer["type"] != "matmul")
    args = {layer["name"]: layer["args"] for layer in data["layers"]}
    assert args["tokens"] == "1<->-1" and args["q"] == "dim=-1 :4"
    assert args["k"] == "dim=-1 4:8" and args["10"] == "dims=[0, 2, 1]"
    assert args["12"] == "[2, 3, 4, 36]" and args["13"] == "shifts=[1, -5] dims=[1, 3]"
    assert args["15"] == "dim=1 index=-1" and args["17"] == ""
    for command in ("params", "cost", "rf", "explain"):
        result = _cli(tmp_path, ATTENTION_LIKE, command)
        assert result.exit_code == 0, (command, result.output)
    explained = _cli(tmp_path, ATTENTION_LIKE, "explain").stdout
    assert "matrix product (36×4)·(4×36) -> 36×36 for each of the batch [2]" in explained
    assert "dim 2: -4: of 12 positions keeps 4 (positions 8 to 11)" in explained
    result = _cli(tmp_path, ATTENTION_LIKE, "verify")
    assert result.exit_code == 0, result.output
    assert "all 19 layers agree" in result.stdout


@pytest.mark.parametrize(
    "entry, shape, out",
    [
        ("permute: {dims: [0, 2, 3, 1]}", [2, 3, 4, 5], [2, 4, 5, 3]),
        ("permute: {dims: [-1, 0, 1]}", [2, 3, 4], [4, 2, 3]),
        ("permute: {dims: 0}", [5], [5]),
        ("Permute: {dims: [1, 0]}", [2, 3], [3, 2]),
        ("transpose: {dim0: 1, dim1: 2}", [2, 3, 4], [2, 4, 3]),
        ("transpose: {dim0: -1, dim1: 0}", [2, 3, 4], [4, 3, 2]),
        ("transpose: {dim0: 1, dim1: -2}", [2, 3, 4], [2, 3, 4]),
        ("swapdims: {dim0: 0, dim1: 1}", [2, 3], [3, 2]),
        ("transpose: {dim0: 0, dim1: -1}", [7], [7]),
        ("squeeze", [1, 3, 1, 4], [3, 4]),
        ("squeeze: {dim: 1}", [2, 3], [2, 3]),  # not size 1: kept, as torch
        ("squeeze: {dim: [0, 2]}", [1, 3, 1], [3]),
        ("squeeze: {dim: [0, 1]}", [1, 3, 1], [3, 1]),
        ("squeeze: {dim: -1}", [2, 1], [2]),
        ("squeeze", [1], []),
        ("squeeze", [2, 3], [2, 3]),
        ("unsqueeze: {dim: 0}", [2, 3], [1, 2, 3]),
        ("unsqueeze: {dim: -1}", [2, 3], [2, 3, 1]),
        ("unsqueeze: {dim: 2}", [2, 3], [2, 3, 1]),
        ("unsqueeze: {dim: -3}", [2, 3], [1, 2, 3]),
        ("expand: {size: [2, 5, 4]}", [2, 1, 4], [2, 5, 4]),
        ("expand: {size: [-1, 5, -1]}", [2, 1, 4], [2, 5, 4]),
        ("expand: {size: [7, 2, 5, 4]}", [2, 1, 4], [7, 2, 5, 4]),
        ("expand: {sizes: [3, -1, -1, -1]}", [2, 1, 4], [3, 2, 1, 4]),
        ("expand: {size: 6}", [1], [6]),
        ("expand: {size: [2, 1, 4]}", [2, 1, 4], [2, 1, 4]),
        ("roll: {shifts: 3}", [2, 3, 4], [2, 3, 4]),
        ("roll: {shifts: [1, -1], dims: [0, 0]}", [2, 3, 4], [2, 3, 4]),  # a dim twice: allowed
        ("roll: {shifts: [100], dims: -1}", [2, 3, 4], [2, 3, 4]),
        ("select: {dim: 1, index: -1}", [2, 3, 4], [2, 4]),
        ("select: {dim: -1, index: 0}", [2, 3, 4], [2, 3]),
        ("select: {dim: 0, index: 4}", [5], []),
        ("slice: {start: 2}", [10, 3], [8, 3]),  # dim 0 by default, as x[2:]
        ("slice: {dim: 1, end: 100}", [10, 3], [10, 3]),  # clamped
        ("slice: {dim: -1, start: -3}", [2, 10], [2, 3]),
        ("slice: {dim: 1, step: 3}", [2, 10], [2, 4]),
        ("slice: {dim: 1, start: -100, end: 100, step: 2}", [2, 5], [2, 3]),
        ("slice: {dim: 1, start: 1, end: -1}", [2, 5], [2, 3]),
        ("slice: {dim: 0, start: -1, end: 1099511627776}", [4], [1]),
        ("flip: {dims: [0, -1]}", [2, 3, 4], [2, 3, 4]),
        ("flip: {dims: 1}", [2, 3], [2, 3]),
    ],
)
def test_shapes(tmp_path, entry, shape, out):
    data = _shape_json(tmp_path, f"input: {shape}\nlayers:\n  - {entry}\n")
    assert data["output"] == out
    assert data["totals"]["params"] == 0 and data["totals"]["macs"] == 0


@pytest.mark.parametrize(
    "a, b, out, macs",
    [
        ([3], [3], [], 3),  # a dot product: a 0-d output
        ([2, 3], [3], [2], 6),
        ([3], [3, 4], [4], 12),
        ([2, 3], [3, 4], [2, 4], 24),
        ([7, 1, 2, 3], [6, 3, 5], [7, 6, 2, 5], 7 * 6 * 2 * 3 * 5),
        ([4], [2, 4, 5], [2, 5], 2 * 4 * 5),
        ([5, 2, 3], [3, 4], [5, 2, 4], 5 * 2 * 3 * 4),
        ([2, 3], [5, 3, 4], [5, 2, 4], 5 * 2 * 3 * 4),
        ([5, 2, 3], [3], [5, 2], 5 * 2 * 3),
        ([1, 1, 2, 3], [3, 1], [1, 1, 2, 1], 6),
    ],
)
def test_matmul_shapes_and_macs(tmp_path, a, b, out, macs):
    spec = f"input: {{a: {a}, b: {b}}}\nlayers:\n  - matmul: {{from: [a, b]}}\n"
    data = _shape_json(tmp_path, spec)
    assert data["output"] == out
    assert data["layers"][0]["macs"] == macs and data["totals"]["params"] == 0
    result = _cli(tmp_path, spec, "verify")
    assert result.exit_code == 0, result.output


def test_0d_tensors_go_through_as_in_torch(tmp_path):
    spec = """\
        input: [3]
        layers:
          - sum                                  # a 0-d tensor
          - transpose: {dim0: 0, dim1: -1}       # a 0-d input takes dims 0 and -1
          - flip: {dims: 0}
          - squeeze: {dim: -1}
          - roll: {shifts: 5}
          - permute: {name: p, dims: 0, from: input}
          - unsqueeze: {dim: -1, from: 4}        # [1]
          - expand: {size: [2, 3, 4]}           # a 0-d tensor expands to anything
        """
    data = _shape_json(tmp_path, spec)
    assert [layer["output"] for layer in data["layers"]] == [
        [],
        [],
        [],
        [],
        [],
        [3],
        [1],
        [2, 3, 4],
    ]
    assert _cli(tmp_path, spec, "verify").exit_code == 0


# -- refusals, located, with PyTorch's reason -----------------------------------------------


def _one(shape, entry):
    return f"input: {shape}\nlayers:\n  - {entry}\n"


# name: (spec, code, line, marker (where the column points), PyTorch's words in the message)
REFUSED = {
    "permute-repeated": (
        _one([2, 3, 4], "permute: {dims: [0, 0, 1]}"),
        "invalid-layer",
        3,
        "[0, 0",
        "permute(): duplicate dims are not allowed.",
    ),
    "permute-repeated-negative": (
        _one([2, 3, 4], "permute: {dims: [2, -1, 0]}"),
        "invalid-layer",
        3,
        "[2, -1",
        "duplicate dims",
    ),
    "permute-too-short": (
        _one([2, 3, 4], "permute: {dims: [0, 1]}"),
        "bad-rank",
        3,
        "[0, 1]",
        "input.dim() = 3 is not equal to len(dims) = 2",
    ),
    "permute-too-long": (
        _one([2, 3], "permute: {dims: [0, 1, 2]}"),
        "bad-rank",
        3,
        "[0, 1, 2]",
        "input.dim() = 2 is not equal to len(dims) = 3",
    ),
    "permute-out-of-range": (
        _one([2, 3, 4], "permute: {dims: [0, 1, 3]}"),
        "invalid-layer",
        3,
        "[0, 1, 3]",
        "expected to be in range of [-3, 2], but got 3",
    ),
    "permute-needs-dims": (_one([2, 3], "permute"), "missing-argument", 3, "permute", ""),
    "transpose-dim1-out-of-range": (
        _one([2, 3], "transpose: {dim0: 0, dim1: 2}"),
        "invalid-layer",
        3,
        "2}",
        "Dimension out of range (expected to be in range of [-2, 1], but got 2)",
    ),
    "transpose-dim0-negative": (
        _one([2, 3], "transpose: {dim0: -3, dim1: 0}"),
        "invalid-layer",
        3,
        "-3",
        "expected to be in range of [-2, 1], but got -3",
    ),
    "transpose-two-inputs": (
        _one([2, 3], "transpose: {dim0: 0, dim1: 1, from: [input, input]}"),
        "bad-from",
        3,
        "[input",
        "",
    ),
    "squeeze-out-of-range": (
        _one([2, 1], "squeeze: {dim: 2}"),
        "invalid-layer",
        3,
        "2}",
        "expected to be in range of [-2, 1], but got 2",
    ),
    "squeeze-dim-twice": (
        _one([1, 3, 1], "squeeze: {dim: [0, -3]}"),
        "invalid-layer",
        3,
        "[0, -3]",
        "dim 0 appears multiple times in the list of dims",
    ),
    # a null entry of a list is refused where it stands, for every list argument
    "squeeze-null-entry": (
        _one([1, 3], "squeeze: {dim: [0, null]}"),
        "bad-value",
        3,
        "null]",
        "dim entries must be numbers, not null",
    ),
    "expand-null-entry": (
        _one([1, 3], "expand: {size: [2, null]}"),
        "bad-value",
        3,
        "null]",
        "not null",
    ),
    "roll-null-dim": (
        _one([1, 3], "roll: {shifts: [1, 1], dims: [0, null]}"),
        "bad-value",
        3,
        "null]",
        "not null",
    ),
    "squeeze-empty-list": (_one([1, 3], "squeeze: {dim: []}"), "bad-value", 3, "[]", ""),
    "unsqueeze-out-of-range": (
        _one([2, 3], "unsqueeze: {dim: 3}"),
        "invalid-layer",
        3,
        "3}",
        "expected to be in range of [-3, 2], but got 3",
    ),
    "unsqueeze-out-of-range-negative": (
        _one([2, 3], "unsqueeze: {dim: -4}"),
        "invalid-layer",
        3,
        "-4",
        "but got -4",
    ),
    "expand-non-singleton": (
        _one([2, 1, 4], "expand: {size: [3, 5, 4]}"),
        "shape-mismatch",
        3,
        "[3, 5, 4]",
        "The expanded size of the tensor (3) must match the "
        "existing size (2) at non-singleton dimension 0",
    ),
    "expand-non-singleton-leading": (
        _one([2, 1, 4], "expand: {sizes: [6, 3, 5, 4]}"),
        "shape-mismatch",
        3,
        "[6, 3",
        "existing size (2) at non-singleton dimension 1",
    ),
    "expand-fewer-sizes": (
        _one([2, 1, 4], "expand: {sizes: [5, 4]}"),
        "bad-rank",
        3,
        "[5, 4]",
        "the number of sizes provided (2) must be greater or equal to the "
        "number of dimensions in the tensor (3)",
    ),
    "expand-leading-minus-one": (
        _one([2, 1, 4], "expand: {size: [-1, 2, 5, 4]}"),
        "invalid-layer",
        3,
        "[-1, 2",
        "The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension 0",
    ),
    "expand-below-minus-one": (
        _one([2, 1, 4], "expand: {size: [2, -2, 4]}"),
        "bad-value",
        3,
        "-2",
        "",
    ),
    "expand-to-empty": (
        _one([2, 1, 4], "expand: {size: [2, 0, 4]}"),
        "output-too-small",
        3,
        "[2, 0",
        "empty tensor",
    ),
    "expand-size-and-sizes": (
        _one([2, 1], "expand: {size: [2, 3], sizes: [2, 3]}"),
        "invalid-layer",
        3,
        "[2, 3]}",
        "exactly one of size or sizes",
    ),
    "expand-neither": (
        _one([2, 1], "expand: {}"),
        "invalid-layer",
        3,
        "expand",
        "exactly one of size or sizes",
    ),
    "roll-shifts-and-dims-misaligned": (
        _one([2, 3, 4], "roll: {shifts: 1, dims: [0, 1]}"),
        "invalid-layer",
        3,
        "[0, 1]",
        "shifts and dimensions must align. shifts: 1, dims:2",
    ),
    "roll-two-shifts-no-dims": (
        _one([2, 3, 4], "roll: {shifts: [1, 2]}"),
        "invalid-layer",
        3,
        "[1, 2]",
        "shifts and dimensions must align. shifts: 2, dims:0",
    ),
    "roll-dim-out-of-range": (
        _one([2, 3, 4], "roll: {shifts: [1, 1], dims: [0, 3]}"),
        "invalid-layer",
        3,
        "[0, 3]",
        "expected to be in range of [-3, 2], but got 3",
    ),
    "roll-0d-with-dims": (
        "input: [3]\nlayers:\n  - sum\n  - roll: {shifts: 1, dims: -1}\n",
        "bad-rank",
        4,
        "-1",
        "Dimension specified as -1 but tensor has no dimensions",
    ),
    "roll-shift-beyond-int64": (
        _one([4], "roll: {shifts: 2**63}"),
        "invalid-layer",
        3,
        "2**63",
        "Overflow when unpacking long long",
    ),
    "select-index-out-of-range": (
        _one([2, 3, 4], "select: {dim: 1, index: 3}"),
        "bad-index",
        3,
        "3}",
        "select(): index 3 out of range for tensor of size [2, 3, 4] at dimension 1",
    ),
    "select-index-out-of-range-negative": (
        _one([2, 3, 4], "select: {dim: -2, index: -4}"),
        "bad-index",
        3,
        "-4",
        "index -4 out of range for tensor of size [2, 3, 4] at dimension 1",
    ),
    "select-dim-out-of-range": (
        _one([2, 3, 4], "select: {dim: 3, index: 0}"),
        "invalid-layer",
        3,
        "3,",
        "expected to be in range of [-3, 2], but got 3",
    ),
    "select-0d": (
        "input: [3]\nlayers:\n  - sum\n  - select: {dim: 0, index: 0}\n",
        "bad-rank",
        4,
        "select",
        "select() cannot be applied to a 0-dim tensor.",
    ),
    "select-needs-index": (_one([2, 3], "select: {dim: 0}"), "missing-argument", 3, "select", ""),
    "slice-step-zero": (
        _one([2, 5], "slice: {dim: 1, step: 0}"),
        "invalid-layer",
        3,
        "0}",
        "slice step cannot be zero",
    ),
    "slice-step-negative": (
        _one([2, 5], "slice: {dim: 1, step: -1}"),
        "invalid-layer",
        3,
        "-1}",
        "step must be greater than zero",
    ),
    "slice-empty": (
        _one([2, 5], "slice: {dim: 1, start: 3, end: 1}"),
        "output-too-small",
        3,
        "3,",
        "empty tensor",
    ),
    "slice-empty-past-the-end": (
        _one([2, 5], "slice: {dim: 1, start: 5}"),
        "output-too-small",
        3,
        "5}",
        "selects nothing",
    ),
    "slice-empty-end-only": (
        _one([2, 5], "slice: {dim: 1, end: -5}"),
        "output-too-small",
        3,
        "-5",
        "selects nothing",
    ),
    "slice-dim-out-of-range": (
        _one([2, 5], "slice: {dim: -3}"),
        "invalid-layer",
        3,
        "-3",
        "expected to be in range of [-2, 1], but got -3",
    ),
    "slice-0d": (
        "input: [3]\nlayers:\n  - sum\n  - slice: {end: 1}\n",
        "bad-rank",
        4,
        "slice",
        "slice() cannot be applied to a 0-dim tensor.",
    ),
    "flip-dim-twice": (
        _one([2, 3, 4], "flip: {dims: [0, -3]}"),
        "invalid-layer",
        3,
        "[0, -3]",
        "dim 0 appears multiple times in the list of dims",
    ),
    "flip-out-of-range": (
        _one([2, 3], "flip: {dims: [0, 2]}"),
        "invalid-layer",
        3,
        "[0, 2]",
        "expected to be in range of [-2, 1], but got 2",
    ),
    "matmul-inner-mismatch": (
        "input: {a: [2, 3], b: [4, 5]}\nlayers:\n  - matmul: {from: [a, b]}\n",
        "shape-mismatch",
        3,
        "[a",
        "mat1 and mat2 shapes cannot be multiplied",
    ),
    "matmul-vector-mismatch": (
        "input: {a: [2, 3], b: [4]}\nlayers:\n  - matmul: {from: [a, b]}\n",
        "shape-mismatch",
        3,
        "[a",
        "the second's size 4",
    ),
    "matmul-batch-mismatch": (
        "input: {a: [7, 2, 3], b: [6, 3, 5]}\nlayers:\n  - matmul: {from: [a, b]}\n",
        "shape-mismatch",
        3,
        "[a",
        "The size of tensor a (7) must match the size of tensor b (6) at non-singleton dimension 0",
    ),
    "matmul-batch-mismatch-inner-dim": (
        "input: {a: [2, 7, 2, 3], b: [6, 3, 5]}\nlayers:\n  - matmul: {from: [a, b]}\n",
        "shape-mismatch",
        3,
        "[a",
        "at non-singleton dimension 1",
    ),
    "matmul-0d": (
        "input: [3]\nlayers:\n  - sum\n  - matmul: {from: [0, input]}\n",
        "bad-rank",
        4,
        "[0",
        "both arguments to matmul need to be at least 1D, but they are 0D and 1D",
    ),
    "matmul-one-input": (_one([2, 2], "matmul"), "bad-merge", 3, "matmul", "two inputs"),
    "matmul-three-inputs": (
        _one([2, 2], "matmul: {from: [input, input, input]}"),
        "bad-merge",
        3,
        "[input",
        "got 3",
    ),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refusals_are_located_and_say_pytorchs_reason(name):
    text, code, line, marker, words = REFUSED[name]
    d = assert_located(text, code, line, marker)
    assert words in d.message, d.message


def test_out_of_range_dims_give_a_hint():
    d = diag_of(_one([2, 3], "transpose: {dim0: 0, dim1: 2}"))
    assert d.hint == "use a dim in [-2, 1]"
    d = diag_of(_one([2, 3, 4], "select: {dim: 1, index: 3}"))
    assert d.hint == "use 0..2, or -3..-1 from the end"


def test_a_slice_that_selects_nothing_says_why():
    d = diag_of(_one([2, 5], "slice: {dim: 1, start: 3, end: 1}"))
    assert d.message.startswith("3:1:1 selects nothing of dim 1 of size 5")
    assert "layercalc models no empty tensors" in d.message


# -- values (torch-free): the NumPy forwards on known arrays ------------------------------


def _forward(entry, x):
    net = net_of(_one(list(np.shape(x)), entry))
    layer = net.layers[0]
    y = layer.type.forward(layer.args, [np.asarray(x)], {})
    assert y.shape == tuple(layer.output)
    return y


def test_forwards_on_known_values():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert np.array_equal(_forward("permute: {dims: [2, 0, 1]}", x), x.transpose(2, 0, 1))
    assert np.array_equal(_forward("transpose: {dim0: 0, dim1: -1}", x), x.transpose(2, 1, 0))
    assert np.array_equal(_forward("roll: {shifts: 1}", x), np.roll(x.ravel(), 1).reshape(x.shape))
    assert np.array_equal(
        _forward("roll: {shifts: [1, 1], dims: [2, -1]}", x), np.roll(x, 2, axis=2)
    )
    assert np.array_equal(
        _forward("roll: {shifts: [9223372036854775807, 1], dims: [0, 0]}", x), x
    )  # (2**63 - 1) + 1 rolls of 2 rows: added in Python ints
    assert np.array_equal(_forward("select: {dim: 1, index: -1}", x), x[:, 2])
    assert np.array_equal(_forward("slice: {dim: 2, start: 1, step: 2}", x), x[:, :, 1::2])
    assert np.array_equal(_forward("flip: {dims: [0, 2]}", x), x[::-1, :, ::-1])
    assert np.array_equal(
        _forward("expand: {size: [3, -1, -1, -1]}", x[:, :1]), np.stack([x[:, :1]] * 3)
    )
    assert np.array_equal(_forward("squeeze", x[:1, :, 1:2]), x[0, :, 1])
    v = np.arange(4, dtype=np.float32)
    y = _forward("select: {dim: 0, index: 2}", v)
    assert y.shape == () and y == 2 and isinstance(y, np.ndarray)


def test_outputs_are_contiguous_and_own_no_larger_buffer():
    x = np.arange(4000, dtype=np.float32).reshape(10, 400)
    for entry in (
        "select: {dim: 0, index: 3}",
        "slice: {end: 2}",
        "select: {dim: 1, index: 0}",
        "flip: {dims: 1}",
        "transpose: {dim0: 0, dim1: 1}",
    ):
        y = _forward(entry, x)
        assert y.flags.c_contiguous, entry
        owner = y
        while owner.base is not None:
            owner = owner.base
        assert owner.nbytes <= y.nbytes, entry


# -- receptive fields, the catalogue, the registry -------------------------------------------


def test_receptive_fields_are_undefined_after_them():
    net = net_of("""\
        input: [1, 3, 32, 32]
        layers:
          - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
          - permute: {dims: [0, 1, 3, 2]}
          - relu
          - roll: {shifts: 1, dims: 2, from: 0}
          - flip: {dims: [1, 3], from: 0}
          - roll: {shifts: 1, from: 0}
        """)
    rf = receptive_fields(net)
    assert [x.size for x in rf[0].fields] == [3, 3]
    assert [f.fields for f in rf[1:]] == [None] * 5
    assert rf[1].note == rf[2].note == "undefined after permute"
    assert rf[3].note == rf[5].note == "undefined after roll"
    assert rf[4].note == "undefined after flip"


def test_receptive_fields_through_channel_moves_and_spatial_crops():
    """Moving the channels (slice, roll, flip on dim 1) keeps every position; a slice of
    a spatial dim is a crop: output i is input start + i·step (PyTorch's autograd
    agrees: tests/test_insight.py)."""
    net = net_of("""\
        input: [1, 16, 50]
        layers:
          - conv1d: {out_channels: 32, kernel_size: 5, padding: 2}
          - slice: {dim: 1, start: 4}
          - roll: {shifts: 1, dims: 1}
          - flip: {dims: 1}
          - slice: {dim: 2, start: -47, end: 40, step: 2}
          - conv1d: {out_channels: 8, kernel_size: 3}
        """)
    rf = [x.fields[0] for x in receptive_fields(net)]
    assert [(f.size, f.jump, f.start) for f in rf] == [(5, 1, -2)] * 4 + [(5, 2, 1), (9, 2, 1)]


def test_rf_command_says_undefined_after_a_permute(tmp_path):
    spec = """\
        input: [1, 3, 32, 32]
        layers:
          - conv2d: {out_channels: 8, kernel_size: 3, padding: 1}
          - permute: {dims: [0, 1, 3, 2]}
        """
    result = _cli(tmp_path, spec, "rf")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if "permute" in line)
    assert "undefined after permute" in row


def test_catalogue_lists_them_with_their_arguments():
    result = cli_runner().invoke(main, ["layers", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0
    entries = {e["type"]: e for e in json.loads(result.stdout)}
    args = {name: [(a["name"], a["default"]) for a in entries[name]["args"]] for name in TYPES}
    assert args == {
        "permute": [("dims", "required")],
        "transpose": [("dim0", "required"), ("dim1", "required")],
        "squeeze": [("dim", "none")],
        "unsqueeze": [("dim", "required")],
        "expand": [("size", "none"), ("sizes", "none")],
        "roll": [("shifts", "required"), ("dims", "none")],
        "select": [("dim", "required"), ("index", "required")],
        "slice": [("dim", "0"), ("start", "none"), ("end", "none"), ("step", "1")],
        "flip": [("dims", "required")],
        "matmul": [],
    }
    assert entries["matmul"]["pytorch"].startswith("torch.matmul")


def test_every_type_is_registered_parameter_free_with_no_window():
    for name in TYPES:
        lt = REGISTRY.get(name)
        assert lt is not None and lt.name == name
        if name not in ("roll", "slice", "flip"):  # these keep channel moves
            assert lt.window({}, [(1,)], (1,)) is None
    assert REGISTRY.get("swapdims") is REGISTRY.get("transpose")
    assert REGISTRY.get("matmul").merge
