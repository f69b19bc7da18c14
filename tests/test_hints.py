"""Unknown layer types: a PyTorch name layercalc does not support says so plainly (with
what to write instead, where something computes the same); any other name keeps the
closest known type as its hint."""

import textwrap

import pytest
from conftest import cli_runner

from layercalc.cli import main
from layercalc.hints import DEFAULT_HINT, UNSUPPORTED, unknown_type
from layercalc.layers import REGISTRY


def shape_error(tmp_path, type_name: str, blocks: str = ""):
    """`layercalc shape` of a spec whose third line uses ``type_name``: (exit code,
    the located error line, the hint line)."""
    path = tmp_path / "spec.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        input: [1, 3, 8, 8]
        layers:
          - {type_name}
        """)
        + blocks
    )
    r = cli_runner(env={"NO_COLOR": "1", "COLUMNS": "200"}).invoke(
        main, ["shape", str(path)], catch_exceptions=False
    )
    lines = r.stderr.splitlines()
    first = next(i for i, line in enumerate(lines) if ": error: " in line)
    assert lines[first].startswith(f"{path}:3:5: error: "), r.stderr
    assert lines[first].endswith(" [unknown-layer]"), r.stderr
    hint = lines[first + 1].strip()
    assert hint.startswith("hint: ")
    message = lines[first].split("error: ", 1)[1].removesuffix(" [unknown-layer]")
    return r.exit_code, message, hint[6:]


UNSUPPORTED_CASES = [
    # spelling in the spec, message, hint (None: the default)
    (
        "EmbeddingBag",
        "'EmbeddingBag' is PyTorch's nn.EmbeddingBag, which layercalc does not support yet",
        None,
    ),
    (
        "embedding_bag",
        "'embedding_bag' is PyTorch's nn.EmbeddingBag, which layercalc does not support yet",
        None,
    ),
    (
        "CosineSimilarity",
        "'CosineSimilarity' is PyTorch's nn.CosineSimilarity, which layercalc does not support yet",
        None,
    ),
    (
        "cosine_similarity",
        "'cosine_similarity' is PyTorch's nn.CosineSimilarity, which "
        "layercalc does not support yet",
        None,
    ),
    (
        "SwapAxes",
        "'SwapAxes' is the tensor operation torch.swapaxes, which layercalc does not support yet",
        "write transpose: {dim0: AXIS0, dim1: AXIS1} (swapaxes is "
        "transpose with other keyword names)",
    ),
    (
        "movedim",
        "'movedim' is the tensor operation torch.movedim, which layercalc does not support yet",
        "write permute: {dims: [...]} with every dim in its new place",
    ),
    (
        "narrow",
        "'narrow' is the tensor operation torch.narrow, which layercalc does not support yet",
        "narrow(dim, start, length) with start >= 0 is slice: {dim: DIM, start: "
        "START, end: START + LENGTH}",
    ),
    (
        "ChannelShuffle",
        "'ChannelShuffle' is PyTorch's nn.ChannelShuffle, which layercalc does not support yet",
        "pixel_shuffle is a different operation (it moves channels "
        "into space); a channel shuffle of g groups is reshape to [N, g, C / g, H, W], "
        "transpose: {dim0: 1, dim1: 2}, reshape back to [N, C, H, W]",
    ),
    (
        "channel_shuffle",
        "'channel_shuffle' is PyTorch's nn.ChannelShuffle, which layercalc does not support yet",
        "pixel_shuffle is a different operation (it moves channels "
        "into space); a channel shuffle of g groups is reshape to [N, g, C / g, H, W], "
        "transpose: {dim0: 1, dim1: 2}, reshape back to [N, C, H, W]",
    ),
    (
        "lazy_linear",
        "'lazy_linear' is PyTorch's nn.LazyLinear, and layercalc has no lazy "
        "variants: every layer infers its input size",
        "write linear (its input size is inferred from the input)",
    ),
    (
        "CrossEntropyLoss",
        "'CrossEntropyLoss' is PyTorch's nn.CrossEntropyLoss, a loss "
        "function, not a layer of the network",
        "layercalc describes the network's layers: leave the loss out",
    ),
    (
        "bmm",
        "'bmm' is the tensor operation torch.bmm, which layercalc does not support yet",
        "write matmul (from: [a, b]): it computes the same for 3-d inputs",
    ),
    (
        "clamp",
        "'clamp' is the tensor operation torch.clamp, which layercalc does not support yet",
        "hardtanh: {min_val: LO, max_val: HI} computes clamp(x, LO, HI)",
    ),
    (
        "Softmax2d",
        "'Softmax2d' is PyTorch's nn.Softmax2d, which layercalc does not support yet",
        "Softmax2d is softmax over the channels: softmax: {dim: -3}",
    ),
]


@pytest.mark.parametrize(
    "name,message,hint", UNSUPPORTED_CASES, ids=[c[0] for c in UNSUPPORTED_CASES]
)
def test_a_pytorch_name_layercalc_lacks_says_so(tmp_path, name, message, hint):
    code, got_message, got_hint = shape_error(tmp_path, name)
    assert code == 1
    assert got_message == message
    assert got_hint == (hint or DEFAULT_HINT)


@pytest.mark.parametrize("name", ["transpos", "Transpse", "permut", "swapaxes"])
def test_transpose_and_permute_never_suggest_a_convolution(tmp_path, name):
    _, message, hint = shape_error(tmp_path, name)
    assert "conv" not in message + hint


def test_channel_shuffle_is_not_matched_to_pixel_shuffle(tmp_path):
    _, message, hint = shape_error(tmp_path, "channel_shuffle")
    assert "did you mean" not in hint
    assert "different operation" in hint


def test_a_near_miss_of_an_unsupported_name_says_what_it_is(tmp_path):
    _, message, hint = shape_error(tmp_path, "movedi")
    assert message == "unknown layer type 'movedi'"
    assert hint == (
        "did you mean 'movedim'? It is the tensor operation torch.movedim, "
        "which layercalc does not support yet"
    )


@pytest.mark.parametrize(
    "name,hint",
    [
        ("cnov2d", "did you mean 'conv2d'?"),
        ("lienar", "did you mean 'linear'?"),
        ("batch_norm2", "did you mean 'batch_norm2d'?"),
        ("sequentail", "did you mean 'sequential'?"),
        ("transpos", "did you mean 'transpose'?"),  # a type now, no longer an unsupported name
        ("nosuchlayer", DEFAULT_HINT),
    ],
)
def test_other_names_keep_the_closest_known_type(tmp_path, name, hint):
    code, message, got = shape_error(tmp_path, name)
    assert code == 1
    assert message == f"unknown layer type '{name}'"
    assert got == hint


def test_a_block_is_among_the_suggestions(tmp_path):
    blocks = "blocks:\n  stem:\n    layers: [relu]\n"
    _, message, hint = shape_error(tmp_path, "stme", blocks)
    assert message == "unknown layer type 'stme'"
    assert hint == "did you mean 'stem'?"


def test_the_table_lists_only_names_the_registry_lacks():
    """When a type is added to layercalc, its entry here must go: this test says which."""
    supported = sorted(
        u.spelling
        for key, u in UNSUPPORTED.items()
        if REGISTRY.get(key) is not None or key == "sequential"
    )
    assert not supported, f"supported now, remove from layercalc/hints.py: {supported}"


def test_every_type_a_hint_names_exists():
    for u in UNSUPPORTED.values():
        for name in u.uses:
            assert REGISTRY.get(name) is not None, (u.spelling, name)
            assert u.hint and name in u.hint, (u.spelling, name)


def test_names_match_as_the_registry_does():
    for spelling in (
        "EmbeddingBag",
        "embedding_bag",
        "E_M_B_E_D_D_I_N_G_BAG",
        "CosineSimilarity",
        "cosine_similarity",
        "Cosine_Similarity",
    ):
        assert unknown_type(spelling, ())[0].startswith(f"'{spelling}' is PyTorch's nn.")


def test_every_torch_nn_module_is_supported_or_listed():
    """Against the installed PyTorch: each name in torch.nn.modules.__all__ is a layercalc
    type, `sequential`, or in the table (so its users get a plain message)."""
    modules = pytest.importorskip("torch.nn.modules")
    not_modules = {"LinearCrossEntropyOptions"}  # a settings record, not a module
    missing = sorted(
        n
        for n in modules.__all__
        if n not in not_modules
        and REGISTRY.get(n) is None
        and REGISTRY.normalize(n) not in UNSUPPORTED
        and REGISTRY.normalize(n) != "sequential"
    )
    assert not missing, f"add to layercalc/hints.py: {missing}"


@pytest.mark.parametrize(
    "value, quoted_hint",
    [("max(a, b)", True), ("'max(a, b)'", False), ("min(a, b) * 2", True)],
)
def test_a_comma_in_a_flow_mapping_gets_the_hint_to_quote(tmp_path, value, quoted_hint):
    """`{out_features: max(a, b)}`: YAML cuts the value at the comma; the error says so."""
    path = tmp_path / "spec.yaml"
    path.write_text(
        f"vars: {{a: 2, b: 3}}\ninput: [1, 4]\nlayers:\n  - linear: {{out_features: {value}}}\n"
    )
    r = cli_runner().invoke(main, ["shape", str(path)])
    assert r.exit_code == (1 if quoted_hint else 0), r.output
    assert ("quote it, 'max(a, b)'" in r.output) == quoted_hint
    if quoted_hint:
        assert "spec.yaml:4:28: error: " in r.output and "[bad-expression]" in r.output


def test_a_var_read_before_its_definition_is_called_later_not_unknown(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(
        "vars:\n  a: b * 2\n  b: 3\ninput: [1, 4]\nlayers:\n  - linear: {out_features: a}\n"
    )
    r = cli_runner().invoke(main, ["shape", str(path)])
    assert r.exit_code == 1
    assert "spec.yaml:2:6: error: var 'a' reads 'b', which is defined later" in r.output
    assert "(line 3)" in r.output and "move 'b' above 'a'" in r.output
