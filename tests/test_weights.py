"""`check --weights` and `verify --weights/--input-file` (issue 16): checkpoints read
without torch (.safetensors by hand and by the package, .npz), their keys and shapes
compared with the spec's state_dict at the lines of the layers, bounded headers, and
PyTorch pickles refused when torch is absent."""

from __future__ import annotations

import builtins
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import cli_runner

from layercalc import weights as w
from layercalc.cli import main

ROOT = Path(__file__).resolve().parent.parent
LENET = str(ROOT / "specs" / "lenet5.yaml")
LENET_LINES = {"c1": 18, "c3": 23, "c5": 30, "f6": 32, "f7": 34}


def run(*args):
    return cli_runner(env={"NO_COLOR": "1"}).invoke(main, [str(a) for a in args])


def parsable(r) -> list[tuple]:
    """(file, line, column, code, message) of each `--format parsable` line."""
    out = []
    for line in r.stdout.splitlines():
        loc, sev, msg = line.split(": ", 2)
        file, ln, col = loc.rsplit(":", 2)
        msg, code = msg.rsplit(" [", 1)  # FILE:LINE:COL: error: MESSAGE [CODE]
        assert sev == "error" and code.endswith("]"), line
        out.append((file, int(ln), int(col), code[:-1], msg))
    return out


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict:
    """verify --save of lenet5: input, output and every tensor."""
    path = tmp_path_factory.mktemp("lenet") / "l.npz"
    r = run("verify", LENET, "--save", path, "--seed", 3)
    assert r.exit_code == 0, r.output
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def tensors(saved) -> dict:
    return {k: v for k, v in saved.items() if not w.reserved(k)}


ST_NAMES = {"float32": "F32", "float16": "F16", "float64": "F64", "int64": "I64"}


def write_safetensors(path, arrays: dict, bf16: bool = False) -> None:
    """The documented layout, by hand: u64 header length, JSON header, data."""
    header, blobs, pos = {}, [], 0
    for k, v in arrays.items():
        if bf16 and v.dtype == np.float32:
            raw = (v.view(np.uint32) >> 16).astype("<u2").tobytes()
            dtype = "BF16"
        else:
            raw = np.ascontiguousarray(v).astype(v.dtype.newbyteorder("<")).tobytes()
            dtype = ST_NAMES[str(v.dtype)]
        header[k] = {"dtype": dtype, "shape": list(v.shape), "data_offsets": [pos, pos + len(raw)]}
        blobs.append(raw)
        pos += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


@pytest.fixture
def no_package(monkeypatch):
    """The safetensors package (and torch) not installed."""
    real = builtins.__import__

    def fake(name, *args, **kw):
        if name.split(".")[0] in ("safetensors", "torch"):
            raise ImportError(f"No module named '{name}'")
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", fake)


def test_a_hand_written_safetensors_file_passes_and_reads_exactly(saved, tmp_path, no_package):
    path = tmp_path / "lenet.safetensors"
    write_safetensors(path, tensors(saved))
    r = run("check", LENET, "--weights", path)
    assert r.exit_code == 0, r.output
    assert "all passed" in r.stdout
    got = w.load(str(path))
    assert set(got) == set(tensors(saved))
    for k, v in tensors(saved).items():
        assert got[k].dtype == v.dtype and np.array_equal(got[k], v), k


def test_a_safetensors_file_of_the_package_passes(saved, tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "lenet.safetensors"
    st.save_file(tensors(saved), str(path))
    assert run("check", LENET, "--weights", path).exit_code == 0
    assert w.shapes(str(path)) == {k: v.shape for k, v in tensors(saved).items()}
    # the package reads what the hand-written parser reads
    write_safetensors(tmp_path / "hand.safetensors", tensors(saved))
    a, b = w.load(str(path)), w.load(str(tmp_path / "hand.safetensors"))
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_an_npz_passes_and_a_verify_save_file_is_a_weights_file(saved, tmp_path):
    np.savez(tmp_path / "w.npz", **tensors(saved))
    assert run("check", LENET, "--weights", tmp_path / "w.npz").exit_code == 0
    np.savez(tmp_path / "all.npz", **saved)  # input and output are not layer tensors
    assert run("check", LENET, "--weights", tmp_path / "all.npz").exit_code == 0


def test_missing_unexpected_and_misshaped_tensors_are_located(saved, tmp_path):
    t = tensors(saved)
    del t["f6.bias"]
    t["c1.weight"] = np.zeros((6, 3, 5, 5), np.float32)
    t["c9.weight"] = np.zeros((2, 2), np.float32)
    path = tmp_path / "bad.safetensors"
    write_safetensors(path, t)
    r = run("check", LENET, "--weights", path, "--format", "parsable")
    assert r.exit_code == 1
    found = parsable(r)
    assert len(found) == 3, found
    shape, missing, unexpected = found
    assert shape[:4] == (LENET, LENET_LINES["c1"], 5, "weights-shape")
    assert "'c1.weight' is [6, 3, 5, 5]" in shape[4] and "[6, 1, 5, 5]" in shape[4]
    assert missing[:4] == (LENET, LENET_LINES["f6"], 5, "weights-missing")
    assert "'f6.bias' [84]" in missing[4]
    assert unexpected[:4] == (str(path), 1, 1, "weights-unexpected")
    assert "'c9.weight' [2, 2]" in unexpected[4]
    # the human format names them too, with the spec line under a located one
    r = run("check", LENET, "--weights", path)
    assert "lenet5.yaml:18:5: error: " in r.stdout and "[weights-shape]" in r.stdout
    assert "name: c1, out_channels: 6" in r.stdout


def test_prefixes(saved, tmp_path):
    wrapped = {f"module.{k}": v for k, v in tensors(saved).items()}
    path = tmp_path / "ddp.npz"
    np.savez(path, **wrapped)
    r = run("check", LENET, "--weights", path, "--format", "parsable")
    assert r.exit_code == 1
    assert "give --strip-prefix module." in r.stdout
    assert r.stdout.count("--strip-prefix") == 1  # the hint is given once
    assert run("check", LENET, "--weights", path, "--strip-prefix", "module.").exit_code == 0
    # the other way round: the file lacks a prefix the spec's keys have
    spec = tmp_path / "wrapped.yaml"
    spec.write_text(
        "input: [1, 4]\n"
        "layers:\n"
        "  - sequential: {name: net, layers: [{linear: {name: fc, out_features: 2}}]}\n"
    )
    bare = {"fc.weight": np.zeros((2, 4), np.float32), "fc.bias": np.zeros(2, np.float32)}
    np.savez(tmp_path / "bare.npz", **bare)
    r = run("check", spec, "--weights", tmp_path / "bare.npz", "--format", "parsable")
    assert r.exit_code == 1 and "give --add-prefix net." in r.stdout
    assert "wrapped.yaml:3:" in r.stdout and "'net.fc.weight' [2, 4]" in r.stdout
    r = run("check", spec, "--weights", tmp_path / "bare.npz", "--add-prefix", "net.")
    assert r.exit_code == 0, r.output
    np.savez(tmp_path / "ddp2.npz", **{f"module.{k}": v for k, v in bare.items()})
    both = ("--strip-prefix", "module.", "--add-prefix", "net.")
    assert run("check", spec, "--weights", tmp_path / "ddp2.npz", *both).exit_code == 0
    r = run("check", LENET, "--strip-prefix", "module.")
    assert r.exit_code == 2 and "give --weights" in r.output


def test_tied_tensors_appear_under_both_keys_and_shared_modules_once(tmp_path):
    spec = tmp_path / "t.yaml"
    spec.write_text(
        "input: [2, 7]\n"
        "layers:\n"
        "  - embedding: {name: wte, num_embeddings: 50, embedding_dim: 16}\n"
        "  - linear: {name: fc, out_features: 16}\n"
        "  - {share: fc, name: fc2}\n"
        "  - linear: {name: lm_head, out_features: 50, bias: false, tie: {weight: wte.weight}}\n"
    )
    r = run("verify", spec, "--save", tmp_path / "t.npz")
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "t.npz") as z:
        keys = {k: z[k].shape for k in z.files if not w.reserved(k)}
    assert keys == {
        "wte.weight": (50, 16),
        "fc.weight": (16, 16),
        "fc.bias": (16,),
        "lm_head.weight": (50, 16),
    }
    assert run("check", spec, "--weights", tmp_path / "t.npz").exit_code == 0
    r = run("verify", spec, "--weights", tmp_path / "t.npz", "--input-file", tmp_path / "t.npz")
    assert r.exit_code == 0, r.output
    # a safetensors file holds a tied tensor once (save_pretrained drops lm_head.weight):
    # the tie is satisfied by its source, and verify reads the source's array
    with np.load(tmp_path / "t.npz") as z:
        once = {k: z[k] for k in z.files if not w.reserved(k) and k != "lm_head.weight"}
        out = z["output"]
    write_safetensors(tmp_path / "once.safetensors", once)
    assert run("check", spec, "--weights", tmp_path / "once.safetensors").exit_code == 0
    r = run(
        "verify", spec, "--weights", tmp_path / "once.safetensors",
        "--input-file", tmp_path / "t.npz", "--save", tmp_path / "again.npz",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "again.npz") as z:
        assert np.array_equal(z["output"], out)
    # a file of an untied model (lm_head.weight its own values) is refused: the spec
    # would run the embedding where the checkpoint has another tensor
    with np.load(tmp_path / "t.npz") as z:
        untied = {k: z[k] for k in z.files if not w.reserved(k)}
    untied["lm_head.weight"] = untied["lm_head.weight"] + 1
    np.savez(tmp_path / "untied.npz", **untied)
    r = run("verify", spec, "--weights", tmp_path / "untied.npz")
    assert r.exit_code == 1, r.output
    assert f"{spec}:6:5: error: layer 'lm_head' (linear) ties 'lm_head.weight' to " in r.output
    assert "different values [weights-tied]" in r.output and "untied model" in r.output
    # the same values under both keys, NaN included, are one tensor: no refusal
    with np.load(tmp_path / "t.npz") as z:
        nan = {k: z[k] for k in z.files if not w.reserved(k)}
    nan["wte.weight"][0, 0] = np.nan
    nan["lm_head.weight"] = nan["wte.weight"].copy()
    np.savez(tmp_path / "nan.npz", **nan)
    r = run("verify", spec, "--weights", tmp_path / "nan.npz")
    assert "[weights-tied]" not in r.output
    # without its source the tied key is missing, as before
    del once["wte.weight"]
    write_safetensors(tmp_path / "none.safetensors", once)
    r = run("check", spec, "--weights", tmp_path / "none.safetensors")
    assert r.exit_code == 1 and "'wte.weight'" in r.stdout and "'lm_head.weight'" in r.stdout


@pytest.mark.parametrize(
    "damage, says",
    [
        (lambda b: struct.pack("<Q", 2**40) + b[8:], "above the bound"),
        (lambda b: struct.pack("<Q", w.MAX_HEADER + 1) + b[8:], "above the bound"),
        (lambda b: b[:40], "truncated"),
        (lambda b: b[:5], "shorter than"),
        (lambda b: b[:8] + b"\xff" * (len(b) - 8), "not JSON"),
        (lambda b: b[: len(b) - 4], "outside"),
        (lambda b: b.replace(b'"F32"', b'"X99"', 1), "unsupported dtype"),
        (lambda b: b.replace(b"[6, 1, 5, 5]", b"[6, 1, 5, 4]", 1), "needs"),
        (lambda b: struct.pack("<Q", 2) + b"[]" + b[10:], "not a JSON object"),
        (lambda b: struct.pack("<Q", 20000) + b"[" * 10000 + b"]" * 10000, "not JSON"),
    ],
)
def test_a_damaged_safetensors_file_is_refused_naming_it(saved, tmp_path, damage, says):
    good = tmp_path / "good.safetensors"
    write_safetensors(good, tensors(saved))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(damage(good.read_bytes()))
    r = run(
        "check", LENET, ROOT / "specs" / "mnist_mlp.yaml", "--weights", bad, "--format=parsable"
    )
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert len(lines) == 2, lines  # every file checked, each told
    for line in lines:
        assert line.startswith(f"{bad}:1:1: error: cannot read the weights file")
        assert says in line, line
    r = run("verify", LENET, "--weights", bad)
    assert r.exit_code == 1 and "weights-unreadable" in r.stderr and says in r.stderr


def test_every_file_is_checked_when_one_fails(saved, tmp_path):
    np.savez(tmp_path / "w.npz", **tensors(saved))
    broken = tmp_path / "broken.yaml"
    broken.write_text("input: [1, 4]\nlayers:\n  - linear: {out_feature: 3}\n")
    r = run(
        "check", broken, LENET, ROOT / "specs" / "mnist_mlp.yaml", "--weights", tmp_path / "w.npz"
    )
    assert r.exit_code == 1
    assert "FAIL " + str(broken) in r.stdout and "ok   " + LENET in r.stdout
    assert "mnist_mlp.yaml:" in r.stdout and "weights-missing" in r.stdout


def test_a_pickle_is_refused_without_torch(tmp_path, no_package):
    pt = tmp_path / "model.pt"
    pt.write_bytes(b"\x80\x04not read at all")
    for command in ("check", "verify"):
        r = run(command, LENET, "--weights", pt)
        assert r.exit_code == 1, r.output
        assert "weights-unreadable" in r.output
        assert "layercalc[torch]" in r.output and "never unpickles" in r.output


def test_an_unknown_format_and_a_missing_file(tmp_path):
    (tmp_path / "w.h5").write_bytes(b"x")
    r = run("check", LENET, "--weights", tmp_path / "w.h5", "--format", "parsable")
    assert r.exit_code == 1 and "unknown format" in r.stdout and ".safetensors" in r.stdout
    r = run("check", LENET, "--weights", tmp_path / "none.safetensors", "--format", "parsable")
    assert r.exit_code == 1 and "No such file" in r.stdout


def test_verify_runs_on_the_weights_and_input_given(saved, tmp_path, no_package):
    write_safetensors(tmp_path / "w.safetensors", tensors(saved))
    np.save(tmp_path / "x.npy", saved["input"])
    out = tmp_path / "out.npz"
    r = run(
        "verify", LENET, "--weights", tmp_path / "w.safetensors",
        "--input-file", tmp_path / "x.npy", "--seed", 99, "--save", out,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        got = {k: z[k] for k in z.files}
    assert set(got) == set(saved)
    for k in saved:  # the seed no longer matters: the same arrays, the same output
        assert np.array_equal(got[k], saved[k]), k
    # the input from an npz, by key; float64
    r = run("verify", LENET, "--weights", tmp_path / "w.safetensors", "--input-file",
            out, "--dtype", "float64", "--save", tmp_path / "o64.npz")  # fmt: skip
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "o64.npz") as z:
        assert z["output"].dtype == np.float64
        np.testing.assert_allclose(z["output"], saved["output"], rtol=1e-4, atol=1e-6)


def test_half_precision_weights_are_widened(saved, tmp_path, no_package):
    t = tensors(saved)
    write_safetensors(tmp_path / "bf.safetensors", t, bf16=True)
    np.savez(tmp_path / "h.npz", **{k: v.astype(np.float16) for k, v in t.items()})
    for name, rounded in (
        (
            "bf.safetensors",
            {k: (v.view(np.uint32) & 0xFFFF0000).view(np.float32) for k, v in t.items()},
        ),
        ("h.npz", {k: v.astype(np.float16).astype(np.float32) for k, v in t.items()}),
    ):
        out = tmp_path / f"{name}.out.npz"
        r = run("verify", LENET, "--weights", tmp_path / name, "--save", out)
        assert r.exit_code == 0, r.output
        with np.load(out) as z:
            for k, v in rounded.items():
                assert z[k].dtype == np.float32 and np.array_equal(z[k], v), (name, k)


def test_verify_refuses_missing_tensors_and_runs_nothing(saved, tmp_path):
    t = tensors(saved)
    t["c3.weight"] = t["c3.weight"][:8]
    del t["f7.bias"]
    np.savez(tmp_path / "bad.npz", **t)
    out = tmp_path / "out.npz"
    r = run("verify", LENET, "--weights", tmp_path / "bad.npz", "--save", out)
    assert r.exit_code == 1
    assert (
        f"lenet5.yaml:{LENET_LINES['c3']}:5: error: " in r.stderr and "[weights-shape]" in r.stderr
    )
    assert "[8, 6, 5, 5]" in r.stderr and "[16, 6, 5, 5]" in r.stderr
    assert (
        f"lenet5.yaml:{LENET_LINES['f7']}:5: error: " in r.stderr
        and "[weights-missing]" in r.stderr
    )
    assert not out.exists()


def test_an_input_of_another_shape_is_a_located_error(saved, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 28, 28), np.float32))
    r = run("verify", LENET, "--input-file", tmp_path / "x.npy")
    assert r.exit_code == 1
    assert "lenet5.yaml:15:8: error: " in r.stderr and "[input-file]" in r.stderr
    assert "[1, 1, 32, 32]" in r.stderr and "[1, 1, 28, 28]" in r.stderr
    np.savez(tmp_path / "none.npz", other=np.zeros(3))
    r = run("verify", LENET, "--input-file", tmp_path / "none.npz")
    assert (
        r.exit_code == 1
        and "error: " in r.stderr
        and "[input-file]" in r.stderr
        and "'input'" in r.stderr
    )
    # --input makes the spec take the file's shape
    r = run("verify", LENET, "--input", "1,1,28,28", "--input-file", tmp_path / "x.npy")
    assert "[input-file]" not in r.output
    # a 0-d array: no `--input ` hint with nothing after it
    np.save(tmp_path / "scalar.npy", np.float32(1))
    r = run("verify", LENET, "--input-file", tmp_path / "scalar.npy")
    assert r.exit_code == 1 and "[1, 1, 32, 32] in the spec, []" in r.stderr
    assert "--input " not in r.stderr
    # a complex input: refused, not silently made real (PyTorch refuses it beside
    # real weights)
    np.save(tmp_path / "c.npy", np.zeros((1, 1, 32, 32), np.complex64))
    r = run("verify", LENET, "--input-file", tmp_path / "c.npy")
    assert r.exit_code == 1 and "'input' is complex (complex64)" in r.stderr, r.output
    assert "ComplexWarning" not in r.output


def test_named_inputs_come_from_an_npz(tmp_path):
    spec = tmp_path / "two.yaml"
    spec.write_text(
        "input: {a: [1, 4], b: [1, 4]}\n"
        "layers:\n"
        "  - linear: {name: fc, out_features: 4, from: a}\n"
        "  - add: {from: [fc, b]}\n"
    )
    a, b = np.ones((1, 4), np.float32), np.full((1, 4), 2.0, np.float32)
    np.savez(tmp_path / "in.npz", **{"input.a": a, "input.b": b})
    fc = {"fc.weight": np.eye(4, dtype=np.float32), "fc.bias": np.zeros(4, np.float32)}
    np.savez(tmp_path / "w.npz", **fc)
    out = tmp_path / "out.npz"
    r = run("verify", spec, "--weights", tmp_path / "w.npz", "--input-file", tmp_path / "in.npz",
            "--save", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        assert np.array_equal(z["output"], a + b)
    np.savez(tmp_path / "half.npz", **{"input.a": a})
    r = run("verify", spec, "--input-file", tmp_path / "half.npz")
    assert r.exit_code == 1 and "input 'b'" in r.stderr and "two.yaml:1:" in r.stderr


def test_a_flood_of_problems_is_cut_short(tmp_path):
    np.savez(tmp_path / "many.npz", **{f"x{i}": np.zeros(1) for i in range(150)})
    r = run("check", LENET, "--weights", tmp_path / "many.npz", "--format", "parsable")
    found = parsable(r)
    assert len(found) == 101 and found[-1][3] == "too-many-problems", found[-1]
    assert "60 more weights problems" in found[-1][4]  # 10 missing + 150 unexpected


def test_the_summary_says_what_was_given(saved, tmp_path):
    np.savez(tmp_path / "w.npz", **tensors(saved))
    np.save(tmp_path / "x.npy", saved["input"])
    r = run("verify", LENET, "--weights", tmp_path / "w.npz", "--seed", 5)
    assert r.exit_code == 0 and "given weights, seed 5" in r.stdout
    r = run("verify", LENET, "--weights", tmp_path / "w.npz", "--input-file", tmp_path / "x.npy")
    assert "given weights and input" in r.stdout and "seed" not in r.stdout.splitlines()[-2]
    data = json.loads(
        run("verify", LENET, "--weights", tmp_path / "w.npz", "--format", "json").stdout
    )
    assert (data["weights"], data["input"]) == ("given", "random")
    assert json.loads(run("verify", LENET, "--format", "json").stdout)["weights"] == "random"


def _shard(saved, tmp_path, corrupt=None) -> Path:
    """lenet5's tensors in two safetensors shards with Hugging Face's index beside them."""
    t = tensors(saved)
    keys = sorted(t)
    halves = {
        "model-00001-of-00002.safetensors": keys[:5],
        "model-00002-of-00002.safetensors": keys[5:],
    }
    for name, ks in halves.items():
        write_safetensors(tmp_path / name, {k: t[k] for k in ks})
    wmap = {k: name for name, ks in halves.items() for k in ks}
    if corrupt:
        corrupt(wmap)
    index = tmp_path / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": 0}, "weight_map": wmap}))
    return index


def test_a_sharded_checkpoint_is_checked_through_its_index(saved, tmp_path, no_package):
    index = _shard(saved, tmp_path)
    r = run("check", LENET, "--weights", index)
    assert r.exit_code == 0, r.output
    got = w.load(str(index))
    assert set(got) == set(tensors(saved))
    assert all(np.array_equal(got[k], v) for k, v in tensors(saved).items())
    assert w.shapes(str(index)) == {k: v.shape for k, v in tensors(saved).items()}
    # verify runs on the shards' tensors: the saved output comes back
    out = tmp_path / "again.npz"
    r = run(
        "verify", LENET, "--weights", index, "--input-file", _input(saved, tmp_path), "--save", out
    )
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        assert np.allclose(z["output"], saved["output"], rtol=1e-5, atol=1e-6)


def _input(saved, tmp_path) -> Path:
    path = tmp_path / "x.npy"
    np.save(path, saved["input"])
    return path


def test_a_shard_missing_a_key_its_index_names_is_refused(saved, tmp_path):
    def misplace(wmap):
        wmap[sorted(wmap)[0]] = "model-00002-of-00002.safetensors"

    r = run("check", LENET, "--weights", _shard(saved, tmp_path, misplace))
    assert r.exit_code == 1
    assert "model-00002-of-00002.safetensors', which does not hold it" in r.stdout + r.stderr


@pytest.mark.parametrize(
    "target, says",
    [
        ("../elsewhere.safetensors", "not a file name beside it"),
        ("absent.safetensors", "shard 'absent.safetensors'"),
    ],
)
def test_an_index_naming_a_path_or_an_absent_shard_is_refused(saved, tmp_path, target, says):
    def redirect(wmap):
        wmap[sorted(wmap)[0]] = target

    r = run("check", LENET, "--weights", _shard(saved, tmp_path, redirect))
    assert r.exit_code == 1 and says in r.stdout + r.stderr
    assert "Traceback" not in r.output


def test_an_npz_member_that_is_no_array_is_refused_not_a_traceback(tmp_path):
    import zipfile

    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("c1.weight.npy", b"hello")
    r = run("check", LENET, "--weights", bad)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "weights-unreadable" in r.stdout + r.stderr


def test_a_prefix_that_makes_two_keys_one_is_refused(saved, tmp_path):
    """`module.fc.bias` and a stray `fc.bias` both became `fc.bias` under --strip-prefix
    module., and one silently replaced the other (the run passed, 100 off)."""
    wrapped = {f"module.{k}": v for k, v in tensors(saved).items()}
    wrapped["f7.bias"] = np.full(10, 100, np.float32)
    path = tmp_path / "collide.npz"
    np.savez(path, **wrapped)
    for command in ("check", "verify"):
        r = run(command, LENET, "--weights", path, "--strip-prefix", "module.")
        assert r.exit_code == 1, r.output
        assert "'module.f7.bias' and 'f7.bias' both become 'f7.bias'" in r.output, r.output
        assert "[weights-unreadable]" in r.output


def test_an_npz_is_compared_from_its_headers_before_it_is_inflated(saved, tmp_path):
    """A 1 MB archive whose f7.bias member inflates to 1 GiB of zeros: refused as
    mis-shaped from the .npy header, in bounded memory (it took 4.2 GB and 37 s)."""
    import io
    import subprocess
    import sys
    import zipfile

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in tensors(saved).items():
            if k != "f7.bias":
                buf = io.BytesIO()
                np.save(buf, v)
                z.writestr(k + ".npy", buf.getvalue())
                continue
            with z.open(k + ".npy", "w", force_zip64=True) as fh:  # streamed: no 1 GiB here
                header = {"descr": "<f4", "fortran_order": False, "shape": (2**28,)}
                np.lib.format.write_array_header_1_0(fh, header)
                zeros = bytes(1 << 24)
                for _ in range(2**30 // len(zeros)):
                    fh.write(zeros)
    assert path.stat().st_size < 4 << 20
    # an intermediate interpreter: RUSAGE_CHILDREN is then the command's process alone
    probe = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run([sys.executable, '-m', 'layercalc', *sys.argv[1:]],\n"
        "                   capture_output=True, text=True, timeout=120)\n"
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "print(p.stdout + p.stderr)\n"
    )
    for command in ("check", "verify"):
        out = subprocess.run(
            [sys.executable, "-c", probe, command, LENET, "--weights", str(path)],
            capture_output=True,
            text=True,
            timeout=150,
            env=dict(
                os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
            ),
        )
        status, peak = out.stdout.splitlines()[0].split()
        assert status == "1" and "[weights-shape]" in out.stdout, out.stdout + out.stderr
        assert "[268435456]" in out.stdout
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS
        assert int(peak) * scale < 400 << 20, peak  # a 1 GiB array was never made
