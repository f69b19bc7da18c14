"""An embedding reads integer indices, which only a network input holds in a spec: fed
any other tensor it is refused at build time (shape, params and check, not only verify),
as PyTorch refuses a float tensor of indices."""

import pytest

from layercalc.analyses.loading import analyse_bytes


@pytest.mark.parametrize(
    "text,line,marker",
    [
        (
            "input: [2, 5]\nlayers:\n  - relu\n  - embedding: {num_embeddings: 10, "
            "embedding_dim: 3}\n",
            4,
            "embedding",
        ),
        (
            "input: [2, 5]\nlayers:\n  - embedding: {name: e, num_embeddings: 10, "
            "embedding_dim: 3}\n  - share: e\n",
            4,
            "e",
        ),  # at the share's name
        (
            "input: {ids: [2, 5], x: [2, 5]}\nlayers:\n  - relu: {from: x}\n"
            "  - embedding: {num_embeddings: 10, embedding_dim: 3, from: 0}\n",
            4,
            "0}",
        ),
    ],
)
def test_an_embedding_fed_a_float_tensor_is_refused_where_it_is_fed(text, line, marker):
    (d,) = analyse_bytes(text.encode(), "t.yaml").diagnostics
    row = text.splitlines()[line - 1]
    col = row.rindex(marker) + 1 if marker == "e" else row.index(marker) + 1
    assert (d.code, d.line, d.column) == ("integer-input", line, col), d
    assert "Long, Int" in d.message


def test_embeddings_of_network_inputs_are_fine():
    text = (
        "input: {ids: [2, 5], pos: [2, 5]}\nlayers:\n"
        "  - embedding: {name: tok, num_embeddings: 10, embedding_dim: 3}\n"
        "  - embedding: {name: p, num_embeddings: 5, embedding_dim: 3, from: pos}\n"
        "  - add: {from: [tok, p]}\n"
    )
    r = analyse_bytes(text.encode(), "t.yaml")
    assert r.ok, r.diagnostics
    assert r.net.layers[1].inputs == ["input.pos"]


@pytest.mark.parametrize(
    "arange,rows,ok",
    [
        ("{end: 5}", 5, True),
        ("{end: 6}", 5, False),  # index 5 of 5 rows
        ("{start: 2, end: 7, step: 2}", 7, True),  # 2, 4, 6
        ("{start: 9, end: -1, step: -3}", 10, True),  # 9, 6, 3, 0
        ("{start: -1, end: 3}", 10, False),  # -1: torch refuses negative indices too
        ("{start: 4, end: 8}", 8, True),
    ],
)
def test_an_arange_of_positions_past_the_table_is_refused(arange, rows, ok):
    """PyTorch's embedding forward refuses an index outside 0 .. num_embeddings - 1
    (GPT-2's 1,024 positions read by a longer sequence): an arange's indices are known
    when the spec is read, so the spec is refused at num_embeddings."""
    text = (
        "input: [2, 5]\nlayers:\n"
        f"  - arange: {{name: p, {arange[1:-1]}}}\n"
        f"  - embedding: {{from: p, num_embeddings: {rows}, embedding_dim: 3}}\n"
    )
    r = analyse_bytes(text.encode(), "t.yaml")
    if ok:
        assert r.ok, r.diagnostics
        return
    (d,) = r.diagnostics
    assert (d.code, d.line) == ("index-range", 4)
    assert d.column == text.splitlines()[3].index(f"num_embeddings: {rows}") + 17
    assert "index out of range" in d.message


def test_a_shared_embedding_called_on_positions_past_its_table_is_refused():
    text = (
        "input: [2, 5]\nlayers:\n  - embedding: {name: e, num_embeddings: 8, embedding_dim: 3}\n"
        "  - arange: {name: p, end: 9}\n  - share: e\n    from: p\n"
    )
    r = analyse_bytes(text.encode(), "t.yaml")
    assert [d.code for d in r.diagnostics] == ["index-range"], r.diagnostics


POSITIONS = """\
vars: {{t: {t}}}
input: [2, t]
dtype: {dtype}
layers:
  - embedding: {{name: tok, num_embeddings: 50, embedding_dim: 4}}
  - arange: {{name: pos, end: t}}
  - unsqueeze: {{name: pos2, dim: 0}}
  - {move}
  - embedding: {{name: wpe, num_embeddings: 16, embedding_dim: 4}}
outputs: [tok, wpe]
"""


@pytest.mark.parametrize(
    "move", ["expand: {size: [2, -1]}", "reshape: {shape: [1, -1]}", "slice: {dim: 1, end: 4}"]
)
def test_an_arange_moved_by_data_movement_stays_integer(move):
    """GPT-2's `pos = torch.arange(t).unsqueeze(0)`: an unsqueezed, reshaped or sliced
    arange is still int64 in PyTorch, and an embedding reads it (it was refused as a
    floating-point tensor); its index range follows it where every value is kept."""
    r = analyse_bytes(POSITIONS.format(t=8, dtype="float32", move=move).encode(), "t.yaml")
    assert r.ok, r.diagnostics
    too_long = analyse_bytes(POSITIONS.format(t=20, dtype="float32", move=move).encode(), "t.yaml")
    codes = [d.code for d in too_long.diagnostics]
    if move.startswith("slice"):  # a slice may drop values: no range is claimed
        assert too_long.ok
    else:
        assert codes == ["index-range"], too_long.diagnostics
    from layercalc.analyses import verify

    v = verify.run(r.net)
    assert all(c.error is None for c in v.checks), [c.error for c in v.checks]


def test_int64_tensors_are_counted_at_eight_bytes_whatever_the_dtype():
    """Token ids, an arange and what moves it are int64 in PyTorch: `cost` counted them
    at the spec's dtype (4 bytes, 2 with float16), and one int64 buffer two ways."""
    from layercalc.analyses.cost import cost

    for dtype, size in (("float32", 4), ("float16", 2)):
        text = POSITIONS.format(t=8, dtype=dtype, move="reshape: {shape: [1, -1]}")
        net = analyse_bytes(text.encode(), "t.yaml").net
        c = cost(net)
        rows = {x.name: x for x in c.layers}
        assert c.totals["input_bytes"] == 2 * 8 * 8  # ids
        assert rows["pos"].activation_bytes == rows["pos2"].activation_bytes == 8 * 8
        assert rows["tok"].activation_bytes == 2 * 8 * 4 * size  # floats stay the dtype's


@pytest.mark.parametrize(
    "extra, ok",
    [
        ("  - concat: {name: j, from: [a, b], dim: 0}\n", True),  # torch.cat keeps int64
        ("  - zero_pad1d: {name: j, padding: 1, from: a}\n", True),  # so does F.pad
        ("  - concat: {name: j, from: [a, c], dim: 0}\n", False),  # c holds 0..1,999
    ],
)
def test_concatenated_and_padded_aranges_stay_integer(extra, ok):
    """torch.cat and F.pad of int64 tensors are int64: an embedding reads them (they
    were refused as floating point); a concatenation's index range is its parts'."""
    text = (
        "input: [2, 4]\nlayers:\n  - arange: {name: a, end: 8}\n  - arange: {name: b, end: 4}\n"
        "  - arange: {name: c, end: 2000}\n"
        + extra
        + "  - unsqueeze: {dim: 0, from: j}\n  - embedding: {num_embeddings: 1024, embedding_dim: 3}\n"
    )
    r = analyse_bytes(text.encode(), "t.yaml")
    if ok:
        assert r.ok, r.diagnostics
    else:
        assert [d.code for d in r.diagnostics] == ["index-range"], r.diagnostics
