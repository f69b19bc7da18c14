"""What a learner's usual mistakes are told (a fresh-eyes trial, 2026-12-01): the hint
says what to change, with the numbers, and is not a fuzzy match to an unrelated word."""

import pytest
from conftest import cli_runner, diag_of

from layercalc.analyses.loading import analyse_bytes
from layercalc.analyses.solve import solve
from layercalc.cli import main


def diags(text: str):
    r = analyse_bytes(text.encode(), "t.yaml")
    assert not r.ok
    return r.diagnostics


def test_a_forgotten_flatten_is_named():
    (d,) = diags(
        "input: [1, 1, 28, 28]\nlayers:\n  - conv2d: {out_channels: 6, kernel_size: 5}\n"
        "  - linear: {in_features: 3456, out_features: 10}\n"
    )
    assert d.code == "shape-mismatch" and "flattened" in d.message
    assert d.hint == "add `- flatten` before it (the input becomes [1, 3456])"
    # any other mismatch keeps the plain advice
    (d,) = diags("input: [1, 8]\nlayers:\n  - linear: {in_features: 9, out_features: 2}\n")
    assert d.hint.startswith("set in_features: 8")


def test_groups_must_divide_both_channel_counts():
    (d,) = diags(
        "input: [1, 3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 3, groups: 3}\n"
    )
    assert d.hint == "groups must divide both in_channels 3 and out_channels 4: 1"
    (d,) = diags(
        "input: [1, 12, 8, 8]\nlayers:\n  - conv2d: {out_channels: 18, kernel_size: 3, groups: 4}\n"
    )
    assert d.hint.endswith(": 1, 2, 3, 6")


@pytest.mark.parametrize(
    "value,hint",
    [
        ("2.5", "write a whole number (2 or 3)"),
        ("7 / 2", "use // for integer division, or round()/floor()/ceil()"),
        ('"(3, 3)"', "a tuple is written as a YAML list: [3, 3]"),
        ("(3, 3)", "a tuple is written as a YAML list: `kernel_size: [3, 3]`, not (3, 3)"),
    ],
)
def test_a_kernel_written_the_python_way(value, hint):
    (d,) = diags(
        f"input: [1, 3, 8, 8]\nlayers:\n  - conv2d: {{out_channels: 4, kernel_size: {value}}}\n"
    )
    assert d.hint == hint, d


def test_every_unknown_argument_of_an_entry_in_one_run():
    ds = diags(
        "input: [1, 3, 8, 8]\nlayers:\n  - conv2d: {out_channels: 4, kernel_size: 3, "
        "activation: relu, filters: 3, strides: 2, paddng: 1}\n"
    )
    got = [(d.code, d.message.split("'")[1], d.hint) for d in ds]
    assert got == [
        (
            "unknown-argument",
            "activation",
            "conv2d has no activation in PyTorch: add one as the next entry (`- relu`)",
        ),
        ("unknown-argument", "filters", "PyTorch calls it out_channels: `out_channels: ...`"),
        ("unknown-argument", "strides", "did you mean 'stride'?"),
        ("unknown-argument", "paddng", "did you mean 'padding'?"),
    ]


def test_no_suggestion_of_an_unrelated_word():
    # `stride` to a block that takes none is not `tie`; `activation` is not `dilation`
    ds = diags(
        "input: [1, 3, 8, 8]\nblocks:\n  b:\n    args: {c: null}\n    layers: [relu]\n"
        "layers:\n  - b: {c: 1, stride: 2}\n"
    )
    assert "tie" not in (ds[0].hint or ""), ds


def test_a_unet_skip_of_an_odd_size_says_why():
    (d,) = diags(
        "input: [1, 3, 65, 65]\nlayers:\n  - conv2d: {name: a, out_channels: 16, "
        "kernel_size: 3, padding: 1}\n  - max_pool2d: {kernel_size: 2}\n"
        "  - upsample: {scale_factor: 2}\n  - concat: {from: [a, 2]}\n"
    )
    assert "sizes 65 and 64" in d.hint and "divisible by 2**k" in d.hint


@pytest.mark.parametrize("n,first", [(3, (3, 1, 0)), (4, (4, 1, 0)), (7, (7, 1, 0))])
def test_solve_to_one_position_puts_the_plain_kernel_first(n, first):
    best = solve(n, 1, "conv")[0]
    assert (best.kernel, best.stride, best.padding) == first


def test_diff_at_80_columns_keeps_a_changed_type(tmp_path):
    old = tmp_path / "a.yaml"
    new = tmp_path / "b.yaml"
    body = "input: [1, 1, 28, 28]\nlayers:\n  - conv2d: {out_channels: 6, kernel_size: 5}\n"
    old.write_text(body + "  - relu\n")
    new.write_text(body + "  - tanh\n")
    r = cli_runner(env={"COLUMNS": "80"}).invoke(main, ["diff", str(old), str(new)])
    assert "relu -> tanh" in r.stdout, r.stdout


def test_the_same_when_over_in_shape_is_explained():
    (d,) = diags(
        "input: [1, 16, 8, 8]\nblocks:\n  b:\n    args: {c: null}\n    layers:\n"
        "      - conv2d: {name: conv, out_channels: c, kernel_size: 1}\n"
        "      - conv2d: {name: proj, from: input, out_channels: c, kernel_size: 1, "
        "when: in_shape(1) != c}\n"
        "      - add: {from: [conv, proj], when: in_shape(1) != c}\n"
        "layers:\n  - b: {name: l1, c: 16}\n"
    )
    assert d.code == "omitted-entry" and "read each entry's own input" in d.hint


def test_a_refused_build_shows_the_shapes_that_led_to_it(tmp_path):
    """28 -> 26 -> 13 -> 11 -> 5 -> 3 -> 1, then a kernel of 3: the error alone did not
    show the chain a learner debugs. The table format's stderr gets the last layers
    built before the error's line; JSON and the other formats keep the errors alone."""
    p = tmp_path / "s.yaml"
    p.write_text(
        "input: [1, 3, 28, 28]\nlayers:\n"
        + "  - conv2d: {out_channels: 8, kernel_size: 3}\n  - max_pool2d: {kernel_size: 2}\n" * 3
        + "  - conv2d: {out_channels: 8, kernel_size: 3}\n"
    )
    r = cli_runner().invoke(main, ["shape", str(p), "--width", "200"])
    assert r.exit_code == 1
    trail = [line for line in r.stderr.splitlines() if "built before it" in line]
    assert trail == [
        "  built before it: 0 conv2d [1, 8, 26, 26] -> 1 max_pool2d [1, 8, 13, 13] -> "
        "2 conv2d [1, 8, 11, 11] -> 3 max_pool2d [1, 8, 5, 5] -> 4 conv2d [1, 8, 3, 3] "
        "-> 5 max_pool2d [1, 8, 1, 1]"
    ], r.stderr
    narrow = cli_runner(env={"COLUMNS": "80"}).invoke(main, ["shape", str(p)])
    assert max(len(line) for line in narrow.stderr.splitlines()[2:]) <= 80
    for fmt in ("json", "markdown", "csv"):
        r = cli_runner().invoke(main, ["shape", str(p), "--format", fmt])
        assert "built before it" not in r.output, fmt


def test_the_trail_stops_at_the_error_though_the_builder_goes_on(tmp_path):
    """The builder records an error and builds the rest of the file (every independent
    error in one run): the trail listed the later layers too (`-> frozen.c`)."""
    p = tmp_path / "s.yaml"
    p.write_text(
        "input: [2, 6, 8, 8]\nlayers:\n"
        "  - conv2d: {name: a, out_channels: 6, kernel_size: 3, padding: 1}\n"
        "  - share: a\n    repeat: 2\n"
        "  - conv2d: {name: later, out_channels: 6, kernel_size: 3, padding: 1}\n"
    )
    r = cli_runner().invoke(main, ["shape", str(p), "--width", "200"])
    assert r.exit_code == 1 and "[bad-share]" in r.stderr, r.stderr
    (trail,) = [line for line in r.stderr.splitlines() if "built before it" in line]
    assert trail == "  built before it: a conv2d [2, 6, 8, 8]", r.stderr


@pytest.mark.parametrize(
    "entry,hint",
    [
        ("conv2d: {ut_channels: 4, kernel_size: 2}", "did you mean 'out_channels'?"),
        ("conv2d: {out_channels: 4, ernel_size: 2}", "did you mean 'kernel_size'?"),
        ("conv2d: {out_channels: 4, kernel_size: 2, ias: false}", "did you mean 'bias'?"),
        ("deconv2d", "did you mean 'conv2d'?"),
        ("globalavgpool2d", "did you mean 'avg_pool2d'?"),
    ],
)
def test_a_dropped_first_letter_or_a_prefix_still_gets_its_suggestion(entry, hint):
    (d,) = diags(f"input: [1, 4, 8, 8]\nlayers:\n  - {entry}\n")
    assert d.hint == hint, d


def test_a_one_tap_transposed_conv_is_told_about_its_kernel_not_its_dilation():
    from conftest import net_of

    from layercalc.analyses.lint import lint

    (d,) = lint(
        net_of(
            "input: [1, 3, 16, 16]\nlayers:\n  - conv_transpose2d: "
            "{out_channels: 8, kernel_size: 1, stride: 2, dilation: 2}\n"
        )
    )
    assert "kernel 1 is not divisible by stride 2" in d.message, d.message


def test_a_merge_given_a_list_is_told_the_list_goes_in_from():
    d = diag_of(
        "input: [2, 4]\nlayers:\n  - linear: {name: a, out_features: 4}\n  - add: [a, input]\n"
    )
    assert d.code == "bad-entry" and d.hint == (
        "a list names inputs, which go in `from`: `add: {from: [a, input]}`"
    )


@pytest.mark.parametrize(
    "given, want", [("fp16", "float16"), ("bf16", "bfloat16"), ("double", "float64")]
)
def test_a_dtype_by_another_name_is_named(given, want):
    d = diag_of(f"input: [2, 4]\ndtype: {given}\nlayers: [relu]\n")
    assert d.code == "bad-value" and d.hint == f"did you mean '{want}'?"
