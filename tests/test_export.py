"""`layercalc export --to torch` without torch: the files it writes compile, hold
layercalc's names, apply --set and --input, pass ruff; -o writes atomically; a layer the
exporter cannot express is a located error (exit 1), never a different model. The
exported models are run against verify in test_export_torch.py."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import cli_runner

from layercalc.cli import main
from layercalc.export import ExportError, to_source
from layercalc.export import torch as export_torch
from layercalc.layers import REGISTRY
from layercalc.layers.base import RankPicked

SPECS = Path(__file__).resolve().parent.parent / "specs"


def export(*args, **kw):
    return cli_runner().invoke(main, ["export", *map(str, args)], catch_exceptions=False, **kw)


def _write(tmp_path, text, name="net.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    "name, expected",
    [
        (
            "resnet18",
            [
                "class BasicDown(Group):",
                'self.layer1.add_module("0", Basic(channels=64))',
                'self.layer2.add_module("0", BasicDown(channels=128, in_channels=64))',
                "self.downsample = nn.Sequential(",
            ],
        ),
        ("mnist_mlp", ["self.fc1 = nn.Linear(in_features=784, out_features=512)"]),
        (
            "gpt2_small",
            ["self.lm_head.weight = self.transformer.wte.weight", "F.scaled_dot_product"],
        ),
        ("transformer_classifier", ["nn.MultiheadAttention(256, 8", "key_padding_mask=padding"]),
        ("lstm_text_classifier", ["nn.LSTM(", "lstm, (_, _) = self.lstm(embedding)"]),
        (
            "convnext_tiny",
            ["class LayerNorm2d(nn.LayerNorm)", "class StochasticDepth", "layer_scale"],
        ),
        ("vit_b_16", ["self.class_token = nn.Parameter(", ".expand((1, -1, -1))"]),
        ("shufflenet_v2_x1_0", ["torch.chunk(", "torch.cat(["]),
    ],
)
def test_export_compiles_with_layercalcs_names(name, expected):
    r = export(SPECS / f"{name}.yaml")
    assert r.exit_code == 0, r.output
    source = r.stdout
    compile(source, f"{name}.py", "exec")
    assert source.startswith('"""')
    assert f"exported by layercalc from {SPECS / name}.yaml" in source.splitlines()[0]
    assert "\ndef build():\n" in source
    assert "import torch" in source or "from torch import nn" in source
    for text in expected:
        assert text in source, text
    # nothing but torch is imported
    imports = {
        line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))
    }
    assert imports <= {"torch", "torch.nn"}


def test_every_layer_type_exports():
    """Every concrete registry type has a torch form (names without a dimension, such as
    `conv`, resolve to a concrete type before export)."""
    missing = [
        name
        for name, lt in REGISTRY.canonical.items()
        if not isinstance(lt, RankPicked) and not export_torch.supported(lt)
    ]
    assert not missing


def test_shared_module_is_built_once_and_called_again():
    r = export(SPECS / "resnet152.yaml")
    assert r.exit_code == 0, r.output
    src = r.stdout
    # torchvision's Bottleneck calls its one relu three times (class Bottleneck: every
    # block of layer1 ... layer4 is one)
    bottleneck = src.split("class Bottleneck(Group):")[1].split("\nclass ")[0]
    assert bottleneck.count("self.relu = nn.ReLU()") == 1
    assert bottleneck.count("= self.relu(") == 3
    assert "relu_2 = self.relu(bn2)" in bottleneck


def test_set_and_input_are_applied(tmp_path):
    r = export(SPECS / "dcgan_discriminator.yaml", "--set", "ndf=8", "--input", "2,3,64,64")
    assert r.exit_code == 0, r.output
    assert 'VARS = {"nc": 3, "ndf": 8}' in r.stdout
    assert 'INPUTS = {"input": [2, 3, 64, 64]}' in r.stdout
    assert "nn.Conv2d(in_channels=3, out_channels=8," in r.stdout
    assert "out_channels=64" in r.stdout and "out_channels=128" not in r.stdout


def test_output_file_is_written_atomically(tmp_path):
    out = tmp_path / "model.py"
    out.write_text("old")
    r = export(SPECS / "lenet5.yaml", "-o", out)
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    assert out.read_text() == to_source_of("lenet5")
    assert sorted(os.listdir(tmp_path)) == ["model.py"]  # no temporary file left


def to_source_of(name):
    from layercalc.analyses.loading import analyse

    r = analyse(str(SPECS / f"{name}.yaml"))
    return to_source(r.net, "torch", r.file)


def test_output_to_a_directory_is_refused(tmp_path):
    target = tmp_path / "dir"
    target.mkdir()
    r = export(SPECS / "lenet5.yaml", "-o", target)
    assert r.exit_code == 1
    assert "cannot write -o" in r.stderr
    assert os.listdir(target) == []


def test_invalid_spec_is_a_located_error(tmp_path):
    path = _write(tmp_path, "input: [1, 4]\nlayers:\n  - linear: {out_featurs: 3}\n")
    r = export(path)
    assert r.exit_code == 1
    assert f"{path}:3:" in r.stderr
    assert r.stdout == ""


SPEC_WITH_MISH = """\
    input: [1, 8]
    layers:
      - linear: {name: fc, out_features: 4}
      - mish: {name: act}
    """


def test_unsupported_type_is_refused_with_its_location(tmp_path, monkeypatch):
    """A type the exporter has no form for (simulated: every real type has one) is an
    error at the layer's line naming the type; nothing is written."""
    real = export_torch.emitter
    monkeypatch.setattr(export_torch, "emitter", lambda lt: None if lt.name == "mish" else real(lt))
    path = _write(tmp_path, SPEC_WITH_MISH)
    out = tmp_path / "model.py"
    r = export(path, "-o", out)
    assert r.exit_code == 1
    assert f"{path}:4:" in r.stderr
    assert "error: " in r.stderr and "[export-unsupported]" in r.stderr
    assert "'mish'" in r.stderr and "'act'" in r.stderr
    assert not out.exists()
    r = export(path)
    assert r.exit_code == 1 and r.stdout == ""


def test_unsupported_type_through_the_api(tmp_path, monkeypatch):
    from layercalc.analyses.loading import analyse

    monkeypatch.setattr(export_torch, "EMITTERS", {})
    monkeypatch.setattr(export_torch, "_torch_class", lambda lt: None)
    net = analyse(str(_write(tmp_path, SPEC_WITH_MISH))).net
    with pytest.raises(ExportError) as info:
        to_source(net)
    d = info.value.diagnostic
    assert (d.line, d.code) == (3, "export-unsupported")
    assert "linear" in d.message


def test_a_name_nn_module_uses_is_refused(tmp_path):
    path = _write(
        tmp_path,
        """\
        input: [1, 8]
        layers:
          - linear: {name: fc, out_features: 4}
          - relu: {name: forward}
        """,
    )
    r = export(path)
    assert r.exit_code == 1
    assert f"{path}:4:" in r.stderr
    assert "'forward'" in r.stderr


def test_every_reserved_name_is_refused_in_one_run(tmp_path):
    """A spec with several names nn.Module keeps for itself gets one error each, in one
    run; a group's members and a repeat's copies are one error at their entry."""
    path = _write(
        tmp_path,
        """\
        input: [1, 8]
        blocks:
          b:
            layers:
              - linear: {name: to, out_features: 8}
              - relu
        layers:
          - b: {name: blocks, repeat: 3}
          - sequential:
              name: forward
              layers: [linear: {out_features: 8}, relu]
          - relu: {name: training}
        """,
    )
    r = export(path)
    assert r.exit_code == 1 and r.stdout == ""
    errors = [
        line
        for line in r.stderr.splitlines()
        if "error: " in line and "[export-unsupported]" in line
    ]
    assert [e.split(": error")[0] for e in errors] == [
        f"{path}:5:9",
        f"{path}:11:16",
        f"{path}:12:5",
    ]
    assert "'to'" in errors[0] and "'forward'" in errors[1] and "'training'" in errors[2]


def test_standard_input(tmp_path):
    r = export("-", input=(SPECS / "mnist_mlp.yaml").read_text())
    assert r.exit_code == 0, r.output
    assert "exported by layercalc from <stdin>" in r.stdout


def _ruff():
    here = Path(sys.executable).parent / "ruff"
    return str(here) if here.exists() else shutil.which("ruff")


@pytest.mark.skipif(_ruff() is None, reason="ruff is not installed")
def test_exported_files_pass_ruff(tmp_path):
    for spec in sorted(SPECS.glob("*.yaml")):
        r = export(spec, "-o", tmp_path / f"{spec.stem}.py")
        assert r.exit_code == 0, r.output
    done = subprocess.run(
        [_ruff(), "check", "--isolated", "--no-cache", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:]


HOSTILE = r"""
name: "evil \"\"\" name \\ \u202e \x1b end"
input: {"t\u00f6k\u00e9ns": [1, 4]}
layers:
  - linear: {name: "a\"b'c", out_features: 4}
  - relu: {name: "\ufb01"}
  - linear: {name: "fi", out_features: 4}
  - sequential: {name: "\u202egrp", layers: [{linear: {name: "\u03bb", out_features: 3}}]}
"""


def test_hostile_names_stay_literal(tmp_path):
    """Quotes, backslashes, controls, bidi overrides and non-ASCII names end up escaped in
    string literals (an attribute is used only for ASCII identifiers: Python folds others
    by NFKC, "\ufb01" into "fi"), and the docstrings hold no control character."""
    r = export(_write(tmp_path, HOSTILE))
    assert r.exit_code == 0, r.output
    src = r.stdout
    compile(src, "hostile.py", "exec")
    assert src.isascii()
    assert "self.add_module('a\"b\\'c', nn.Linear(" in src
    assert 'self.add_module("\\ufb01", nn.ReLU())' in src
    assert "self.fi = nn.Linear(" in src
    assert '["\\u202egrp"]["\\u03bb"]' in src
    assert "<U+202E>" in src.splitlines()[0] and "<U+001B>" in src.splitlines()[0]
