"""`torch_name:` (layercalc's addition to SPEC.md section 11): the name PyTorch gives a
module where the language reserves it. BERT calls two modules of every layer
`output` (`encoder.layer.0.attention.output.dense.weight`), a name no layer may take; the
spec writes `{name: output_, torch_name: output}` and every state_dict key below it is
PyTorch's."""

import json

import numpy as np
import pytest
from conftest import cli_runner

from layercalc import weights
from layercalc.analyses.loading import analyse_bytes
from layercalc.cli import main

SPEC = """\
name: tn
input: [1, 4, 8]
blocks:
  self_output:   # BertSelfOutput
    layers:
      - linear: {name: dense, out_features: 8}
      - layer_norm: {name: LayerNorm, normalized_shape: [8]}
layers:
  - sequential:
      name: attention
      layers:
        - linear: {name: self, out_features: 8}
        - self_output: {name: output_, torch_name: output}
  - self_output: {name: later, from: attention.output_.dense}
"""


def _net(text):
    r = analyse_bytes(text.encode(), "t.yaml")
    assert r.ok, [d.message for d in r.diagnostics]
    return r.net


def test_state_dict_keys_take_the_torch_name_and_rows_keep_the_spec_name():
    net = _net(SPEC)
    assert list(weights.expected(net)) == [
        "attention.self.weight",
        "attention.self.bias",
        "attention.output.dense.weight",
        "attention.output.dense.bias",
        "attention.output.LayerNorm.weight",
        "attention.output.LayerNorm.bias",
        "later.dense.weight",
        "later.dense.bias",
        "later.LayerNorm.weight",
        "later.LayerNorm.bias",
    ]
    names = [layer.name for layer in net.layers]
    assert "attention.output_.dense" in names  # `from` and rows use the spec's name
    assert net.torch_path("attention.output_.LayerNorm") == "attention.output.LayerNorm"
    assert net.torch_path("later.dense") == "later.dense"


def test_json_and_verify_save_use_the_path_pytorch_has(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    out = json.loads(cli_runner().invoke(main, ["params", str(spec), "--format", "json"]).output)
    rows = {row["name"]: row for row in out["layers"]}
    assert rows["attention.output_.dense"]["torch_path"] == "attention.output.dense"
    assert "torch_path" not in rows["attention.self"]
    npz = tmp_path / "w.npz"
    r = cli_runner().invoke(main, ["verify", str(spec), "--save", str(npz)])
    assert r.exit_code == 0, r.output
    with np.load(npz) as data:
        keys = set(data.files)
    assert "attention.output.dense.weight" in keys
    assert not any("output_" in k for k in keys)
    # the checkpoint it wrote is this spec's: check --weights finds every key
    r = cli_runner().invoke(main, ["check", str(spec), "--weights", str(npz)])
    assert r.exit_code == 0, r.output


def test_a_checkpoint_with_the_spec_names_is_refused_at_the_renamed_layer(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    net = _net(SPEC)
    arrays = {k: np.zeros(s, np.float32) for k, (s, _) in weights.expected(net).items()}
    arrays = {k.replace("attention.output.", "attention.output_."): v for k, v in arrays.items()}
    npz = tmp_path / "w.npz"
    np.savez(npz, **arrays)
    r = cli_runner().invoke(main, ["check", str(spec), "--weights", str(npz)])
    assert r.exit_code == 1
    assert "tensor 'attention.output.dense.weight' [8, 8] is not in" in r.output
    assert "s.yaml:6:" in r.output  # the line of the layer in the block


@pytest.mark.parametrize(
    "entry, message",
    [
        ("{name: x, torch_name: output}", "at the top level would clash"),
        ("{name: x, torch_name: input}", "at the top level would clash"),
        ("{name: x, torch_name: 'a.b'}", "no dots, spaces or control characters"),
        ("{name: x, torch_name: 'a b'}", "no dots, spaces or control characters"),
        ('{name: x, torch_name: "a\\tb"}', "no dots, spaces or control characters"),
        ("{name: x, torch_name: ''}", "no dots, spaces or control characters"),
        ("{name: x, torch_name: [a]}", "`torch_name` must be a plain name"),
        ("{name: x, torch_name: attention}", "makes 'x' the module 'attention' in PyTorch"),
        ("{torch_name: y, repeat: 2}", "a repeat whose copies are spliced"),
    ],
)
def test_bad_torch_names_are_located_errors(tmp_path, entry, message):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC + f"  - self_output: {entry}\n")
    r = cli_runner().invoke(main, ["shape", str(spec)])
    assert r.exit_code == 1, r.output
    assert "error: " in r.output and "[bad-name]" in r.output and message in r.output
    assert f"s.yaml:{SPEC.count(chr(10)) + 1}:" in r.output
    assert "Traceback" not in r.output


def test_a_grouped_repeat_renames_its_group_and_every_copy(tmp_path):
    text = (
        SPEC + "  - sequential: {name: enc, layers: [self_output: {name: o_, torch_name: "
        "output, repeat: 2}]}\n"
    )
    keys = list(weights.expected(_net(text)))
    assert "enc.output.0.dense.weight" in keys and "enc.output.1.LayerNorm.bias" in keys


BLOCKS = """\
name: tn
input: [1, 4, 8]
blocks:
  selfout:
    layers:
      - linear: {name: dense, out_features: 8}
      - layer_norm: {name: LayerNorm, normalized_shape: [8]}
  attn:
    layers:
      - linear: {name: self, out_features: 8}
      - selfout: {name: output_, torch_name: output}
layers:
  - attn: {name: attention}
  - attn: {name: attention2}
  - sequential:
      name: flat
      layers: [linear: {name: output_, torch_name: output, out_features: 8}, relu]
"""


def test_export_names_the_modules_as_pytorch_does(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(BLOCKS)
    out = tmp_path / "model.py"
    r = cli_runner().invoke(main, ["export", str(spec), "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert "class Attn(" in text  # the block class is kept, with PyTorch's attribute
    assert "self.output = Selfout()" in text
    assert "output_" not in text
    torch = pytest.importorskip("torch")
    npz = tmp_path / "w.npz"
    assert cli_runner().invoke(main, ["verify", str(spec), "--save", str(npz)]).exit_code == 0
    import importlib.util

    mod_spec = importlib.util.spec_from_file_location("tn_model", out)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    model = mod.Tn().eval()
    with np.load(npz) as data:
        arrays = {k: data[k] for k in data.files}
    state = {k: torch.from_numpy(v) for k, v in arrays.items() if k not in ("input", "output")}
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        got = model(torch.from_numpy(arrays["input"])).numpy()
    np.testing.assert_allclose(got, arrays["output"], rtol=1e-5, atol=1e-5)
