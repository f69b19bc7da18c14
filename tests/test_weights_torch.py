"""`--weights` against PyTorch itself (issue 16): torchvision's ResNet-50 state_dict,
saved with safetensors.torch, passes `check --weights` on specs/resnet50.yaml and fails
on a copy with one channel changed; `verify --weights` of a torch.save'd twin
reproduces torch's output from the same --input-file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import cli_runner

from layercalc.cli import main

torch = pytest.importorskip("torch")
from torch_models import MODELS  # noqa: E402 - only once torch is known to be there

pytestmark = pytest.mark.torch
SPECS = Path(__file__).resolve().parent.parent / "specs"


def run(*args):
    return cli_runner(env={"NO_COLOR": "1"}).invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def resnet50_weights(tmp_path_factory) -> Path:
    torchvision = pytest.importorskip("torchvision")
    st = pytest.importorskip("safetensors.torch")
    path = tmp_path_factory.mktemp("r50") / "resnet50.safetensors"
    model = torchvision.models.resnet50(weights=None)
    st.save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def test_torchvision_resnet50_passes(resnet50_weights):
    r = run("check", SPECS / "resnet50.yaml", "--weights", resnet50_weights)
    assert r.exit_code == 0, r.output
    assert "all passed" in r.stdout


def test_one_channel_changed_is_named_at_its_line(resnet50_weights, tmp_path):
    text = (SPECS / "resnet50.yaml").read_text()
    old = "- conv2d: {name: conv1, out_channels: 64, kernel_size: 7"
    assert text.count(old) == 1
    line = text[: text.index(old)].count("\n") + 1
    spec = tmp_path / "resnet50.yaml"
    spec.write_text(text.replace(old, old.replace("64", "32")))
    r = run("check", spec, "--weights", resnet50_weights, "--format", "parsable")
    assert r.exit_code == 1
    found = [x for x in r.stdout.splitlines() if "[weights-" in x]
    first = found[0]
    assert (
        "error: " in r.stdout and "[expect-params]" in r.stdout
    )  # the expectations still speak too
    assert (
        first.startswith(f"{spec}:{line}:") and "error: " in first and "[weights-shape]" in first
    ), first
    assert "'conv1.weight' is [64, 3, 7, 7]" in first and "gives [32, 3, 7, 7]" in first
    assert "'bn1.running_mean' is [64]" in r.stdout  # the layers it feeds follow
    assert "weights-missing" not in r.stdout and "weights-unexpected" not in r.stdout


def _randomized(model):
    """A twin with non-trivial batch-norm statistics, in eval mode."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.num_batches_tracked.fill_(7)
    return model.eval()


@pytest.mark.parametrize(
    "name, shape, wrap",
    [
        ("lenet5", (1, 1, 32, 32), None),
        ("lenet5", (1, 1, 32, 32), "state_dict"),
        ("resnet18", (1, 3, 64, 64), "model"),
    ],
)
def test_verify_reproduces_torch_from_a_pt_file(tmp_path, name, shape, wrap):
    torch.manual_seed(0)
    model = _randomized(MODELS[name]())
    x = torch.randn(shape)
    with torch.no_grad():
        expected = model(x).numpy()
    sd = model.state_dict()
    torch.save(sd if wrap is None else {wrap: sd, "epoch": 3}, tmp_path / "m.pt")
    np.save(tmp_path / "x.npy", x.numpy())
    out = tmp_path / "out.npz"
    args = ["--input", ",".join(map(str, shape))]
    r = run(
        "verify", SPECS / f"{name}.yaml", *args, "--weights", tmp_path / "m.pt",
        "--input-file", tmp_path / "x.npy", "--save", out,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        np.testing.assert_allclose(z["output"], expected, rtol=1e-4, atol=1e-5)
        assert np.array_equal(z["input"], x.numpy())
        for k, v in sd.items():  # the real weights are what --save holds
            assert np.array_equal(z[k], v.numpy()), k


class Thing:
    """Any class: torch.load(weights_only=True) unpickles none."""


def test_a_pickle_with_more_than_tensors_is_refused(tmp_path):
    torch.save({"w": Thing()}, tmp_path / "evil.pt")
    r = run("check", SPECS / "lenet5.yaml", "--weights", tmp_path / "evil.pt")
    assert r.exit_code == 1
    assert "weights-unreadable" in r.stdout and "weights_only=True" in r.stdout


def test_a_bfloat16_checkpoint_through_torch(tmp_path):
    torch.manual_seed(0)
    model = MODELS["lenet5"]().eval()
    sd = {k: v.to(torch.bfloat16) for k, v in model.state_dict().items()}
    torch.save(sd, tmp_path / "bf.pt")
    out = tmp_path / "out.npz"
    r = run("verify", SPECS / "lenet5.yaml", "--weights", tmp_path / "bf.pt", "--save", out)
    assert r.exit_code == 0, r.output
    with np.load(out) as z:
        for k, v in sd.items():
            assert np.array_equal(z[k], v.float().numpy()), k


class _Evil:  # pickled by reference: loading it would call os.system
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


SMALL = "input: [1, 4]\nlayers:\n  - linear: {name: fc, out_features: 3}\n"


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda p: torch.save({"fc.weight": _Evil()}, p), "it pickles posix.system"),
        (lambda p: p.write_bytes(b"\x80\x02n" + bytes(64)), "it is no PyTorch checkpoint"),
        (lambda p: torch.save(torch.nn.Linear(4, 3), p), "it pickles a torch.nn.modules"),
        (
            lambda p: (torch.save({"fc.weight": torch.zeros(3, 4)}, p), _truncate(p)),
            "the file is damaged or truncated",
        ),
        (
            lambda p: torch.save({"fc.weight": torch.zeros(3, 4, dtype=torch.float8_e4m3fn)}, p),
            "'fc.weight' is torch.float8_e4m3fn, which NumPy cannot hold",
        ),
        (
            lambda p: torch.save({"fc.weight": torch.zeros(3, 4), "fc.bias": 0}, p),
            "'fc.bias' is a Python int, not a tensor",
        ),
        (
            lambda p: torch.save({"fc.weight": torch.zeros(3, 4, dtype=torch.complex64)}, p),
            "'fc.weight' is complex (complex64)",
        ),
    ],
)
def test_a_checkpoint_torch_refuses_says_what_it_holds_not_torchs_advice(tmp_path, make, says):
    """torch.load's refusal passed on its advice to load with weights_only=False (which
    layercalc never does) and its terminal escapes; now what the file holds is said."""
    spec, path = tmp_path / "s.yaml", tmp_path / "w.pt"
    spec.write_text(SMALL)
    make(path)
    r = run("verify", spec, "--weights", path)
    assert r.exit_code == 1 and says in r.output, r.output
    assert "[weights-unreadable]" in r.output and "weights_only` set to `False`" not in r.output
    assert "\x1b" not in r.output and "\\x1b" not in r.output and "pwned" not in r.output


def _truncate(p):
    p.write_bytes(p.read_bytes()[:100])
