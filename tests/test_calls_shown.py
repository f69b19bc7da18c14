"""Another call of a shared module is marked in every per-layer view (cost, rf, verify,
explain), in tables as "TYPE (call N)" and in JSON as "call": N; explain says what a
call shares. A concat of equal shapes is explained as a concat."""

import json

from conftest import cli_runner

from layercalc.cli import main

SPEC = """\
input: [1, 3, 8, 8]
layers:
  - conv2d: {name: c, out_channels: 3, kernel_size: 3, padding: 1}
  - relu: {name: r}
  - share: c
  - share: r
  - concat: {from: [r, r], dim: 1}
"""


def test_every_view_marks_the_calls(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    runner = cli_runner()
    for cmd in ("cost", "rf", "verify"):
        r = runner.invoke(main, [cmd, str(spec)])
        assert r.exit_code == 0, r.output
        assert "conv2d (call 2)" in r.output and "relu (call 2)" in r.output, cmd
        r = runner.invoke(main, [cmd, str(spec), "--format", "json"])
        rows = json.loads(r.output)
        rows = (rows[0] if isinstance(rows, list) else rows)["layers"]
        assert [row.get("call", 1) for row in rows] == [1, 1, 2, 2, 1], cmd
    r = runner.invoke(main, ["explain", str(spec), "c"])
    assert r.exit_code == 0, r.output
    assert "c (conv2d (call 2))" in r.output
    assert "shares the 84 parameters of its first call" in r.output
    r = runner.invoke(main, ["explain", str(spec), "2"])  # shares take no index
    assert "concatenated along dim 1: 3 + 3 = 6" in r.output
