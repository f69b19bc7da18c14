"""chunk and split: entry types with several outputs (SPEC.md sections 11-12), addressed
as NAME.0, NAME.1, ... in `from`, `outputs:` and repeat chains; their refusals located."""

import json
import random

import pytest
from conftest import assert_located, cli_runner, net_of

from layercalc.analyses.loading import analyse_bytes
from layercalc.cli import main

HEAD = "input: [2, 10, 4, 4]\nlayers:\n"


def torch_chunk_sizes(n: int, chunks: int) -> list:
    """PyTorch's rule, written independently: pieces of ceil(n / chunks), the last
    smaller, so fewer pieces than asked when the division leaves too little."""
    if n == 0:
        return [0] * chunks
    step = (n + chunks - 1) // chunks
    out, left = [], n
    while left > 0:
        out.append(min(step, left))
        left -= step
    return out


@pytest.mark.parametrize("n,chunks", [(10, 4), (10, 5), (5, 4), (1, 3), (7, 7), (6, 4)])
def test_chunk_pieces_follow_pytorch(n, chunks):
    net = net_of(f"input: [2, {n}, 3]\nlayers:\n  - chunk: {{name: c, chunks: {chunks}, dim: 1}}\n")
    (layer,) = net.layers
    sizes = [s[1] for _, s in layer.named_outputs]
    assert sizes == torch_chunk_sizes(n, chunks)
    assert [name for name, _ in layer.named_outputs] == [str(i) for i in range(len(sizes))]
    assert layer.output == (2, sizes[0], 3)  # its own output is the first piece
    assert layer.params == 0 and layer.macs == 0


def test_split_by_size_and_by_sections_and_other_spelling():
    net = net_of(
        HEAD + "  - split: {name: a, split_size_or_sections: 4, dim: 1}\n"
        "  - split: {name: b, split_size: [2, 8], dim: -3, from: input}\n"
    )
    a, b = net.layers
    assert [s for _, s in a.named_outputs] == [(2, 4, 4, 4), (2, 4, 4, 4), (2, 2, 4, 4)]
    assert [s for _, s in b.named_outputs] == [(2, 2, 4, 4), (2, 8, 4, 4)]


def test_outputs_are_addressed_by_name_everywhere():
    net = net_of(
        HEAD
        + """\
  - chunk: {name: c, chunks: 2, dim: 1}
  - relu: {from: c.1}
  - concat: {from: [c, c.0, 1], dim: 1}
outputs: [c.1, 2]
"""
    )
    c, relu, cat = net.layers
    assert relu.inputs == ["c.1"] and relu.input_shapes == [(2, 5, 4, 4)]
    assert cat.inputs == ["c", "c", "1"]  # c.0 is c's own output
    assert net.outputs == {"c.1": (2, 5, 4, 4), "2": (2, 15, 4, 4)}
    assert net.output_refs()["c.1"] == "c.1"


def test_an_unnamed_entry_is_addressed_by_its_index():
    net = net_of(HEAD + "  - chunk: {chunks: 2, dim: 1}\n  - add: {from: [0, 0.1]}\n")
    assert net.layers[1].inputs == ["0", "0.1"]


def test_a_block_output_and_a_repeat_chain_may_be_an_output_of_a_piece():
    net = net_of("""\
input: [1, 8, 4, 4]
blocks:
  halves:
    outputs: [c.1, c]
    layers:
      - chunk: {name: c, chunks: 2, dim: 1}
layers:
  - halves: {name: h}
  - relu: {from: h.c}
""")
    assert net.layers[0].output == (1, 4, 4, 4)
    assert net.groups[0].output == (1, 4, 4, 4) and net.groups[0].ref == "h.c.1"
    assert net.layers[1].inputs == ["h.c"]


@pytest.mark.parametrize(
    "text,code,line,marker",
    [
        (HEAD + "  - chunk: {chunks: 0, dim: 1}\n", "invalid-layer", 3, "0,"),
        (HEAD + "  - chunk: {chunks: 2, dim: 4}\n", "invalid-layer", 3, "4}"),
        (HEAD + "  - chunk: {dim: 1}\n", "missing-argument", 3, "chunk"),
        (HEAD + "  - split: {split_size_or_sections: [3, 3], dim: 1}\n", "invalid-layer", 3, "[3"),
        (
            HEAD + "  - split: {split_size_or_sections: [-1, 11], dim: 1}\n",
            "invalid-layer",
            3,
            "[-1",
        ),
        (HEAD + "  - split: {split_size_or_sections: -2, dim: 1}\n", "invalid-layer", 3, "-2"),
        (HEAD + "  - split: {split_size_or_sections: 0, dim: 1}\n", "invalid-layer", 3, "0,"),
        (
            HEAD + "  - split: {split_size_or_sections: 2, split_size: 2}\n",
            "invalid-layer",
            3,
            "2}",
        ),
        (HEAD + "  - split: {dim: 1}\n", "missing-argument", 3, "split"),
        (
            HEAD + "  - chunk: {name: c, chunks: 2, dim: 1}\n  - relu: {from: c.2}\n",
            "unknown-name",
            4,
            "c.2",
        ),
        (
            HEAD + "  - conv2d: {name: k, out_channels: 2, kernel_size: 1}\n"
            "  - relu: {from: k.1}\n",
            "unknown-name",
            4,
            "k.1",
        ),
        (
            HEAD + "  - chunk: {name: c, chunks: 2, dim: 1}\noutputs: [c.5]\n",
            "unknown-name",
            4,
            "c.5",
        ),
    ],
)
def test_refusals_are_located(text, code, line, marker):
    d = assert_located(text, code, line, marker)
    assert code != "invalid-layer" or "PyTorch" in d.message or "not both" in d.message


def test_unknown_output_names_the_outputs():
    d = assert_located(
        HEAD + "  - chunk: {name: c, chunks: 2, dim: 1}\n  - relu: {from: c.2}\n",
        "unknown-name",
        4,
        "c.2",
    )
    assert "0, 1" in d.message


def test_cli_table_json_verify_and_share(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(
        HEAD
        + """\
  - chunk: {name: c, chunks: 3, dim: 1}
  - share: c
  - concat: {from: [c, c.2], dim: 1}
"""
    )
    runner = cli_runner()
    r = runner.invoke(main, ["shape", str(spec)])
    assert r.exit_code == 0, r.output
    assert "2: [2, 2, 4, 4]" in r.output
    r = runner.invoke(main, ["shape", str(spec), "--format", "json"])
    rows = json.loads(r.output)["layers"]
    assert rows[0]["outputs"] == {"0": [2, 4, 4, 4], "1": [2, 4, 4, 4], "2": [2, 2, 4, 4]}
    assert rows[1]["call"] == 2 and rows[1]["outputs"]["0"] == [2, 2, 4, 4]
    r = runner.invoke(main, ["verify", str(spec)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["cost", str(spec)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["rf", str(spec)])
    assert r.exit_code == 0, r.output


def test_verify_splits_for_real(tmp_path):
    np = pytest.importorskip("numpy")
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "input: [3, 7]\nlayers:\n"
        "  - split: {name: s, split_size_or_sections: [2, 5], dim: 1}\n"
        "  - mul: {from: [s.1], other: 2}\noutputs: [s, 1]\n"
    )
    out = tmp_path / "o.npz"
    r = cli_runner().invoke(main, ["verify", str(spec), "--save", str(out)])
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        assert np.array_equal(z["output.s"], z["input"][:, :2])
        assert np.allclose(z["output.1"], 2 * z["input"][:, 2:])


def test_randomised_shapes_against_torch():
    torch = pytest.importorskip("torch")
    rng = random.Random(7)
    for _ in range(200):
        rank = rng.randint(1, 4)
        shape = [rng.randint(1, 9) for _ in range(rank)]
        dim = rng.randint(-rank - 1, rank)
        x = torch.zeros(*shape)
        if rng.random() < 0.5:
            chunks = rng.randint(-1, 10)
            text = f"input: {shape}\nlayers:\n  - chunk: {{chunks: {chunks}, dim: {dim}}}\n"
            args = ("chunk", chunks, dim)
        else:
            if rng.random() < 0.5:
                size = rng.randint(-1, 10)
            else:
                size = [rng.randint(0, 5) for _ in range(rng.randint(1, 3))]
            text = (
                f"input: {shape}\nlayers:\n  - split: {{split_size_or_sections: "
                f"{size}, dim: {dim}}}\n"
            )
            args = ("split", size, dim)
        try:
            want = [tuple(t.shape) for t in getattr(x, args[0])(*args[1:])]
        except (RuntimeError, IndexError):
            want = None
        r = analyse_bytes(text.encode(), "t.yaml")
        if want is None:
            assert not r.ok, text
            continue
        assert r.ok, (text, r.diagnostics)
        (layer,) = r.net.layers
        assert [tuple(s) for _, s in layer.named_outputs] == want, text
