"""Free parameters and buffers (SPEC.md section 12): `parameter:` entries with no input,
state_dict keys with no suffix, trainable: false and buffer: true, verify round trips."""

import json

import pytest
from conftest import cli_runner, net_of

from layercalc.analyses.loading import analyse_bytes
from layercalc.cli import main

VIT_HEAD = """\
input: [2, 4, 8]
blocks:
  encoder:
    layers:
      - parameter: {name: pos_embedding, shape: [1, 5, 16]}
      - add: {from: [input, pos_embedding]}
layers:
  - linear: {name: proj, out_features: 16}
  - parameter: {name: class_token, shape: [1, 1, 16]}
  - expand: {size: [input_shape(0), -1, -1]}
  - concat: {from: [2, proj], dim: 1}
  - encoder: {name: encoder}
  - parameter: {name: scale, shape: [16], buffer: true}
  - mul: {from: [encoder, scale]}
  - parameter: {name: frozen, shape: [16], trainable: false}
  - add: {from: [6, frozen]}
"""


def test_counts_keys_and_shapes():
    net = net_of(VIT_HEAD)
    keys = {
        layer.state_key(t.key): (tuple(t.shape), t.buffer)
        for layer in net.layers
        for t in layer.tensors
    }
    assert keys == {
        "proj.weight": ((16, 8), False),
        "proj.bias": ((16,), False),
        "class_token": ((1, 1, 16), False),
        "encoder.pos_embedding": ((1, 5, 16), False),
        "scale": ((16,), True),
        "frozen": ((16,), False),
    }
    t = net.totals()
    assert t["params"] == 16 * 8 + 16 + 16 + 80 + 16
    assert t["trainable"] == t["params"] - 16
    assert t["buffers"] == 16
    cls = net.layers[1]
    assert cls.inputs == [] and cls.input_shapes == [] and cls.output == (1, 1, 16)
    assert list(net.outputs.values()) == [(2, 5, 16)]


@pytest.mark.parametrize(
    "entry,code,marker",
    [
        ("parameter: {shape: [1, 0, 3]}", "invalid-layer", "[1, 0"),
        ("parameter: {shape: []}", "bad-value", "[]"),
        ("parameter: {}", "missing-argument", "parameter"),
        ("parameter: {shape: [2], from: input}", "bad-from", "input}"),
        ("parameter: {shape: [in_shape(1)]}", "bad-expression", "in_shape"),
    ],
)
def test_refusals_are_located(entry, code, marker):
    text = f"input: [1, 4]\nlayers:\n  - {entry}\n"
    r = analyse_bytes(text.encode(), "t.yaml")
    (d,) = r.diagnostics
    col = text.splitlines()[2].index(marker) + 1
    assert (d.code, d.line, d.column) == (code, 3, col), d


def test_cli_json_explain_cost_rf(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(VIT_HEAD)
    runner = cli_runner()
    r = runner.invoke(main, ["params", str(spec), "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.output)["layers"]}
    assert rows["class_token"]["input"] == [] and rows["class_token"]["params"] == 16
    assert rows["scale"]["buffers"] == 16
    for cmd in (
        ["explain", str(spec), "class_token"],
        ["cost", str(spec)],
        ["rf", str(spec)],
        ["check", str(spec)],
    ):
        r = runner.invoke(main, cmd)
        assert r.exit_code == 0, (cmd, r.output)
    assert "no input" in runner.invoke(main, ["explain", str(spec), "class_token"]).output


def test_verify_round_trip_through_torch(tmp_path):
    torch = pytest.importorskip("torch")
    np = pytest.importorskip("numpy")
    nn = torch.nn
    spec = tmp_path / "s.yaml"
    spec.write_text(VIT_HEAD)
    out = tmp_path / "o.npz"
    r = cli_runner().invoke(main, ["verify", str(spec), "--save", str(out)])
    assert r.exit_code == 0, r.output

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.pos_embedding = nn.Parameter(torch.zeros(1, 5, 16))

        def forward(self, x):
            return x + self.pos_embedding

    class Twin(nn.Module):  # the spec, as a ViT-style module would write it
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(8, 16)
            self.class_token = nn.Parameter(torch.zeros(1, 1, 16))
            self.encoder = Encoder()
            self.register_buffer("scale", torch.zeros(16))
            self.frozen = nn.Parameter(torch.zeros(16), requires_grad=False)

        def forward(self, x):
            x = self.proj(x)
            x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
            return self.encoder(x) * self.scale + self.frozen

    m = Twin().eval()
    with np.load(out) as z:
        sd = {k: torch.from_numpy(z[k]) for k in z.files if k not in ("input", "output")}
        m.load_state_dict(sd, strict=True)
        with torch.no_grad():
            y = m(torch.from_numpy(z["input"]))
        assert np.allclose(y.numpy(), z["output"], rtol=1e-5, atol=1e-6)
    assert sum(p.numel() for p in m.parameters()) == net_of(VIT_HEAD).totals()["params"]
