"""`layercalc schema`: the JSON Schema accepts every spec in specs/ and rejects mistakes."""

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import cli_runner

from layercalc.cli import main
from layercalc.layers import REGISTRY
from layercalc.analyses.lint import RULES
from layercalc.schema import name_pattern, spec_schema

jsonschema = pytest.importorskip("jsonschema")

SPECS = sorted((Path(__file__).parent.parent / "specs").glob("*.y*ml"))


@pytest.fixture(scope="module")
def validator():
    schema = spec_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def errors(validator, text: str) -> list:
    return list(validator.iter_errors(yaml.safe_load(text)))


def test_there_are_specs():
    assert len(SPECS) >= 4


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_every_spec_in_the_repository_is_valid(validator, path):
    data = yaml.safe_load(path.read_text())
    assert [e.message for e in validator.iter_errors(data)] == []


@pytest.mark.parametrize("code", list(RULES))
def test_lint_examples_are_valid(validator, code):
    assert errors(validator, RULES[code].bad) == []
    assert errors(validator, RULES[code].good) == []


SPELLINGS = """\
input: [1, 3, 32, 32]
layers:
  - Conv2d: {out_channels: 8, kernel_size: 3}
  - BatchNorm2d
  - batch_norm: {affine: false}
  - conv_2d: {out_channels: 8, kernel_size: 1}
  - {type: ConvTranspose2d, out_channels: 4, kernel_size: 2, stride: 2}
  - relu
  - sequential: {name: head, layers: [flatten, dense: {out_features: 10}]}
"""


def test_pytorch_spellings_and_forms_are_accepted(validator):
    assert errors(validator, SPELLINGS) == []


@pytest.mark.parametrize(
    "entry",
    [
        "- conv9d: {out_channels: 8, kernel_size: 3}",
        "- relux",
        "- {type: linearr, out_features: 3}",
        "- sequential: {layers: [foo]}",
    ],
    ids=["mapping", "bare", "long form", "nested"],
)
def test_unknown_layer_type_is_rejected(validator, entry):
    assert errors(validator, f"input: [1, 3, 8, 8]\nlayers:\n  {entry}\n")


@pytest.mark.parametrize(
    "spec",
    [
        "input: [1, 3]\nlayer:\n  - relu\n",  # misspelt key
        "input: [1, 3]\nlayers: [relu]\nexpect: {parms: 3}\n",  # unknown expect
        "input: [1, 3]\nlayers: [relu]\nlint: {bias-befor-norm: off}\n",  # unknown lint rule
        "input: [1, 3]\nlayers: [linear: {out_feature: 3}]\n",  # unknown argument
        "input: [1, 3]\nlayers: [linear: {bias: false}]\n",  # missing argument
        "input: [1, 3]\nlayers: [linear]\n",  # bare, needs args
        "input: [1, 3]\nlayers: [conv1d: {out_channels: 2, kernel_size: 0}]\n",  # below min
        "input: [1, 3]\nlayers: [gelu: {approximate: [1]}]\n",  # wrong kind
        "input: [1, 3]\ndtype: float8\nlayers: [relu]\n",  # bad dtype
        "layers: [relu]\n",  # no input
    ],
    ids=[
        "top-key",
        "expect-key",
        "lint-code",
        "argument",
        "required",
        "bare",
        "minimum",
        "kind",
        "dtype",
        "no-input",
    ],
)
def test_mistakes_are_rejected(validator, spec):
    assert errors(validator, spec)


BLOCKS = """\
input: [1, 8, 8, 8]
blocks:
  res:
    args: {c: null}
    layers:
      - conv2d: {name: conv, out_channels: c, kernel_size: 3, padding: 1}
      - add: {from: [conv, input]}
layers:
  - res: {c: 8, repeat: 2}
  - res: {name: last, c: 8}
"""


def test_block_names_are_accepted_when_the_spec_has_blocks(validator):
    assert errors(validator, BLOCKS) == []
    # known types keep their argument schema even in a spec with blocks
    assert errors(validator, BLOCKS + "  - relu: {inplce: true}\n")
    # block names must be identifiers
    assert errors(validator, BLOCKS + "  - not a name: {c: 1}\n")


def test_type_pattern_matches_exactly_the_registry_spellings():
    pattern = re.compile(name_pattern(["conv2d"]))
    for name in ("conv2d", "Conv2d", "CONV2D", "conv_2d", "_conv2d_"):
        assert pattern.match(name) and REGISTRY.get(name) is REGISTRY.get("conv2d")
    for name in ("conv2", "conv2dd", "con v2d", "conv3d"):
        assert not pattern.match(name)


def test_schema_command_prints_the_schema():
    r = cli_runner().invoke(main, ["schema"], catch_exceptions=False)
    assert r.exit_code == 0
    assert json.loads(r.output) == spec_schema()
    assert json.loads(r.output)["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_section_11_meta_keys_are_accepted(validator):
    spec = yaml.safe_load("""
        vars: {act: 1}
        input: [1, 3, 8, 8]
        layers:
          - relu: {when: act == 1}
          - conv2d: {name: "conv{j}", out_channels: 3, kernel_size: 1,
                     repeat: {times: 3, as: j}}
          - relu: {repeat: 0}
    """)
    assert not list(validator.iter_errors(spec))
    spec["layers"][1]["conv2d"]["repeat"]["bogus"] = 1
    assert list(validator.iter_errors(spec))
