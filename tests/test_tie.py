"""Weight tying (SPEC.md section 12): `tie: {weight: wte.weight}` makes a layer's tensor
an earlier one; parameters count it once, state_dict and verify's npz hold both keys
with one array, as GPT-2's tied head does."""

import json

import pytest
from conftest import cli_runner, net_of

from layercalc.analyses.loading import analyse_bytes
from layercalc.cli import main

SPEC = """\
input: [2, 7]
blocks:
  decoder:
    layers:
      - layer_norm: {name: ln_f, normalized_shape: [16]}
layers:
  - embedding: {name: wte, num_embeddings: 50, embedding_dim: 16}
  - decoder: {name: transformer}
  - linear: {name: lm_head, out_features: 50, bias: false, tie: {weight: wte.weight}}
"""


def test_a_tied_tensor_is_counted_once_and_listed_under_both_keys(tmp_path):
    r = analyse_bytes(SPEC.encode(), "t.yaml")
    assert r.ok, r.diagnostics
    head = r.net.layers[-1]
    assert head.params == 0 and head.tensors == []
    assert head.ties == (("weight", "wte.weight", (50, 16)),)
    assert r.net.totals()["params"] == 50 * 16 + 2 * 16
    assert head.macs == 2 * 7 * 16 * 50  # the product is still computed
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    out = json.loads(cli_runner().invoke(main, ["params", str(spec), "--format", "json"]).output)
    assert out["layers"][-1]["tied"] == {"weight": "wte.weight"}


@pytest.mark.parametrize(
    "tie,code,marker",
    [
        ("{bias: wte.weight}", "bad-tie", "bias"),
        ("{weight: wte.wieght}", "bad-tie", "wte.wieght"),
        ("{weight: transformer.ln_f.weight}", "bad-tie", "transformer.ln_f.weight"),
        ("wte.weight", "bad-tie", "wte.weight"),
        ("{weight: lm_head.weight}", "bad-tie", "lm_head.weight"),
    ],
)
def test_refusals_are_located(tie, code, marker):
    text = SPEC.replace("{weight: wte.weight}", tie)
    (d,) = analyse_bytes(text.encode(), "t.yaml").diagnostics
    row = text.splitlines()[-1]
    assert (d.code, d.line, d.column) == (code, 9, row.rindex(marker) + 1), d


def test_tie_on_a_block_use_is_refused():
    text = SPEC.replace(
        "decoder: {name: transformer}", "decoder: {name: transformer, tie: {weight: wte.weight}}"
    )
    (d,) = analyse_bytes(text.encode(), "t.yaml").diagnostics
    assert d.code == "bad-tie" and d.line == 8


def test_verify_round_trip_through_torch(tmp_path):
    torch = pytest.importorskip("torch")
    np = pytest.importorskip("numpy")
    nn = torch.nn

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_f = nn.LayerNorm(16)

        def forward(self, x):
            return self.ln_f(x)

    class Twin(nn.Module):  # GPT-2's tying, as Hugging Face writes it
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(50, 16)
            self.transformer = Decoder()
            self.lm_head = nn.Linear(16, 50, bias=False)
            self.lm_head.weight = self.wte.weight

        def forward(self, ids):
            return self.lm_head(self.transformer(self.wte(ids)))

    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "o.npz"
    r = cli_runner().invoke(main, ["verify", str(spec), "--save", str(out)])
    assert r.exit_code == 0, r.output
    m = Twin().eval()
    with np.load(out) as z:
        assert np.array_equal(z["wte.weight"], z["lm_head.weight"])
        sd = {k: torch.from_numpy(z[k]) for k in z.files if k not in ("input", "output")}
        assert set(sd) == set(m.state_dict())
        m.load_state_dict(sd, strict=True)
        with torch.no_grad():
            y = m(torch.from_numpy(z["input"]))
        assert np.allclose(y.numpy(), z["output"], rtol=1e-4, atol=1e-5)
    counted = analyse_bytes(SPEC.encode(), "t.yaml").net.totals()["params"]
    assert sum(p.numel() for p in m.parameters()) == counted


TIED_BLOCK = """\
input: [1, 4]
blocks:
  ae:
    layers:
      - linear: {name: enc, out_features: 4, bias: false}
      - linear: {name: dec, out_features: 4, bias: false, tie: {weight: enc.weight}}
layers:
  - ENC
  - ae: {name: "m{j}", repeat: {times: 2, as: j}}
"""


def test_a_block_ties_its_own_tensors_in_each_use():
    """`tie: {weight: enc.weight}` inside a block was refused ('no earlier tensor's
    state_dict key'; the hint named m0's, wrong for m1): a key none as written is
    looked up within the modules holding the layer, innermost first."""
    from layercalc.analyses import verify

    net = net_of(TIED_BLOCK.replace("  - ENC\n", ""))
    assert [(layer.name, layer.ties) for layer in net.layers if layer.ties] == [
        ("m0.dec", (("weight", "m0.enc.weight", (4, 4)),)),
        ("m1.dec", (("weight", "m1.enc.weight", (4, 4)),)),
    ]
    assert net.totals()["params"] == 32
    arrays = verify.run(net, save=True).arrays
    assert (arrays["m1.dec.weight"] == arrays["m1.enc.weight"]).all()
    assert not (arrays["m1.dec.weight"] == arrays["m0.enc.weight"]).all()


def test_a_key_as_written_comes_before_one_within_the_block():
    text = TIED_BLOCK.replace(
        "  - ENC\n", "  - linear: {name: enc, out_features: 4, bias: false}\n"
    )
    net = net_of(text)
    assert {layer.ties[0][1] for layer in net.layers if layer.ties} == {"enc.weight"}


def test_a_frozen_layer_tied_to_a_trainable_tensor_is_refused():
    """`trainable: false` on b tied to a trainable a.weight: in PyTorch one Parameter,
    which freezing b freezes for a too (trainable 4, not the 20 counted), leaving a only
    in part frozen, which a spec cannot write: refused, saying so; both frozen is fine."""
    from conftest import diag_of, net_of

    d = diag_of(
        "input: [2, 4]\nlayers:\n  - linear: {name: a, out_features: 4}\n"
        "  - linear: {name: b, out_features: 4, trainable: false, tie: {weight: a.weight}}\n"
    )
    assert d.code == "bad-tie" and (d.line, d.column) == (4, 72)
    assert "one Parameter cannot be both" in d.message and "trainable: false" in d.hint
    net = net_of(
        "input: [2, 4]\nlayers:\n  - linear: {name: a, out_features: 4, trainable: false}\n"
        "  - linear: {name: b, out_features: 4, trainable: false, tie: {weight: a.weight}}\n"
    )
    assert (net.totals()["params"], net.totals()["trainable"]) == (24, 0)
