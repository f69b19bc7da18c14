"""The training step's memory (issue 15): a frozen part (`trainable: false`) keeps no
activations and gets no gradients before the first trainable layer, as autograd does;
`cost --optimizer` adds the optimizer's state (momentum 1x, Adam and AdamW 2x the
trainable parameters)."""

import json
import textwrap

from conftest import cli_runner

from layercalc.analyses.loading import analyse_bytes
from layercalc.cli import main
from layercalc.analyses.cost import cost, requires_grad

FROZEN = """\
    input: [8, 3, 32, 32]
    layers:
      - sequential:
          name: backbone
          trainable: false
          layers: [conv2d: {out_channels: 16, kernel_size: 3, padding: 1}, relu]
      - flatten: {name: flat}
      - linear: {name: head, out_features: 10}
    """


def net(text):
    r = analyse_bytes(textwrap.dedent(text).encode(), "t.yaml")
    assert r.ok, r.diagnostics
    return r.net


def test_a_frozen_backbone_keeps_only_what_the_head_reads():
    n = net(FROZEN)
    assert requires_grad(n) == {"head"}
    t = cost(n).totals
    flat = 8 * 16 * 32 * 32 * 4  # the head's input, kept for its weight gradient
    assert t["training_activation_bytes"] == flat + 8 * 10 * 4
    assert t["activation_gradient_peak_bytes"] == 8 * 10 * 4
    assert t["gradient_bytes"] == (16 * 32 * 32 * 10 + 10) * 4
    # trainable: every output is differentiated and kept, with the input the conv reads
    t2 = cost(net(FROZEN.replace("trainable: false", "trainable: true"))).totals
    assert t2["training_activation_bytes"] == 4 * (8 * 3 * 32 * 32 + 3 * 8 * 16 * 32 * 32 + 8 * 10)


def test_optimizer_state_is_in_the_total():
    n = net(FROZEN)
    base = cost(n).totals
    for name, copies in (("sgd", 0), ("momentum", 1), ("adam", 2), ("adamw", 2)):
        t = cost(n, optimizer=name).totals
        assert t["optimizer_state_bytes"] == copies * base["gradient_bytes"]
        assert t["training_bytes"] == base["training_bytes"] + copies * base["gradient_bytes"]


def test_cli_optimizer(tmp_path):
    p = tmp_path / "f.yaml"
    p.write_text(textwrap.dedent(FROZEN))
    r = cli_runner().invoke(
        main, ["cost", str(p), "--optimizer", "adam", "--format", "json"], catch_exceptions=False
    )
    t = json.loads(r.stdout)["totals"]
    assert t["optimizer"] == "adam" and t["optimizer_state_bytes"] == 2 * t["gradient_bytes"]
    r = cli_runner().invoke(main, ["cost", str(p), "--optimizer", "adam"], catch_exceptions=False)
    assert "adam state" in r.stdout
    assert cli_runner().invoke(main, ["cost", str(p), "--optimizer", "rmsprop"]).exit_code == 2
