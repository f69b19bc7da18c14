"""The batch of a sequence-first network is dim 1 of its input: `cost` reports and
scales by it (it took dim 0, the sequence length: `--batch 16` on
specs/transformer_classifier.yaml, [seq_len 128, batch 8], gave a sixteenth of the
batch-16 MACs), and `explain` counts a linear layer's work per sample on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import cli_runner, net_of
from layercalc.analyses.cost import batch_dim, cost
from layercalc.cli import main

SPECS = Path(__file__).resolve().parent.parent / "specs"


def _cost(*args) -> dict:
    r = cli_runner().invoke(main, ["cost", *map(str, args), "--format", "json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_the_tutorial_transformer_scales_by_its_batch_not_its_length():
    spec = SPECS / "transformer_classifier.yaml"
    base = _cost(spec)
    assert (base["batch"], base["spec_batch"], base["batch_dim"]) == (8, 8, 1)
    scaled = _cost(spec, "--batch", 16)
    rebuilt = _cost(spec, "--input", "tokens=128,16", "--input", "padding=16,128")
    assert scaled["totals"]["macs"] == rebuilt["totals"]["macs"] == 2 * base["totals"]["macs"]
    r = cli_runner().invoke(main, ["cost", str(spec), "--width", "200"])
    assert "(batch 8, dim 1 of the input: sequence-first)" in r.stdout


LAYER = "  - transformer_encoder_layer: {nhead: 3, dim_feedforward: 24%s}\n"


@pytest.mark.parametrize(
    "shape, extra, dim",
    [
        ("[5, 2, 12]", "", 1),  # (L, N, E): PyTorch's default layout
        ("[2, 5, 12]", ", batch_first: true", 0),
        ("[5, 12]", "", None),  # unbatched: no batch at all
    ],
)
def test_batch_dim_follows_the_first_layer_that_says(tmp_path, shape, extra, dim):
    net = net_of(f"input: {shape}\nlayers:\n" + LAYER % extra)
    assert batch_dim(net) == dim
    if len(shape.split(",")) == 3:  # --batch 4 is the network rebuilt at batch 4
        p = tmp_path / "t.yaml"
        p.write_text(f"input: {shape}\nlayers:\n" + LAYER % extra)
        at4 = shape.replace(" 2,", " 4,") if dim == 1 else shape.replace("[2,", "[4,")
        q = tmp_path / "t4.yaml"
        q.write_text(f"input: {at4}\nlayers:\n" + LAYER % extra)
        scaled, rebuilt = _cost(p, "--batch", 4)["totals"], _cost(q)["totals"]
        for key in ("macs", "activation_bytes", "training_bytes"):
            assert scaled[key] == rebuilt[key], key


def test_a_cnn_front_permuted_into_a_sequence_keeps_dim_0():
    """(N, C, W) permuted to (W, N, C) for an LSTM: its leading dims are not the
    input's, so the batch stays dim 0."""
    net = net_of(
        """\
        input: [2, 5, 7]
        layers:
          - conv1d: {out_channels: 6, kernel_size: 3, padding: 1}
          - permute: {dims: [2, 0, 1]}
          - lstm: {hidden_size: 4}
        """
    )
    assert batch_dim(net) == 0
    assert cost(net).spec_batch == 2


def test_explain_counts_a_sequence_first_linear_per_sample(tmp_path):
    """nn.Linear(256, 1024) on (L 128, N 8, 256): per sample 128 positions, so each
    weight is used 128 times (it said 8, the batch, with 2,048 inputs)."""
    p = tmp_path / "t.yaml"
    p.write_text("input: [128, 8, 256]\nlayers:\n" + LAYER.replace("3", "8") % "")
    r = cli_runner().invoke(main, ["explain", str(p), "--format", "json"])
    assert r.exit_code == 0, r.output
    text = r.stdout
    assert "32,768 inputs" in text and "each weight is used 128 times per sample" in text
    assert "2,048 inputs" not in text


def test_a_sequence_first_decoder_at_a_context_says_its_batch(tmp_path):
    """cost --context rebuilds the network at the context and batch; its note said
    "batch 64" (the context, in dim 0) under "Prefill: batch 5"."""
    p = tmp_path / "dec.yaml"
    p.write_text(
        "vars: {L: 100, B: 3}\ninput: [L, B]\nlayers:\n"
        "  - embedding: {num_embeddings: 50, embedding_dim: 16}\n"
        "  - multihead_attention: {name: attn, num_heads: 2, is_causal: true}\n"
        "  - linear: {out_features: 50}\n"
    )
    at = _cost(p, "--context", 64, "--batch", 5)
    assert (at["batch"], at["batch_dim"]) == (5, 1)
    assert at["totals"]["macs"] == _cost(p, "--set", "L=64", "--set", "B=5")["totals"]["macs"]
    r = cli_runner().invoke(main, ["cost", str(p), "--context", "64", "--batch", "5"])
    assert "(batch 5, dim 1 of the input: sequence-first)" in r.stdout.replace("\n  ", " ")


UNBATCHED = [
    (
        "[5, 10]",
        "lstm: {hidden_size: 20}",
        "[3, 5, 10]",
        "lstm: {hidden_size: 20, batch_first: true}",
    ),
    (
        "[10, 64]",
        "multihead_attention: {num_heads: 4}",
        "[10, 3, 64]",
        "multihead_attention: {num_heads: 4}",
    ),
    (
        "[16, 50]",
        "conv1d: {out_channels: 8, kernel_size: 5}",
        "[3, 16, 50]",
        "conv1d: {out_channels: 8, kernel_size: 5}",
    ),
]


@pytest.mark.parametrize("shape, layer, batched, twin", UNBATCHED)
def test_an_unbatched_input_is_one_sample_and_scales_from_one(
    tmp_path, shape, layer, batched, twin
):
    """PyTorch's unbatched forms (L, H_in), (L, E), (C, L) have no batch: dim 0 is the
    sequence or the channels. `cost` says batch 1, and `--batch 3` is the batched twin
    at 3 (it took dim 0 as the batch: `(batch 5)`, and scaled by 3/5)."""
    p, q = tmp_path / "u.yaml", tmp_path / "b.yaml"
    p.write_text(f"input: {shape}\nlayers:\n  - {layer}\n")
    q.write_text(f"input: {batched}\nlayers:\n  - {twin}\n")
    base = _cost(p)
    assert (base["batch"], base["spec_batch"], base["batch_dim"]) == (1, 1, None)
    assert _cost(p, "--batch", 3)["totals"]["macs"] == _cost(q)["totals"]["macs"]
    assert base["totals"]["macs"] * 3 == _cost(q)["totals"]["macs"]
    r = cli_runner().invoke(main, ["cost", str(p), "--width", "200"])
    assert "(batch 1: the input is unbatched)" in r.stdout
    r = cli_runner().invoke(main, ["cost", str(p), "--width", "200", "--batch", "3"])
    assert "(batch 3: the unbatched input's one sample, scaled by 3)" in r.stdout


def test_explain_counts_an_unbatched_linear_once_per_sample(tmp_path):
    p = tmp_path / "u.yaml"
    p.write_text("input: [10, 64]\nlayers:\n  - multihead_attention: {name: attn, num_heads: 4}\n")
    r = cli_runner().invoke(main, ["explain", str(p), "attn.out_proj", "--width", "200"])
    assert r.exit_code == 0, r.output
    assert "each weight is used 10 times per sample" in r.stdout


def test_a_sequence_first_input_permuted_into_a_conv_keeps_dim_1(tmp_path):
    """(L, N, E) permuted to (N, E, L) for a conv1d, then back for attention: the batch
    is still dim 1 (the conv, reading it batched at its own dim 0, says nothing of the
    network input's: the batch was taken as L = 10)."""
    p = tmp_path / "sf.yaml"
    p.write_text(
        "input: [10, 2, 16]\nlayers:\n  - permute: {dims: [1, 2, 0]}\n"
        "  - conv1d: {out_channels: 16, kernel_size: 3, padding: 1}\n"
        "  - permute: {dims: [2, 0, 1]}\n  - multihead_attention: {num_heads: 4}\n"
    )
    q = tmp_path / "sf4.yaml"
    q.write_text(p.read_text().replace("[10, 2, 16]", "[10, 4, 16]"))
    base = _cost(p)
    assert (base["batch"], base["batch_dim"]) == (2, 1)
    assert _cost(p, "--batch", 4)["totals"]["macs"] == _cost(q)["totals"]["macs"]
