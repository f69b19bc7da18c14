"""Hostile targets of `verify --save` and of layercalc.outfile.write_atomic (issue 12):
symbolic links, modes, the umask, devices, pipes, directories, a full disk, and every
signal that would end the process (SIGTERM, SIGHUP, SIGQUIT, SIGALRM, ...); then verify's refusal of arrays above NumPy's rank limit, and its warning when
values stop being finite."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import cli_runner

from layercalc import outfile
from layercalc.cli import main
from layercalc.outfile import OutputError, write_atomic
from layercalc.analyses.verify import _nonfinite, numpy_max_rank

ROOT = Path(__file__).resolve().parent.parent
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

SPEC = """\
input: [1, 4]
layers:
  - linear: {name: fc, out_features: 3}
"""


def invoke(*args):
    return cli_runner().invoke(main, ["verify", *map(str, args)], catch_exceptions=False)


@pytest.fixture
def spec(tmp_path):
    p = tmp_path / "spec" / "t.yaml"
    p.parent.mkdir()
    p.write_text(SPEC)
    return p


def temp_files(*dirs):
    return [f for d in dirs for f in os.listdir(d) if f.startswith(outfile.TEMP_PREFIX)]


def load(path) -> dict:
    with np.load(path) as data:
        return {k: data[k] for k in data}


def assert_saved(path):
    data = load(path)
    assert sorted(data) == ["fc.bias", "fc.weight", "input", "output"]
    assert data["output"].shape == (1, 3)


@pytest.fixture
def umask():
    """Set the process umask for one test, then put the old one back."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


# -- symbolic links, modes, the umask ---------------------------------------------------------


def test_symlink_is_followed_and_kept(spec, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "real.npz"
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = tmp_path / "link.npz"
    link.symlink_to(os.path.relpath(target, tmp_path))
    r = invoke(spec, "--save", link)
    assert r.exit_code == 0, r.output
    assert link.is_symlink() and os.readlink(link) == os.path.relpath(target, tmp_path)
    assert stat.S_ISREG(os.lstat(target).st_mode)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert_saved(link)
    assert_saved(target)
    assert not temp_files(tmp_path, elsewhere)


def test_dangling_symlink_creates_its_target(spec, tmp_path):
    link = tmp_path / "link.npz"
    link.symlink_to("made.npz")
    assert invoke(spec, "--save", link).exit_code == 0
    assert link.is_symlink()
    assert_saved(tmp_path / "made.npz")


def test_chain_of_symlinks(spec, tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("c.npz")
    (tmp_path / "c.npz").write_bytes(b"old")
    assert invoke(spec, "--save", tmp_path / "a").exit_code == 0
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()
    assert_saved(tmp_path / "c.npz")


@pytest.mark.parametrize("mode", [0o644, 0o600, 0o664, 0o604, 0o755])
def test_existing_file_keeps_its_mode(spec, tmp_path, umask, mode):
    umask(0o077)  # would give 0600 to a new file: the old mode must win
    target = tmp_path / "out.npz"
    target.write_bytes(b"old")
    target.chmod(mode)
    assert invoke(spec, "--save", target).exit_code == 0
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert_saved(target)


@pytest.mark.skipif(not IS_ROOT, reason="giving a file away needs root")
def test_existing_file_keeps_its_owner(spec, tmp_path):
    target = tmp_path / "out.npz"
    target.write_bytes(b"old")
    os.chown(target, 4321, 4322)
    assert invoke(spec, "--save", target).exit_code == 0
    st = target.stat()
    assert (st.st_uid, st.st_gid) == (4321, 4322)
    assert_saved(target)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o027, 0o077])
def test_new_file_gets_the_umask_mode(spec, tmp_path, umask, mask):
    umask(mask)
    target = tmp_path / "new.npz"
    assert invoke(spec, "--save", target).exit_code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


# -- targets that are not regular files ------------------------------------------------------


def _fifo(path):
    os.mkfifo(path)


def _chardev(path):  # what /dev/null is: character device 1:3
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, AttributeError):
        pytest.skip("creating a device node needs CAP_MKNOD")


def _directory(path):
    os.mkdir(path)


def _socket(path):
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()


@pytest.mark.parametrize(
    "make, kind",
    [
        (_fifo, "a named pipe (FIFO)"),
        (_chardev, "a character device"),
        (_directory, "a directory"),
        (_socket, "a socket"),
    ],
    ids=["fifo", "chardev", "dir", "socket"],
)
@pytest.mark.parametrize("via_link", [False, True], ids=["direct", "symlink"])
def test_non_regular_target_is_refused(spec, tmp_path, make, kind, via_link):
    target = tmp_path / "target"
    make(target)
    before = os.lstat(target)
    path = target
    if via_link:
        path = tmp_path / "link.npz"
        path.symlink_to("target")
    r = invoke(spec, "--save", path)
    assert r.exit_code == 1, r.output
    assert (
        f"{spec}:1:1: error: cannot write --save {path}: it is {kind}, "
        "not a regular file" in r.output
    )
    assert "\n    hint: give the name of a new or existing regular file" in r.output
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino, after.st_rdev) == (
        before.st_mode,
        before.st_ino,
        before.st_rdev,
    )
    if via_link:
        assert path.is_symlink()
    assert not temp_files(tmp_path)


def test_refusal_comes_before_the_run(spec, tmp_path, monkeypatch):
    import layercalc.analyses.verify as core

    def no_run(*a, **kw):
        raise AssertionError("verify ran although --save was refused")

    monkeypatch.setattr(core, "run", no_run)
    os.mkfifo(tmp_path / "p")
    assert invoke(spec, "--save", tmp_path / "p").exit_code == 1


@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_real_devices_are_refused(spec, device, monkeypatch):
    if not os.path.exists(device) or not stat.S_ISCHR(os.stat(device).st_mode):
        pytest.skip(f"no {device}")
    before = os.stat(device)

    def guard(*a, **kw):  # a regression must fail this test, never replace the device
        raise AssertionError(f"os.replace{a} reached while saving to {device}")

    monkeypatch.setattr(os, "replace", guard)
    r = invoke(spec, "--save", device)
    assert r.exit_code == 1, r.output
    assert f"error: cannot write --save {device}: it is a character device" in r.output
    after = os.stat(device)
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_refusal_in_json(spec, tmp_path):
    os.mkdir(tmp_path / "d")
    r = invoke(spec, "--save", tmp_path / "d", "--format", "json")
    assert r.exit_code == 1
    payload = json.loads(r.stdout)
    [error] = payload["errors"]
    assert (error["code"], error["line"], error["column"]) == ("unwritable", 1, 1)
    assert "it is a directory" in error["message"] and error["hint"]


@pytest.mark.parametrize(
    "name, reason",
    [
        ("missing/out.npz", "the directory '{tmp}/missing' does not exist"),
        ("file.txt/out.npz", "'{tmp}/file.txt' is not a directory"),
    ],
    ids=["missing-directory", "file-as-directory"],
)
def test_bad_directories(spec, tmp_path, name, reason):
    (tmp_path / "file.txt").write_text("x")
    r = invoke(spec, "--save", tmp_path / name)
    assert r.exit_code == 1, r.output
    assert reason.format(tmp=tmp_path) in r.output
    assert "error: " in r.output and "[unwritable]" in r.output and "Traceback" not in r.output


def test_symlink_loop(spec, tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    r = invoke(spec, "--save", tmp_path / "a")
    assert r.exit_code == 1
    assert "loop of symbolic links" in r.output


@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only directories")
def test_read_only_directory(spec, tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    try:
        r = invoke(spec, "--save", d / "out.npz")
    finally:
        d.chmod(0o755)
    assert r.exit_code == 1
    assert "permission denied in the directory" in r.output
    assert not os.listdir(d)


def test_read_only_directory_simulated(spec, tmp_path, monkeypatch):
    """As root (CI containers) a 0555 directory is still writable: simulate EACCES."""

    def denied(*a, **kw):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(outfile, "_create_temp", denied)
    r = invoke(spec, "--save", tmp_path / "out.npz")
    assert r.exit_code == 1
    assert (
        f"cannot write --save {tmp_path / 'out.npz'}: permission denied in the "
        f"directory '{tmp_path}'" in r.output
    )
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.skipif(IS_ROOT, reason="root may write read-only files")
def test_read_only_file(spec, tmp_path):
    target = tmp_path / "out.npz"
    target.write_bytes(b"old")
    target.chmod(0o444)
    r = invoke(spec, "--save", target)
    assert r.exit_code == 1 and "read-only" in r.output
    assert target.read_bytes() == b"old"


# -- failures while writing: a full disk, errors, interrupts ----------------------------------


def _enospc(*a, **kw):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("stage", ["write", "fsync", "replace"])
def test_full_disk_is_an_error(spec, tmp_path, monkeypatch, stage):
    target = tmp_path / "out.npz"
    target.write_bytes(b"old")
    if stage == "write":

        def savez(fh, **arrays):
            fh.write(b"x" * 4096)
            _enospc()

        monkeypatch.setattr(np, "savez", savez)
    else:
        monkeypatch.setattr(outfile.os, stage, _enospc)
    r = invoke(spec, "--save", target)
    assert r.exit_code == 1, r.output
    assert (
        "error: " in r.output
        and "[unwritable]" in r.output
        and "no space left on the device" in r.output
    )
    assert "hint: free some space" in r.output
    assert target.read_bytes() == b"old"
    assert not temp_files(tmp_path)


def test_other_os_errors_are_reported(spec, tmp_path, monkeypatch):
    def eio(*a, **kw):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(np, "savez", eio)
    r = invoke(spec, "--save", tmp_path / "out.npz")
    assert r.exit_code == 1
    assert os.strerror(errno.EIO) in r.output
    assert not temp_files(tmp_path) and not (tmp_path / "out.npz").exists()


def test_full_dev_full_cannot_be_written_either(tmp_path):
    """/dev/full is a character device: refused before anything is written."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with pytest.raises(OutputError, match="character device"):
        outfile.check_target("/dev/full")


@pytest.mark.parametrize(
    "exc", [ValueError("bug"), KeyboardInterrupt()], ids=["exception", "ctrl-c"]
)
def test_any_failure_removes_the_temporary_file(tmp_path, exc):
    def write(fh):
        fh.write(b"partial")
        assert temp_files(tmp_path)  # the temporary file exists while writing
        raise exc

    with pytest.raises(type(exc)):
        write_atomic(tmp_path / "out.bin", write)
    assert not temp_files(tmp_path) and not (tmp_path / "out.bin").exists()


def test_write_atomic_returns_the_real_path(tmp_path):
    (tmp_path / "l").symlink_to("r.bin")
    assert write_atomic(tmp_path / "l", lambda fh: fh.write(b"ok")) == str(tmp_path / "r.bin")
    assert (tmp_path / "r.bin").read_bytes() == b"ok"


def test_write_atomic_rechecks_the_target(tmp_path):
    os.mkfifo(tmp_path / "p")
    with pytest.raises(OutputError, match="named pipe"):
        write_atomic(tmp_path / "p", lambda fh: fh.write(b"x"))
    assert stat.S_ISFIFO(os.lstat(tmp_path / "p").st_mode)


# -- signals ------------------------------------------------------------------------------

CATCHABLE = [
    getattr(signal, n)
    for n in (
        "SIGTERM",
        "SIGHUP",
        "SIGQUIT",
        "SIGALRM",
        "SIGUSR1",
        "SIGUSR2",
        "SIGXCPU",
        "SIGVTALRM",
        "SIGPROF",
    )
    if hasattr(signal, n)
]  # SIGXFSZ: Python starts it ignored


def test_every_terminating_signal_is_handled():
    assert set(CATCHABLE) <= set(outfile.CLEANUP_SIGNALS)


def test_handlers_are_restored_and_ignored_and_custom_ones_left_alone(tmp_path):
    def mine(signum, frame):
        pass

    old_term = signal.signal(signal.SIGTERM, mine)
    old_hup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    old_quit = signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    seen = {}
    try:

        def write(fh):
            seen["term"] = signal.getsignal(signal.SIGTERM)
            seen["hup"] = signal.getsignal(signal.SIGHUP)
            seen["quit"] = signal.getsignal(signal.SIGQUIT)
            fh.write(b"x")

        write_atomic(tmp_path / "out.bin", write)
        assert seen["term"] is mine  # a program's own handler stays in place
        assert seen["hup"] is signal.SIG_IGN  # nohup stays nohup
        assert seen["quit"] not in (signal.SIG_DFL, signal.SIG_IGN)  # ours, during the write
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGQUIT) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGHUP, old_hup)
        signal.signal(signal.SIGQUIT, old_quit)


def test_a_custom_handler_that_raises_still_cleans_up(tmp_path):
    def mine(signum, frame):
        raise SystemExit(3)

    def write(fh):
        fh.write(b"partial")
        os.kill(os.getpid(), signal.SIGUSR1)
        for _ in range(10_000):
            fh.write(b"more")

    old = signal.signal(signal.SIGUSR1, mine)
    try:
        with pytest.raises(SystemExit) as info:
            write_atomic(tmp_path / "out.bin", write)
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert info.value.code == 3
    assert not temp_files(tmp_path) and not (tmp_path / "out.bin").exists()


@pytest.mark.parametrize("sig", CATCHABLE, ids=lambda s: signal.Signals(s).name)
def test_signal_in_process_removes_the_temporary_file(tmp_path, sig):
    def write(fh):
        fh.write(b"partial")
        assert temp_files(tmp_path)
        # without a handler of write_atomic's the signal would end pytest itself
        assert signal.getsignal(sig) is not signal.SIG_DFL, "no cleanup handler installed"
        os.kill(os.getpid(), sig)
        for _ in range(10_000):  # the handler runs at the next bytecode boundary
            fh.write(b"more")

    old = signal.signal(sig, signal.SIG_DFL)
    try:
        with pytest.raises(SystemExit) as info:
            write_atomic(tmp_path / "out.bin", write)
        restored = signal.getsignal(sig)
    finally:
        signal.signal(sig, old)
    assert info.value.code == 128 + sig
    assert restored is signal.SIG_DFL
    assert not temp_files(tmp_path) and not (tmp_path / "out.bin").exists()


CHILD = textwrap.dedent("""\
    import sys, time
    import numpy as np

    def slow_savez(fh, **arrays):
        fh.write(b"x" * 65536)
        fh.flush()
        print("writing", flush=True)
        while True:
            time.sleep(0.01)

    np.savez = slow_savez
    from layercalc.cli.entry import main  # the executable's own entry point
    main(["verify", sys.argv[1], "--save", sys.argv[2]])
    """)


@pytest.mark.parametrize("sig", [*CATCHABLE, signal.SIGINT], ids=lambda s: signal.Signals(s).name)
def test_signal_during_a_slow_save_leaves_no_temporary_file(spec, tmp_path, sig):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "w.npz"
    target.write_bytes(b"old")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(spec), str(target)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()  # blocks until the child is inside the write
        assert line == "writing\n", child.stderr.read()
        assert temp_files(out), "the child should be writing a temporary file"
        child.send_signal(sig)
        code = child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    if sig != signal.SIGINT:
        assert code == 128 + sig
    assert not temp_files(out)
    assert target.read_bytes() == b"old"


# -- NumPy's rank limit ---------------------------------------------------------------------


def _ones(n):
    return "[" + ", ".join(["1"] * n) + "]"


def test_input_rank_above_the_limit_is_refused_by_verify_only(tmp_path):
    limit = numpy_max_rank()  # 64 on NumPy 2, 32 on NumPy 1 (pyproject's floor is 1.24)
    p = tmp_path / "r.yaml"
    p.write_text(f"input: {_ones(limit + 1)}\nlayers:\n  - relu\n")
    r = invoke(p)
    assert r.exit_code == 1, r.output
    assert (
        f"{p}:1:8: error: the input has {limit + 1} dimensions, more than the {limit}"
    ) in r.output
    assert "Traceback" not in r.output
    for command in ("shape", "params"):
        r = cli_runner().invoke(main, [command, str(p)], catch_exceptions=False)
        assert r.exit_code == 0, r.output
    r = invoke(p, "--format", "json")
    assert r.exit_code == 1
    [error] = json.loads(r.stdout)["errors"]
    assert (error["code"], error["line"], error["column"]) == ("rank-limit", 1, 8)


def test_rank_at_the_limit_still_runs(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text(f"input: {_ones(numpy_max_rank())}\nlayers:\n  - relu\n")
    r = invoke(p)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    "layer",
    [
        "unflatten: {dim: 1, unflattened_size: " + _ones(63)[:-1] + ", 4]}",
        "reshape: {shape: " + _ones(64)[:-1] + ", 4]}",
    ],
    ids=["unflatten", "reshape"],
)
def test_layer_output_rank_above_the_limit_is_refused_at_its_line(tmp_path, layer):
    p = tmp_path / "r.yaml"
    p.write_text(f"input: [1, 4]\nlayers:\n  - relu\n  - {layer}\n  - relu\n")
    r = invoke(p)
    assert r.exit_code == 1, r.output
    assert f"{p}:4:5: error: layer '1' (" in r.output
    assert "its output has 65 dimensions" in r.output
    assert "Traceback" not in r.output


# -- values that stop being finite -----------------------------------------------------------

OVERFLOW = """\
input: [1, 4]
layers:
  - constant_pad1d: {padding: 1, value: 1e18}
  - linear: {out_features: 3}
  - mul: {name: big, from: [1, 1, 1, 1, 1]}
  - layer_norm
"""


def test_non_finite_output_is_a_warning_at_the_first_layer(tmp_path):
    p = tmp_path / "n.yaml"
    p.write_text(OVERFLOW)
    r = invoke(p)
    assert r.exit_code == 0, r.output
    assert (
        f"{p}:5:5: warning: layer 'big' (mul) is the first whose output is not finite" in r.stderr
    )
    assert "\n    hint: " in r.stderr
    assert "all 4 layers agree" in r.stdout
    r = invoke(p, "--format", "json")
    assert r.exit_code == 0
    payload = json.loads(r.stdout)
    [warning] = payload["warnings"]
    assert (warning["code"], warning["line"], warning["column"], warning["severity"]) == (
        "non-finite",
        5,
        5,
        "warning",
    )
    assert "'big'" in warning["message"] and "errors" not in payload


def test_finite_run_has_no_warning(spec):
    r = invoke(spec, "--format", "json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["warnings"] == []
    r = invoke(spec)
    assert r.exit_code == 0 and "warning[" not in r.output and not r.stderr


@pytest.mark.parametrize(
    "values, expected",
    [
        ([1.0, 2.0], None),
        ([np.nan, np.nan], "is all NaN"),
        ([1.0, np.nan], "contains NaN"),
        ([np.nan, np.inf], "contains NaN"),
        ([1.0, np.inf], "contains infinite values"),
        ([-np.inf, 0.0], "contains infinite values"),
    ],
    ids=["finite", "all-nan", "some-nan", "nan-and-inf", "inf", "minus-inf"],
)
def test_nonfinite_classifies(values, expected):
    for dtype in (np.float32, np.float64):
        y = np.array(values, dtype=dtype).reshape(1, 2, 1)
        assert _nonfinite(np, y) == expected
        assert _nonfinite(np, y.transpose(2, 1, 0)[:, ::-1]) == expected  # not contiguous
    assert _nonfinite(np, np.array([1, 2], dtype=np.int64)) is None
    assert _nonfinite(np, np.zeros((0, 3), dtype=np.float32)) is None


@pytest.mark.parametrize("role", ["weights", "input", "shard", "indexed"])
def test_save_never_replaces_what_it_reads(tmp_path, role):
    """`--save victim.pt --weights victim.pt` replaced the user's checkpoint by an npz
    (and `--input-file x.npy --save x.npy` the input): refused as unwritable, the file
    untouched, as for the spec itself."""
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    first = tmp_path / "first.npz"
    assert invoke(spec, "--save", first).exit_code == 0
    arrays = dict(np.load(first))
    if role == "input":
        victim = tmp_path / "x.npy"
        np.save(victim, arrays["input"])
        args = ["--input-file", victim]
    else:
        folder = tmp_path / "ckpt"
        folder.mkdir()
        tensors = {k: v for k, v in arrays.items() if k.startswith("fc.")}
        if role == "shard":  # a checkpoint directory: its model.safetensors
            victim = folder / "model.safetensors"
            header, at, data = {}, 0, b""
            for k, v in tensors.items():
                raw = v.astype("<f4").tobytes()
                header[k] = {
                    "dtype": "F32",
                    "shape": list(v.shape),
                    "data_offsets": [at, at + len(raw)],
                }
                at, data = at + len(raw), data + raw
            head = json.dumps(header).encode()
            victim.write_bytes(len(head).to_bytes(8, "little") + head + data)
        else:
            victim = folder / "w.npz"
            np.savez(victim, **tensors)
        args = ["--weights", folder if role == "shard" else victim]
        if role == "indexed":  # an index naming the shard: the shard is read too
            index = folder / "w.index.json"
            index.write_text(json.dumps({"weight_map": dict.fromkeys(tensors, "w.npz")}))
            args = ["--weights", index]
    before = victim.read_bytes()
    r = invoke(spec, *args, "--save", victim)
    assert r.exit_code == 1 and "[unwritable]" in r.output, r.output
    assert "which is being read" in r.output and "never overwritten" in r.output
    assert victim.read_bytes() == before
