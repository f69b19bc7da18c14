"""verify bounds its time on recurrent layers: their time steps run one at a time in
Python (20-60 us each, whatever the layer's size), so a long or deep recurrence whose
MACs look small would run for minutes. Past --max-steps (analyses.verify.python_steps)
the run is refused at once, at the layer's line."""

from __future__ import annotations

import json
import time

from conftest import cli_runner
from layercalc.analyses import verify as core
from layercalc.cli import main


def _spec(tmp_path, layer: str, shape: str):
    p = tmp_path / "r.yaml"
    p.write_text(f"name: long\ninput: {shape}\nlayers:\n  - linear: {{out_features: 1}}\n{layer}")
    return p


def invoke(*args):
    return cli_runner().invoke(main, ["verify", *map(str, args)])


def test_a_long_recurrence_is_refused_at_its_line_at_once(tmp_path):
    """The hostile case: 20M steps of GRU(1, 1), 120M MACs, which ran for 7 minutes."""
    p = _spec(tmp_path, "  - gru: {hidden_size: 1}\n", "[20000000, 1, 1]")
    t = time.perf_counter()
    r = invoke(p)
    assert time.perf_counter() - t < 10
    assert r.exit_code == 1, r.output
    assert f"{p}:5:5: error: " in r.output and "[step-limit]" in r.output
    assert "20,000,002 recurrent time steps" in r.output
    assert "above the limit of 200,000" in r.output
    assert "--max-steps" in r.output
    assert "Traceback" not in r.output


def test_steps_count_layers_directions_and_set_up(tmp_path):
    """LSTM of 99,999 layers over 2 steps: 99,999 x (2 + 2), refused; bidirectional
    doubles it. The sum runs over every recurrent layer of the network."""
    deep = "  - lstm: {hidden_size: 1, num_layers: 99999}\n"
    r = invoke(_spec(tmp_path, deep, "[2, 1, 1]"), "--format", "json")
    assert r.exit_code == 1
    (err,) = json.loads(r.stdout)["errors"]
    assert "399,996 recurrent time steps" in err["message"] and err["line"] == 5
    two = "  - gru: {hidden_size: 3, bidirectional: true}\n  - rnn: {hidden_size: 2}\n"
    r = invoke(_spec(tmp_path, two, "[40, 2, 4]"), "--max-steps", 125)
    assert r.exit_code == 1 and "126 recurrent time steps" in r.output  # 2 x 42 + 42
    assert ":5:5:" in r.output and "gru '1' runs 84 of them" in r.output  # the most
    r = invoke(_spec(tmp_path, two, "[40, 2, 4]"), "--max-steps", 126)
    assert r.exit_code == 0, r.output


def test_the_option_refuses_nonsense_and_its_default_is_the_cores():
    from layercalc.cli.verify import verify

    opt = next(p for p in verify.params if p.name == "max_steps")
    assert opt.default == core.DEFAULT_MAX_STEPS
    for bad in ("0", "+5", "1_000", "\u0665", "-1", "9" * 30):
        r = cli_runner().invoke(main, ["verify", "x.yaml", "--max-steps", bad])
        assert r.exit_code == 2 and "--max-steps" in r.output, bad
