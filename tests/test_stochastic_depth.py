"""`stochastic_depth` (SPEC.md section 12): torchvision.ops.StochasticDepth(p, mode), the
identity at inference: no tensors, no MACs, output = input; p and mode required."""

import json

import numpy as np
import pytest
from conftest import assert_located, cli_runner, one_layer

from layercalc.analyses.loading import analyse_bytes
from layercalc.cli import main
from layercalc.layers import REGISTRY


@pytest.mark.parametrize(
    "entry,shape",
    [
        ("stochastic_depth: {p: 0.2, mode: row}", [8, 16, 7, 7]),
        ("stochastic_depth: {p: 0.0, mode: batch}", [2, 197, 768]),
        ("StochasticDepth: {p: 1, mode: batch}", [4]),
        ("stochastic_depth: {p: 0.5, mode: row}", []),  # 0-d: row mode needs no dims at inference
    ],
)
def test_output_is_the_input_with_no_tensors_or_macs(entry, shape):
    if not shape:
        net = analyse_bytes(
            b"input: [3]\nlayers:\n  - sum\n  - " + entry.encode() + b"\n", "t.yaml"
        ).net
        layer = net.layers[-1]
    else:
        layer = one_layer(entry, shape)
    assert list(layer.output) == shape
    assert (layer.params, layer.buffers, layer.macs) == (0, 0, 0)
    assert not layer.tensors
    assert layer.type.name == "stochastic_depth"


def test_the_catalogue_documents_it():
    r = cli_runner().invoke(
        main, ["layers", "stochastic_depth", "--format", "json"], catch_exceptions=False
    )
    assert r.exit_code == 0
    [entry] = json.loads(r.stdout)
    assert entry["pytorch"] == "torchvision.ops.StochasticDepth"
    assert entry["family"] == "dropout"
    assert [(a["name"], a["default"], a["choices"]) for a in entry["args"]] == [
        ("p", "required", []),
        ("mode", "required", ["batch", "row"]),
    ]
    r = cli_runner(env={"COLUMNS": "200", "NO_COLOR": "1"}).invoke(
        main, ["layers"], catch_exceptions=False
    )
    assert "stochastic_depth" in r.stdout and "p, mode (batch | row)" in r.stdout


REFUSALS = {
    "p-above-one": (
        """\
input: [1, 8]
layers:
  - stochastic_depth: {p: 1.5, mode: row}
""",
        "invalid-layer",
        3,
        "1.5",
        "drop probability has to be between 0 and 1, but got 1.5",
    ),
    "p-negative": (
        """\
input: [1, 8]
layers:
  - stochastic_depth: {p: -0.1, mode: batch}
""",
        "invalid-layer",
        3,
        "-0.1",
        "drop probability has to be between 0 and 1, but got -0.1",
    ),
    "mode-unknown": (
        """\
input: [1, 8]
layers:
  - stochastic_depth: {p: 0.1, mode: rows}
""",
        "bad-value",
        3,
        "rows",
        "mode must be one of batch, row, got 'rows'",
    ),
    "mode-missing": (
        """\
input: [1, 8]
layers:
  - stochastic_depth: {p: 0.1}
""",
        "missing-argument",
        3,
        "stochastic_depth",
        "stochastic_depth needs 'mode'",
    ),
    "p-missing": (
        """\
input: [1, 8]
layers:
  - stochastic_depth: {mode: row}
""",
        "missing-argument",
        3,
        "stochastic_depth",
        "stochastic_depth needs 'p'",
    ),
    "bare": (
        """\
input: [1, 8]
layers:
  - stochastic_depth
""",
        "missing-argument",
        3,
        "stochastic_depth",
        "stochastic_depth needs 'p'",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals_are_located(case):
    text, code, line, marker, message = REFUSALS[case]
    d = assert_located(text, code, line, marker)
    assert message in d.message


def test_a_located_refusal_through_the_cli(tmp_path):
    path = tmp_path / "sd.yaml"
    path.write_text("input: [1, 8]\nlayers:\n  - stochastic_depth: {p: 2, mode: row}\n")
    r = cli_runner().invoke(main, ["shape", str(path)], catch_exceptions=False)
    assert r.exit_code == 1
    assert (
        f"{path}:3:27: error: drop probability has to be between 0 and 1, "
        "but got 2 (torchvision rejects it) [invalid-layer]\n    hint: use a p in [0, 1]"
    ) in r.stderr


def test_verify_passes_and_the_forward_is_the_identity(tmp_path):
    path = tmp_path / "sd.yaml"
    path.write_text(
        "input: [2, 4, 5, 5]\nlayers:\n  - conv2d: {out_channels: 3, kernel_size: 3}\n"
        "  - stochastic_depth: {p: 0.3, mode: row}\n"
    )
    r = cli_runner().invoke(main, ["verify", str(path)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    lt = REGISTRY.get("stochastic_depth")
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(lt.forward({"p": 0.9, "mode": "batch"}, [x], {}), x)


def test_eval_mode_matches_torch():
    torch = pytest.importorskip("torch")
    try:
        from torchvision.ops import StochasticDepth
    except ImportError:  # the same module in three lines (torchvision.ops.stochastic_depth)

        class StochasticDepth(torch.nn.Module):
            def __init__(self, p, mode):
                super().__init__()
                self.p, self.mode = p, mode

            def forward(self, x):  # eval mode only: torchvision returns its input
                assert not self.training
                return x

    layer = one_layer("stochastic_depth: {p: 0.4, mode: row}", [3, 5, 6])
    x = np.random.default_rng(0).standard_normal((3, 5, 6)).astype(np.float32)
    module = StochasticDepth(p=0.4, mode="row").eval()
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    y = layer.type.forward(layer.args, [x], {})
    assert y.shape == expected.shape == tuple(layer.output)
    np.testing.assert_array_equal(y, expected)
    assert sum(t.numel() for t in module.state_dict().values()) == layer.params + layer.buffers
