"""verify's seeded tensors drawn a chunk of small tensors at a time (analyses.verify._Fill)
hold exactly the values of one draw per tensor, which is what every earlier --save wrote."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from layercalc.analyses import verify
from layercalc.analyses.loading import analyse

SPECS = Path(__file__).resolve().parent.parent / "specs"

MIXED = """\
name: mixed
input: [1, 3, 8, 8]
layers:
  - conv2d: {out_channels: 5, kernel_size: 3, padding: 1}  # odd counts: 135, 5
  - batch_norm2d           # an int64 counter between float tensors
  - conv2d: {out_channels: 80, kernel_size: 3}   # 2,880 + 80 values: one chunk
  - conv2d: {out_channels: 8, kernel_size: 3, bias: false}  # 5,760: drawn alone
  - flatten
  - linear: {out_features: 600}                  # 76,800 values, then 600
  - layer_norm: {normalized_shape: 600}
  - linear: {out_features: 3}
"""


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sizes", [(1, 1, 5), (3, 5, 2), (148, 4, 4097), (0, 7, 1)])
def test_one_draw_is_the_draws_in_turn(dtype, sizes):
    """PCG64 makes float32 values from buffered 32-bit words, so an odd count in one
    call leaves half a word for the next: the concatenation still holds."""
    one, each = np.random.default_rng(5), np.random.default_rng(5)
    whole = one.random(sum(sizes), dtype=dtype)
    parts = np.concatenate([each.random(n, dtype=dtype) for n in sizes])
    assert whole.tobytes() == parts.tobytes()
    assert one.random(3, dtype=dtype).tobytes() == each.random(3, dtype=dtype).tobytes()


def _one_by_one(rng, dtype, net):
    """The tensors as drawn one call each (verify before chunks), in fill order."""
    return [verify._fill(rng, np, dtype, t, layer) for layer in net.layers for t in layer.tensors]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("source", ["mixed", "gpt2_small.yaml", "dcgan_discriminator.yaml"])
def test_chunked_fill_matches_one_draw_a_tensor(tmp_path, dtype, source):
    if source == "mixed":
        path = tmp_path / "mixed.yaml"
        path.write_text(MIXED)
    else:
        path = SPECS / source
    net = analyse(str(path)).net
    assert net is not None
    expected = _one_by_one(np.random.default_rng(3), dtype, net)
    rng = np.random.default_rng(3)
    fill = verify._Fill(rng, np, dtype, net)
    got = [fill(t, layer) for layer in net.layers for t in layer.tensors]
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
