"""`explain` names what a conv's padding holds (its padding_mode): only padding_mode zeros
pads with zeros; reflect, replicate and circular pad with copies of the input."""

import json

import pytest
from conftest import cli_runner, net_of

from layercalc.cli.app import main as group
from layercalc.analyses.explain import explain, lines

CONV = "conv2d: {out_channels: 1, kernel_size: 3, padding: 1, padding_mode: MODE}"


@pytest.mark.parametrize(
    "mode, line",
    [
        ("zeros", "26,508 of them touch real data, 1,140 fall on zero padding"),
        (
            "reflect",
            "26,508 of them read the input itself, 1,140 fall on the reflect padding "
            "(the input mirrored at its border)",
        ),
        (
            "replicate",
            "26,508 of them read the input itself, 1,140 fall on the replicate "
            "padding (copies of the border values)",
        ),
        (
            "circular",
            "26,508 of them read the input itself, 1,140 fall on the circular padding "
            "(the input wrapped around)",
        ),
    ],
)
def test_the_padding_is_named_by_its_mode(mode, line):
    net = net_of(f"input: [1, 3, 32, 32]\nlayers:\n  - {CONV.replace('MODE', mode)}\n")
    text = lines(explain(net)[0])
    assert "    " + line in text
    # 32·32 outputs x 9 taps x 3 channels; a border output has 3 (corner 5) taps outside
    assert 27_648 - 3 * (4 * 30 * 3 + 4 * 5) == 26_508
    if mode != "zeros":
        assert not [x for x in text if "zero" in x]


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json"])
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_no_format_calls_a_copying_padding_zeros(tmp_path, fmt, mode):
    path = tmp_path / "s.yaml"
    path.write_text(f"input: [1, 3, 8, 8]\nlayers:\n  - {CONV.replace('MODE', mode)}\n")
    r = cli_runner().invoke(group, ["explain", str(path), "--format", fmt], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert f"fall on the {mode} padding" in r.stdout
    assert "zero" not in r.stdout
    if fmt == "json":
        assert json.loads(r.stdout)["layers"][0]["figures"]["connections_on_data"] == 1_452
