"""nn.Embedding's other arguments, against PyTorch: max_norm (the rows looked up are
scaled down to it, in the weight itself, before the lookup), norm_type, and the
training-only scale_grad_by_freq and sparse, which were refused as unknown."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import net_of
from layercalc.analyses import verify

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

SPEC = """\
input: [3, 9]
layers:
  - embedding: {{name: emb, num_embeddings: 12, embedding_dim: 5{extra}}}
  - linear: {{name: head, out_features: 5}}
  - linear: {{name: out, out_features: 12, bias: false, tie: {{weight: emb.weight}}}}
"""


@pytest.mark.parametrize(
    "max_norm, norm_type",
    [(0.5, 2.0), (1.0, 1.0), (0.2, 0.5), (0.8, 3.5), (100.0, 2.0), (-0.5, 2.0)],
)
def test_max_norm_scales_the_rows_looked_up_as_torch_does(max_norm, norm_type):
    """The output and the weight after the forward equal torch's, a tied head (GPT-2's)
    reading the scaled rows too; rows never looked up are unchanged."""
    extra = f", max_norm: {max_norm}, norm_type: {norm_type}, scale_grad_by_freq: true"
    net = net_of(SPEC.format(extra=extra))
    rng = np.random.default_rng(7)
    idx = rng.integers(0, 8, (3, 9))  # rows 8-11 never read
    w = rng.standard_normal((12, 5)).astype(np.float32)
    head_w = rng.standard_normal((5, 5)).astype(np.float32)
    head_b = rng.standard_normal(5).astype(np.float32)
    weights = {"emb.weight": w.copy(), "head.weight": head_w, "head.bias": head_b}
    v = verify.run(net, weights=weights, inputs={"input": idx}, save=True)
    assert v.ok, [c.error for c in v.checks]

    emb = torch.nn.Embedding(12, 5, max_norm=max_norm, norm_type=norm_type)
    head = torch.nn.Linear(5, 5)
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(w))
        head.weight.copy_(torch.from_numpy(head_w))
        head.bias.copy_(torch.from_numpy(head_b))
        y = torch.nn.functional.linear(head(emb(torch.from_numpy(idx))), emb.weight)
    np.testing.assert_allclose(v.arrays["output"], y.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(v.arrays["emb.weight"], emb.weight.detach().numpy(), rtol=1e-6)
    assert (v.arrays["emb.weight"][8:] == w[8:]).all()


def test_the_training_only_flags_change_nothing_but_are_accepted():
    net = net_of(SPEC.format(extra=", sparse: true, scale_grad_by_freq: true"))
    plain = net_of(SPEC.format(extra=""))
    assert net.totals() == plain.totals()
    assert [layer.output for layer in net.layers] == [layer.output for layer in plain.layers]


def test_import_and_export_keep_them(tmp_path):
    """import torch reads them from the module; export writes them back."""
    from conftest import cli_runner
    from layercalc.cli import main
    from layercalc.importers.torch import import_torch

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(12, 5, max_norm=0.5, norm_type=1.0, sparse=True)
            self.head = torch.nn.Linear(5, 3)

        def forward(self, x):
            return self.head(self.emb(x))

    text = import_torch("tests:model", (2, 7), model=Model().eval())
    assert "max_norm: 0.5" in text and "norm_type: 1.0" in text and "sparse: true" in text
    assert "scale_grad_by_freq" not in text  # its default
    p = tmp_path / "m.yaml"
    p.write_text(text)
    r = cli_runner().invoke(main, ["export", str(p), "-o", "-"])
    assert r.exit_code == 0, r.output
    assert "max_norm=0.5, norm_type=1.0, sparse=True)" in r.stdout
