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
