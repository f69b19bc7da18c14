"""The import sources' shared command-line behaviour (layercalc.cli.imports): one error
form, escaped names, -o checked before any conversion and never the file imported."""

import json
import os

import pytest

from conftest import cli_runner

from layercalc.cli import main


def run(*args):
    return cli_runner().invoke(main, list(args))


def test_a_file_name_with_control_characters_is_printed_escaped(tmp_path):
    bad = str(tmp_path / "no\x1b\nsuch.json")
    r = run("import", "hf", bad)
    assert r.exit_code == 1
    assert "\x1b" not in r.stderr and "no\\x1b\\nsuch.json" in r.stderr
    assert r.stderr.count("\n") == 1  # one line: the break in the name is shown, not made


def test_a_callable_name_with_control_characters_is_printed_escaped():
    r = run("import", "torch", "os:pa\x1bth\rx", "--input", "1,3")
    assert r.exit_code == 1
    assert "\x1b" not in r.stderr and "\r" not in r.stderr
    # without torch the install hint comes first; with it, the name is reported escaped
    assert "pa\\x1bth\\rx" in r.stderr or "needs PyTorch" in r.stderr


def test_o_naming_the_config_itself_is_refused_and_the_config_kept(tmp_path):
    config = tmp_path / "config.json"
    text = json.dumps({"model_type": "gpt2", "n_layer": 1})
    config.write_text(text)
    r = run("import", "hf", str(config), "-o", str(config))
    assert r.exit_code == 1
    assert "it is the config" in r.stderr and "never overwritten" in r.stderr
    assert config.read_text() == text


def test_an_unwritable_target_is_refused_before_the_config_is_read(tmp_path):
    r = run("import", "hf", str(tmp_path / "absent.json"), "-o", str(tmp_path / "no" / "x.yaml"))
    assert r.exit_code == 1
    assert "does not exist" in r.stderr and "cannot read" not in r.stderr


def test_a_model_directory_is_read_through_its_config_json(tmp_path):
    config = {"model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 4}
    config.update(vocab_size=100, n_positions=32)
    (tmp_path / "config.json").write_text(json.dumps(config))
    from_dir = run("import", "hf", str(tmp_path))
    from_file = run("import", "hf", str(tmp_path / "config.json"))
    assert from_dir.exit_code == 0 and from_dir.stdout == from_file.stdout
    assert "name: lm_head" in from_dir.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run("import", "hf", str(empty))
    assert r.exit_code == 1 and "config.json" in r.stderr


# The configs shipped in specs/configs (the README's examples) against the totals
# transformers gives on the meta device (FORMULAS.md; tests/test_llm.py has the configs)
PUBLISHED = {
    "llama-3-8b.json": 8_030_261_248,
    "mistral-7b-v0.1.json": 7_241_732_096,
    "qwen2.5-0.5b.json": 494_032_768,
    "gpt2.json": 124_439_808,
    "bert-base-uncased.json": 109_514_298,  # BertForMaskedLM, its architectures[0]
}


def test_the_shipped_configs_import_to_the_published_totals(tmp_path):
    from pathlib import Path

    shipped = Path(__file__).parent.parent / "specs" / "configs"
    assert sorted(p.name for p in shipped.glob("*.json")) == sorted(PUBLISHED)
    for name, params in PUBLISHED.items():
        out = tmp_path / (name + ".yaml")
        assert run("import", "hf", str(shipped / name), "-o", str(out)).exit_code == 0
        r = run("params", str(out), "--format", "json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["totals"]["params"] == params, name


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_or_device_is_refused_without_reading(tmp_path):
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    r = run("import", "hf", str(fifo))
    assert r.exit_code == 1 and "not a regular file" in r.stderr
    if os.path.exists("/dev/zero"):  # endless: json.load would fill the memory
        r = run("import", "hf", "/dev/zero")
        assert r.exit_code == 1 and "not a regular file" in r.stderr


def test_a_deeply_nested_config_is_refused_not_a_traceback(tmp_path):
    deep = tmp_path / "config.json"
    deep.write_text("[" * 100_000)
    r = run("import", "hf", str(deep))
    assert r.exit_code == 1 and "not a JSON file" in r.stderr
    assert "Traceback" not in r.output


def test_a_file_name_cannot_inject_lines_into_the_spec(tmp_path):
    config = {"model_type": "gpt2", "n_layer": 1, "n_embd": 64, "n_head": 4}
    config.update(vocab_size=100, n_positions=32)
    for name in ("a\ndescription: injected\n#.json", "b\x1b\u2028.json"):
        path = tmp_path / name
        path.write_text(json.dumps(config))
        out = tmp_path / "out.yaml"
        r = run("import", "hf", str(path), "-o", str(out))
        assert r.exit_code == 0, r.output
        text = out.read_text()
        assert "injected" not in text.split("\n", 1)[1].split("\n", 1)[0]
        assert not any(line.startswith("description") for line in text.splitlines())
        assert "\x1b" not in text and "\u2028" not in text
        assert run("check", str(out)).exit_code == 0


def test_a_misspelt_callable_gets_a_suggestion():
    pytest.importorskip("torch")
    r = run("import", "torch", "collections:OrderedDic", "--input", "1,3")
    assert r.exit_code == 1 and "has no attribute 'OrderedDic'" in r.stderr
    assert "did you mean 'OrderedDict'" in r.stderr


def _tiny_gpt2(tmp_path, **extra):
    config = {"model_type": "gpt2", "n_layer": 1, "n_embd": 64, "n_head": 4}
    config.update(vocab_size=100, n_positions=32, **extra)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config, indent=1))
    return path


def test_architecture_option_overrides_the_config(tmp_path):
    path = _tiny_gpt2(tmp_path, architectures=["GPT2LMHeadModel"])
    r = run("import", "hf", str(path), "--architecture", "GPT2ForSequenceClassification")
    assert r.exit_code == 0, r.output
    assert "name: score" in r.stdout and "name: lm_head" not in r.stdout
    assert "num_labels: 2" in r.stdout
    r = run("import", "hf", str(path), "--architecture", "BertModel")
    assert r.exit_code == 1
    assert "'BertModel'" in r.stderr and "GPT2Model" in r.stderr  # the supported ones
    assert "Traceback" not in r.output


def test_several_architectures_use_the_first_with_a_warning(tmp_path):
    path = _tiny_gpt2(tmp_path, architectures=["GPT2Model", "GPT2LMHeadModel"])
    r = run("import", "hf", str(path))
    assert r.exit_code == 0
    assert "warning: architectures lists 2 classes" in r.stderr
    assert "name: lm_head" not in r.stdout and "name: transformer" not in r.stdout


def test_refusals_are_located_at_the_config_key(tmp_path):
    path = _tiny_gpt2(tmp_path, add_cross_attention=True)
    line = 1 + path.read_text().splitlines().index(' "add_cross_attention": true')
    r = run("import", "hf", str(path))
    assert r.exit_code == 1
    assert f"config.json:{line}:2: add_cross_attention is true" in r.stderr
    assert "not modelled" in r.stderr and "<spec>" not in r.stderr


def test_import_hf_help_fits_80_columns():
    r = cli_runner().invoke(main, ["import", "hf", "--help"], env={"COLUMNS": "80"})
    assert r.exit_code == 0 and "--architecture" in r.output
    assert max(len(line) for line in r.output.splitlines()) <= 80
    assert "BertForMaskedLM" in r.output
