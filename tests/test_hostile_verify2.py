"""Hostile cases of `layercalc verify`, second round: --max-memory sizes, a closed
stderr, --save path syntax, signals mid-save, and the memory estimate against the run
(input lifetimes, integer index inputs, np.savez's write buffer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from layercalc.units import MAX_VALUE as MAX_SIZE
from layercalc.units import parse_bytes as parse_size
from test_hostile_save import SPEC, invoke  # one small spec and runner for the verify files

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def spec(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(SPEC)
    return p


# -- --max-memory sizes ------------------------------------------------------------------

ABSURD = [
    "9" * 400,
    "-1",
    "-1MiB",
    "nan",
    "inf",
    "NaN",
    "Infinity",
    "1e999",
    "1e3",
    "\u0661\u0660MiB",
    "\uff11\uff10MiB",
    "10\u00a0MiB\u2003x",
    "0",
    "0.1",
    "",
    "1" + "0" * 5000,
    "9223372036854775808",
    "8EiB",
    "0x10",
    "+5",
]


@pytest.mark.parametrize("text", ABSURD, ids=range(len(ABSURD)))
def test_absurd_sizes_are_usage_errors(spec, text):
    r = invoke(spec, "--max-memory", text)
    assert r.exit_code == 2, r.output
    assert "Invalid value for '--max-memory'" in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize(
    "text,value",
    [
        ("9223372036854775807", MAX_SIZE),
        ("0" * 300 + "5", 5),
        (".5KiB", 512),
        ("1." + "9" * 5000 + "GB", 1_999_999_999),
        (" 2 GiB ", 2**31),
        ("1_000", 1000),  # the grammar of expect (layercalc.units): separators allowed
        ("1,000MiB", 1000 * 2**20),
    ],
)
def test_sizes_are_exact(text, value):
    assert parse_size(text) == value


# -- a closed stderr -----------------------------------------------------------------------


def test_closed_stderr_still_verifies(spec):
    r = subprocess.run(
        ["sh", "-c", '"$0" -m layercalc verify "$1" 2>&-', sys.executable, str(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "all 1 layers agree" in r.stdout


# -- --save path syntax ----------------------------------------------------------------------


@pytest.fixture
def place(tmp_path, spec, monkeypatch):
    """tmp_path as the working directory, with a precious file 'f' and a directory 'd'."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f").write_text("precious\n")
    (tmp_path / "d").mkdir()
    return tmp_path


def assert_unwritable(r, reason):
    assert r.exit_code == 1, r.output
    assert "error: " in r.output and "[unwritable]" in r.output and reason in r.output, r.output
    assert "s.yaml:1:1:" in r.output and "hint:" in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize(
    "target,reason",
    [
        ("f/", "the name ends with '/', so it can only name a directory, and 'f' is not a"),
        ("f/.", "the name ends with '/.', so it can only name a directory, and 'f' is not a"),
        ("f/..", "'f' is not a directory"),
        ("new/", "and 'new' does not exist"),
        ("new/.", "and 'new' does not exist"),
        ("d/", "it is a directory"),
        ("d/.", "it is a directory"),
        ("missing/../y.npz", "the directory 'missing' does not exist"),
        ("f/../z.npz", "'f' is not a directory"),
        ("d/missing/../../z.npz", "the directory 'd/missing' does not exist"),
    ],
)
def test_paths_that_do_not_resolve_are_refused(place, target, reason):
    r = invoke("s.yaml", "--save", target)
    assert_unwritable(r, reason)
    assert (place / "f").read_text() == "precious\n"
    assert sorted(os.listdir(place)) == ["d", "f", "s.yaml"]


def test_a_symbolic_link_to_an_unresolvable_path_is_refused(place):
    os.symlink("missing/../y.npz", place / "link")
    assert_unwritable(invoke("s.yaml", "--save", "link"), "/missing' does not exist")
    assert not (place / "y.npz").exists()


@pytest.mark.parametrize("target", ["d/../ok.npz", "./ok.npz", "d/./../ok.npz"])
def test_paths_that_resolve_still_save(place, target):
    r = invoke("s.yaml", "--save", target)
    assert r.exit_code == 0, r.output
    assert zipfile.is_zipfile(place / "ok.npz")


@pytest.mark.parametrize("how", ["same", "dot", "absolute", "symlink", "hardlink"])
def test_the_spec_being_verified_is_never_the_save_target(place, how):
    target = {
        "same": "s.yaml",
        "dot": "./d/../s.yaml",
        "absolute": str(place / "s.yaml"),
        "symlink": "sl",
        "hardlink": "hl",
    }[how]
    if how == "symlink":
        os.symlink("s.yaml", "sl")
    if how == "hardlink":
        os.link("s.yaml", "hl")
    r = invoke("s.yaml", "--save", target)
    assert_unwritable(r, "it is the spec 's.yaml', which is being verified")
    assert (place / "s.yaml").read_text() == SPEC


def test_standard_input_is_never_the_save_target(place):
    with open("s.yaml", "rb") as fh:
        r = subprocess.run(
            [sys.executable, "-m", "layercalc", "verify", "-", "--save", "s.yaml"],
            stdin=fh,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert r.returncode == 1 and "it is standard input" in r.stderr + r.stdout, r
    assert (place / "s.yaml").read_text() == SPEC


# -- the memory estimate against the run ------------------------------------------------------


def measured(net, save=False, path=None):
    """verify.run (and save_npz into ``path``) under tracemalloc: (estimate, peak)."""
    import tracemalloc

    import numpy  # noqa: F401 - imported before tracing: its modules are not the run's
    import numpy.random  # noqa: F401

    from layercalc.analyses import verify

    estimate = verify.estimate_memory(net, save=save)
    tracemalloc.start()
    try:
        v = verify.run(net, save=save)
        assert v.ok
        if path is not None:
            verify.save_npz(str(path), v.arrays)
        del v
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return estimate, peak


KEEPIN = """\
input: [1, 1, 1000, 1000]
layers:
  - avg_pool2d: {kernel_size: 2}
  - conv2d: {out_channels: 1, kernel_size: 2}
"""

BRANCHES = """\
input: [1, 1, 600, 600]
layers:
  - avg_pool2d: {name: a, kernel_size: 2}
  - conv2d: {name: b, out_channels: 1, kernel_size: 2}
  - max_pool2d: {name: c, from: a, kernel_size: 2}
  - conv2d: {name: d, from: input, out_channels: 1, kernel_size: 4, stride: 4}
"""


@pytest.mark.parametrize("text", [KEEPIN, BRANCHES], ids=["keepin", "branches"])
@pytest.mark.parametrize("save", [False, True], ids=["run", "save"])
def test_the_input_lives_as_long_as_the_estimate_says(text, save, tmp_path):
    """The input was kept alive for the whole run while the estimate freed it after its
    last use (and, with --save, freed it although the saved arrays keep it)."""
    from conftest import net_of

    estimate, peak = measured(net_of(text), save, tmp_path / "x.npz" if save else None)
    assert peak <= estimate, (peak, estimate)


def test_the_keepin_repro_is_refused_by_max_memory(tmp_path):
    p = tmp_path / "keepin.yaml"
    p.write_text(KEEPIN.replace("1000, 1000", "4000, 4000"))
    from conftest import net_of

    from layercalc.analyses import verify

    net = net_of(p.read_text())
    assert verify.estimate_memory(net, save=True) > 150 * 2**20  # the input counts
    r = invoke(p, "--max-memory", "100MiB", "--save", tmp_path / "k.npz")
    assert r.exit_code == 1 and "error: " in r.output and "[memory-limit]" in r.output
    assert not (tmp_path / "k.npz").exists()


@pytest.mark.parametrize(
    "spec_text",
    [
        "input: [1, 1024]\nlayers:\n  - linear: {out_features: 8192}\n",
        "input: [1, 2]\nlayers:\n"
        + "".join(
            f"  - batch_norm1d: {{name: layer_with_a_long_name_{i:05d}}}\n" for i in range(1500)
        ),
    ],
    ids=["write-buffer", "many-entries"],
)
def test_saving_stays_within_the_estimate(spec_text, tmp_path):
    """np.savez writes through 16 MiB chunk copies and keeps a ZipInfo per entry; the
    saved arrays carry Python objects besides their data; all are in the estimate."""
    from conftest import net_of

    estimate, peak = measured(net_of(spec_text), True, tmp_path / "w.npz")
    assert peak <= estimate, (peak, estimate)


def test_many_layers_without_save_stay_within_the_estimate():
    from conftest import net_of

    text = "input: [1, 2]\nlayers:\n" + "  - relu: {}\n" * 3000
    estimate, peak = measured(net_of(text))
    assert peak <= estimate, (peak, estimate)


# -- an integer index input feeding other layers ----------------------------------------------


@pytest.mark.parametrize(
    "consumer",
    [
        "conv2d: {from: input, out_channels: 1, kernel_size: 3}",
        "softmax: {from: input, dim: -1}",
        "avg_pool2d: {from: input, kernel_size: 2}",
        "layer_norm: {from: input, normalized_shape: 8}",
        "upsample: {from: input, scale_factor: 2}",
        "flatten: {from: input}",
    ],
)
def test_an_index_input_feeds_only_embeddings(consumer, tmp_path):
    p = tmp_path / "idx.yaml"
    p.write_text(
        "input: [1, 1, 8, 8]\nlayers:\n"
        "  - embedding: {name: emb, num_embeddings: 10, embedding_dim: 1}\n"
        f"  - {consumer}\n"
    )
    r = invoke(p)
    assert r.exit_code == 1, r.output
    kind = consumer.split(":")[0]
    assert (
        f"idx.yaml:4:5: error: layer '1' ({kind}) reads the network input, "
        "which holds integer indices (it feeds embedding 'emb'); PyTorch's "
        f"{kind} needs a floating-point tensor" in r.output
    ), r.output
    assert "hint: only embeddings take integer indices" in r.output
    assert "Traceback" not in r.output and "UFuncTypeError" not in r.output
    j = json.loads(invoke(p, "--format", "json").stdout)
    assert j["errors"][0]["code"] == "integer-input"


def test_the_first_consumer_is_named_and_embeddings_alone_still_run(tmp_path):
    p = tmp_path / "idx.yaml"
    p.write_text(
        "input: [2, 5]\nlayers:\n"
        "  - embedding: {name: a, num_embeddings: 10, embedding_dim: 4}\n"
        "  - embedding: {name: b, from: input, num_embeddings: 12, embedding_dim: 4}\n"
        "  - add: {from: [a, b]}\n"
    )
    r = invoke(p)
    assert r.exit_code == 0, r.output
    p.write_text(
        p.read_text() + "  - linear: {from: input, out_features: 3}\n  - relu: {from: input}\n"
    )
    r = invoke(p)
    assert r.exit_code == 1 and r.output.count("[integer-input]") == 1
    assert "idx.yaml:6:5:" in r.output
