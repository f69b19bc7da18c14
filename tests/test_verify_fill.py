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

# 144 + 4 values a conv, 11 with a batch norm's 3 float tensors and its counter: many
# chunks, each ended by the next one's size or by a counter drawn alone
MANY = "name: many\ninput: [1, 4, 4, 4]\nlayers:\n" + "".join(
    "  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}\n"
    + ("  - batch_norm2d\n" if j % 7 == 3 else "")
    for j in range(120)
)


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
@pytest.mark.parametrize("source", ["mixed", "many", "gpt2_small.yaml", "dcgan_discriminator.yaml"])
def test_chunked_fill_matches_one_draw_a_tensor(tmp_path, dtype, source):
    if source in ("mixed", "many"):
        path = tmp_path / f"{source}.yaml"
        path.write_text(MIXED if source == "mixed" else MANY)
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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cpus", [2, 3, 8])
# float32 values drawn before: an odd count leaves half a word for the next call
@pytest.mark.parametrize("before", [0, 1, 2, 5])
@pytest.mark.parametrize("n", [8, 9, 30, 31, 1000])
def test_threaded_draw_is_one_call(monkeypatch, dtype, cpus, before, n):
    """A large tensor drawn by several threads, each from a copy of the generator
    advanced to its part, holds exactly one call's values, scaled, and leaves the
    generator where one call leaves it (the next float32, float64 and integer draws)."""
    monkeypatch.setattr(verify, "SPLIT_PART", 4)
    monkeypatch.setattr(verify, "usable_cpus", lambda: cpus)
    one, split = np.random.default_rng(11), np.random.default_rng(11)
    for rng in (one, split):
        rng.random(before, dtype=np.float32)
    expected = one.random(n, dtype=dtype)
    expected *= dtype(0.5)
    expected += dtype(-0.25)
    got = np.full(n, np.nan, dtype)
    verify._uniform(split, np, dtype, got, dtype(0.5), dtype(-0.25))
    assert got.tobytes() == expected.tobytes()
    assert split.bit_generator.state == one.bit_generator.state
    for draw in (
        lambda r: r.random(3, dtype=np.float32),
        lambda r: r.random(2),
        lambda r: r.integers(0, 1000, 3),
    ):
        assert draw(split).tobytes() == draw(one).tobytes()


def test_threaded_fill_of_a_network_matches_one_call_a_tensor(monkeypatch):
    """verify's fill of a whole network with threads on tensors of 64 values and up:
    the values of a draw per tensor without them."""
    net = analyse(str(SPECS / "dcgan_discriminator.yaml")).net
    monkeypatch.setattr(verify, "usable_cpus", lambda: 1)
    expected = _one_by_one(np.random.default_rng(4), np.float32, net)
    monkeypatch.setattr(verify, "SPLIT_PART", 32)
    monkeypatch.setattr(verify, "usable_cpus", lambda: 4)
    rng = np.random.default_rng(4)
    fill = verify._Fill(rng, np, np.float32, net)
    got = [fill(t, layer) for layer in net.layers for t in layer.tensors]
    assert [a.tobytes() for a in got] == [b.tobytes() for b in expected]
